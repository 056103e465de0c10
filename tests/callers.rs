//! libsmtp from Go and Ruby: runs the Go package's tests (tests/ffi/go,
//! cgo over include/smtp.h) and the Ruby module's tests (tests/ffi/ruby,
//! the ffi gem) against the libsmtp.so that `cargo test` built. A missing
//! go or ruby fails, naming the Debian package to install.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn go_package_tests_pass_against_smtp_sink() {
    let lib = common::cdylib::lib_dir();
    let target = lib.parent().unwrap_or(Path::new("target"));
    let mut cmd = Command::new("go");
    cmd.args(["test", "-count=1", "-v", "./..."])
        .current_dir(common::repo_root().join("tests/ffi/go"))
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
    let out = common::run_ok(&mut cmd, "go test", "golang-go");
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS"));
}

#[test]
fn ruby_module_tests_pass_against_smtp_sink() {
    let lib = common::cdylib::lib_dir();
    let mut cmd = Command::new("ruby");
    cmd.args(["-Ilib", "test/test_libsmtp.rb"])
        .current_dir(common::repo_root().join("tests/ffi/ruby"))
        .env("LIBSMTP_PATH", lib.join("libsmtp.so"));
    let out = common::run_ok(&mut cmd, "ruby tests", "ruby and ruby-ffi");
    assert!(String::from_utf8_lossy(&out.stdout).contains(" 0 failures, 0 errors"));
}
