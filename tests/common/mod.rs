//! Test servers: a scripted dialog server (server lines in, exact client
//! bytes out) and real servers started on free loopback ports.
#![allow(dead_code)]

pub mod aiosmtpd;
pub mod cdylib;
pub mod certs;
pub mod daemon;
pub mod dovecot;
pub mod exim;
pub mod haraka;
pub mod node_smtp;
pub mod opensmtpd;
pub mod postfix;
pub mod scripted;
pub mod sink;
pub mod smtp_send;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// Set (to anything) by tests/run-all's second pass over the session
/// tests: every client they make is non-blocking, so the same scripts run
/// through the suspending state machine (each wait a `Pending` resumed from
/// poll(2)) with the same bytes and outcomes expected.
pub const NONBLOCKING_ENV: &str = "LIBSMTP_TEST_NONBLOCKING";

/// A client of `kind`: blocking, or non-blocking in the second pass.
pub fn new_client(kind: smtp::Kind) -> smtp::Client {
    let mut c = smtp::Client::new(kind);
    if std::env::var_os(NONBLOCKING_ENV).is_some() {
        c.set_nonblocking(true).expect("non-blocking mode");
        assert!(c.is_nonblocking());
    }
    c
}

/// The repository's top folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Runs `cmd`, failing with its output unless it succeeds; a missing
/// program fails naming the Debian `package` that brings it.
pub fn run_ok(cmd: &mut Command, what: &str, package: &str) -> Output {
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "{what}: {:?} not found: install Debian's {package}",
                cmd.get_program()
            )
        }
        Err(e) => panic!("{what}: cannot run {:?}: {e}", cmd.get_program()),
    };
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `make` stages its files in one folder of the target directory: one
/// install (or other make target) at a time within a test binary.
pub static MAKE: Mutex<()> = Mutex::new(());

/// libsmtp as a user installs it: `.ci/install` (`make install` of the
/// debug build, built in `target`) into `prefix`.
pub fn ci_install(prefix: &std::path::Path, target: &std::path::Path) {
    let _one = MAKE.lock().unwrap_or_else(|e| e.into_inner());
    run_ok(
        Command::new(repo_root().join(".ci/install"))
            .env("PREFIX", prefix)
            .env("PROFILE", "debug")
            .env("CARGO_TARGET_DIR", target)
            .env_remove("DESTDIR")
            .env_remove("LIBDIR")
            .env_remove("MAKEFLAGS"),
        ".ci/install",
        "make",
    );
}

/// Turns on the transcript of `client` at `level` and collects its lines.
pub fn record_transcript(client: &mut smtp::Client, level: u8) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    client.debug().set_level(level);
    client.debug().set_sink(Some(Box::new(move |l: &str| {
        sink.lock().unwrap().push(l.to_string())
    })));
    lines
}

/// The uid and gid of the system user `name` (tests/setup-deps makes the
/// ones the servers drop to).
pub fn user_ids(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == name).then(|| (f[2].parse().ok(), f[3].parse().ok()))
        })
        .and_then(|(u, g)| Some((u?, g?)))
        .unwrap_or_else(|| panic!("no user {name}: tests/setup-deps makes it"))
}
