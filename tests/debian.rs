//! The Debian packages, as a distribution would build and use them: the
//! tree (a copy of what git tracks, without target/) builds libsmtp0,
//! libsmtp-dev and smtp-send with `dpkg-buildpackage -us -uc -b`; lintian
//! reports no error; the packages install on this machine; a C program
//! built with nothing but `pkg-config --cflags --libs smtp` (dynamic) and
//! `pkg-config --static` (`-static`) sends mail to smtp-sink, and so does
//! /usr/bin/smtp-send; then the packages are purged.
//!
//! This changes the machine (it installs into /usr while it runs), as the
//! other tests' servers do not; it runs as root, as CI does (or with sudo).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::sink::SmtpSink;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The packages a user installs (the -dbgsym packages are built too).
const PACKAGES: [&str; 3] = ["libsmtp0", "libsmtp-dev", "smtp-send"];

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `cmd` run as root: directly when we are root, through sudo otherwise.
fn as_root(program: &str) -> Command {
    // Whether we are root: id -u.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| stdout(&o).trim() == "0")
        .unwrap_or(false);
    if root {
        Command::new(program)
    } else {
        let mut c = Command::new("sudo");
        c.arg(program);
        c
    }
}

/// apt-get, waiting for the package database lock others may hold.
fn apt_get() -> Command {
    let mut c = as_root("apt-get");
    c.args(["-o", "DPkg::Lock::Timeout=600", "-y", "-q"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    c
}

/// Copies every file git tracks, and the untracked ones it does not
/// ignore, from the working tree to `to`: the source a packager unpacks,
/// with the changes not yet committed.
fn copy_tree(to: &Path) {
    let root = common::repo_root();
    let out = common::run_ok(
        Command::new("git").arg("-C").arg(&root).args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ]),
        "git ls-files",
        "git",
    );
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = Path::new(std::str::from_utf8(name).expect("UTF-8 file names"));
        let from = root.join(name);
        let dest = to.join(name);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let meta = match std::fs::symlink_metadata(&from) {
            Ok(m) => m,
            Err(_) => continue, // deleted in the working tree
        };
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from).unwrap(), &dest).unwrap();
        } else {
            std::fs::copy(&from, &dest).unwrap();
        }
    }
}

/// Purges the packages when the test ends, passed or failed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = apt_get().arg("purge").args(PACKAGES).output();
    }
}

fn multiarch() -> String {
    let out = common::run_ok(
        Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH"),
        "dpkg-architecture",
        "dpkg-dev",
    );
    stdout(&out).trim().to_string()
}

/// pkg-config seeing only the folders Debian's packages install into (not
/// /usr/local, where another install could shadow the package's).
fn pkg_config(args: &[&str]) -> String {
    let arch = multiarch();
    let out = common::run_ok(
        Command::new("pkg-config")
            .args(args)
            .arg("smtp")
            .env_remove("PKG_CONFIG_PATH")
            .env(
                "PKG_CONFIG_LIBDIR",
                format!("/usr/lib/{arch}/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig"),
            ),
        "pkg-config",
        "pkg-config",
    );
    stdout(&out).trim().to_string()
}

fn build_and_send(dir: &Path, name: &str, flags: &str, static_link: bool) {
    let exe = dir.join(name);
    let mut gcc = Command::new("gcc");
    if static_link {
        gcc.arg("-static");
    }
    common::run_ok(
        gcc.args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
            .arg(common::repo_root().join("tests/c/installed_send.c"))
            .arg("-o")
            .arg(&exe)
            .args(flags.split_whitespace()),
        "gcc with pkg-config's flags alone",
        "gcc",
    );
    let sink = SmtpSink::start(&[]);
    let out = common::run_ok(
        Command::new(&exe)
            .arg(sink.port.to_string())
            .env_remove("LD_LIBRARY_PATH"),
        name,
        "libsmtp0",
    );
    assert_eq!(stdout(&out).trim(), format!("sent with libsmtp {VERSION}"));
    let dumps = sink.dumps(1);
    assert_eq!(dumps.len(), 1, "{name}: one message arrives");
    assert_eq!(dumps[0].rcpts, ["<rcpt@example.org>"]);
}

#[test]
fn debian_packages_build_pass_lintian_install_and_send_mail() {
    let work = tempfile::tempdir().expect("temp dir");
    let src = work.path().join("libsmtp");
    copy_tree(&src);

    // The release build, in a target folder of its own that outlives the
    // copy, so the crates are compiled once across runs (on a fresh machine
    // cargo fetches them from crates.io, or takes them from
    // ~/.cargo/registry). Not the tree's own target/release: cargo gives
    // both trees' libsmtp the same unit, and build.rs's output names the
    // copy's libsmtp.map, gone after the test.
    let target: PathBuf = common::cdylib::lib_dir()
        .parent()
        .unwrap()
        .join("debian-build");
    common::run_ok(
        Command::new("dpkg-buildpackage")
            .args(["-us", "-uc", "-b"])
            .current_dir(&src)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("MAKEFLAGS")
            .env_remove("DESTDIR"),
        "dpkg-buildpackage -us -uc -b",
        "dpkg-dev and debhelper",
    );
    let arch = stdout(&common::run_ok(
        Command::new("dpkg").arg("--print-architecture"),
        "dpkg",
        "dpkg",
    ))
    .trim()
    .to_string();
    let deb = |p: &str| work.path().join(format!("{p}_{VERSION}_{arch}.deb"));
    for p in PACKAGES.iter().chain(&["libsmtp0-dbgsym"]) {
        assert!(deb(p).is_file(), "{} not built", deb(p).display());
    }

    // lintian: no error (warnings and notes are allowed).
    let changes = work
        .path()
        .join(format!("libsmtp_{VERSION}_{arch}.changes"));
    let lintian = Command::new("lintian")
        .arg(&changes)
        .output()
        .expect("lintian not found: install Debian's lintian");
    let report = text(&lintian);
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E: ")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{report}");
    assert!(
        lintian.status.success(),
        "lintian failed ({}):\n{report}",
        lintian.status
    );

    // Install, as dpkg -i followed by apt-get -f would.
    let installed = Installed;
    let mut install = apt_get();
    install.arg("install").arg("--no-install-recommends");
    for p in PACKAGES {
        install.arg(deb(p));
    }
    common::run_ok(&mut install, "apt-get install of the built packages", "apt");
    let libdir = format!("/usr/lib/{}", multiarch());
    assert_eq!(pkg_config(&["--variable=libdir"]), libdir);
    assert_eq!(pkg_config(&["--modversion"]), VERSION);

    // A program built with pkg-config alone, found by the loader without
    // help, and a fully static one.
    let dir = tempfile::tempdir().unwrap();
    build_and_send(
        dir.path(),
        "send-dynamic",
        &pkg_config(&["--cflags", "--libs"]),
        false,
    );
    build_and_send(
        dir.path(),
        "send-static",
        &pkg_config(&["--static", "--cflags", "--libs"]),
        true,
    );

    // /usr/bin/smtp-send, and its manual pages.
    let sink = SmtpSink::start(&[]);
    let run = common::smtp_send::run_program(
        {
            let mut c = Command::new("/usr/bin/smtp-send");
            c.env_remove("LD_LIBRARY_PATH").args([
                "--host",
                "127.0.0.1",
                "--port",
                &sink.port.to_string(),
                "--from",
                "a@example.org",
                "--to",
                "b@example.org",
            ]);
            c
        },
        b"Subject: packaged\r\n\r\nfrom /usr/bin/smtp-send\r\n",
    );
    assert_eq!(run.status, 0, "/usr/bin/smtp-send: {}", run.stderr);
    let dumps = sink.dumps(1);
    assert_eq!(dumps.len(), 1);
    assert_eq!(dumps[0].rcpts, ["<b@example.org>"]);
    for (section, page) in [("1", "smtp-send"), ("3", "libsmtp")] {
        let out = common::run_ok(
            Command::new("man").args(["-w", section, page]),
            "man -w",
            "man-db",
        );
        assert!(
            stdout(&out).starts_with("/usr/share/man/"),
            "{page}({section}) at {}",
            stdout(&out)
        );
    }

    // Purged, nothing of libsmtp is left in the library folder.
    drop(installed);
    assert!(
        !Path::new(&format!("{libdir}/libsmtp.so.0")).exists(),
        "libsmtp.so.0 left after purge"
    );
    assert!(!Path::new("/usr/bin/smtp-send").exists());
}
