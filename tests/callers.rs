//! libsmtp from Go and Ruby: runs the Go package's tests (tests/ffi/go,
//! cgo over include/smtp.h) and the Ruby gem's tests (bindings/ruby/test,
//! over the ffi gem) against the libsmtp.so that `cargo test` built. A missing
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
        "Dir.glob('test/test_*.rb').sort.each { |f| require File.expand_path(f) }",
    ])
    .current_dir(common::repo_root().join("bindings/ruby"))
    .env("LIBSMTP_PATH", lib.join("libsmtp.so"));
    with_test_servers(&mut cmd);
    let out = common::run_ok(&mut cmd, "ruby tests", "ruby and ruby-ffi");
    assert!(String::from_utf8_lossy(&out.stdout).contains(" 0 failures, 0 errors"));
}

/// The gem as a user installs it: libsmtp installed into a prefix
/// (.ci/install), `gem build` and `gem install --local` into a fresh
/// GEM_HOME with nothing fetched (its one dependency, ffi, is Debian's
/// ruby-ffi), then `ruby -e 'require "libsmtp"; ...'` from a folder outside
/// the tree, with an environment holding only PATH, HOME, GEM_HOME and the
/// one variable that stands for the system's configuration:
/// LD_LIBRARY_PATH for the ldconfig run a system install makes, or, in a
/// second run, PKG_CONFIG_PATH for pkg-config's search path.
#[test]
fn the_installed_gem_sends_from_outside_the_tree_with_the_installed_library() {
    let target = common::cdylib::lib_dir()
        .parent()
        .expect("target folder")
        .to_path_buf();
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = dir.path().join("usr");
    common::run_ok(
        Command::new(common::repo_root().join(".ci/install"))
            .env("PREFIX", &prefix)
            .env("PROFILE", "debug")
            .env("CARGO_TARGET_DIR", &target),
        ".ci/install",
        "coreutils",
    );
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("work folder");
    let gem = work.join("libsmtp.gem");
    common::run_ok(
        Command::new("gem")
            .args(["build", "libsmtp.gemspec", "--output"])
            .arg(&gem)
            .current_dir(common::repo_root().join("bindings/ruby")),
        "gem build",
        "ruby",
    );
    let gem_home = dir.path().join("gems");
    common::run_ok(
        Command::new("gem")
            .args(["install", "--local", "--no-document"])
            .arg(&gem)
            .current_dir(&work)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", dir.path())
            .env("GEM_HOME", &gem_home),
        "gem install --local",
        "ruby and ruby-ffi",
    );
    // Nothing installed points into this checkout.
    let root = common::repo_root().display().to_string();
    for entry in walk(&gem_home.join("gems")) {
        let text = std::fs::read(&entry).expect("installed file");
        assert!(
            !String::from_utf8_lossy(&text).contains(&root),
            "{} names the checkout",
            entry.display()
        );
    }

    let sink = common::sink::SmtpSink::start(&[]);
    let script = format!(
        "require 'libsmtp'; LibSMTP::SMTP.start('127.0.0.1', {}) {{ |s| \
         s.send_message(\"Subject: gem\\r\\n\\r\\nfrom the installed gem\\r\\n\", \
         'alice@example.org', 'bob@example.net') }}",
        sink.port
    );
    let loader_paths = [
        ("LD_LIBRARY_PATH", prefix.join("lib")),
        ("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")),
    ];
    for (n, (var, value)) in loader_paths.iter().enumerate() {
        common::run_ok(
            Command::new("ruby")
                .args(["-e", &script])
                .current_dir(&work)
                .env_clear()
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .env("HOME", dir.path())
                .env("GEM_HOME", &gem_home)
                .env(var, value),
            "ruby -e with the installed gem",
            "ruby and ruby-ffi",
        );
        let dumps = sink.dumps(n + 1);
        assert_eq!(dumps.len(), n + 1, "one message per run");
        assert!(dumps
            .iter()
            .all(|d| d.body == b"Subject: gem\n\nfrom the installed gem\n"));
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
