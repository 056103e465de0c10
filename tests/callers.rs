//! libsmtp from Go and Ruby: runs the Go module's tests (bindings/go, cgo
//! over the libsmtp that `.ci/install` put in a temporary prefix, found
//! through pkg-config as a user's would be) and the Ruby gem's tests
//! (bindings/ruby/test, over the ffi gem), and uses both as a user would:
//! from a fresh directory, against an installed libsmtp. A missing go or
//! ruby fails, naming the Debian package to install.
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
/// prefix of its own, whose smtp.pc the Go package finds through
/// pkg-config. Once per run, and always at the same path: Go's build cache
/// keeps the linker's -L from pkg-config with a cached package, so a prefix
/// that moved from run to run would leave a later run's link pointing at a
/// folder that is gone.
fn installed_libsmtp() -> PathBuf {
    static PREFIX: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PREFIX
        .get_or_init(|| {
            // Outside the checkout (the binaries must name nothing in it),
            // one folder per target folder.
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            target_dir().hash(&mut h);
            let prefix = std::env::temp_dir()
                .join(format!("libsmtp-callers-{:016x}", h.finish()))
                .join("usr");
            let _ = std::fs::remove_dir_all(&prefix);
            common::ci_install(&prefix, &target_dir());
            prefix
        })
        .clone()
}

/// The target folder: this test binary is target/<profile>/deps/NAME.
/// (.ci/install builds the library itself, so it need not exist yet.)
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("target folder above target/<profile>/deps")
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
    let prefix = installed_libsmtp();
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

/// Go's own net/smtp examples (`Example`, `ExamplePlainAuth`,
/// `ExampleSendMail` from GOROOT's net/smtp/example_test.go), with only
/// their import path and their server's address changed, in a fresh
/// module outside the repository whose go.mod requires libsmtp's module
/// (replaced by this checkout, as README says a user does until the path
/// is served).
fn net_smtp_examples(port: u16) -> String {
    let goroot = common::run_ok(
        Command::new("go").args(["env", "GOROOT"]),
        "go env",
        "golang-go",
    );
    let goroot = String::from_utf8_lossy(&goroot.stdout).trim().to_string();
    let path = Path::new(&goroot).join("src/net/smtp/example_test.go");
    let original = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: install Debian's golang-go", path.display()));
    let adapted = original
        .replace("\"net/smtp\"", "\"libsmtp.org/smtp\"")
        .replace("mail.example.com:25", &format!("127.0.0.1:{port}"))
        .replace("hostname+\":25\"", &format!("hostname+\":{port}\""))
        .replace("\"mail.example.com\"", "\"127.0.0.1\"");
    for gone in ["net/smtp\"", ":25\"", "mail.example.com"] {
        assert!(!adapted.contains(gone), "{gone} left in the examples");
    }
    adapted
}

#[test]
fn go_net_smtp_examples_build_in_a_separate_module_and_send_through_aiosmtpd() {
    use common::aiosmtpd::{AioOptions, AioSmtpd, AioTls};
    let prefix = installed_libsmtp();
    let dir = tempfile::tempdir().expect("temp dir");
    // STARTTLS offered, AUTH after it, for the examples' own credentials.
    let c = certs();
    let server = AioSmtpd::start(AioOptions {
        tls: AioTls::StartTls { require: false },
        cert: Some(c.good_cert.clone()),
        key: Some(c.good_key.clone()),
        auth: Some(("user@example.com".into(), "password".into())),
        ..AioOptions::default()
    });
    let module = dir.path().join("examples");
    std::fs::create_dir(&module).unwrap();
    let bindings = common::repo_root().join("bindings/go");
    std::fs::write(
        module.join("go.mod"),
        format!(
            "module example.test/netsmtp-examples\n\ngo 1.19\n\n\
             require libsmtp.org/smtp v0.0.0\n\n\
             replace libsmtp.org/smtp => {}\n",
            bindings.display()
        ),
    )
    .unwrap();
    std::fs::write(
        module.join("example_test.go"),
        net_smtp_examples(server.port),
    )
    .unwrap();
    // Examples without an Output comment are compiled, not run: one test
    // runs the three.
    std::fs::write(
        module.join("run_test.go"),
        "package smtp_test\n\nimport \"testing\"\n\n\
         func TestExamples(t *testing.T) { Example(); ExamplePlainAuth(); ExampleSendMail() }\n",
    )
    .unwrap();
    // -trimpath: Go otherwise records each source file's path (here the
    // replaced folder in the checkout, else the module cache) for stack
    // traces; without those, not one byte of the binary names the checkout.
    let exe = module.join("examples.test");
    common::run_ok(
        go(&prefix, &module, &["test", "-c", "-trimpath", "-o"]).arg(&exe),
        "go test -c in the separate module",
        "golang-go",
    );

    // The binary names libsmtp by its soname only: no RUNPATH or RPATH,
    // and nothing that resolves into the checkout.
    let root = common::repo_root().display().to_string();
    let dynamic = String::from_utf8_lossy(
        &common::run_ok(
            Command::new("readelf").arg("-d").arg(&exe),
            "readelf",
            "binutils",
        )
        .stdout,
    )
    .into_owned();
    assert!(
        dynamic.contains("Shared library: [libsmtp.so.0]"),
        "{dynamic}"
    );
    assert!(
        !dynamic.contains("RUNPATH") && !dynamic.contains("RPATH") && !dynamic.contains(&root),
        "{dynamic}"
    );
    let ldd = String::from_utf8_lossy(
        &common::run_ok(
            Command::new("ldd")
                .arg(&exe)
                .env("LD_LIBRARY_PATH", prefix.join("lib")),
            "ldd",
            "libc-bin",
        )
        .stdout,
    )
    .into_owned();
    let libsmtp = format!(
        "libsmtp.so.0 => {}",
        prefix.join("lib/libsmtp.so.0").display()
    );
    assert!(ldd.contains(&libsmtp) && !ldd.contains(&root), "{ldd}");
    let bytes = std::fs::read(&exe).unwrap();
    assert!(
        !bytes.windows(root.len()).any(|w| w == root.as_bytes()),
        "{} names {root}",
        exe.display()
    );

    // As any library outside the loader's path: LD_LIBRARY_PATH; the test
    // CA as OpenSSL's default trust file, for SendMail's STARTTLS.
    common::run_ok(
        Command::new(&exe)
            .arg("-test.v")
            .current_dir(&module)
            .env("LD_LIBRARY_PATH", prefix.join("lib"))
            .env("SSL_CERT_FILE", &c.ca),
        "the net/smtp examples",
        "golang-go",
    );
    let got = server.messages(3);
    let bodies: Vec<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.content).into_owned())
        .collect();
    assert_eq!(got.len(), 3, "{bodies:?}");
    assert!(bodies[0].contains("This is the email body"), "{bodies:?}");
    assert_eq!(got[0].mail_from, "sender@example.org");
    assert_eq!(got[0].rcpt_tos, ["recipient@example.net"]);
    assert!(bodies[1].contains("dummy message"), "{bodies:?}");
    assert_eq!(got[1].mail_from, "gopher@example.net");
    assert!(
        bodies[2].contains("Subject: discount Gophers!"),
        "{bodies:?}"
    );
    // The two SendMail examples switched to TLS before AUTH.
    let commands = server.commands();
    let auths: Vec<&String> = commands.iter().filter(|l| l.contains("AUTH")).collect();
    assert_eq!(auths.len(), 2, "{commands:?}");
    assert!(auths.iter().all(|l| l.starts_with("tls ")), "{commands:?}");
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
    common::ci_install(&prefix, &target);
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
