//! Postfix smtp-sink, started on a free loopback port with its dump option
//! so a test can check byte for byte what arrived.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's postfix package puts smtp-sink.
pub const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// A running smtp-sink; killed when dropped.
pub struct SmtpSink {
    /// Its loopback port.
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

/// One dumped transaction.
#[derive(Debug, Clone)]
pub struct Dump {
    /// The X-Helo-Args value.
    pub helo: String,
    /// The X-Mail-Args value (address and parameters).
    pub mail: String,
    /// Each X-Rcpt-Args value.
    pub rcpts: Vec<String>,
    /// The message as smtp-sink stored it: dot-unstuffed, CRLF as LF,
    /// without smtp-sink's own Received header.
    pub body: Vec<u8>,
}

impl SmtpSink {
    /// Starts smtp-sink with `extra` flags (e.g. "-L" for LMTP, "-r" to
    /// reject). A missing smtp-sink is a test failure, never a skip.
    pub fn start(extra: &[&str]) -> SmtpSink {
        assert!(
            Path::new(SMTP_SINK).exists(),
            "{SMTP_SINK} not found: install Debian's postfix package (.ci/run does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = super::free_port();
        let template = format!("{}/%Y%m%d%H%M%S.", dir.path().display());
        let child = Command::new(SMTP_SINK)
            .args(["-u", "root", "-d", &template])
            .args(extra)
            .arg(format!("127.0.0.1:{port}"))
            .arg("64")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn smtp-sink");
        let sink = SmtpSink { port, child, dir };
        sink.wait_ready();
        sink
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("smtp-sink did not listen on port {}", self.port);
    }

    /// The dump folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every dumped transaction so far, oldest first (waits briefly for
    /// `expected` of them, as smtp-sink writes after replying).
    pub fn dumps(&self, expected: usize) -> Vec<Dump> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            if files.len() >= expected || Instant::now() > deadline {
                files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
                return files
                    .iter()
                    .map(|f| parse_dump(&std::fs::read(f).unwrap()))
                    .collect();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Splits smtp-sink's dump: its X- lines, its Received header (three
/// lines), then the message followed by one extra LF.
pub fn parse_dump(raw: &[u8]) -> Dump {
    let mut dump = Dump {
        helo: String::new(),
        mail: String::new(),
        rcpts: Vec::new(),
        body: Vec::new(),
    };
    let mut rest = raw;
    loop {
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .expect("dump header line");
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        if let Some(v) = line.strip_prefix("X-Helo-Args: ") {
            dump.helo = v.to_string();
        } else if let Some(v) = line.strip_prefix("X-Mail-Args: ") {
            dump.mail = v.to_string();
        } else if let Some(v) = line.strip_prefix("X-Rcpt-Args: ") {
            dump.rcpts.push(v.to_string());
        } else if line.starts_with("Received: ") {
            // Received: from ...\n\tby smtp-sink ...\n\tdate\n
            rest = &rest[end + 1..];
            for _ in 0..2 {
                let e = rest.iter().position(|b| *b == b'\n').unwrap();
                rest = &rest[e + 1..];
            }
            break;
        } else if !line.starts_with("X-") {
            panic!("unexpected dump line {line:?}");
        }
        rest = &rest[end + 1..];
    }
    let body = rest.strip_suffix(b"\n").unwrap_or(rest);
    dump.body = body.to_vec();
    dump
}

/// What smtp-sink stores for a message we sent: CRLF (and, after our
/// normalisation, bare CR and LF) as LF, plus the final line break.
pub fn as_dumped(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 1);
    let mut i = 0;
    while i < msg.len() {
        match msg[i] {
            b'\r' if msg.get(i + 1) == Some(&b'\n') => {
                out.push(b'\n');
                i += 2;
                continue;
            }
            b'\r' => out.push(b'\n'),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.ends_with(b"\n") || msg.is_empty() {
        out.push(b'\n');
    }
    out
}
