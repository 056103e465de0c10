//! libsmtp installed as a system library by `make install` (through
//! .ci/install): the versioned shared library with its soname and
//! development links, stripped, its debug information in a file of its
//! own; the static library with only smtp_* global; the header, smtp.pc,
//! smtp-send and the man pages. C programs built with nothing but
//! `pkg-config` (dynamic, and `-static` with `--static`) send mail; every
//! exported symbol carries the version node LIBSMTP_0; `make uninstall`
//! leaves nothing behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::sink::SmtpSink;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version node of the soname (libsmtp.map, ABI.md).
const NODE: &str = "LIBSMTP_0";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `make install` (or another make target) of the debug build into
/// `prefix`, through .ci/install for install.
fn make(prefix: &Path, target: &str) {
    let _one = common::MAKE.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = if target == "install" {
        Command::new(common::repo_root().join(".ci/install"))
    } else {
        let mut c = Command::new("make");
        c.arg("-C").arg(common::repo_root()).arg(target);
        c
    };
    common::run_ok(
        cmd.env("PREFIX", prefix)
            .env("PROFILE", "debug")
            .env("CARGO_TARGET_DIR", target_dir())
            .env_remove("DESTDIR")
            .env_remove("LIBDIR")
            .env_remove("MAKEFLAGS"),
        &format!("make {target}"),
        "make",
    );
}

/// Installs the debug build into a fresh prefix.
fn install() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = dir.path().join("usr");
    make(&prefix, "install");
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

fn run(cmd: &mut Command, what: &str, package: &str) -> String {
    stdout(&common::run_ok(cmd, what, package))
}

fn readelf(args: &[&str], file: &Path) -> String {
    run(
        Command::new("readelf").args(args).arg(file),
        "readelf",
        "binutils",
    )
}

/// Compiles tests/c/installed_send.c with gcc and `flags`, into `exe`.
fn build_sender(exe: &Path, flags: &str, static_link: bool) {
    let src = common::repo_root().join("tests/c/installed_send.c");
    let mut gcc = Command::new("gcc");
    if static_link {
        gcc.arg("-static");
    }
    gcc.args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
        .arg(&src)
        .arg("-o")
        .arg(exe)
        .args(flags.split_whitespace());
    let out = common::run_ok(&mut gcc, "gcc with pkg-config's flags alone", "gcc");
    // glibc warns that getaddrinfo and dlopen in a static program load its
    // shared NSS and libdl at run time; nothing else may be said.
    for line in stderr(&out).lines() {
        assert!(
            line.contains("statically linked applications")
                || line.contains("in function `")
                || line.trim().is_empty(),
            "gcc said: {line}"
        );
    }
}

/// Runs a built sender against a fresh smtp-sink and checks the one
/// message that arrived.
fn sends_through_sink(exe: &Path, lib_dir: Option<&Path>) {
    let sink = SmtpSink::start(&[]);
    let mut cmd = Command::new(exe);
    cmd.arg(sink.port.to_string());
    if let Some(dir) = lib_dir {
        // As with any library outside the loader's path.
        cmd.env("LD_LIBRARY_PATH", dir);
    }
    let out = run(&mut cmd, "the program built with pkg-config", "gcc");
    assert_eq!(out.trim(), format!("sent with libsmtp {VERSION}"));
    let dumps = sink.dumps(1);
    assert_eq!(dumps.len(), 1, "one message arrives");
    assert_eq!(dumps[0].mail, "<sender@example.org>");
    assert_eq!(dumps[0].rcpts, ["<rcpt@example.org>"]);
    assert!(
        String::from_utf8_lossy(&dumps[0].body)
            .ends_with("\nLinked with the flags of pkg-config alone.\n"),
        "{:?}",
        String::from_utf8_lossy(&dumps[0].body)
    );
}

/// Every defined symbol of `lib`'s dynamic symbol table, with its version
/// as readelf prints it ("smtp_open@@LIBSMTP_0").
fn dynamic_definitions(lib: &Path) -> Vec<String> {
    readelf(&["--dyn-syms", "-W"], lib)
        .lines()
        .filter_map(|l| {
            // Num: Value Size Type Bind Vis Ndx Name
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8 && f[0].ends_with(':') && f[6] != "UND" && f[6] != "Ndx")
                .then(|| f[7].to_string())
        })
        .collect()
}

// ---- the installed layout -------------------------------------------------

#[test]
fn install_lays_out_library_links_header_pc_program_man_pages_and_debug_file() {
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
    for file in [
        "lib/libsmtp.a",
        "include/smtp.h",
        "lib/pkgconfig/smtp.pc",
        "bin/smtp-send",
        "share/man/man1/smtp-send.1",
        "share/man/man3/libsmtp.3",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }
    // gdb looks for a debug link's file under its debug-file-directory
    // followed by the library's own folder.
    let debug = prefix
        .join("lib/debug")
        .join(lib.strip_prefix("/").unwrap())
        .join(format!("libsmtp.so.{VERSION}.debug"));
    assert!(debug.is_file(), "{} not installed", debug.display());
    assert_eq!(pkg_config(&prefix, &["--modversion"]), VERSION);
}

#[test]
fn installed_shared_library_is_stripped_and_links_to_its_debug_file() {
    let (_dir, prefix) = install();
    let lib = prefix.join(format!("lib/libsmtp.so.{VERSION}"));
    let sections = readelf(&["-S", "-W"], &lib);
    assert!(!sections.contains(".debug_info"), "{sections}");
    assert!(!sections.contains(".debug_line"), "{sections}");
    assert!(!sections.contains(" .symtab "), "not stripped:\n{sections}");
    let link = readelf(&["--string-dump=.gnu_debuglink"], &lib);
    assert!(
        link.contains(&format!("libsmtp.so.{VERSION}.debug")),
        "{link}"
    );
    let debug = prefix
        .join("lib/debug")
        .join(prefix.join("lib").strip_prefix("/").unwrap())
        .join(format!("libsmtp.so.{VERSION}.debug"));
    let debug_sections = readelf(&["-S", "-W"], &debug);
    assert!(debug_sections.contains(".debug_line"), "{debug_sections}");
    assert!(debug_sections.contains(".symtab"), "{debug_sections}");
}

#[test]
fn uninstall_removes_every_installed_file() {
    let (_dir, prefix) = install();
    make(&prefix, "uninstall");
    let mut left = Vec::new();
    let mut stack = vec![prefix.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_symlink() || path.is_file() {
                left.push(path);
            } else {
                stack.push(path);
            }
        }
    }
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn shared_library_soname_is_libsmtp_so_0() {
    let (_dir, prefix) = install();
    let dynamic = readelf(&["-d"], &prefix.join(format!("lib/libsmtp.so.{VERSION}")));
    assert!(
        dynamic.contains("Library soname: [libsmtp.so.0]"),
        "{dynamic}"
    );
}

// ---- exported symbols -----------------------------------------------------

#[test]
fn shared_library_exports_only_smtp_functions() {
    let (_dir, prefix) = install();
    let lib = prefix.join(format!("lib/libsmtp.so.{VERSION}"));
    let nm = run(
        Command::new("nm").args(["-D", "--defined-only"]).arg(&lib),
        "nm",
        "binutils",
    );
    // Type A is the version node's own absolute symbol (LIBSMTP_0), which
    // every versioned library has; no code or data behind it.
    let names: Vec<&str> = nm
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // nm shows the version after the name: smtp_open@@LIBSMTP_0.
            (f.len() == 3 && f[1] != "A").then(|| f[2].split('@').next().unwrap())
        })
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

/// The check of symbol versions, on one library file.
fn assert_every_export_versioned(lib: &Path) {
    let defs = dynamic_definitions(lib);
    assert!(
        defs.len() > 50,
        "too few symbols in {}: {defs:?}",
        lib.display()
    );
    // The node's own absolute symbol is listed under its bare name.
    let unversioned: Vec<&String> = defs
        .iter()
        .filter(|d| !d.ends_with(&format!("@@{NODE}")) && *d != NODE)
        .collect();
    assert!(
        unversioned.is_empty(),
        "{}: exported without the node {NODE}: {unversioned:?}",
        lib.display()
    );
    assert!(defs.contains(&format!("smtp_open@@{NODE}")), "{defs:?}");
    // objdump -T shows the version column of every dynamic symbol.
    let objdump = run(
        Command::new("objdump").arg("-T").arg(lib),
        "objdump",
        "binutils",
    );
    let mut smtp = 0;
    for line in objdump.lines().filter(|l| l.contains(" smtp_")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[f.len() - 2], NODE, "{line}");
        smtp += 1;
    }
    assert_eq!(smtp, defs.len() - 1, "every smtp_ function, and the node");
    let versions = readelf(&["-V"], lib);
    assert!(
        versions.contains(&format!("Name: {NODE}")),
        "no {NODE} in .gnu.version_d:\n{versions}"
    );
}

#[test]
fn every_exported_symbol_carries_the_version_node_libsmtp_0() {
    // The library cargo builds (build.rs passes libsmtp.map) ...
    assert_every_export_versioned(&common::cdylib::lib_dir().join("libsmtp.so"));
    // ... and the stripped one make installs.
    let (_dir, prefix) = install();
    assert_every_export_versioned(&prefix.join(format!("lib/libsmtp.so.{VERSION}")));
}

#[test]
fn static_library_defines_only_smtp_functions_as_globals() {
    let (_dir, prefix) = install();
    let archive = prefix.join("lib/libsmtp.a");
    // readelf rather than nm: nm hands objects with LLVM bitcode to an
    // LTO plugin when one is installed, and then lists nothing.
    let globals: Vec<String> = readelf(&["-sW"], &archive)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8 && (f[4] == "GLOBAL" || f[4] == "WEAK") && f[6] != "UND")
                .then(|| f[7].to_string())
        })
        .collect();
    let others: Vec<&String> = globals.iter().filter(|n| !n.starts_with("smtp_")).collect();
    assert!(others.is_empty(), "libsmtp.a defines {others:?}");
    // The same functions as the shared library exports.
    let mut shared: Vec<String> =
        dynamic_definitions(&prefix.join(format!("lib/libsmtp.so.{VERSION}")))
            .into_iter()
            .filter_map(|d| d.strip_suffix(&format!("@@{NODE}")).map(str::to_string))
            .collect();
    let mut globals = globals;
    globals.sort();
    shared.sort();
    assert_eq!(globals, shared);
}

// ---- building programs against it -----------------------------------------

#[test]
fn pc_file_takes_openssl_through_requires_private_and_no_gcc_s() {
    let (_dir, prefix) = install();
    let pc = std::fs::read_to_string(prefix.join("lib/pkgconfig/smtp.pc")).unwrap();
    assert!(
        pc.lines()
            .any(|l| l == "Requires.private: libssl libcrypto"),
        "{pc}"
    );
    let static_libs = pkg_config(&prefix, &["--static", "--libs"]);
    assert!(!static_libs.contains("gcc_s"), "{static_libs}");
    assert!(static_libs.contains("-lssl"), "{static_libs}");
    assert!(static_libs.contains("-lcrypto"), "{static_libs}");
    // A dynamic link needs libsmtp alone.
    assert_eq!(
        pkg_config(&prefix, &["--libs"]),
        format!("-L{} -lsmtp", prefix.join("lib").display())
    );
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
    let out = run(
        Command::new(&exe).env("LD_LIBRARY_PATH", prefix.join("lib")),
        "the program",
        "gcc",
    );
    assert_eq!(out.trim(), format!("{VERSION} {VERSION} {VERSION}"));
    let dynamic = readelf(&["-d"], &exe);
    assert!(
        dynamic.contains("Shared library: [libsmtp.so.0]"),
        "{dynamic}"
    );
    // The program records the version node it was linked against.
    let needs = readelf(&["-V"], &exe);
    assert!(needs.contains(&format!("Name: {NODE}")), "{needs}");
}

#[test]
fn program_linked_dynamically_with_pkg_config_sends_mail() {
    let (dir, prefix) = install();
    let exe = dir.path().join("send-dynamic");
    build_sender(&exe, &pkg_config(&prefix, &["--cflags", "--libs"]), false);
    sends_through_sink(&exe, Some(&prefix.join("lib")));
}

#[test]
fn fully_static_program_built_with_pkg_config_static_sends_mail() {
    let (dir, prefix) = install();
    let exe = dir.path().join("send-static");
    build_sender(
        &exe,
        &pkg_config(&prefix, &["--static", "--cflags", "--libs"]),
        true,
    );
    // No program interpreter, no shared library: fully static.
    let headers = readelf(&["-l", "-d"], &exe);
    assert!(!headers.contains("INTERP"), "{headers}");
    assert!(!headers.contains("(NEEDED)"), "{headers}");
    sends_through_sink(&exe, None);
}

#[test]
fn the_poll_example_copied_out_and_built_against_the_installed_library_delivers() {
    // A user's event-loop program: examples-c/poll.c copied to a directory
    // of its own, built with the installed header and pkg-config's flags
    // alone, runs 20 non-blocking sessions from one thread.
    let (dir, prefix) = install();
    let work = dir.path().join("user-program");
    std::fs::create_dir(&work).unwrap();
    let src = work.join("poll.c");
    std::fs::copy(common::repo_root().join("examples-c/poll.c"), &src).unwrap();
    let exe = work.join("poll");
    let mut gcc = Command::new("gcc");
    gcc.args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .args(pkg_config(&prefix, &["--cflags", "--libs"]).split_whitespace())
        .current_dir(&work);
    common::run_ok(&mut gcc, "gcc with pkg-config's flags alone", "gcc");
    let sink = SmtpSink::start(&[]);
    let out = run(
        Command::new(&exe)
            .args(["127.0.0.1", &sink.port.to_string(), "20", "2"])
            .env("LD_LIBRARY_PATH", prefix.join("lib"))
            .current_dir(&work),
        "the installed poll example",
        "gcc",
    );
    assert!(
        out.ends_with("20 session(s): 20 ok, 0 failed; 40 message(s) sent\n"),
        "{out}"
    );
    assert_eq!(sink.dumps(40).len(), 40, "every message arrives");
}

#[test]
fn installed_smtp_send_has_no_rpath_and_sends_mail() {
    let (_dir, prefix) = install();
    let exe = prefix.join("bin/smtp-send");
    let dynamic = readelf(&["-d"], &exe);
    assert!(
        dynamic.contains("Shared library: [libsmtp.so.0]"),
        "{dynamic}"
    );
    assert!(
        !dynamic.contains("RPATH") && !dynamic.contains("RUNPATH"),
        "{dynamic}"
    );
    let sink = SmtpSink::start(&[]);
    let run = common::smtp_send::run_program(
        {
            let mut c = Command::new(&exe);
            c.env("LD_LIBRARY_PATH", prefix.join("lib")).args([
                "--port",
                &sink.port.to_string(),
                "--host",
                "127.0.0.1",
                "--from",
                "a@example.org",
                "--to",
                "b@example.org",
            ]);
            c
        },
        b"Subject: installed\r\n\r\nhello\r\n",
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let dumps = sink.dumps(1);
    assert_eq!(dumps.len(), 1);
    assert_eq!(dumps[0].rcpts, ["<b@example.org>"]);
}

// ---- the header's version macros ------------------------------------------

#[test]
fn header_version_macros_equal_cargo_version() {
    let header = std::fs::read_to_string(common::repo_root().join("include/smtp.h")).unwrap();
    let mut parts = VERSION.split('.');
    for (name, value) in [
        ("SMTP_VERSION", format!("\"{VERSION}\"")),
        ("SMTP_VERSION_MAJOR", parts.next().unwrap().to_string()),
        ("SMTP_VERSION_MINOR", parts.next().unwrap().to_string()),
        ("SMTP_VERSION_PATCH", parts.next().unwrap().to_string()),
        ("SMTP_VERSION_NUM", format!("{:#08x}", version_num(VERSION))),
    ] {
        let line = format!("#define {name} {value}\n");
        assert!(header.contains(&line), "header lacks {line:?}");
    }
}

/// 0xMMmmpp, as libcurl's LIBCURL_VERSION_NUM.
fn version_num(v: &str) -> u32 {
    let p: Vec<u32> = v.split('.').map(|x| x.parse().unwrap()).collect();
    (p[0] << 16) | (p[1] << 8) | p[2]
}

#[test]
fn version_num_and_at_least_version_answer_in_the_preprocessor_and_in_c() {
    let p: Vec<u32> = VERSION.split('.').map(|x| x.parse().unwrap()).collect();
    let (major, minor, patch) = (p[0], p[1], p[2]);
    // (x, y, z, is this header at least x.y.z?)
    let mut cases = vec![
        (major, minor, patch, true),
        (0, 0, 0, true),
        (major, minor, patch + 1, false),
        (major, minor + 1, 0, false),
        (major + 1, 0, 0, false),
    ];
    if patch > 0 {
        cases.push((major, minor, patch - 1, true));
    }
    if minor > 0 {
        cases.push((major, minor - 1, 255, true));
    }
    if major > 0 {
        cases.push((major - 1, 255, 255, true));
    }
    let mut src = String::from("#include <stdio.h>\n#include \"smtp.h\"\n");
    for (x, y, z, yes) in &cases {
        // In #if, where configure-time checks use it ...
        src += &format!(
            "#if {}SMTP_AT_LEAST_VERSION({x}, {y}, {z})\n#error \"SMTP_AT_LEAST_VERSION({x}, {y}, {z}) should be {}\"\n#endif\n",
            if *yes { "!" } else { "" },
            if *yes { 1 } else { 0 }
        );
    }
    src += "#if SMTP_VERSION_NUM != ((SMTP_VERSION_MAJOR << 16) | (SMTP_VERSION_MINOR << 8) | SMTP_VERSION_PATCH)\n\
            #error \"SMTP_VERSION_NUM is not 0xMMmmpp\"\n#endif\n";
    // ... and in C expressions.
    src += "int main(void) {\n  printf(\"%06x\", (unsigned)SMTP_VERSION_NUM);\n";
    for (x, y, z, _) in &cases {
        src += &format!("  printf(\" %d\", SMTP_AT_LEAST_VERSION({x}, {y}, {z}) ? 1 : 0);\n");
    }
    src += "  printf(\"\\n\");\n  return 0;\n}\n";
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("at_least.c");
    std::fs::write(&c, src).unwrap();
    let exe = common::cdylib::compile(&c, &dir.path().join("at_least"));
    let out = run(&mut Command::new(&exe), "at_least", "gcc");
    let mut expected = format!("{:06x}", version_num(VERSION));
    for (_, _, _, yes) in &cases {
        expected += if *yes { " 1" } else { " 0" };
    }
    assert_eq!(out.trim(), expected);
}

// ---- man pages --------------------------------------------------------------

/// Renders `page` as lintian does (man --warnings), and with groff's
/// every warning on; nothing may be said.
fn render_man(page: &Path) -> String {
    let out = common::run_ok(
        Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z"])
            .arg(page)
            .env("MANWIDTH", "80"),
        "man --warnings",
        "man-db",
    );
    assert_eq!(stderr(&out), "", "man warns about {}", page.display());
    let out = common::run_ok(
        Command::new("groff")
            .args(["-ww", "-t", "-man", "-z"])
            .arg(page),
        "groff -ww",
        "groff-base",
    );
    assert_eq!(stderr(&out), "", "groff warns about {}", page.display());
    let text = common::run_ok(
        Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANWIDTH", "80"),
        "man -l",
        "man-db",
    );
    // Words as they read, whatever the line breaks.
    stdout(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn installed_man_pages_render_without_warnings() {
    let (_dir, prefix) = install();
    let send = render_man(&prefix.join("share/man/man1/smtp-send.1"));
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "EXIT STATUS", "EXAMPLES"] {
        assert!(send.contains(section), "smtp-send(1) lacks {section}");
    }
    let lib = render_man(&prefix.join("share/man/man3/libsmtp.3"));
    for topic in [
        "Error model",
        "Threads",
        "Ownership of strings and buffers",
        "Callbacks",
        "must not throw",
        "SMTP_AT_LEAST_VERSION",
    ] {
        assert!(lib.contains(topic), "libsmtp(3) lacks {topic:?}");
    }
}

#[test]
fn man_pages_name_the_crate_version() {
    for page in ["man/smtp-send.1", "man/libsmtp.3"] {
        let text = std::fs::read_to_string(common::repo_root().join(page)).unwrap();
        let th = text
            .lines()
            .find(|l| l.starts_with(".TH "))
            .unwrap_or_else(|| panic!("{page} has no .TH line"));
        assert!(
            th.contains(&format!("\"libsmtp {VERSION}\"")),
            "{page}: {th}"
        );
    }
}

#[test]
fn smtp_send_man_page_documents_every_option_of_its_help() {
    let page = std::fs::read_to_string(common::repo_root().join("man/smtp-send.1")).unwrap();
    let page = page.replace("\\-", "-");
    let help = common::smtp_send::smtp_send_with(&["--help".to_string()], b"");
    assert_eq!(help.status, 0, "{}", help.stderr);
    let text = format!("{}{}", help.stdout, help.stderr);
    let mut options: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '|' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.split('=').next().unwrap())
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .collect();
    options.sort();
    options.dedup();
    assert!(options.len() > 15, "{options:?}");
    for option in options {
        assert!(
            page.contains(option),
            "smtp-send(1) does not document {option}"
        );
    }
}
