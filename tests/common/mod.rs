//! Test servers: a scripted dialog server (server lines in, exact client
//! bytes out) and real servers started on free loopback ports.
#![allow(dead_code)]

pub mod aiosmtpd;
pub mod cdylib;
pub mod certs;
pub mod scripted;
pub mod sink;

use std::net::TcpListener;
use std::path::PathBuf;

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
