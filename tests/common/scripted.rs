//! A scripted SMTP server for exact bytes and hostile behaviour. It runs a
//! list of steps on one accepted connection and returns every byte the
//! client sent, up to the client's close (or a quiet second after the
//! script ended), so a test can assert both what was sent and that nothing
//! more was.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

/// One thing the server does.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send these bytes as they are.
    Send(Vec<u8>),
    /// Read one line from the client (to LF).
    Line,
    /// Read message data up to and including "\r\n.\r\n".
    Data,
    /// Read exactly this many bytes (a BDAT chunk).
    Bytes(usize),
    /// Read `n` lines that must all have been sent before the server says
    /// anything more (pipelining, RFC 2920). If the client waits for a
    /// reply instead, the transcript gets "<not pipelined>" at this point.
    Burst(usize),
    /// Expect silence for this long: the client must be waiting for a
    /// reply. Bytes that come anyway are recorded after "<not waiting>".
    Quiet(Duration),
    /// Wait.
    Sleep(Duration),
    /// Send these bytes one byte at a time, waiting this long before each;
    /// over TLS the record bytes are dripped (one TLS record may take many
    /// seconds to arrive). Stops quietly when the client has gone.
    Drip(Vec<u8>, Duration),
    /// Read what the client sends at this many bytes a second, for at most
    /// this long or until the client closes (a slow reader).
    SlowRead(usize, Duration),
    /// Send these bytes over and over, never reading, until the client
    /// closes the connection (or 20 s pass).
    Flood(Vec<u8>),
    /// Close the connection at once.
    Close,
    /// Run a TLS handshake as the server with this certificate and key
    /// (PEM files); later steps go over TLS and the transcript holds the
    /// decrypted bytes. A failed handshake ends the dialog.
    Tls { cert: PathBuf, key: PathBuf },
    /// As `Tls`, and the client must present a certificate that `ca` (a PEM
    /// file) signed, or the handshake fails.
    TlsClientCert {
        cert: PathBuf,
        key: PathBuf,
        ca: PathBuf,
    },
}

/// Sends `text` followed by CRLF.
pub fn send(text: &str) -> Step {
    Step::Send(format!("{text}\r\n").into_bytes())
}

/// Reads a client line, then sends `reply` (CRLF added).
pub fn reply(reply: &str) -> Vec<Step> {
    vec![Step::Line, send(reply)]
}

/// One message accepted, after the opening: MAIL and one RCPT answered
/// 250, DATA 354, the data read, then 250.
pub fn accepted_message() -> Vec<Step> {
    let mut steps = reply("250 2.1.0 ok");
    steps.extend(reply("250 2.1.5 ok"));
    steps.extend(reply("354 go ahead"));
    steps.push(Step::Data);
    steps.push(send("250 2.0.0 queued"));
    steps
}

/// The usual opening: greeting, then EHLO answered with `features`.
pub fn esmtp_opening(features: &[&str]) -> Vec<Step> {
    let mut steps = vec![send("220 scripted.example ESMTP")];
    steps.push(Step::Line);
    if features.is_empty() {
        steps.push(send("250 scripted.example"));
    } else {
        steps.push(send("250-scripted.example"));
        for (i, f) in features.iter().enumerate() {
            let sep = if i + 1 == features.len() { ' ' } else { '-' };
            steps.push(send(&format!("250{sep}{f}")));
        }
    }
    steps
}

/// `esmtp_opening(clear)`, then STARTTLS accepted and the handshake with
/// the test CA's good certificate; the EHLO after it is the caller's.
pub fn starttls_opening(clear: &[&str]) -> Vec<Step> {
    let c = super::certs::certs();
    let mut steps = esmtp_opening(clear);
    steps.extend(reply("220 go ahead"));
    steps.push(Step::Tls {
        cert: c.good_cert.clone(),
        key: c.good_key.clone(),
    });
    steps
}

/// A running scripted server.
pub struct Scripted {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    thread: JoinHandle<(Vec<u8>, SocketAddr)>,
}

impl Scripted {
    /// Listens on a free loopback port and runs `steps` on the first
    /// connection.
    pub fn start(steps: Vec<Step>) -> Scripted {
        Scripted::start_on("127.0.0.1", steps)
    }

    /// As `start`, listening on `address` (e.g. "::1").
    pub fn start_on(address: &str, steps: Vec<Step>) -> Scripted {
        let listener = TcpListener::bind((address, 0)).expect("bind");
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let (stream, peer) = listener.accept().expect("accept");
            (run(stream, steps), peer)
        });
        Scripted { port, thread }
    }

    /// Waits for the dialog to end and returns what the client sent.
    pub fn finish(self) -> Vec<u8> {
        self.finish_with_peer().0
    }

    /// As `finish`, with the client's address as the server saw it.
    pub fn finish_with_peer(self) -> (Vec<u8>, SocketAddr) {
        self.thread.join().expect("scripted server thread")
    }

    /// As `finish`, as text (lossy), for readable assertions.
    pub fn transcript(self) -> String {
        String::from_utf8_lossy(&self.finish()).into_owned()
    }
}

/// Scripted servers in turn on one port: the first connection runs the
/// first script, the next connection the second, and so on (a client that
/// reconnects).
pub struct ScriptedSessions {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    thread: JoinHandle<Vec<Vec<u8>>>,
}

impl ScriptedSessions {
    /// Listens on a free loopback port and runs each script on one
    /// connection, in order.
    pub fn start(sessions: Vec<Vec<Step>>) -> ScriptedSessions {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            for steps in sessions {
                // A connection that never comes ends the list early.
                let Some(stream) = accept_within(&listener, Duration::from_secs(10)) else {
                    break;
                };
                got.push(run(stream, steps));
            }
            got
        });
        ScriptedSessions { port, thread }
    }

    /// Waits for every dialog to end and returns what the client sent in
    /// each, as text (lossy).
    pub fn transcripts(self) -> Vec<String> {
        self.thread
            .join()
            .expect("scripted server thread")
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect()
    }
}

fn accept_within(listener: &TcpListener, wait: Duration) -> Option<TcpStream> {
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                return Some(stream);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    None
}

/// The server's side of the connection, plain or after a `Step::Tls`.
enum Conn {
    Plain(TcpStream),
    Tls(Box<openssl::ssl::SslStream<DripTcp>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.get_ref().tcp,
        }
    }
}

/// The TCP stream under the server's TLS: while `drip` is set, every byte
/// written (the TLS records) goes out alone after that pause.
struct DripTcp {
    tcp: TcpStream,
    drip: Option<Duration>,
}

impl Read for DripTcp {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.tcp.read(buf)
    }
}

impl Write for DripTcp {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.drip {
            Some(pause) if !buf.is_empty() => {
                std::thread::sleep(pause);
                self.tcp.write(&buf[..1])
            }
            _ => self.tcp.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// The server half of a handshake on `conn`, requiring a client
/// certificate signed by `client_ca` when given; None when it failed.
fn accept_tls(
    conn: Conn,
    cert: &PathBuf,
    key: &PathBuf,
    client_ca: Option<&PathBuf>,
) -> Option<Conn> {
    use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslVerifyMode};
    let Conn::Plain(tcp) = conn else {
        panic!("Step::Tls on a connection already encrypted");
    };
    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    acceptor.set_certificate_chain_file(cert).unwrap();
    acceptor
        .set_private_key_file(key, SslFiletype::PEM)
        .unwrap();
    if let Some(ca) = client_ca {
        acceptor.set_ca_file(ca).unwrap();
        acceptor.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    let acceptor = acceptor.build();
    match acceptor.accept(DripTcp { tcp, drip: None }) {
        Ok(s) => Some(Conn::Tls(Box::new(s))),
        Err(openssl::ssl::HandshakeError::Failure(mut mid)) => {
            // The alert is sent; keep the socket open until the client
            // closes, so that it reads the alert rather than a reset.
            let tcp = &mut mid.get_mut().tcp;
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            while matches!(tcp.read(&mut buf), Ok(n) if n > 0) {}
            None
        }
        Err(_) => None,
    }
}

fn run(stream: TcpStream, steps: Vec<Step>) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut stream = Conn::Plain(stream);
    let mut got = Vec::new();
    for step in steps {
        match step {
            Step::Send(bytes) => {
                if stream.write_all(&bytes).is_err() {
                    return got;
                }
            }
            Step::Line => {
                if !read_until(&mut stream, &mut got, b"\n") {
                    return got;
                }
            }
            Step::Data => {
                if !read_until(&mut stream, &mut got, b"\r\n.\r\n") {
                    return got;
                }
            }
            Step::Bytes(n) => {
                let mut buf = vec![0u8; n];
                if stream.read_exact(&mut buf).is_err() {
                    return got;
                }
                got.extend_from_slice(&buf);
            }
            Step::Burst(n) => {
                if !read_burst(&mut stream, &mut got, n) {
                    return got;
                }
            }
            Step::Quiet(d) => {
                stream.tcp().set_read_timeout(Some(d)).unwrap();
                let mut byte = [0u8; 1];
                if let Ok(1) = stream.read(&mut byte) {
                    got.extend_from_slice(b"<not waiting>");
                    got.push(byte[0]);
                }
                stream
                    .tcp()
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
            }
            Step::Sleep(d) => std::thread::sleep(d),
            Step::Drip(bytes, pause) => {
                if !drip(&mut stream, &bytes, pause) {
                    return got;
                }
            }
            Step::SlowRead(rate, limit) => {
                if !slow_read(&mut stream, &mut got, rate, limit) {
                    return got;
                }
            }
            Step::Flood(bytes) => {
                flood(&mut stream, &bytes);
                return got;
            }
            Step::Close => {
                let _ = stream.tcp().shutdown(std::net::Shutdown::Both);
                return got;
            }
            Step::Tls { cert, key } => match accept_tls(stream, &cert, &key, None) {
                Some(s) => stream = s,
                None => return got,
            },
            Step::TlsClientCert { cert, key, ca } => {
                match accept_tls(stream, &cert, &key, Some(&ca)) {
                    Some(s) => stream = s,
                    None => return got,
                }
            }
        }
    }
    // Whatever else the client sends, until it closes or goes quiet.
    stream
        .tcp()
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Sends `bytes` one at a time (plain), or as TLS records dripped byte by
/// byte; false when the client has gone.
fn drip(stream: &mut Conn, bytes: &[u8], pause: Duration) -> bool {
    match stream {
        Conn::Plain(s) => bytes.iter().all(|b| {
            std::thread::sleep(pause);
            s.write_all(&[*b]).is_ok()
        }),
        Conn::Tls(s) => {
            s.get_mut().drip = Some(pause);
            let ok = s.write_all(bytes).is_ok();
            s.get_mut().drip = None;
            ok
        }
    }
}

/// Reads at `rate` bytes a second for at most `limit`; false on EOF.
fn slow_read(stream: &mut Conn, got: &mut Vec<u8>, rate: usize, limit: Duration) -> bool {
    let piece = (rate / 20).max(1);
    let end = std::time::Instant::now() + limit;
    let mut buf = vec![0u8; piece];
    while std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// Writes `bytes` again and again without reading, until the client
/// closes or 20 s pass.
fn flood(stream: &mut Conn, bytes: &[u8]) {
    let _ = stream
        .tcp()
        .set_write_timeout(Some(Duration::from_secs(20)));
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < end && stream.write_all(bytes).is_ok() {}
}

/// Waits until `n` lines have arrived with no reply sent; marks the
/// transcript when they have not come within a second.
fn read_burst(stream: &mut Conn, got: &mut Vec<u8>, n: usize) -> bool {
    let start = got.len();
    let lines = |g: &[u8]| g.iter().filter(|b| **b == b'\n').count();
    stream
        .tcp()
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    let mut byte = [0u8; 1];
    while lines(&got[start..]) < n && std::time::Instant::now() < deadline {
        if let Ok(1) = stream.read(&mut byte) {
            got.push(byte[0]);
        }
    }
    stream
        .tcp()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    if lines(&got[start..]) < n {
        got.extend_from_slice(b"<not pipelined>");
        for _ in lines(&got[start..])..n {
            if !read_until(stream, got, b"\n") {
                return false;
            }
        }
    }
    true
}

/// Reads byte by byte until `got` ends with `end`; false on EOF or error.
fn read_until(stream: &mut impl Read, got: &mut Vec<u8>, end: &[u8]) -> bool {
    let start = got.len();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(1) => {
                got.push(byte[0]);
                if got[start..].ends_with(end) {
                    return true;
                }
            }
            _ => return false,
        }
    }
}
