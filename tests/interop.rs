//! The interoperability matrix: smtp-send against every server the tests
//! start — Postfix smtpd, Dovecot LMTP, aiosmtpd, Exim, OpenSMTPD, Haraka
//! and nodemailer's smtp-server — each on loopback with its own
//! configuration, spool and throwaway certificates.
//!
//! A cell passes when smtp-send's exit code is the one expected and what
//! the server stored, once the header fields it added on top are stripped
//! and its line endings made CRLF, has the length and SHA-256 of the
//! message as libsmtp sends it (every line ending CRLF, RFC 5321 §2.3.8),
//! as many times as it was accepted. A cell whose extension the server
//! does not offer is marked so, from its EHLO (or LHLO) reply; an offered
//! cell that fails fails the test. The matrix is printed and written to
//! target/interop-matrix.md, the table of README's "Interoperability".

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::aiosmtpd::{parse_received, AioOptions, AioSmtpd, AioTls};
use common::certs::certs;
use common::dovecot::Dovecot;
use common::exim::Exim;
use common::haraka::Haraka;
use common::node_smtp::NodeSmtp;
use common::opensmtpd::OpenSmtpd;
use common::postfix::Postfix;
use common::smtp_send::{smtp_send, smtp_send_with, Run};
use smtp::{Client, Kind};

/// The domain every server accepts mail for.
const DOMAIN: &str = "example.test";
const FROM: &str = "sender@client.test";
/// Recipients every server accepts (Dovecot knows them as users).
const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
/// A recipient with a non-ASCII local part (RFC 6531).
const JUERGEN: &str = "jürgen@example.test";
/// A recipient every server refuses: another domain (relaying denied),
/// and no such user for Dovecot.
const REFUSED: &str = "nobody@elsewhere.test";
const USER: &str = "interop";
const PASSWORD: &str = "interop-pw-7";
/// The batch: `smtp-send --count`.
const BATCH: usize = 200;
/// The large message: 50 MiB of body.
const LARGE: usize = 50 * 1024 * 1024;

/// A server under test and how to reach it.
struct Target {
    /// The column's title.
    name: String,
    /// A short key for the markers.
    key: &'static str,
    server: Server,
    /// Cells are sent over LMTP (a server that speaks nothing else).
    lmtp_only: bool,
    /// Why TLS is not tried, when it is not.
    no_tls: Option<&'static str>,
}

enum Server {
    /// With the Dovecot that answers its SASL requests.
    Postfix {
        pf: Postfix,
        _sasl: Dovecot,
    },
    Dovecot(Dovecot),
    Aiosmtpd {
        main: AioSmtpd,
        implicit: AioSmtpd,
        lmtp: AioSmtpd,
    },
    Exim(Exim),
    OpenSmtpd(OpenSmtpd),
    Haraka(Haraka),
    NodeSmtp(NodeSmtp),
}

impl Target {
    /// The port the cells are sent to.
    fn port(&self) -> u16 {
        match &self.server {
            Server::Postfix { pf: s, .. } => s.port,
            Server::Dovecot(s) => s.port,
            Server::Aiosmtpd { main, .. } => main.port,
            Server::Exim(s) => s.port,
            Server::OpenSmtpd(s) => s.port,
            Server::Haraka(s) => s.port,
            Server::NodeSmtp(s) => s.port,
        }
    }

    /// The implicit-TLS port, when the server has such a listener.
    fn tls_port(&self) -> Option<u16> {
        match &self.server {
            Server::Postfix { pf: s, .. } => Some(s.tls_port),
            Server::Aiosmtpd { implicit, .. } => Some(implicit.port),
            Server::Exim(s) => Some(s.tls_port),
            Server::Haraka(s) => Some(s.tls_port),
            Server::NodeSmtp(s) => Some(s.tls_port),
            Server::Dovecot(_) | Server::OpenSmtpd(_) => None,
        }
    }

    /// The LMTP listener on TCP, when there is one.
    fn lmtp_port(&self) -> Option<u16> {
        match &self.server {
            Server::Dovecot(s) => Some(s.port),
            Server::Aiosmtpd { lmtp, .. } => Some(lmtp.port),
            Server::NodeSmtp(s) => Some(s.lmtp_port),
            _ => None,
        }
    }

    /// The LMTP listener on a Unix socket, when there is one.
    fn lmtp_socket(&self) -> Option<PathBuf> {
        match &self.server {
            Server::Dovecot(s) => Some(s.socket()),
            Server::NodeSmtp(s) => Some(s.lmtp_socket()),
            _ => None,
        }
    }

    /// Every stored message file.
    fn stored(&self) -> Vec<PathBuf> {
        match &self.server {
            Server::Postfix { pf: s, .. } => s.stored(),
            Server::Dovecot(s) => s.stored(),
            Server::Aiosmtpd {
                main,
                implicit,
                lmtp,
            } => [main.stored(), implicit.stored(), lmtp.stored()].concat(),
            Server::Exim(s) => s.stored(),
            Server::OpenSmtpd(s) => s.stored(),
            Server::Haraka(s) => s.stored(),
            Server::NodeSmtp(s) => s.stored(),
        }
    }

    /// The message in a stored file, as the server stored it.
    fn read(&self, file: &Path) -> Vec<u8> {
        match &self.server {
            Server::Aiosmtpd { .. } => parse_received(file).content,
            _ => std::fs::read(file).unwrap_or_default(),
        }
    }

    fn log(&self) -> String {
        match &self.server {
            Server::Postfix { pf: s, .. } => s.log(),
            Server::Dovecot(s) => s.log(),
            Server::Aiosmtpd { .. } => String::new(),
            Server::Exim(s) => s.log(),
            Server::OpenSmtpd(s) => s.log(),
            Server::Haraka(s) => s.log(),
            Server::NodeSmtp(s) => s.log(),
        }
    }
}

/// What a server's EHLO (or LHLO) offered, keywords in lower case.
#[derive(Default)]
struct Offer {
    /// Before TLS.
    plain: HashMap<String, String>,
    /// After STARTTLS (empty when it is not offered).
    tls: HashMap<String, String>,
    /// The reply of the SMTP port to LHLO, when the server has no LMTP
    /// listener: "500 ..." and the like.
    lhlo_on_smtp: Option<String>,
}

impl Offer {
    fn has(&self, keyword: &str) -> bool {
        self.plain.contains_key(keyword)
    }

    /// The AUTH mechanisms offered, after STARTTLS when it is offered.
    fn auth(&self) -> Vec<String> {
        let features = if self.tls.is_empty() {
            &self.plain
        } else {
            &self.tls
        };
        features
            .get("auth")
            .map(|m| m.split_whitespace().map(str::to_ascii_uppercase).collect())
            .unwrap_or_default()
    }
}

fn features(c: &Client) -> HashMap<String, String> {
    c.features()
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect()
}

/// Asks the server for its extensions, the way smtp-send will talk to it.
fn probe(t: &Target) -> Offer {
    let kind = if t.lmtp_only { Kind::Lmtp } else { Kind::Smtp };
    let mut c = Client::new(kind);
    c.set_local_hostname("client.example").unwrap();
    c.set_timeout(Duration::from_secs(30)).unwrap();
    c.tls_config().ca_file = Some(certs().ca.clone());
    c.connect("127.0.0.1", t.port())
        .unwrap_or_else(|e| panic!("{}: connect: {e:?}\n{}", t.name, t.log()));
    c.ehlo_or_helo_if_needed()
        .unwrap_or_else(|e| panic!("{}: EHLO: {e:?}\n{}", t.name, t.log()));
    let mut offer = Offer {
        plain: features(&c),
        ..Default::default()
    };
    if offer.has("starttls") && t.no_tls.is_none() {
        c.starttls()
            .unwrap_or_else(|e| panic!("{}: STARTTLS: {e:?}\n{}", t.name, t.log()));
        offer.tls = features(&c);
    }
    let _ = c.quit();
    if t.lmtp_port().is_none() {
        offer.lhlo_on_smtp = Some(lhlo_reply(t.port()));
    }
    offer
}

/// The reply of an SMTP listener to LHLO (RFC 2033 §4.1), its first line.
fn lhlo_reply(port: u16) -> String {
    use std::io::{BufRead, BufReader};
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect for LHLO");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut reply = || {
        let mut first = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return first;
            }
            if first.is_empty() {
                first = line.trim_end().to_string();
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return first;
            }
        }
    };
    reply();
    w.write_all(b"LHLO client.example\r\n").unwrap();
    let answer = reply();
    let _ = w.write_all(b"QUIT\r\n");
    answer
}

/// A cell's verdict.
enum Outcome {
    Pass(String),
    NotOffered(String),
    /// Not tried, for the reason given (a server fault outside libsmtp).
    NotTried(String),
    Fail(String),
}

/// How many stored copies a send must leave.
#[derive(Clone, Copy)]
enum Copies {
    Exactly(usize),
    AtLeast(usize),
}

/// One send and what it must give.
struct Send {
    /// smtp-send's options, before the connection's.
    args: Vec<String>,
    /// The message's header fields after the marker, then the body.
    rest: Vec<u8>,
    /// A large body appended after `rest` (written to the file, not kept).
    large: bool,
    /// Every line ending of the file a bare LF, the marker's too.
    bare_lf: bool,
    exit: i32,
    copies: Copies,
    /// smtp-send is run with -v and its transcript must contain this.
    transcript_has: Option<&'static str>,
    /// Standard error must contain this.
    stderr_has: Option<String>,
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Header fields every test message carries, so that no server adds its
/// own Date or Message-ID below the marker (OpenSMTPD would).
fn headers(from: &str, to: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nDate: Thu, 26 Nov 2026 08:00:00 +0000\r\n\
         Message-ID: <{}@client.test>\r\nSubject: {subject}\r\n",
        marker_id()
    )
}

fn marker_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Every line ending made CRLF and a final one added, as libsmtp sends a
/// message (and as Postfix, Exim and OpenSMTPD, which store LF, held it).
fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 50 + 2);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The line every message starts with, naming its cell.
fn marker_line(marker: &str) -> String {
    format!("X-Interop-Cell: {marker}")
}

/// The message as sent, out of what a server stored: the header fields it
/// added on top (Received, Return-Path, Delivered-To, ...) stripped, up to
/// the marker line. None when the marker is not in the header section (a
/// report the server generated, say).
fn sent_part(stored: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    while at < stored.len() {
        let end = stored[at..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(stored.len(), |e| at + e + 1);
        let line = &stored[at..end];
        if line.starts_with(b"X-Interop-Cell: ") {
            return Some(&stored[at..]);
        }
        if line == b"\r\n" || line == b"\n" {
            return None;
        }
        at = end;
    }
    None
}

/// The marker of a stored message, if it has one.
fn marker_of(stored: &[u8]) -> Option<String> {
    let part = sent_part(stored)?;
    let end = part.iter().position(|b| *b == b'\r' || *b == b'\n')?;
    Some(String::from_utf8_lossy(&part[16..end]).into_owned())
}

fn sha256_hex(data: &[u8]) -> String {
    openssl::sha::sha256(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The lines of the 50 MiB body: printable, 76 characters, CRLF.
fn large_body() -> &'static [u8] {
    static BODY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BODY.get_or_init(|| {
        let mut body = Vec::with_capacity(LARGE + 80);
        let mut n = 0u64;
        let text = "0123456789abcdef".repeat(5);
        while body.len() < LARGE {
            body.extend_from_slice(format!("{n:08} {}\r\n", &text[..67]).as_bytes());
            n += 1;
        }
        body
    })
}

/// Runs the cells against one target.
struct Runner<'a> {
    t: &'a Target,
    offer: Offer,
    dir: tempfile::TempDir,
    /// The marker of each stored file seen so far (None: not a test message).
    seen: HashMap<PathBuf, Option<String>>,
    /// Details of the failed cells.
    failures: Vec<String>,
}

impl Runner<'_> {
    /// smtp-send's connection options for the target's main listener.
    fn at(&self) -> Vec<String> {
        let mut a = strings(&["--host", "127.0.0.1", "--port"]);
        a.push(self.t.port().to_string());
        if self.t.lmtp_only {
            a.push("--lmtp".into());
        }
        a.extend(strings(&[
            "--timeout",
            "120",
            "--local-hostname",
            "client.example",
        ]));
        a
    }

    fn starttls(&self) -> Vec<String> {
        let mut a = self.at();
        a.extend(strings(&["--starttls", "--cafile"]));
        a.push(certs().ca.display().to_string());
        a
    }

    fn envelope(to: &[&str]) -> Vec<String> {
        let mut a = strings(&["--from", FROM]);
        for r in to {
            a.push("--to".into());
            a.push(r.to_string());
        }
        a
    }

    /// The files stored with `marker` (waiting until `copies` of them are
    /// there, `wait` at most), read.
    fn stored_with(&mut self, marker: &str, copies: Copies, wait: Duration) -> Vec<Vec<u8>> {
        let want = match copies {
            Copies::Exactly(n) | Copies::AtLeast(n) => n,
        };
        let deadline = Instant::now() + wait;
        let mut looked_again = false;
        loop {
            for f in self.t.stored() {
                if !self.seen.contains_key(&f) {
                    let m = marker_of(&self.t.read(&f));
                    self.seen.insert(f, m);
                }
            }
            let files: Vec<PathBuf> = self
                .seen
                .iter()
                .filter(|(_, m)| m.as_deref() == Some(marker))
                .map(|(f, _)| f.clone())
                .collect();
            let enough = files.len() >= want;
            if enough && !looked_again && matches!(copies, Copies::Exactly(n) if n > 0) {
                // No more copies may follow: one more look a moment later.
                looked_again = true;
                std::thread::sleep(Duration::from_millis(300));
                continue;
            }
            if enough || Instant::now() >= deadline {
                return files.iter().map(|f| self.t.read(f)).collect();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `s` with `marker`, checks the exit code and what was stored.
    fn send(&mut self, cell: &str, s: Send) -> Outcome {
        let marker = format!("{}/{}", self.t.key, cell);
        let file = self.dir.path().join(format!("{cell}.eml"));
        let mut f = std::fs::File::create(&file).expect("create message file");
        let mut head = format!("{}\r\n", marker_line(&marker)).into_bytes();
        head.extend_from_slice(&s.rest);
        if s.bare_lf {
            head = String::from_utf8(head)
                .expect("UTF-8 message")
                .replace("\r\n", "\n")
                .into_bytes();
        }
        f.write_all(&head).unwrap();
        // The expected length and SHA-256 of what libsmtp sends.
        let (expected_len, expected_sha) = if s.large {
            f.write_all(large_body()).unwrap();
            // `head` ends with CRLF and the body is CRLF already: it is
            // sent unchanged after it.
            let normal = crlf(&head);
            let mut h = openssl::sha::Sha256::new();
            h.update(&normal);
            h.update(large_body());
            let len = normal.len() + large_body().len();
            (len, h.finish().iter().map(|b| format!("{b:02x}")).collect())
        } else {
            let normal = crlf(&head);
            (normal.len(), sha256_hex(&normal))
        };
        drop(f);
        let mut args = s.args.clone();
        if s.transcript_has.is_some() {
            args.push("-v".into());
        }
        args.push(file.display().to_string());
        let run = smtp_send_with(&args, b"");
        let _ = std::fs::remove_file(&file);
        let fail = |why: String, run: &Run| {
            let stderr: String = run.stderr.chars().take(3000).collect();
            Outcome::Fail(format!(
                "{why}\n    smtp-send {}\n    stderr: {stderr}",
                s.args.join(" ")
            ))
        };
        if run.status != s.exit {
            // How much got through all the same, for the report.
            let stored = self.stored_with(&marker, s.copies, Duration::from_secs(5));
            let want = match s.copies {
                Copies::Exactly(n) | Copies::AtLeast(n) => n,
            };
            return fail(
                format!(
                    "exit {} (expected {}), {} of {want} stored",
                    run.status,
                    s.exit,
                    stored.len()
                ),
                &run,
            );
        }
        if let Some(want) = &s.stderr_has {
            if !run.stderr.contains(want.as_str()) {
                return fail(format!("stderr lacks {want:?}"), &run);
            }
        }
        if let Some(want) = s.transcript_has {
            if !run.stderr.contains(want) {
                return fail(format!("transcript lacks {want:?}"), &run);
            }
        }
        let wait = match s.copies {
            Copies::Exactly(0) => Duration::from_millis(300),
            Copies::Exactly(n) if n > 1 => Duration::from_secs(120),
            _ => Duration::from_secs(60),
        };
        let stored = self.stored_with(&marker, s.copies, wait);
        let count_ok = match s.copies {
            Copies::Exactly(n) => stored.len() == n,
            Copies::AtLeast(n) => stored.len() >= n,
        };
        let want = match s.copies {
            Copies::Exactly(n) => format!("{n}"),
            Copies::AtLeast(n) => format!("at least {n}"),
        };
        if !count_ok {
            return fail(format!("{} stored, expected {want}", stored.len()), &run);
        }
        for (i, m) in stored.iter().enumerate() {
            let part = crlf(sent_part(m).expect("marker found before"));
            if part.len() != expected_len || sha256_hex(&part) != expected_sha {
                let shown = String::from_utf8_lossy(&part[..part.len().min(600)]).into_owned();
                return fail(
                    format!(
                        "copy {i}: {} bytes, expected {expected_len}; SHA-256 differs: {}\n    stored: {shown:?}",
                        part.len(),
                        sha256_hex(&part) != expected_sha
                    ),
                    &run,
                );
            }
        }
        let detail = match (s.exit, stored.len()) {
            (0, n) if n > 1 && matches!(s.copies, Copies::Exactly(_)) => {
                format!("{n}/{n} stored")
            }
            (0, _) => String::new(),
            (code, _) => format!("exit {code}"),
        };
        Outcome::Pass(detail)
    }

    fn message(&self, subject: &str, body: &str) -> Vec<u8> {
        format!("{}\r\n{body}", headers(FROM, ALICE, subject)).into_bytes()
    }

    fn simple(&self, args: Vec<String>, subject: &str, exit: i32) -> Send {
        let copies = Copies::Exactly(if exit == 0 { 1 } else { 0 });
        Send {
            args,
            rest: self.message(subject, "Hello.\r\n.a line with a leading dot\r\n"),
            large: false,
            bare_lf: false,
            exit,
            copies,
            transcript_has: None,
            stderr_has: None,
        }
    }

    fn password_file(&self, password: &str) -> String {
        let p = self.dir.path().join(format!("pw-{}", marker_id()));
        std::fs::write(&p, format!("{password}\n")).unwrap();
        p.display().to_string()
    }

    /// Every cell, in the order of the table's rows.
    fn run_all(&mut self) -> Vec<Outcome> {
        let mut out = Vec::new();
        for (key, _) in ROWS {
            let started = Instant::now();
            let o = self.cell(key);
            if let Outcome::Fail(why) = &o {
                self.failures.push(format!(
                    "{} / {key} ({:.1} s): {why}",
                    self.t.name,
                    started.elapsed().as_secs_f64()
                ));
            }
            out.push(o);
        }
        out
    }

    fn not_offered(what: &str) -> Outcome {
        Outcome::NotOffered(what.to_string())
    }

    fn cell(&mut self, key: &str) -> Outcome {
        let to_alice = Self::envelope(&[ALICE]);
        let tls_cell = matches!(key, "starttls" | "starttls-no-ca" | "implicit-tls");
        if let (true, Some(why)) = (tls_cell, self.t.no_tls) {
            return Outcome::NotTried(why.to_string());
        }
        match key {
            "plain" => {
                let a = [self.at(), to_alice].concat();
                let s = self.simple(a, "plain", 0);
                self.send(key, s)
            }
            "starttls" | "starttls-no-ca" => {
                if !self.offer.has("starttls") {
                    return Self::not_offered("");
                }
                let (a, exit) = if key == "starttls" {
                    ([self.starttls(), to_alice].concat(), 0)
                } else {
                    let mut a = self.at();
                    a.push("--starttls".into());
                    ([a, to_alice].concat(), 22)
                };
                let mut s = self.simple(a, key, exit);
                if exit == 22 {
                    s.stderr_has = Some("certificate verify failed".into());
                }
                self.send(key, s)
            }
            "implicit-tls" => {
                let Some(port) = self.t.tls_port() else {
                    return Self::not_offered("no TLS listener¹");
                };
                let mut a = strings(&["--host", "127.0.0.1", "--ssl", "--port"]);
                a.push(port.to_string());
                a.extend(strings(&["--timeout", "120", "--cafile"]));
                a.push(certs().ca.display().to_string());
                let s = self.simple([a, to_alice].concat(), key, 0);
                self.send(key, s)
            }
            k if k.starts_with("auth-") => {
                let (mech, right) = match k {
                    "auth-plain" => ("PLAIN", true),
                    "auth-plain-wrong" => ("PLAIN", false),
                    "auth-login" => ("LOGIN", true),
                    "auth-login-wrong" => ("LOGIN", false),
                    "auth-cram-md5" => ("CRAM-MD5", true),
                    _ => ("CRAM-MD5", false),
                };
                if !self.offer.auth().iter().any(|m| m == mech) {
                    return Self::not_offered("");
                }
                let mut a = if self.offer.has("starttls") {
                    self.starttls()
                } else {
                    self.at()
                };
                let pw = self.password_file(if right { PASSWORD } else { "wrong-password" });
                a.extend(strings(&["--user", USER, "--password-file", &pw]));
                a.extend(strings(&["--auth-mechanisms", mech]));
                let s = self.simple([a, to_alice].concat(), key, if right { 0 } else { 10 });
                self.send(key, s)
            }
            "batch" => {
                let mut a = [self.at(), to_alice].concat();
                a.extend(strings(&["--count", &BATCH.to_string()]));
                let mut s = self.simple(a, "batch", 0);
                s.copies = Copies::Exactly(BATCH);
                self.send(key, s)
            }
            "bdat" => {
                if !self.offer.has("chunking") {
                    return Self::not_offered("");
                }
                let mut s = self.simple([self.at(), to_alice].concat(), "bdat", 0);
                s.transcript_has = Some("BDAT ");
                self.send(key, s)
            }
            "smtputf8-address" | "smtputf8-send-message" => {
                if !self.offer.has("smtputf8") {
                    return Self::not_offered("");
                }
                let from = "jürgen@client.test";
                let rest = format!(
                    "{}\r\nGrüße, {JUERGEN}.\r\n",
                    headers(
                        &format!("Jürgen <{from}>"),
                        &format!("Jürgen <{JUERGEN}>"),
                        "Grüße"
                    )
                );
                let mut a = self.at();
                if key == "smtputf8-address" {
                    a.extend(strings(&[
                        "--from",
                        from,
                        "--to",
                        JUERGEN,
                        "--mail-option",
                        "SMTPUTF8",
                    ]));
                } else {
                    a.push("--send-message".into());
                }
                let s = Send {
                    args: a,
                    rest: rest.into_bytes(),
                    large: false,
                    bare_lf: false,
                    exit: 0,
                    copies: Copies::Exactly(1),
                    transcript_has: None,
                    stderr_has: None,
                };
                self.send(key, s)
            }
            "8bitmime" => {
                if !self.offer.has("8bitmime") {
                    return Self::not_offered("");
                }
                let mut a = [self.at(), to_alice].concat();
                a.extend(strings(&["--mail-option", "BODY=8BITMIME"]));
                let rest = format!(
                    "{}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
                     Content-Transfer-Encoding: 8bit\r\n\r\nÄrger über Öl, ß und €.\r\n",
                    headers(FROM, ALICE, "8bit")
                );
                let mut s = self.simple(a, "8bit", 0);
                s.rest = rest.into_bytes();
                self.send(key, s)
            }
            "dsn" => {
                if !self.offer.has("dsn") {
                    return Self::not_offered("");
                }
                let mut a = [self.at(), to_alice].concat();
                a.extend(strings(&[
                    "--mail-option",
                    "RET=HDRS",
                    "--mail-option",
                    "ENVID=interop-dsn",
                    "--rcpt-option",
                    "NOTIFY=FAILURE,DELAY",
                ]));
                let s = self.simple(a, "dsn", 0);
                self.send(key, s)
            }
            "large" => {
                if let Some(size) = self.offer.plain.get("size") {
                    if let Ok(limit) = size.trim().parse::<usize>() {
                        if limit != 0 && limit < LARGE + 4096 {
                            return Self::not_offered(&format!("SIZE {limit}"));
                        }
                    }
                }
                let mut s = self.simple([self.at(), to_alice].concat(), "large", 0);
                s.rest = format!("{}\r\n", headers(FROM, ALICE, "50 MiB")).into_bytes();
                s.large = true;
                self.send(key, s)
            }
            "bare-lf" => {
                let mut s = self.simple([self.at(), to_alice].concat(), "bare LF", 0);
                s.bare_lf = true;
                self.send(key, s)
            }
            "refused-rcpt" => {
                let a = [self.at(), Self::envelope(&[ALICE, REFUSED, BOB])].concat();
                let mut s = self.simple(a, "one refused", 0);
                s.copies = Copies::AtLeast(1);
                s.stderr_has = Some(format!("refused: {REFUSED} 5"));
                self.send(key, s)
            }
            "lmtp-tcp" | "lmtp-unix" => {
                let host = if key == "lmtp-tcp" {
                    self.t.lmtp_port().map(|p| ("127.0.0.1".to_string(), p))
                } else {
                    self.t.lmtp_socket().map(|p| (p.display().to_string(), 0))
                };
                let Some((host, port)) = host else {
                    return match &self.offer.lhlo_on_smtp {
                        Some(r) if !r.starts_with('2') => {
                            Outcome::NotOffered(format!("LHLO: {}", &r[..r.len().min(3)]))
                        }
                        _ => Self::not_offered("TCP only"),
                    };
                };
                let mut a = strings(&["--lmtp", "--host", &host]);
                if port != 0 {
                    a.extend(strings(&["--port", &port.to_string()]));
                }
                a.extend(strings(&["--timeout", "120"]));
                let s = self.simple([a, to_alice].concat(), key, 0);
                self.send(key, s)
            }
            other => panic!("no cell {other}"),
        }
    }
}

/// The rows: a key and the row's title.
const ROWS: &[(&str, &str)] = &[
    ("plain", "plain (no TLS)"),
    ("starttls", "STARTTLS, verified against the test CA"),
    ("starttls-no-ca", "STARTTLS without the CA → exit 22"),
    ("implicit-tls", "implicit TLS (`--ssl`)"),
    ("auth-plain", "AUTH PLAIN, right password"),
    ("auth-plain-wrong", "AUTH PLAIN, wrong password → exit 10"),
    ("auth-login", "AUTH LOGIN, right password"),
    ("auth-login-wrong", "AUTH LOGIN, wrong password → exit 10"),
    ("auth-cram-md5", "AUTH CRAM-MD5, right password"),
    (
        "auth-cram-md5-wrong",
        "AUTH CRAM-MD5, wrong password → exit 10",
    ),
    ("batch", "`--count 200`, one connection"),
    ("bdat", "BDAT (CHUNKING)"),
    ("smtputf8-address", "SMTPUTF8: UTF-8 addresses"),
    ("smtputf8-send-message", "SMTPUTF8: `--send-message`"),
    ("8bitmime", "8BITMIME body"),
    ("dsn", "DSN (RET, ENVID, NOTIFY)"),
    ("large", "50 MiB message"),
    ("bare-lf", "bare LF line endings"),
    ("refused-rcpt", "one refused recipient among good ones"),
    ("lmtp-tcp", "LMTP over TCP"),
    ("lmtp-unix", "LMTP over a Unix socket"),
];

/// The first line of `cmd`'s output (stdout, else stderr), or "".
fn first_line(cmd: &mut Command) -> String {
    cmd.output()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

fn npm_version(package: &str) -> String {
    let p = common::daemon::servers_dir().join(format!("npm/node_modules/{package}/package.json"));
    let text = std::fs::read_to_string(p).unwrap_or_default();
    text.split("\"version\"")
        .nth(1)
        .and_then(|r| r.split('"').nth(1))
        .unwrap_or("?")
        .to_string()
}

/// Starts the server of column `key`.
fn start(key: &'static str) -> Target {
    let c = certs();
    let (name, server, lmtp_only, no_tls) = match key {
        "postfix" => {
            let v = first_line(Command::new("/usr/sbin/postconf").args(["-dh", "mail_version"]));
            // The production pair: AUTH through Dovecot's SASL server,
            // over TLS only.
            let sasl = Dovecot::start_with_sasl(USER, PASSWORD);
            let socket = sasl.auth_socket().display().to_string();
            let pf = Postfix::start_with(&[
                ("smtpd_sasl_auth_enable", "yes"),
                ("smtpd_sasl_type", "dovecot"),
                ("smtpd_sasl_path", &socket),
                ("smtpd_tls_auth_only", "yes"),
            ]);
            (
                format!("Postfix {v} smtpd³"),
                Server::Postfix { pf, _sasl: sasl },
                false,
                None,
            )
        }
        "dovecot" => {
            let v = first_line(Command::new("dovecot").arg("--version"));
            let v = v.split_whitespace().next().unwrap_or("").to_string();
            (
                format!("Dovecot {v} LMTP¹"),
                Server::Dovecot(Dovecot::start()),
                true,
                None,
            )
        }
        "aiosmtpd" => {
            let v = first_line(
                Command::new("python3")
                    .args(["-c", "import aiosmtpd; print(aiosmtpd.__version__)"]),
            );
            let opts = |tls: AioTls, lmtp: bool| AioOptions {
                tls,
                cert: Some(c.good_cert.clone()),
                key: Some(c.good_key.clone()),
                auth: (!lmtp).then(|| (USER.to_string(), PASSWORD.to_string())),
                lmtp,
                smtputf8: true,
                domain: Some(DOMAIN.to_string()),
                data_size_limit: Some(64 * 1024 * 1024),
                ..Default::default()
            };
            (
                format!("aiosmtpd {v}"),
                Server::Aiosmtpd {
                    main: AioSmtpd::start(opts(AioTls::StartTls { require: false }, false)),
                    implicit: AioSmtpd::start(opts(AioTls::Implicit, false)),
                    lmtp: AioSmtpd::start(opts(AioTls::None, true)),
                },
                false,
                None,
            )
        }
        "exim" => {
            let s = Exim::start(DOMAIN, USER, PASSWORD);
            let exe = common::daemon::servers_dir().join(common::exim::EXIM);
            let v = first_line(
                Command::new(exe)
                    .args(["-bV", "-C", "/dev/null"])
                    .env_clear(),
            );
            let v = v
                .split("Exim version ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("4")
                .to_string();
            (format!("Exim {v}"), Server::Exim(s), false, None)
        }
        "opensmtpd" => {
            let s = OpenSmtpd::start(DOMAIN);
            let v = s
                .log()
                .split("OpenSMTPD ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("6.8")
                .to_string();
            (
                format!("OpenSMTPD {v}²"),
                Server::OpenSmtpd(s),
                false,
                Some("plaintext only²"),
            )
        }
        "haraka" => (
            format!("Haraka {}", npm_version("Haraka")),
            Server::Haraka(Haraka::start(DOMAIN, USER, PASSWORD)),
            false,
            None,
        ),
        "smtp-server" => (
            format!("smtp-server {}", npm_version("smtp-server")),
            Server::NodeSmtp(NodeSmtp::start(DOMAIN, USER, PASSWORD)),
            false,
            None,
        ),
        other => panic!("no server {other}"),
    };
    Target {
        name,
        key,
        server,
        lmtp_only,
        no_tls,
    }
}

const COLUMNS: &[&str] = &[
    "postfix",
    "dovecot",
    "aiosmtpd",
    "exim",
    "opensmtpd",
    "haraka",
    "smtp-server",
];

/// One column: the server's name, its outcomes and failure details.
struct Column {
    name: String,
    outcomes: Vec<Outcome>,
    failures: Vec<String>,
    seconds: f64,
}

fn run_column(key: &'static str) -> Column {
    let started = Instant::now();
    let t = start(key);
    let offer = probe(&t);
    let mut r = Runner {
        t: &t,
        offer,
        dir: tempfile::tempdir().expect("temp dir"),
        seen: HashMap::new(),
        failures: Vec::new(),
    };
    let outcomes = r.run_all();
    let mut failures = std::mem::take(&mut r.failures);
    if !failures.is_empty() {
        let log = t.log();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        failures.push(format!(
            "{} log (last lines):\n{}",
            t.name,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Column {
        name: t.name.clone(),
        outcomes,
        failures,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn cell_text(o: &Outcome) -> String {
    match o {
        Outcome::Pass(d) if d.is_empty() => "pass".into(),
        Outcome::Pass(d) => format!("pass ({d})"),
        Outcome::NotOffered(why) if why.is_empty() => "not offered".into(),
        Outcome::NotOffered(why) => format!("not offered ({why})"),
        Outcome::NotTried(why) => why.clone(),
        Outcome::Fail(why) => format!("**FAIL**: {}", why.lines().next().unwrap_or("")),
    }
}

fn table(columns: &[Column]) -> String {
    let mut md = String::from("| cell |");
    for c in columns {
        write!(md, " {} |", c.name).unwrap();
    }
    md.push_str("\n|---|");
    for _ in columns {
        md.push_str("---|");
    }
    md.push('\n');
    for (i, (_, title)) in ROWS.iter().enumerate() {
        write!(md, "| {title} |").unwrap();
        for c in columns {
            write!(md, " {} |", cell_text(&c.outcomes[i]).replace('|', "\\|")).unwrap();
        }
        md.push('\n');
    }
    md.push_str(
        "\n\"not offered\": the server's EHLO reply (LHLO for Dovecot) does not list the \
         extension (for AUTH, the EHLO after STARTTLS); for LMTP, its SMTP port answers LHLO \
         with 500 and it has no LMTP listener; for the 50 MiB message, its SIZE is smaller.\n\
         ¹ Dovecot speaks LMTP only: its cells are sent with `--lmtp`; it has no TLS \
         listener in this configuration.\n\
         ² OpenSMTPD 6.8's own TLS fails with OpenSSL 3 (its log: \"SSL routines::EVP lib\", an \
         upstream fault): it is tested in plaintext, and offers AUTH over TLS only.\n\
         ³ Postfix authenticates through Dovecot's SASL server (`smtpd_sasl_type = dovecot`), \
         over TLS only.\n",
    );
    md
}

#[test]
fn every_server_stores_what_smtp_send_sent_in_every_cell_it_offers() {
    // Built once before the threads start.
    let _ = smtp_send();
    let _ = certs();
    let _ = large_body();
    let started = Instant::now();
    // Each server in its own thread: they share nothing but the CA.
    let handles: Vec<_> = COLUMNS
        .iter()
        .map(|key| std::thread::spawn(move || run_column(key)))
        .collect();
    // A server that cannot start fails its whole column, not the table.
    let columns: Vec<Column> = handles
        .into_iter()
        .zip(COLUMNS)
        .map(|(h, key)| {
            h.join().unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Column {
                    name: key.to_string(),
                    outcomes: ROWS
                        .iter()
                        .map(|_| Outcome::Fail("the server did not start".into()))
                        .collect(),
                    failures: vec![format!("{key}: {why}")],
                    seconds: 0.0,
                }
            })
        })
        .collect();
    let md = table(&columns);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target folder")
        .join("interop-matrix.md");
    std::fs::write(&out, &md).expect("write the matrix");
    println!("{md}");
    for c in &columns {
        println!("{}: {:.1} s", c.name, c.seconds);
    }
    println!(
        "matrix in {:.1} s, written to {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    let failures: Vec<&String> = columns.iter().flat_map(|c| &c.failures).collect();
    for f in &failures {
        println!("\n{f}");
    }
    let failed: Vec<String> = columns
        .iter()
        .flat_map(|c| {
            ROWS.iter()
                .zip(&c.outcomes)
                .filter(|(_, o)| matches!(o, Outcome::Fail(_)))
                .map(move |((key, _), _)| format!("{} / {key}", c.name))
        })
        .collect();
    assert!(failed.is_empty(), "offered cells failed: {failed:?}");
}

#[test]
fn stored_messages_are_compared_from_the_marker_on_with_crlf_line_endings() {
    // The comparison itself: trace fields a server added on top are
    // dropped, LF becomes CRLF, and a report quoting the marker in its
    // body is not taken for the message.
    let stored = b"Received: from x\n\tby y\nX-Interop-Cell: a/b\nSubject: s\n\nbody\n";
    assert_eq!(marker_of(stored).as_deref(), Some("a/b"));
    assert_eq!(
        crlf(sent_part(stored).unwrap()),
        b"X-Interop-Cell: a/b\r\nSubject: s\r\n\r\nbody\r\n"
    );
    let report = b"Subject: report\r\n\r\nX-Interop-Cell: a/b\r\n";
    assert_eq!(marker_of(report), None);
    assert_eq!(crlf(b"a\rb\r\nc"), b"a\r\nb\r\nc\r\n");
}
