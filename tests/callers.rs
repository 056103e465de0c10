//! libsmtp from Go and Ruby: runs the Go module's tests (bindings/go, cgo
//! over the libsmtp that `.ci/install` put in a temporary prefix, found
//! through pkg-config as a user's would be) and the Ruby module's tests
//! (tests/ffi/ruby, the ffi gem) against the libsmtp.so that `cargo test`
//! built. A missing go or ruby fails, naming the Debian package to install.
//!
//! Those tests start their own servers: Postfix smtp-sink, and aiosmtpd
//! (tests/servers/aiosmtpd_server.py) with STARTTLS and AUTH. The
//! certificates are made here, in the one place that makes them
//! (tests/common/certs.rs), and their paths passed in the environment.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::certs::certs;

/// The aiosmtpd script and the test certificates, for the Go and Ruby
/// tests that start aiosmtpd with STARTTLS.
fn with_test_servers(cmd: &mut Command) {
    let c = certs();
    cmd.env(
        "LIBSMTP_TEST_AIOSMTPD",
        common::repo_root().join(common::aiosmtpd::SCRIPT),
    )
    .env("LIBSMTP_TEST_CA", &c.ca)
    .env("LIBSMTP_TEST_CERT", &c.good_cert)
    .env("LIBSMTP_TEST_KEY", &c.good_key);
}

/// libsmtp as a user installs it: `.ci/install` (the debug build) into a
/// fresh prefix, whose smtp.pc the Go package finds through pkg-config.
fn installed_libsmtp() -> (tempfile::TempDir, PathBuf) {
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
        .unwrap_or(Path::new("target"))
        .to_path_buf()
}

/// `go` offline, its caches under target/, building against the libsmtp
/// installed in `prefix` (pkg-config at build time, the loader's
/// LD_LIBRARY_PATH at run time: nothing of the checkout in the binary).
fn go(prefix: &Path, dir: &Path, args: &[&str]) -> Command {
    let target = target_dir();
    let mut cmd = Command::new("go");
    cmd.args(args)
        .current_dir(dir)
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GO111MODULE", "on")
        .env("GOCACHE", target.join("go/cache"))
        .env("GOPATH", target.join("go/path"))
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .env("LD_LIBRARY_PATH", prefix.join("lib"))
        .env_remove("CGO_CFLAGS")
        .env_remove("CGO_LDFLAGS");
    cmd
}

#[test]
fn go_package_tests_pass_against_smtp_sink_and_aiosmtpd() {
    let (_dir, prefix) = installed_libsmtp();
    let bindings = common::repo_root().join("bindings/go");
    common::run_ok(
        &mut go(&prefix, &bindings, &["vet", "./..."]),
        "go vet",
        "golang-go",
    );
    let mut cmd = go(&prefix, &bindings, &["test", "-count=1", "-v", "./..."]);
    with_test_servers(&mut cmd);
    let out = common::run_ok(&mut cmd, "go test", "golang-go");
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS"));
}

#[test]
fn ruby_module_tests_pass_against_smtp_sink_and_aiosmtpd() {
    let lib = common::cdylib::lib_dir();
    let mut cmd = Command::new("ruby");
    // Every test file; minitest runs them all at exit.
    cmd.args([
        "-Ilib",
        "-Itest",
        "-e",
        "require 'test_libsmtp'; require 'test_aiosmtpd'",
    ])
    .current_dir(common::repo_root().join("tests/ffi/ruby"))
    .env("LIBSMTP_PATH", lib.join("libsmtp.so"));
    with_test_servers(&mut cmd);
    let out = common::run_ok(&mut cmd, "ruby tests", "ruby and ruby-ffi");
    assert!(String::from_utf8_lossy(&out.stdout).contains(" 0 failures, 0 errors"));
}
