//! Test servers: a scripted dialog server (server lines in, exact client
//! bytes out) and real servers started on free loopback ports.
#![allow(dead_code)]

pub mod aiosmtpd;
pub mod cdylib;
pub mod certs;
pub mod dovecot;
pub mod postfix;
pub mod scripted;
pub mod sink;
pub mod smtp_send;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

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
