//! Transport: TCP (IPv4/IPv6, optional source address), Unix sockets (for
//! LMTP) and OpenSSL TLS, with a deadline on every read and write, and the
//! bounded reply reader on top.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslStream, SslVerifyMode, SslVersion};

use crate::error::{openssl_line, os_reason, tls_handshake_line, Error, Result, Status};
use crate::protocol::reply::{Parsed, Reply, ReplyError, ReplyParser};
use crate::wait::{yield_once, Wait, Waiter, Watched};

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

/// A socket under the deadline of the operation under way. Shared only
/// with the session's `Waiter`, which holds it weakly to watch it.
enum Sock {
    Tcp(Arc<TcpStream>),
    Unix(Arc<UnixStream>),
}

impl Sock {
    fn watched(&self) -> Watched {
        match self {
            Sock::Tcp(s) => Arc::downgrade(s) as Watched,
            Sock::Unix(s) => Arc::downgrade(s) as Watched,
        }
    }

    fn raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// How far a socket timeout already set may overshoot the time left before
/// it is set again: re-arming costs a system call per read or write, and a
/// wait may end this much after the deadline at most.
const REARM_SLACK: Duration = Duration::from_millis(10);

/// The raw socket, plain or under TLS. Every read and write waits at most
/// until `deadline`, the one deadline of the operation under way: before
/// each wait the socket's timeout is set to the time left (unless the one
/// set is within `REARM_SLACK` of it), so a peer dripping bytes, or reading
/// slowly, cannot stretch an operation past its deadline -- inside
/// OpenSSL too, which makes many reads and writes per record.
///
/// A non-blocking socket never waits: a read or write that would is
/// `WouldBlock`, and what it would have waited for (this descriptor, for
/// reading or writing, until the deadline) is recorded in the waiter --
/// also when the call is OpenSSL's, so a handshake that must write while
/// the session reads says so. Past the deadline every call is `TimedOut`,
/// whatever the socket holds, as in blocking mode.
struct Timed {
    sock: Sock,
    deadline: Instant,
    nonblocking: bool,
    waiter: Arc<Waiter>,
    /// The read and write timeouts last set on the socket.
    rcv: Option<Duration>,
    snd: Option<Duration>,
    /// A look at what is waiting is under way: reads do not wait
    /// (MSG_DONTWAIT), and a write OpenSSL makes meanwhile is made as it is.
    probing: bool,
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "timed out")
}

/// Whether a socket timeout set to `set` may stand for a wait whose time
/// left is `left`: it must not end later than the deadline (plus the
/// slack), nor so early that the wait would wake up again and again.
fn timeout_fits(set: Option<Duration>, left: Duration) -> bool {
    set.is_some_and(|t| t <= left + REARM_SLACK && t >= left / 2)
}

impl Timed {
    fn new(sock: Sock, nonblocking: bool, waiter: Arc<Waiter>) -> Timed {
        waiter.attach(sock.watched());
        Timed {
            sock,
            deadline: Instant::now(),
            nonblocking,
            waiter,
            rcv: None,
            snd: None,
            probing: false,
        }
    }

    fn time_left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(timed_out())
        } else {
            Ok(left)
        }
    }

    fn arm(&mut self, write: bool) -> io::Result<()> {
        let left = self.time_left()?;
        let set = if write { self.snd } else { self.rcv };
        if timeout_fits(set, left) {
            return Ok(());
        }
        match (&self.sock, write) {
            (Sock::Tcp(s), false) => s.set_read_timeout(Some(left))?,
            (Sock::Tcp(s), true) => s.set_write_timeout(Some(left))?,
            (Sock::Unix(s), false) => s.set_read_timeout(Some(left))?,
            (Sock::Unix(s), true) => s.set_write_timeout(Some(left))?,
        }
        if write {
            self.snd = Some(left);
        } else {
            self.rcv = Some(left);
        }
        Ok(())
    }

    fn set_os_nonblocking(&self, on: bool) -> io::Result<()> {
        match &self.sock {
            Sock::Tcp(s) => s.set_nonblocking(on),
            Sock::Unix(s) => s.set_nonblocking(on),
        }
    }

    fn peer_is_local(&self) -> bool {
        match &self.sock {
            Sock::Tcp(s) => s.peer_addr().map(|a| a.ip().is_loopback()).unwrap_or(false),
            Sock::Unix(_) => true,
        }
    }

    /// Runs one read or write: a socket timeout that fired before the
    /// deadline (it was set for a longer wait, within the slack) is re-armed
    /// and the call made again; at the deadline it is `TimedOut`.
    fn timed<T>(
        &mut self,
        write: bool,
        mut op: impl FnMut(&mut Sock) -> io::Result<T>,
    ) -> io::Result<T> {
        if self.probing {
            return op(&mut self.sock);
        }
        if self.nonblocking {
            self.time_left()?;
            let result = op(&mut self.sock);
            if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
                self.waiter.set(Wait {
                    fd: self.sock.raw_fd(),
                    read: !write,
                    write,
                    until: self.deadline,
                });
            }
            return result;
        }
        loop {
            self.arm(write)?;
            match op(&mut self.sock) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= self.deadline {
                        return Err(timed_out());
                    }
                    // Woken early: wait again for the time left.
                    if write {
                        self.snd = None;
                    } else {
                        self.rcv = None;
                    }
                }
                other => return other,
            }
        }
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.probing {
            // A look at what is waiting, which never waits whatever the
            // socket's mode (MSG_DONTWAIT: no mode switch, no system call
            // but this one).
            let got = match &self.sock {
                Sock::Tcp(s) => rustix::net::recv(&**s, buf, rustix::net::RecvFlags::DONTWAIT),
                Sock::Unix(s) => rustix::net::recv(&**s, buf, rustix::net::RecvFlags::DONTWAIT),
            };
            return got.map(|(n, _)| n).map_err(io::Error::from);
        }
        self.timed(false, |s| match s {
            Sock::Tcp(s) => (&**s).read(buf),
            Sock::Unix(s) => (&**s).read(buf),
        })
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.timed(true, |s| match s {
            Sock::Tcp(s) => (&**s).write(buf),
            // MSG_NOSIGNAL: a peer that has gone makes the write fail with
            // EPIPE rather than raise SIGPIPE, which would end a C host
            // that left the signal at its default (only newer Rust
            // standard libraries do this for Unix sockets themselves).
            Sock::Unix(s) => socket2::SockRef::from(&**s).send_with_flags(buf, libc::MSG_NOSIGNAL),
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
        let tls_err = |e: openssl::error::ErrorStack| {
            Error::new(Status::Tls, format!("TLS setup: {}", openssl_line(&e)))
        };
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
                    format!(
                        "cannot load CA file {}: {}",
                        file.display(),
                        openssl_line(&e)
                    ),
                )
            })?;
        }
        if let Some(dir) = &config.ca_dir {
            builder
                .load_verify_locations(None, Some(dir))
                .map_err(|e| {
                    Error::new(
                        Status::Tls,
                        format!(
                            "cannot load CA directory {}: {}",
                            dir.display(),
                            openssl_line(&e)
                        ),
                    )
                })?;
        }
        if let Some(cert) = &config.cert_file {
            let key = config.key_file.as_ref().unwrap_or(cert);
            builder
                .set_certificate_chain_file(cert)
                .and_then(|_| builder.set_private_key_file(key, SslFiletype::PEM))
                .and_then(|_| builder.check_private_key())
                .map_err(|e| {
                    Error::new(
                        Status::Tls,
                        format!(
                            "cannot load client certificate {}: {}",
                            cert.display(),
                            openssl_line(&e)
                        ),
                    )
                })?;
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
    Plain(Timed),
    Tls(Box<SslStream<Timed>>),
    /// Only while a handshake has taken the socket.
    Detached,
}

impl Stream {
    fn timed(&mut self) -> Option<&mut Timed> {
        match self {
            Stream::Plain(t) => Some(t),
            Stream::Tls(s) => Some(s.get_mut()),
            Stream::Detached => None,
        }
    }

    fn timed_ref(&self) -> Option<&Timed> {
        match self {
            Stream::Plain(t) => Some(t),
            Stream::Tls(s) => Some(s.get_ref()),
            Stream::Detached => None,
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
        if let Some(Timed {
            sock: Sock::Tcp(tcp),
            ..
        }) = self.timed_ref()
        {
            let _ = socket2::SockRef::from(&**tcp).set_tcp_quickack(true);
        }
    }
}

fn detached() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection is closed")
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Detached => Err(detached()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Detached => Err(detached()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
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
///
/// Its work is a sequence of operations, each begun with `begin` (a
/// command and its reply, the greeting, a message body, a BDAT chunk, the
/// TLS handshake): `begin` computes the operation's one deadline, and every
/// read and write until the next `begin` waits only for the time left.
pub struct Connection {
    stream: Stream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    parser: ReplyParser,
    timeout: Duration,
    /// What the operation under way is, for a timeout's message
    /// ("the reply to DATA").
    op: String,
    /// Bytes were read since our last write, so their ACK may be waiting
    /// for the delayed-ACK timer (a write would have carried it).
    unacked: bool,
}

const READ_BUF: usize = 4 * 1024;

/// The deadline `timeout` from now. The session refuses timeouts too long
/// to add to a clock, so the fallback never serves; it keeps this total.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}

/// How a connection waits: blocking in its socket calls (the default), or
/// never, telling `waiter` what it would wait for.
#[derive(Clone)]
pub struct Mode {
    /// Socket calls never wait; operations suspend instead.
    pub nonblocking: bool,
    /// Where a suspended operation records its wait.
    pub waiter: Arc<Waiter>,
}

impl Connection {
    fn new(sock: Sock, timeout: Duration, mode: &Mode) -> Connection {
        Connection {
            stream: Stream::Plain(Timed::new(sock, mode.nonblocking, mode.waiter.clone())),
            buf: vec![0; READ_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            parser: ReplyParser::new(),
            timeout,
            op: String::new(),
            unacked: false,
        }
    }

    /// Connects over TCP to the first address of `host` that answers,
    /// binding to `source` first when given. Name resolution and every
    /// attempt share one deadline, `timeout` from now.
    ///
    /// Non-blocking, each attempt suspends until the socket is writable
    /// (connected or refused). Name resolution blocks: an address literal
    /// needs none.
    pub async fn tcp(
        host: &str,
        port: u16,
        timeout: Duration,
        source: Option<&(String, u16)>,
        mode: &Mode,
    ) -> Result<Connection> {
        let deadline = deadline_after(timeout);
        let addrs = resolve(host, port)?;
        let source = match source {
            Some((shost, sport)) => Some(resolve_source(shost, *sport)?),
            None => None,
        };
        let mut last = None;
        for addr in addrs {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                last = Some(timed_out());
                break;
            }
            let attempt = if mode.nonblocking {
                connect_suspending(addr, deadline, source.as_deref(), &mode.waiter).await
            } else {
                connect_one(addr, remaining, source.as_deref())
            };
            match attempt {
                Ok(stream) => {
                    stream
                        .set_nodelay(true)
                        .map_err(|e| Error::from_io(&e, "socket setup"))?;
                    return Ok(Connection::new(Sock::Tcp(stream), timeout, mode));
                }
                Err(e) => last = Some(e),
            }
        }
        let err = last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for that name"));
        if crate::error::is_timeout(&err) {
            return Err(timeout_error(
                &format!("connecting to {host} port {port}"),
                timeout,
            ));
        }
        if err.kind() == io::ErrorKind::ConnectionRefused {
            // Told apart from a name that does not resolve: nobody listens.
            let mut e = Error::new(
                Status::Io,
                format!("connection refused by {host} port {port}"),
            );
            e.errno = err.raw_os_error();
            return Err(e);
        }
        Err(Error::from_io(
            &err,
            &format!("cannot connect to {host} port {port}"),
        ))
    }

    /// Connects to a Unix stream socket (LMTP's usual transport), within
    /// `timeout`: a listener whose accept queue is full makes a
    /// non-blocking connect fail with EAGAIN at once, so the attempt is
    /// repeated until the deadline rather than blocking without one.
    ///
    /// Non-blocking, the wait between attempts suspends on time alone (a
    /// full accept queue does not make the socket ready).
    pub async fn unix(path: &str, timeout: Duration, mode: &Mode) -> Result<Connection> {
        use socket2::{Domain, SockAddr, Socket, Type};
        let deadline = deadline_after(timeout);
        let fail = |e: io::Error| Error::from_io(&e, &format!("cannot connect to {path}"));
        let addr = SockAddr::unix(path).map_err(fail)?;
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(fail)?;
        socket.set_nonblocking(true).map_err(fail)?;
        loop {
            match socket.connect(&addr) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(timeout_error(&format!("connecting to {path}"), timeout));
                    }
                    let pause = left.min(Duration::from_millis(5));
                    if mode.nonblocking {
                        mode.waiter.set(Wait::timer(Instant::now() + pause));
                        yield_once().await;
                    } else {
                        std::thread::sleep(pause);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(fail(e)),
            }
        }
        if !mode.nonblocking {
            socket.set_nonblocking(false).map_err(fail)?;
        }
        Ok(Connection::new(
            Sock::Unix(Arc::new(socket.into())),
            timeout,
            mode,
        ))
    }

    /// Begins an operation named `op` (for a timeout's message: "the
    /// greeting", "DATA", "the message body"): its deadline is the timeout
    /// from now, and every read and write until the next `begin` ends by it.
    pub fn begin(&mut self, op: &str) {
        let deadline = deadline_after(self.timeout);
        if let Some(t) = self.stream.timed() {
            t.deadline = deadline;
        }
        self.op.clear();
        self.op.push_str(op);
    }

    /// Moves the deadline of the operation under way `by` later: the time
    /// a streamed body's producer (the caller) took between two pieces is
    /// not the server's to answer for.
    pub fn pause(&mut self, by: Duration) {
        if let Some(t) = self.stream.timed() {
            t.deadline = t.deadline.checked_add(by).unwrap_or(t.deadline);
        }
    }

    /// The error of the operation under way having timed out while
    /// `reading` (a reply) or writing.
    pub fn timeout_error(&self, reading: bool) -> Error {
        let what = match (reading, self.op.as_str()) {
            (true, "the greeting") => "reading the greeting".to_string(),
            (true, "the TLS handshake") | (false, "the TLS handshake") => {
                "the TLS handshake".to_string()
            }
            (true, op) => format!("reading the reply to {op}"),
            (false, op) => format!("sending {op}"),
        };
        timeout_error(&what, self.timeout)
    }

    /// Makes the socket calls wait (false) or suspend (true) from now on.
    pub fn set_nonblocking(&mut self, on: bool) -> io::Result<()> {
        if let Some(t) = self.stream.timed() {
            t.set_os_nonblocking(on)?;
            t.nonblocking = on;
            t.rcv = None;
            t.snd = None;
        }
        Ok(())
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Whether the peer is on this machine (a Unix socket, or a loopback
    /// address).
    pub fn is_local(&self) -> bool {
        self.stream.timed_ref().is_some_and(Timed::peer_is_local)
    }

    /// Bytes received and not yet consumed by a reply.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Bytes the server sent that no reply read has consumed: those
    /// buffered, and those waiting on the socket (for TLS, decrypted: a
    /// session ticket or key update is not counted). Reading them for the
    /// look keeps them buffered. Ok(0) too when the server has closed: the
    /// next read will say so.
    pub fn unread(&mut self) -> io::Result<usize> {
        if self.start < self.end {
            return Ok(self.end - self.start);
        }
        let Some(t) = self.stream.timed() else {
            return Ok(0);
        };
        t.probing = true;
        let got = self.stream.read(&mut self.buf);
        if let Some(t) = self.stream.timed() {
            t.probing = false;
        }
        match got {
            Ok(n) => {
                self.start = 0;
                self.end = n;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// The first line (at most 80 bytes) of what is buffered and unread,
    /// control characters escaped, for an error message.
    pub fn waiting_excerpt(&self) -> String {
        let waiting = &self.buf[self.start..self.end];
        let line = waiting.split(|b| *b == b'\n').next().unwrap_or(&[]);
        line.iter()
            .take(80)
            .flat_map(|b| std::ascii::escape_default(*b))
            .map(char::from)
            .collect()
    }

    /// Changes the timeout of the operations begun from now on.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Writes all of `data`, within the deadline of the operation under way.
    pub async fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.unacked = false;
        let mut rest = data;
        while !rest.is_empty() {
            match self.stream.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Only a non-blocking socket says so: its wait is recorded.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => yield_once().await,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads one complete reply, within the deadline of the operation
    /// under way.
    pub async fn read_reply(&mut self) -> std::result::Result<Reply, ReadError> {
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => yield_once().await,
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Runs a TLS handshake on this connection (implicit TLS, or after a 220
    /// to STARTTLS), as one operation with its own deadline. `host` is the
    /// name verified and sent as SNI unless the context names another.
    pub async fn start_tls(&mut self, context: &TlsContext, host: &str) -> Result<TlsInfo> {
        let timed = match std::mem::replace(&mut self.stream, Stream::Detached) {
            Stream::Plain(t) if matches!(t.sock, Sock::Tcp(_)) => t,
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
            .map_err(|e| Error::new(Status::Tls, format!("TLS setup: {}", openssl_line(&e))))?;
        conf.set_verify_hostname(context.verify);
        let name = context.server_name.as_deref().unwrap_or(host);
        let mut timed = timed;
        timed.deadline = deadline_after(self.timeout);
        self.op.clear();
        self.op.push_str("the TLS handshake");
        let mut attempt = conf.connect(name, timed);
        loop {
            match attempt {
                Ok(tls) => {
                    let info = tls_info(&tls);
                    self.stream = Stream::Tls(Box::new(tls));
                    self.start = 0;
                    self.end = 0;
                    self.parser = ReplyParser::new();
                    return Ok(info);
                }
                // Non-blocking: OpenSSL wants to read or write, and the
                // socket call it made recorded which.
                Err(openssl::ssl::HandshakeError::WouldBlock(mid)) => {
                    yield_once().await;
                    attempt = mid.handshake();
                }
                Err(e) => return Err(handshake_error(e, name, self.timeout)),
            }
        }
    }

    /// What the TLS session negotiated, if encrypted.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        match &self.stream {
            Stream::Tls(s) => Some(tls_info(s)),
            _ => None,
        }
    }

    /// Closes the socket (for TLS, after a close_notify, best effort: it
    /// may wait 200 ms at most).
    pub fn shutdown(&mut self) {
        if let Stream::Tls(mut s) = std::mem::replace(&mut self.stream, Stream::Detached) {
            s.get_mut().deadline = deadline_after(Duration::from_millis(200));
            let _ = s.shutdown();
        }
    }
}

/// A `TimeoutError` saying what timed out after how long: "reading the
/// reply to DATA timed out after 3.0 s".
fn timeout_error(what: &str, timeout: Duration) -> Error {
    let mut e = Error::new(
        Status::Timeout,
        format!("{what} timed out after {:.1} s", timeout.as_secs_f64()),
    );
    e.errno = Some(libc::ETIMEDOUT);
    e
}

fn tls_info(s: &SslStream<Timed>) -> TlsInfo {
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

fn handshake_error(e: openssl::ssl::HandshakeError<Timed>, host: &str, timeout: Duration) -> Error {
    use openssl::ssl::HandshakeError;
    match e {
        HandshakeError::SetupFailure(stack) => {
            Error::new(Status::Tls, format!("TLS setup: {}", openssl_line(&stack)))
        }
        HandshakeError::Failure(mid) | HandshakeError::WouldBlock(mid) => {
            let err = mid.error();
            if let Some(io) = err.io_error() {
                if crate::error::is_timeout(io) {
                    return timeout_error("the TLS handshake", timeout);
                }
            }
            let message = tls_handshake_line(err, mid.ssl().verify_result(), host);
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
    ssl.ssl_error().map(openssl_line)
}

/// The addresses of `host` (a name or an address literal). A name that
/// does not resolve is `OSError` "cannot resolve host 'x': <reason>" with
/// getaddrinfo's (negative) EAI code as errno, as Python's
/// `socket.gaierror` carries it; EAI_AGAIN is a temporary failure.
fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    match dns_lookup::lookup_host(host) {
        Ok(ips) => Ok(ips.map(|ip| SocketAddr::new(ip, port)).collect()),
        Err(e) => {
            let num = e.error_num();
            let io: io::Error = e.into();
            let reason = os_reason(&io);
            let reason = reason
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&reason);
            let mut err = Error::new(
                Status::Io,
                format!("cannot resolve host '{host}': {reason}"),
            );
            err.errno = Some(if num != 0 {
                num
            } else {
                io.raw_os_error().unwrap_or(0)
            });
            Err(err)
        }
    }
}

fn resolve_source(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::from_io(&e, &format!("cannot resolve source address {host}")))?
        .collect();
    Ok(addrs)
}

/// A TCP socket for `addr`, bound to the source address of its family
/// when one is given.
fn tcp_socket(addr: SocketAddr, source: Option<&[SocketAddr]>) -> io::Result<socket2::Socket> {
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
    Ok(socket)
}

fn connect_one(
    addr: SocketAddr,
    timeout: Duration,
    source: Option<&[SocketAddr]>,
) -> io::Result<Arc<TcpStream>> {
    let socket = tcp_socket(addr, source)?;
    socket.connect_timeout(&addr.into(), timeout)?;
    Ok(Arc::new(socket.into()))
}

/// A non-blocking connect: started, then suspended until the socket is
/// writable, which it becomes when connected or refused (SO_ERROR tells).
async fn connect_suspending(
    addr: SocketAddr,
    deadline: Instant,
    source: Option<&[SocketAddr]>,
    waiter: &Arc<Waiter>,
) -> io::Result<Arc<TcpStream>> {
    let socket = tcp_socket(addr, source)?;
    socket.set_nonblocking(true)?;
    let started = socket.connect(&addr.into());
    let stream = Arc::new(TcpStream::from(socket));
    match started {
        Ok(()) => return Ok(stream),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    waiter.attach(Arc::downgrade(&stream) as Watched);
    loop {
        if Instant::now() >= deadline {
            return Err(timed_out());
        }
        waiter.set(Wait {
            fd: stream.as_raw_fd(),
            read: false,
            write: true,
            until: deadline,
        });
        yield_once().await;
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
        match stream.peer_addr() {
            Ok(_) => return Ok(stream),
            // Not yet: resumed early (by a caller that polls too often).
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => return Err(e),
        }
    }
}
