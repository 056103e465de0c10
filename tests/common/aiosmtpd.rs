//! aiosmtpd (Python, from PyPI) on a free loopback port: STARTTLS, implicit
//! TLS, AUTH, SMTPUTF8 and LMTP, driven by tests/servers/aiosmtpd_server.py.
//! Each message it receives is written as JSON to a temporary folder and
//! read back with `messages`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

/// How the server offers TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AioTls {
    /// Plain SMTP only.
    #[default]
    None,
    /// STARTTLS offered; with `require`, every command but EHLO, NOOP,
    /// QUIT and STARTTLS is refused before it.
    StartTls { require: bool },
    /// TLS from the first byte (SMTP_SSL).
    Implicit,
}

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct AioOptions {
    /// The TLS mode; `cert` and `key` are needed unless `None`.
    pub tls: AioTls,
    /// The server certificate (PEM).
    pub cert: Option<PathBuf>,
    /// Its key (PEM).
    pub key: Option<PathBuf>,
    /// When set: AUTH offered (PLAIN, LOGIN and CRAM-MD5) and only this
    /// user and password accepted; AUTH needs TLS first, as aiosmtpd's
    /// default (over implicit TLS it is offered at once, the channel being
    /// encrypted already).
    pub auth: Option<(String, String)>,
    /// When set, a user and its bearer token: AUTH offers XOAUTH2 and
    /// OAUTHBEARER too (under the same TLS rule). Another token gets the
    /// RFC 7628 error challenge, JSON `OAUTH_ERROR_JSON`, then 535.
    pub oauth: Option<(String, String)>,
    /// Speak LMTP (LHLO) instead of SMTP.
    pub lmtp: bool,
    /// Offer SMTPUTF8.
    pub smtputf8: bool,
    /// When set, recipients outside this domain are refused (550 5.7.1).
    pub domain: Option<String>,
    /// When set, the SIZE limit instead of aiosmtpd's 32 MiB.
    pub data_size_limit: Option<usize>,
}

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The MAIL FROM address.
    pub mail_from: String,
    /// Each RCPT TO address, in order.
    pub rcpt_tos: Vec<String>,
    /// The message data after dot-unstuffing, as bytes.
    pub content: Vec<u8>,
    /// The MAIL FROM parameters ("SIZE=123", "SMTPUTF8", ...).
    pub mail_options: Vec<String>,
}

/// A running aiosmtpd; killed when dropped.
pub struct AioSmtpd {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

/// The JSON the script sends as the challenge refusing a bearer token
/// (`json.dumps` of its OAUTH_ERROR).
pub const OAUTH_ERROR_JSON: &str =
    r#"{"status": "invalid_token", "scope": "https://mail.example.com/"}"#;

/// The script, relative to the repository.
pub const SCRIPT: &str = "tests/servers/aiosmtpd_server.py";

impl AioSmtpd {
    /// Starts the server and waits until it accepts connections. A missing
    /// python3 or aiosmtpd module is a test failure, never a skip.
    pub fn start(opts: AioOptions) -> AioSmtpd {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = super::free_port();
        let script = super::repo_root().join(SCRIPT);
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--outdir")
            .arg(dir.path());
        match opts.tls {
            AioTls::None => {
                cmd.args(["--tls", "none"]);
            }
            AioTls::StartTls { require } => {
                cmd.args(["--tls", "starttls"]);
                if require {
                    cmd.arg("--require-starttls");
                }
            }
            AioTls::Implicit => {
                cmd.args(["--tls", "implicit"]);
            }
        }
        if opts.tls != AioTls::None {
            let cert = opts
                .cert
                .as_ref()
                .expect("AioOptions.cert is needed for TLS");
            let key = opts.key.as_ref().expect("AioOptions.key is needed for TLS");
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some((user, password)) = &opts.auth {
            cmd.args(["--auth-user", user, "--auth-password", password]);
        }
        if let Some((user, token)) = &opts.oauth {
            cmd.args(["--oauth-user", user, "--oauth-token", token]);
        }
        if opts.lmtp {
            cmd.arg("--lmtp");
        }
        if opts.smtputf8 {
            cmd.arg("--smtputf8");
        }
        if let Some(domain) = &opts.domain {
            cmd.args(["--domain", domain]);
        }
        if let Some(limit) = opts.data_size_limit {
            cmd.args(["--data-size-limit", &limit.to_string()]);
        }
        // stderr goes to a file: a pipe nobody reads could fill and stall
        // the server.
        let log_path = dir.path().join("stderr.log");
        let log = std::fs::File::create(&log_path).expect("create stderr.log");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}): install python3"));
        // The script prints "ready" once the controller accepts connections.
        let stdout = child.stdout.take().expect("child stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        if read.is_err() || line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(&log_path).unwrap_or_default();
            if stderr.contains("aiosmtpd module is missing") {
                panic!("aiosmtpd is not installed: pip install aiosmtpd");
            }
            panic!("{SCRIPT} did not start:\n{stderr}");
        }
        let server = AioSmtpd { port, child, dir };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("aiosmtpd did not listen on port {}", self.port);
    }

    /// The messages received so far, oldest first, waiting up to 10 s for
    /// `expected` of them.
    pub fn messages(&self, expected: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.read_messages();
            if got.len() >= expected || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The files of the messages received so far (JSON envelopes; read
    /// one with `read_stored`).
    pub fn stored(&self) -> Vec<PathBuf> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read aiosmtpd folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
    }

    fn read_messages(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read aiosmtpd folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names.iter().map(|p| parse_received(p)).collect()
    }

    /// Every command line the server's handler saw so far (EHLO/LHLO, MAIL,
    /// RCPT, AUTH), each prefixed "tls " or "clear " for the channel it came
    /// over: "tls MAIL a@example.org", "clear EHLO client.example"; and for
    /// each TLS handshake the SNI name received: "tls SNI localhost", or
    /// "tls SNI -" when the client sent none.
    pub fn commands(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("commands.log"))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

impl Drop for AioSmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one JSON envelope written by the script. The format is flat and
/// known: string fields and arrays of strings, no escapes but those of
/// json.dump for ASCII-safe output.
pub fn parse_received(path: &std::path::Path) -> Received {
    let text = std::fs::read_to_string(path).expect("read envelope");
    let content = base64::engine::general_purpose::STANDARD
        .decode(json_string(&text, "content"))
        .expect("content is base64");
    Received {
        mail_from: json_string(&text, "mail_from"),
        rcpt_tos: json_strings(&text, "rcpt_tos"),
        content,
        mail_options: json_strings(&text, "mail_options"),
    }
}

/// The string value of `key` at the top level of `text`.
fn json_string(text: &str, key: &str) -> String {
    let at = value_start(text, key);
    parse_string(&text[at..]).0
}

/// The array of strings value of `key`.
fn json_strings(text: &str, key: &str) -> Vec<String> {
    let mut rest = &text[value_start(text, key)..];
    assert!(rest.starts_with('['), "{key} is not an array in {text}");
    rest = rest[1..].trim_start();
    let mut out = Vec::new();
    while !rest.starts_with(']') {
        let (s, used) = parse_string(rest);
        out.push(s);
        rest = rest[used..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    out
}

fn value_start(text: &str, key: &str) -> usize {
    let pat = format!("\"{key}\":");
    let at = text
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {text}"));
    let after = at + pat.len();
    after + (text[after..].len() - text[after..].trim_start().len())
}

/// Parses a JSON string at the start of `s`; returns it and the bytes used.
fn parse_string(s: &str) -> (String, usize) {
    assert!(s.starts_with('"'), "expected a JSON string at {s}");
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    let mut pending_high: Option<u32> = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, i + 1),
            '\\' => {
                let (_, e) = chars.next().expect("escape");
                match e {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = (0..4).map(|_| chars.next().expect("hex").1).collect();
                        let v = u32::from_str_radix(&hex, 16).expect("hex escape");
                        if (0xD800..0xDC00).contains(&v) {
                            pending_high = Some(v);
                            continue;
                        }
                        let v = match pending_high.take() {
                            Some(h) => 0x10000 + ((h - 0xD800) << 10) + (v - 0xDC00),
                            None => v,
                        };
                        out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    panic!("unterminated JSON string: {s}");
}
