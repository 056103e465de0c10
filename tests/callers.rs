//! libsmtp from Go and Ruby: runs the Go package's tests (bindings/go,
//! cgo over include/smtp.h) and the Ruby module's tests (tests/ffi/ruby,
//! the ffi gem) against the libsmtp.so that `cargo test` built. A missing
//! go or ruby fails, naming the Debian package to install.
//!
//! Those tests start their own servers: Postfix smtp-sink, and aiosmtpd
//! (tests/servers/aiosmtpd_server.py) with STARTTLS and AUTH. The
//! certificates are made here, in the one place that makes them
//! (tests/common/certs.rs), and their paths passed in the environment.

mod common;

use std::path::Path;
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

#[test]
fn go_package_tests_pass_against_smtp_sink_and_aiosmtpd() {
    let lib = common::cdylib::lib_dir();
    let target = lib.parent().unwrap_or(Path::new("target"));
    let mut cmd = Command::new("go");
    cmd.args(["test", "-count=1", "-v", "./..."])
        .current_dir(common::repo_root().join("bindings/go"))
        // Nothing is fetched; the build cache lives under target/.
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GO111MODULE", "on")
        .env("GOCACHE", target.join("go/cache"))
        .env("GOPATH", target.join("go/path"))
        // The library this test run built, first on the link line.
        .env(
            "CGO_LDFLAGS",
            format!("-L{0} -Wl,-rpath,{0}", lib.display()),
        );
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
