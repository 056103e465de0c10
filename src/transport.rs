//! Transport: TCP (IPv4/IPv6, optional source address), Unix sockets (for
//! LMTP) and OpenSSL TLS, with a deadline on every read and write, and the
//! bounded reply reader on top.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslStream, SslVerifyMode, SslVersion};

use crate::error::{Error, Result, Status};
use crate::protocol::reply::{Parsed, Reply, ReplyError, ReplyParser};

/// The TLS protocol versions a caller may ask for as a minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.0 (for old servers only).
    Tls10,
    /// TLS 1.1.
    Tls11,
    /// TLS 1.2, the default minimum.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// How TLS connections are made. The default verifies the server's chain
/// against the system trust store and its name against the host connected
/// to, sends SNI, and refuses anything below TLS 1.2.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Verify the chain and the name. Off only by an explicit call.
    pub verify: bool,
    /// A PEM file of trust anchors, in addition to the system store.
    pub ca_file: Option<PathBuf>,
    /// A hashed directory of trust anchors (c_rehash form).
    pub ca_dir: Option<PathBuf>,
    /// A PEM client certificate chain.
    pub cert_file: Option<PathBuf>,
    /// The PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// The lowest protocol version accepted.
    pub min_version: TlsVersion,
    /// The name to verify and send as SNI instead of the host connected to.
    pub server_name: Option<String>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            verify: true,
            ca_file: None,
            ca_dir: None,
            cert_file: None,
            key_file: None,
            min_version: TlsVersion::Tls12,
            server_name: None,
        }
    }
}

/// What a TLS session negotiated, for the caller's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// "TLSv1.3" and the like.
    pub version: String,
    /// The cipher suite's name.
    pub cipher: String,
    /// The peer certificate's subject, one-line form; empty when none.
    pub peer_subject: String,
}

/// The TCP stream under TLS. While `deadline` is set (during the
/// handshake) every read and write is bounded by the time left until it,
/// so a peer dripping bytes cannot stretch the handshake past the deadline
/// the way it could stretch a per-read timeout.
struct TlsTcp {
    tcp: TcpStream,
    deadline: Option<Instant>,
}

impl TlsTcp {
    fn time_left(&self) -> io::Result<Option<Duration>> {
        match self.deadline {
            None => Ok(None),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
                } else {
                    Ok(Some(left))
                }
            }
        }
    }
}

impl Read for TlsTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(left) = self.time_left()? {
            self.tcp.set_read_timeout(Some(left))?;
        }
        self.tcp.read(buf)
    }
}

impl Write for TlsTcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(left) = self.time_left()? {
            self.tcp.set_write_timeout(Some(left))?;
        }
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// A TLS client context made from a `TlsConfig`. Making it reads the CA and
/// certificate files, so a bad setting is reported before a byte is sent.
pub struct TlsContext {
    connector: SslConnector,
    verify: bool,
    server_name: Option<String>,
}

impl TlsContext {
    /// Builds the context: protocol floor, trust anchors, client
    /// certificate, verification.
    pub fn new(config: &TlsConfig) -> Result<TlsContext> {
        let tls_err =
            |e: openssl::error::ErrorStack| Error::new(Status::Tls, format!("TLS setup: {e}"));
        let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(tls_err)?;
        builder
            .set_min_proto_version(Some(match config.min_version {
                TlsVersion::Tls10 => SslVersion::TLS1,
                TlsVersion::Tls11 => SslVersion::TLS1_1,
                TlsVersion::Tls12 => SslVersion::TLS1_2,
                TlsVersion::Tls13 => SslVersion::TLS1_3,
            }))
            .map_err(tls_err)?;
        if let Some(file) = &config.ca_file {
            builder.set_ca_file(file).map_err(|e| {
                Error::new(
                    Status::Tls,
                    format!("cannot load CA file {}: {e}", file.display()),
                )
            })?;
        }
        if let Some(dir) = &config.ca_dir {
            builder
                .load_verify_locations(None, Some(dir))
                .map_err(|e| {
                    Error::new(
                        Status::Tls,
                        format!("cannot load CA directory {}: {e}", dir.display()),
                    )
                })?;
        }
        if let Some(cert) = &config.cert_file {
            let key = config.key_file.as_ref().unwrap_or(cert);
            builder
                .set_certificate_chain_file(cert)
                .and_then(|_| builder.set_private_key_file(key, SslFiletype::PEM))
                .and_then(|_| builder.check_private_key())
                .map_err(|e| Error::new(Status::Tls, format!("client certificate: {e}")))?;
        }
        if !config.verify {
            builder.set_verify(SslVerifyMode::NONE);
        }
        Ok(TlsContext {
            connector: builder.build(),
            verify: config.verify,
            server_name: config.server_name.clone(),
        })
    }
}

enum Stream {
    Tcp(TcpStream),
    Tls(Box<SslStream<TlsTcp>>),
    Unix(UnixStream),
    /// Only while a handshake has taken the TCP stream.
    Detached,
}

impl Stream {
    fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(t)),
            Stream::Tls(s) => s.get_ref().tcp.set_read_timeout(Some(t)),
            Stream::Unix(s) => s.set_read_timeout(Some(t)),
            Stream::Detached => Err(detached()),
        }
    }
}

impl Stream {
    /// Acknowledges at once what was read, rather than on the delayed-ACK
    /// timer (about 40 ms on Linux). A server that leaves Nagle's algorithm
    /// on (Haraka) holds each further reply until its previous one is
    /// acknowledged, so pipelined replies would each wait for the timer.
    /// A failure only costs that delay.
    fn quick_ack(&self) {
        #[cfg(target_os = "linux")]
        if let Stream::Tcp(tcp) = self {
            let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
        } else if let Stream::Tls(s) = self {
            let _ = socket2::SockRef::from(&s.get_ref().tcp).set_tcp_quickack(true);
        }
    }
}

fn detached() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection is closed")
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Detached => Err(detached()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Detached => Err(detached()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            Stream::Detached => Err(detached()),
        }
    }
}

/// Why no reply could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The server closed the connection.
    Closed,
    /// A socket error or a timeout.
    Io(io::Error),
    /// The bytes were not a valid reply.
    Reply(ReplyError),
}

/// One connection to a server.
pub struct Connection {
    stream: Stream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    parser: ReplyParser,
    timeout: Duration,
    /// The read timeout last set on the socket, to spare a system call per
    /// reply when it has not changed.
    read_timeout: Option<Duration>,
    /// Bytes were read since our last write, so their ACK may be waiting
    /// for the delayed-ACK timer (a write would have carried it).
    unacked: bool,
}

const READ_BUF: usize = 16 * 1024;

impl Connection {
    fn new(stream: Stream, timeout: Duration) -> Connection {
        Connection {
            stream,
            buf: vec![0; READ_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            parser: ReplyParser::new(),
            timeout,
            read_timeout: None,
            unacked: false,
        }
    }

    /// Connects over TCP to the first address of `host` that answers,
    /// binding to `source` first when given.
    pub fn tcp(
        host: &str,
        port: u16,
        timeout: Duration,
        source: Option<&(String, u16)>,
    ) -> Result<Connection> {
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::from_io(&e, &format!("cannot resolve {host}")))?
            .collect();
        let source = match source {
            Some((shost, sport)) => Some(resolve_source(shost, *sport)?),
            None => None,
        };
        let deadline = Instant::now() + timeout;
        let mut last = None;
        for addr in addrs {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                last = Some(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
                break;
            }
            match connect_one(addr, remaining, source.as_deref()) {
                Ok(stream) => {
                    stream
                        .set_nodelay(true)
                        .and_then(|_| stream.set_write_timeout(Some(timeout)))
                        .map_err(|e| Error::from_io(&e, "socket setup"))?;
                    return Ok(Connection::new(Stream::Tcp(stream), timeout));
                }
                Err(e) => last = Some(e),
            }
        }
        let err = last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for that name"));
        Err(Error::from_io(
            &err,
            &format!("cannot connect to {host} port {port}"),
        ))
    }

    /// Connects to a Unix stream socket (LMTP's usual transport).
    pub fn unix(path: &str, timeout: Duration) -> Result<Connection> {
        let stream = UnixStream::connect(path)
            .map_err(|e| Error::from_io(&e, &format!("cannot connect to {path}")))?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(|e| Error::from_io(&e, "socket setup"))?;
        Ok(Connection::new(Stream::Unix(stream), timeout))
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Whether the peer is on this machine (a Unix socket, or a loopback
    /// address).
    pub fn is_local(&self) -> bool {
        match &self.stream {
            Stream::Tcp(s) => s.peer_addr().map(|a| a.ip().is_loopback()).unwrap_or(false),
            Stream::Tls(s) => s
                .get_ref()
                .tcp
                .peer_addr()
                .map(|a| a.ip().is_loopback())
                .unwrap_or(false),
            Stream::Unix(_) => true,
            Stream::Detached => false,
        }
    }

    /// Bytes received and not yet consumed by a reply.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Changes the deadline for later operations.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.read_timeout = None;
        let _ = match &self.stream {
            Stream::Tcp(s) => s.set_write_timeout(Some(timeout)),
            Stream::Tls(s) => s.get_ref().tcp.set_write_timeout(Some(timeout)),
            Stream::Unix(s) => s.set_write_timeout(Some(timeout)),
            Stream::Detached => Ok(()),
        };
    }

    /// Writes all of `data`.
    pub fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.unacked = false;
        self.stream.write_all(data)
    }

    /// Reads one complete reply, within the deadline.
    pub fn read_reply(&mut self) -> std::result::Result<Reply, ReadError> {
        let deadline = Instant::now() + self.timeout;
        let mut first_read = true;
        loop {
            if self.start < self.end {
                match self.parser.feed(&self.buf[self.start..self.end]) {
                    Parsed::Reply(reply, used) => {
                        self.start += used;
                        return Ok(reply);
                    }
                    Parsed::Error(e) => return Err(ReadError::Reply(e)),
                    Parsed::NeedMore => {
                        self.start = 0;
                        self.end = 0;
                    }
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ReadError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "timed out",
                )));
            }
            // The first read of a reply may wait the whole deadline: the
            // socket usually has that setting already. Later reads get
            // what is left of it.
            let wait = if first_read { self.timeout } else { remaining };
            first_read = false;
            if self.read_timeout != Some(wait) {
                self.stream.set_read_timeout(wait).map_err(ReadError::Io)?;
                self.read_timeout = Some(wait);
            }
            if self.unacked {
                // About to wait with nothing to send: acknowledge now what
                // came, so the server is not held back by it (once per
                // wait; Linux leaves quick-ACK mode by itself).
                self.stream.quick_ack();
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(n) => {
                    self.start = 0;
                    self.end = n;
                    self.unacked = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Runs a TLS handshake on this connection (implicit TLS, or after a 220
    /// to STARTTLS). `host` is the name verified and sent as SNI unless the
    /// context names another.
    pub fn start_tls(&mut self, context: &TlsContext, host: &str) -> Result<TlsInfo> {
        let tcp = match std::mem::replace(&mut self.stream, Stream::Detached) {
            Stream::Tcp(tcp) => tcp,
            other => {
                self.stream = other;
                return Err(Error::new(
                    Status::Tls,
                    "TLS needs a plain TCP connection (already encrypted, or a Unix socket)",
                ));
            }
        };
        let mut conf = context
            .connector
            .configure()
            .map_err(|e| Error::new(Status::Tls, format!("TLS setup: {e}")))?;
        conf.set_verify_hostname(context.verify);
        let name = context.server_name.as_deref().unwrap_or(host);
        // The whole handshake is bounded by one deadline, as a reply is.
        let tcp = TlsTcp {
            tcp,
            deadline: Some(Instant::now() + self.timeout),
        };
        match conf.connect(name, tcp) {
            Ok(mut tls) => {
                tls.get_mut().deadline = None;
                let _ = tls.get_ref().tcp.set_write_timeout(Some(self.timeout));
                let info = tls_info(&tls);
                self.stream = Stream::Tls(Box::new(tls));
                self.read_timeout = None;
                self.start = 0;
                self.end = 0;
                self.parser = ReplyParser::new();
                Ok(info)
            }
            Err(e) => Err(handshake_error(e)),
        }
    }

    /// What the TLS session negotiated, if encrypted.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        match &self.stream {
            Stream::Tls(s) => Some(tls_info(s)),
            _ => None,
        }
    }

    /// Closes the socket (for TLS, after a close_notify, best effort).
    pub fn shutdown(&mut self) {
        match std::mem::replace(&mut self.stream, Stream::Detached) {
            Stream::Tls(mut s) => {
                let _ = s
                    .get_ref()
                    .tcp
                    .set_write_timeout(Some(Duration::from_millis(200)));
                let _ = s.shutdown();
            }
            Stream::Tcp(s) => drop(s),
            Stream::Unix(s) => drop(s),
            Stream::Detached => {}
        }
    }
}

fn tls_info(s: &SslStream<TlsTcp>) -> TlsInfo {
    let ssl = s.ssl();
    let peer_subject = ssl
        .peer_certificate()
        .map(|cert| {
            cert.subject_name()
                .entries()
                .map(|e| {
                    let key = e.object().nid().short_name().unwrap_or("?");
                    let value = String::from_utf8_lossy(e.data().as_slice());
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    TlsInfo {
        version: ssl.version_str().to_string(),
        cipher: ssl
            .current_cipher()
            .map(|c| c.name().to_string())
            .unwrap_or_default(),
        peer_subject,
    }
}

fn handshake_error(e: openssl::ssl::HandshakeError<TlsTcp>) -> Error {
    use openssl::ssl::HandshakeError;
    match e {
        HandshakeError::SetupFailure(stack) => {
            Error::new(Status::Tls, format!("TLS setup: {stack}"))
        }
        HandshakeError::Failure(mid) | HandshakeError::WouldBlock(mid) => {
            let err = mid.error();
            if let Some(io) = err.io_error() {
                if crate::error::is_timeout(io) {
                    return Error::from_io(io, "TLS handshake");
                }
            }
            let verify = mid.ssl().verify_result();
            let mut message = format!("TLS handshake failed: {err}");
            if verify != openssl::x509::X509VerifyResult::OK {
                message = format!(
                    "certificate verify failed: {} ({err})",
                    verify.error_string()
                );
            }
            if err.io_error().is_some() && err.ssl_error().is_none() {
                // A reset or an EOF mid-handshake.
                let mut e = Error::new(Status::Tls, message);
                e.errno = err.io_error().and_then(|io| io.raw_os_error());
                return e;
            }
            Error::new(Status::Tls, message)
        }
    }
}

/// When `err` came from OpenSSL's TLS layer (an alert from the peer, a bad
/// record) rather than from the socket, OpenSSL's reason.
pub fn tls_failure(err: &io::Error) -> Option<String> {
    let ssl = err.get_ref()?.downcast_ref::<openssl::ssl::Error>()?;
    ssl.ssl_error().map(|stack| stack.to_string())
}

fn resolve_source(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::from_io(&e, &format!("cannot resolve source address {host}")))?
        .collect();
    Ok(addrs)
}

fn connect_one(
    addr: SocketAddr,
    timeout: Duration,
    source: Option<&[SocketAddr]>,
) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(source) = source {
        // Bind to the source address of the same family as the target.
        let local = source
            .iter()
            .find(|s| s.is_ipv4() == addr.is_ipv4())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    "source address is of another address family",
                )
            })?;
        socket.bind(&SockAddr::from(*local))?;
    }
    socket.connect_timeout(&SockAddr::from(addr), timeout)?;
    Ok(socket.into())
}
