//! libsmtp installed as a system library by .ci/install: the versioned
//! shared library with its soname and development links, the static
//! library, the header and smtp.pc; a C program built with nothing but
//! `pkg-config --cflags --libs smtp`; only smtp_* symbols exported.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Installs the debug build into a fresh prefix.
fn install() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = dir.path().join("usr");
    common::run_ok(
        Command::new(common::repo_root().join(".ci/install"))
            .env("PREFIX", &prefix)
            .env("PROFILE", "debug")
            .env("CARGO_TARGET_DIR", target_dir()),
        ".ci/install",
        "coreutils",
    );
    (dir, prefix)
}

fn target_dir() -> PathBuf {
    common::cdylib::lib_dir()
        .parent()
        .expect("target folder")
        .to_path_buf()
}

fn pkg_config(prefix: &Path, args: &[&str]) -> String {
    let out = common::run_ok(
        Command::new("pkg-config")
            .args(args)
            .arg("smtp")
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")),
        "pkg-config",
        "pkg-config",
    );
    stdout(&out).trim().to_string()
}

#[test]
fn install_lays_out_versioned_library_links_static_library_header_and_pc() {
    let (_dir, prefix) = install();
    let lib = prefix.join("lib");
    assert!(lib.join(format!("libsmtp.so.{VERSION}")).is_file());
    assert_eq!(
        std::fs::read_link(lib.join("libsmtp.so.0")).unwrap(),
        PathBuf::from(format!("libsmtp.so.{VERSION}"))
    );
    assert_eq!(
        std::fs::read_link(lib.join("libsmtp.so")).unwrap(),
        PathBuf::from("libsmtp.so.0")
    );
    assert!(lib.join("libsmtp.a").is_file());
    assert!(prefix.join("include/smtp.h").is_file());
    assert_eq!(pkg_config(&prefix, &["--modversion"]), VERSION);
}

#[test]
fn c_program_built_with_pkg_config_alone_runs_and_sees_matching_versions() {
    let (dir, prefix) = install();
    let src = dir.path().join("version.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <smtp.h>\n\
         int main(void) {\n\
           printf(\"%s %s %d.%d.%d\\n\", smtp_version(), SMTP_VERSION,\n\
                  SMTP_VERSION_MAJOR, SMTP_VERSION_MINOR, SMTP_VERSION_PATCH);\n\
           return 0;\n}\n",
    )
    .unwrap();
    let exe = dir.path().join("version");
    let flags = pkg_config(&prefix, &["--cflags", "--libs"]);
    common::run_ok(
        Command::new("gcc")
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .args(flags.split_whitespace()),
        "gcc with pkg-config flags",
        "gcc",
    );
    // As with any library outside the loader's path: LD_LIBRARY_PATH.
    let out = common::run_ok(
        Command::new(&exe).env("LD_LIBRARY_PATH", prefix.join("lib")),
        "the program",
        "gcc",
    );
    assert_eq!(
        stdout(&out).trim(),
        format!("{VERSION} {VERSION} {VERSION}")
    );
    let needed = stdout(&common::run_ok(
        Command::new("readelf").arg("-d").arg(&exe),
        "readelf",
        "binutils",
    ));
    assert!(
        needed.contains("Shared library: [libsmtp.so.0]"),
        "{needed}"
    );
}

#[test]
fn shared_library_soname_is_libsmtp_so_0() {
    let (_dir, prefix) = install();
    let lib = prefix.join(format!("lib/libsmtp.so.{VERSION}"));
    let dynamic = stdout(&common::run_ok(
        Command::new("readelf").arg("-d").arg(&lib),
        "readelf",
        "binutils",
    ));
    assert!(
        dynamic.contains("Library soname: [libsmtp.so.0]"),
        "{dynamic}"
    );
}

#[test]
fn shared_library_exports_only_smtp_functions() {
    let (_dir, prefix) = install();
    let lib = prefix.join(format!("lib/libsmtp.so.{VERSION}"));
    let nm = stdout(&common::run_ok(
        Command::new("nm").args(["-D", "--defined-only"]).arg(&lib),
        "nm",
        "binutils",
    ));
    let names: Vec<&str> = nm
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let others: Vec<&&str> = names.iter().filter(|n| !n.starts_with("smtp_")).collect();
    assert!(others.is_empty(), "exported beyond smtp_*: {others:?}");
    for f in [
        "smtp_open",
        "smtp_starttls",
        "smtp_sendmail",
        "smtp_error_code",
    ] {
        assert!(names.contains(&f), "{f} not exported");
    }
}

#[test]
fn header_version_macros_equal_cargo_version() {
    let header = std::fs::read_to_string(common::repo_root().join("include/smtp.h")).unwrap();
    let mut parts = VERSION.split('.');
    for (name, value) in [
        ("SMTP_VERSION", format!("\"{VERSION}\"")),
        ("SMTP_VERSION_MAJOR", parts.next().unwrap().to_string()),
        ("SMTP_VERSION_MINOR", parts.next().unwrap().to_string()),
        ("SMTP_VERSION_PATCH", parts.next().unwrap().to_string()),
    ] {
        let line = format!("#define {name} {value}\n");
        assert!(header.contains(&line), "header lacks {line:?}");
    }
}
