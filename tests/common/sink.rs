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
        self.dump_files(expected)
            .iter()
            .map(|f| parse_dump(&std::fs::read(f).unwrap()))
            .collect()
    }

    /// The dump files so far, oldest first (waits briefly for `expected`
    /// of them), for a test that reads a large one as a stream.
    pub fn dump_files(&self, expected: usize) -> Vec<PathBuf> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            if files.len() >= expected || Instant::now() > deadline {
                files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
                return files;
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

/// `as_dumped` as a stream: the message goes in by pieces (a CR at the end
/// of one piece and an LF at the start of the next are one line break) and
/// comes out by pieces, in constant memory.
#[derive(Debug, Default)]
pub struct AsDumped {
    /// The last byte given was a CR whose fate depends on the next one.
    pending_cr: bool,
    /// The last byte put out.
    last: Option<u8>,
    /// Some byte was given.
    started: bool,
}

impl AsDumped {
    pub fn new() -> AsDumped {
        AsDumped::default()
    }

    /// Appends to `out` what `piece` becomes.
    pub fn feed(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        self.started |= !piece.is_empty();
        for &b in piece {
            if self.pending_cr {
                self.pending_cr = false;
                out.push(b'\n');
                if b == b'\n' {
                    continue;
                }
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else {
                out.push(b);
            }
        }
        if self.pending_cr {
            self.last = Some(b'\r');
        } else if let Some(&b) = out.last() {
            self.last = Some(b);
        }
    }

    /// Appends to `out` the end: a held CR as a line break, and the final
    /// line break smtp-sink adds when the message lacks one.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            out.push(b'\n');
            self.last = Some(b'\n');
        }
        if self.last != Some(b'\n') || !self.started {
            out.push(b'\n');
        }
    }
}

/// The SHA-256 and length of the body of the dump file at `path` (the
/// `Dump::body` that `parse_dump` would give), read as a stream.
pub fn dumped_body_sha256(path: &Path) -> ([u8; 32], u64) {
    use std::io::{BufRead, BufReader, Read};
    let mut r = BufReader::with_capacity(1 << 16, std::fs::File::open(path).unwrap());
    let mut line = Vec::new();
    // The X- lines, then the three lines of the Received header.
    loop {
        line.clear();
        assert!(
            r.read_until(b'\n', &mut line).unwrap() > 0,
            "dump ends early"
        );
        if line.starts_with(b"Received: ") {
            for _ in 0..2 {
                line.clear();
                r.read_until(b'\n', &mut line).unwrap();
            }
            break;
        }
        assert!(line.starts_with(b"X-"), "unexpected dump line {line:?}");
    }
    // The rest but its last byte, smtp-sink's extra LF.
    let mut hash = openssl::sha::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut held: Option<u8> = None;
    let mut len = 0u64;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if let Some(b) = held.take() {
            hash.update(&[b]);
            len += 1;
        }
        hash.update(&buf[..n - 1]);
        len += (n - 1) as u64;
        held = Some(buf[n - 1]);
    }
    assert_eq!(held, Some(b'\n'), "the dump lacks smtp-sink's final LF");
    (hash.finish(), len)
}
