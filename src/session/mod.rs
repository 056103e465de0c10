//! The session: an SMTP or LMTP client with smtplib's semantics, built on the
//! protocol core and the transport.
//!
//! Where smtplib returns `(code, message)` the methods here return the
//! `Reply`; where smtplib raises, they return an `Error` of the matching
//! `Status`. Every reply read is also kept as `last_reply()`.

use std::time::Duration;

use crate::error::{Error, RecipientResult, Result, Status};
use crate::protocol::data::DataEncoder;
use crate::protocol::ehlo::EhloFeatures;
use crate::protocol::reply::{Reply, ReplyError};
use crate::protocol::sasl::Secret;
use crate::protocol::{address, command};
use crate::transport::{Connection, Mode, ReadError, TlsConfig, TlsContext, TlsInfo};
use crate::wait::Waiter;

mod auth;
mod client;
mod debug;
mod message;
mod tls_settings;
mod transaction;

pub use client::Client;
pub use debug::{DebugSink, LineFn};
pub use transaction::{
    Dsn, DsnRet, Outgoing, NOTIFY_DELAY, NOTIFY_FAILURE, NOTIFY_NEVER, NOTIFY_SUCCESS,
};
// For the fuzz targets (fuzz/common/targets.rs), which check it round-trips.
#[doc(hidden)]
pub use transaction::xtext;

/// Bytes gathered before a write while sending a body.
pub(crate) const FLUSH_AT: usize = 256 * 1024;

/// smtplib's SMTP_PORT.
pub const SMTP_PORT: u16 = 25;
/// smtplib's SMTP_SSL_PORT.
pub const SMTP_SSL_PORT: u16 = 465;
/// smtplib's LMTP_PORT.
pub const LMTP_PORT: u16 = 2003;
/// The deadline of each operation unless the caller sets another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest timeout accepted: one day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Which of smtplib's classes a client behaves as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `SMTP`: plain TCP, STARTTLS available.
    Smtp,
    /// `SMTP_SSL`: TLS from the first byte.
    SmtpSsl,
    /// `LMTP`: LHLO, Unix sockets, one reply per recipient after DATA.
    Lmtp,
}

/// An SMTP/LMTP client session, whose operations are futures: the engine
/// under `Client` (which runs each to completion) and under the C API's
/// non-blocking handles (which suspend and resume them).
///
/// On a blocking session (the default) every operation completes in its
/// first poll: the socket calls wait, within the operation's deadline. On
/// a non-blocking one (`set_nonblocking`) an operation that would wait
/// returns `Pending` after recording in `waiter()` what it waits for; it is
/// polled again when that descriptor is ready or that time has come, and
/// its deadline is kept the same way (a poll after it ends the operation
/// with `Timeout`).
pub struct Session {
    kind: Kind,
    conn: Option<Connection>,
    mode: Mode,
    host: String,
    local_hostname: Option<String>,
    timeout: Duration,
    source_address: Option<(String, u16)>,
    tls: TlsConfig,
    helo_resp: Option<Vec<u8>>,
    ehlo_resp: Option<Vec<u8>>,
    does_esmtp: bool,
    features: EhloFeatures,
    smtputf8: bool,
    last_reply: Option<Reply>,
    results: Vec<RecipientResult>,
    debug: DebugSink,
    out: Vec<u8>,
    pipelining: bool,
    /// Whether the next envelope may travel with the end of the previous
    /// message's data: true on each new connection, false once the server
    /// refused that as out of sequence.
    pipeline_after_data: bool,
    chunking: bool,
    dsn: Dsn,
    body: Option<transaction::BodyState>,
    deferred: Option<transaction::Deferred>,
    deferred_outcome: Option<transaction::DeferredOutcome>,
    batch_attempted: usize,
    auth_mechanisms: Vec<String>,
    allow_cleartext_auth: bool,
    peer_treated_as_remote: bool,
}

impl Session {
    /// An unconnected client of the given kind.
    pub fn new(kind: Kind) -> Session {
        Session {
            kind,
            conn: None,
            mode: Mode {
                nonblocking: false,
                waiter: Waiter::shared(),
            },
            host: String::new(),
            local_hostname: None,
            timeout: DEFAULT_TIMEOUT,
            source_address: None,
            tls: TlsConfig::default(),
            helo_resp: None,
            ehlo_resp: None,
            does_esmtp: false,
            features: EhloFeatures::default(),
            smtputf8: false,
            last_reply: None,
            results: Vec::new(),
            debug: DebugSink::default(),
            out: Vec::new(),
            pipelining: true,
            pipeline_after_data: true,
            chunking: true,
            dsn: Dsn::default(),
            body: None,
            deferred: None,
            deferred_outcome: None,
            batch_attempted: 0,
            auth_mechanisms: Vec::new(),
            allow_cleartext_auth: false,
            peer_treated_as_remote: false,
        }
    }

    /// Where a suspended operation of this session records what it waits
    /// for.
    pub fn waiter(&self) -> &std::sync::Arc<Waiter> {
        &self.mode.waiter
    }

    /// Whether operations suspend instead of waiting.
    pub fn is_nonblocking(&self) -> bool {
        self.mode.nonblocking
    }

    /// Makes operations suspend instead of waiting (true), or wait (false,
    /// the default), from the next socket call on. A connection already
    /// open is switched too.
    pub fn set_nonblocking(&mut self, on: bool) -> Result<()> {
        if let Some(conn) = &mut self.conn {
            conn.set_nonblocking(on)
                .map_err(|e| Error::from_io(&e, "switching the socket's blocking mode"))?;
        }
        self.mode.nonblocking = on;
        Ok(())
    }

    /// The kind given at creation.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// smtplib's default_port.
    pub fn default_port(&self) -> u16 {
        match self.kind {
            Kind::Smtp => SMTP_PORT,
            Kind::SmtpSsl => SMTP_SSL_PORT,
            Kind::Lmtp => LMTP_PORT,
        }
    }

    // ----- settings -------------------------------------------------------

    /// The name sent in HELO/EHLO/LHLO (smtplib's local_hostname). Defaults
    /// to this machine's fully qualified name, or "[address]" without one.
    pub fn local_hostname(&mut self) -> &str {
        self.local_hostname.get_or_insert_with(local_fqdn)
    }

    /// Sets the name sent in HELO/EHLO/LHLO.
    pub fn set_local_hostname(&mut self, name: &str) -> Result<()> {
        command::check_arg(name, false)?;
        if name.is_empty() || name.contains(' ') {
            return Err(Error::invalid("local hostname must be one non-empty word"));
        }
        self.local_hostname = Some(name.to_string());
        Ok(())
    }

    /// The deadline of each operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sets the deadline of each operation: each connect, the greeting,
    /// each command and its reply(ies), the TLS handshake, a DATA body
    /// (all of it, with its end, less the time the caller takes to produce
    /// each next piece of a streamed body) and the reply to its end, each
    /// BDAT chunk.
    /// Every socket wait within an operation, TLS records included, ends by
    /// that one deadline. Zero is refused, as smtplib refuses a zero
    /// timeout (it would mean a non-blocking socket); so is anything above
    /// `MAX_TIMEOUT`.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<()> {
        if timeout.is_zero() {
            return Err(Error::invalid(
                "Non-blocking socket (timeout=0) is not supported",
            ));
        }
        if timeout > MAX_TIMEOUT {
            return Err(Error::invalid(format!(
                "timeout of {} s is above the maximum of {} s",
                timeout.as_secs_f64(),
                MAX_TIMEOUT.as_secs()
            )));
        }
        self.timeout = timeout;
        if let Some(conn) = &mut self.conn {
            conn.set_timeout(timeout);
        }
        Ok(())
    }

    /// Binds outgoing connections to this address and port (0: any).
    pub fn set_source_address(&mut self, host: &str, port: u16) {
        self.source_address = if host.is_empty() && port == 0 {
            None
        } else {
            Some((host.to_string(), port))
        };
    }

    /// The source address set, if any.
    pub fn source_address(&self) -> Option<(&str, u16)> {
        self.source_address.as_ref().map(|(h, p)| (h.as_str(), *p))
    }

    /// The TLS settings used by implicit TLS and STARTTLS.
    pub fn tls_config(&mut self) -> &mut TlsConfig {
        &mut self.tls
    }

    /// The transcript settings.
    pub fn debug(&mut self) -> &mut DebugSink {
        &mut self.debug
    }

    // ----- state ----------------------------------------------------------

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.conn.as_ref().is_some_and(Connection::is_tls)
    }

    /// Whether the server is on this machine (loopback or Unix socket).
    pub fn is_local_peer(&self) -> bool {
        self.conn.as_ref().is_some_and(Connection::is_local)
    }

    /// What TLS negotiated, when encrypted.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.conn.as_ref().and_then(Connection::tls_info)
    }

    /// The host connected to (without the port).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// smtplib's helo_resp.
    pub fn helo_resp(&self) -> Option<&[u8]> {
        self.helo_resp.as_deref()
    }

    /// smtplib's ehlo_resp.
    pub fn ehlo_resp(&self) -> Option<&[u8]> {
        self.ehlo_resp.as_deref()
    }

    /// smtplib's does_esmtp.
    pub fn does_esmtp(&self) -> bool {
        self.does_esmtp
    }

    /// smtplib's esmtp_features.
    pub fn features(&self) -> &EhloFeatures {
        &self.features
    }

    /// smtplib's has_extn(): case is ignored.
    pub fn has_extn(&self, name: &str) -> bool {
        self.features.has(name)
    }

    /// The last reply read, whatever the command.
    pub fn last_reply(&self) -> Option<&Reply> {
        self.last_reply.as_ref()
    }

    /// Every recipient's outcome in the last `sendmail`.
    pub fn recipient_results(&self) -> &[RecipientResult] {
        &self.results
    }

    // ----- connection -----------------------------------------------------

    /// smtplib's connect(): "host:port" is split when `port` is 0; port 0
    /// means the default port; for LMTP a host starting with "/" is a Unix
    /// socket. Unlike smtplib, a greeting other than 220 is an error here
    /// (`Connect`, as smtplib's constructor raises) and closes the connection.
    pub async fn connect(&mut self, host: &str, port: u16) -> Result<Reply> {
        self.refuse_in_body("connect")?;
        if self.conn.is_some() {
            self.close();
        }
        command::check_arg(host, true)?;
        let (host, port) = split_host_port(host, port)?;
        let host = if host.is_empty() {
            "localhost".to_string()
        } else {
            host
        };
        let port = if port == 0 { self.default_port() } else { port };
        self.host = host.clone();
        self.reset_esmtp();
        self.pipeline_after_data = true;
        self.debug.line(&format!("connect: ('{host}', {port})"));
        // Implicit TLS: the settings are checked before connecting.
        let tls = match self.kind {
            Kind::SmtpSsl => Some(TlsContext::new(&self.tls)?),
            _ => None,
        };
        let conn = if self.kind == Kind::Lmtp && host.starts_with('/') {
            Connection::unix(&host, self.timeout, &self.mode).await?
        } else {
            Connection::tcp(
                &host,
                port,
                self.timeout,
                self.source_address.as_ref(),
                &self.mode,
            )
            .await?
        };
        let conn = self.conn.insert(conn);
        if let Some(tls) = tls {
            if let Err(e) = conn.start_tls(&tls, &host).await {
                self.close();
                return Err(e);
            }
        }
        self.begin_op("the greeting");
        let reply = self.getreply().await?;
        if reply.code != 220 {
            self.close();
            return Err(Error::reply(Status::Connect, reply.code, &reply.text()));
        }
        Ok(reply)
    }

    /// smtplib's close(): drops the connection without QUIT.
    pub fn close(&mut self) {
        self.out.clear();
        self.body = None;
        self.deferred = None;
        if let Some(mut conn) = self.conn.take() {
            conn.shutdown();
        }
    }

    fn reset_esmtp(&mut self) {
        self.helo_resp = None;
        self.ehlo_resp = None;
        self.does_esmtp = false;
        self.features = EhloFeatures::default();
        self.smtputf8 = false;
    }

    /// Begins an operation with its own deadline (see `set_timeout`):
    /// every read and write until the next one ends by it.
    pub(crate) fn begin_op(&mut self, op: &str) {
        if let Some(conn) = &mut self.conn {
            conn.begin(op);
        }
    }

    /// Before a command that is not pipelined, nothing may be waiting from
    /// the server: bytes no command asked for (a reply sent ahead, an extra
    /// reply) would be taken as this command's reply. They are a protocol
    /// error, and the connection is closed, as for STARTTLS injection.
    /// `at` and `what` say where: "before" "AUTH".
    pub(crate) fn refuse_unsolicited(&mut self, at: &str, what: &str) -> Result<()> {
        let Some(conn) = &mut self.conn else {
            return Ok(());
        };
        match conn.unread() {
            Ok(0) => Ok(()),
            Ok(n) => {
                let head = conn.waiting_excerpt();
                self.close();
                let mut e = Error::new(
                    Status::Response,
                    format!(
                        "server sent {n} bytes no command asked for, {at} {what} \
                         (unsolicited reply {head:?}); connection closed"
                    ),
                );
                e.code = Some(-1);
                e.text = e.message.clone().into_bytes();
                Err(e)
            }
            // The look decrypts under TLS: a server's alert (a client
            // certificate it wanted) surfaces here as readily as in a reply.
            Err(e) => {
                self.close();
                Err(lost_while(&e, "reading"))
            }
        }
    }

    /// While a streamed body is open, nothing but its bytes and its end may
    /// be written: any other command would land inside the message.
    pub(crate) fn refuse_in_body(&self, what: &str) -> Result<()> {
        if self.body.is_some() {
            return Err(Error::invalid(format!(
                "{what} while a message body is open: end it (or close) first"
            )));
        }
        Ok(())
    }

    fn conn(&mut self) -> Result<&mut Connection> {
        self.conn
            .as_mut()
            .ok_or_else(|| Error::disconnected("please run connect() first"))
    }

    /// Sends raw bytes; a failure closes the connection.
    pub(crate) async fn send(&mut self, data: &[u8]) -> Result<()> {
        let conn = self.conn()?;
        if let Err(e) = conn.send(data).await {
            let timeout = conn.timeout_error(false);
            self.close();
            return Err(if crate::error::is_timeout(&e) {
                timeout
            } else {
                lost_while(&e, "sending")
            });
        }
        Ok(())
    }

    /// Sends what `out` holds (commands and body bytes gathered so that
    /// they travel in one write).
    pub(crate) async fn flush(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let result = self.send(&out).await;
        self.out = out;
        self.out.clear();
        result
    }

    /// smtplib's putcmd(): builds, checks and sends one command.
    pub async fn putcmd(&mut self, verb: &str, args: &str) -> Result<()> {
        self.refuse_in_body(verb)?;
        let line = command::build(verb, args, self.smtputf8)?;
        self.conn()?;
        self.refuse_unsolicited("before", verb)?;
        self.begin_op(verb);
        self.debug.sent(&line);
        self.send(&line).await
    }

    /// Sends a command whose arguments are secret: the transcript shows only
    /// the verb, and the line is wiped once sent.
    pub(crate) async fn putcmd_secret(&mut self, verb: &str, args: &str) -> Result<()> {
        self.refuse_in_body(verb)?;
        let line = Secret::new(command::build(verb, args, self.smtputf8)?);
        self.conn()?;
        self.refuse_unsolicited("before", verb)?;
        self.begin_op(verb);
        self.debug.sent_redacted(verb);
        self.send(line.as_bytes()).await
    }

    /// smtplib's getreply(): reads one reply. A lost, timed-out or garbled
    /// connection is closed.
    pub async fn getreply(&mut self) -> Result<Reply> {
        let conn = self.conn()?;
        let result = conn.read_reply().await;
        if let Err(ReadError::Io(io)) = &result {
            if crate::error::is_timeout(io) {
                let e = conn.timeout_error(true);
                self.close();
                return Err(e);
            }
        }
        match result {
            Ok(reply) => {
                self.debug.reply(&reply);
                self.last_reply = Some(reply.clone());
                Ok(reply)
            }
            Err(e) => {
                self.close();
                Err(match e {
                    ReadError::Closed => Error::disconnected("Connection unexpectedly closed"),
                    ReadError::Io(io) => match crate::transport::tls_failure(&io) {
                        // An alert or a broken record: ssl.SSLError, e.g. a
                        // client certificate the server refused, which TLS
                        // 1.3 reports only after the client's handshake.
                        Some(reason) => Error::new(Status::Tls, format!("TLS failure: {reason}")),
                        None => {
                            Error::disconnected(format!("Connection unexpectedly closed: {io}"))
                        }
                    },
                    ReadError::Reply(ReplyError::LineTooLong) => {
                        Error::reply(Status::Response, 500, b"Line too long.")
                    }
                    ReadError::Reply(other) => {
                        let mut e = Error::new(Status::Response, other.to_string());
                        e.code = Some(-1);
                        e.text = other.to_string().into_bytes();
                        e
                    }
                })
            }
        }
    }

    /// Reads a reply, keeping a 334 challenge out of the transcript.
    pub(crate) async fn getreply_secret(&mut self) -> Result<Reply> {
        let saved = self.debug.redacting(true);
        let reply = self.getreply().await;
        self.debug.redacting(saved);
        reply
    }

    /// smtplib's docmd(): a command and its reply.
    pub async fn docmd(&mut self, verb: &str, args: &str) -> Result<Reply> {
        self.putcmd(verb, args).await?;
        self.getreply().await
    }

    /// A 421 reply means the server is closing the channel (RFC 5321
    /// §3.8): close our side as well, sending nothing more.
    pub(crate) fn close_on_421(&mut self, reply: &Reply) {
        if reply.code == 421 {
            self.close();
        }
    }

    // ----- greeting -------------------------------------------------------

    /// smtplib's helo(): HELO with `name`, or the local hostname when empty.
    pub async fn helo(&mut self, name: &str) -> Result<Reply> {
        let name = self.name_or_default(name);
        let reply = self.docmd("HELO", &name).await?;
        self.helo_resp = Some(reply.text());
        Ok(reply)
    }

    /// smtplib's ehlo() (LHLO for LMTP): on 250, the features are parsed and
    /// does_esmtp is set; any other reply is returned as it is.
    pub async fn ehlo(&mut self, name: &str) -> Result<Reply> {
        let name = self.name_or_default(name);
        self.features = EhloFeatures::default();
        let verb = if self.kind == Kind::Lmtp {
            "LHLO"
        } else {
            "EHLO"
        };
        let reply = self.docmd(verb, &name).await?;
        self.ehlo_resp = Some(reply.text());
        if reply.code != 250 {
            self.close_on_421(&reply);
            return Ok(reply);
        }
        self.does_esmtp = true;
        self.features = EhloFeatures::parse(&reply.lines);
        Ok(reply)
    }

    fn name_or_default(&mut self, name: &str) -> String {
        if name.is_empty() {
            self.local_hostname().to_string()
        } else {
            name.to_string()
        }
    }

    /// smtplib's ehlo_or_helo_if_needed(): EHLO, then HELO if EHLO was
    /// refused, unless one of them already succeeded this session.
    pub async fn ehlo_or_helo_if_needed(&mut self) -> Result<()> {
        self.refuse_in_body("EHLO")?;
        if self.helo_resp.is_some() || self.ehlo_resp.is_some() {
            return Ok(());
        }
        let reply = self.ehlo("").await?;
        if reply.is_positive() {
            return Ok(());
        }
        if !self.is_connected() {
            return Err(Error::reply(Status::Helo, reply.code, &reply.text()));
        }
        let reply = self.helo("").await?;
        if !reply.is_positive() {
            self.close_on_421(&reply);
            return Err(Error::reply(Status::Helo, reply.code, &reply.text()));
        }
        Ok(())
    }

    // ----- simple commands ------------------------------------------------

    /// smtplib's rset().
    pub async fn rset(&mut self) -> Result<Reply> {
        self.docmd("RSET", "").await
    }

    /// smtplib's _rset(): RSET whose failure is swallowed, after a failed
    /// transaction.
    pub(crate) async fn rset_quietly(&mut self) {
        if self.is_connected() {
            let _ = self.rset().await;
        }
    }

    /// smtplib's noop().
    pub async fn noop(&mut self) -> Result<Reply> {
        self.docmd("NOOP", "").await
    }

    /// smtplib's verify(): VRFY with the bare address.
    pub async fn verify(&mut self, address: &str) -> Result<Reply> {
        command::check_arg(address, true)?;
        self.docmd("VRFY", &command::addr_only(address)).await
    }

    /// smtplib's expn(): EXPN with the bare address.
    pub async fn expn(&mut self, address: &str) -> Result<Reply> {
        command::check_arg(address, true)?;
        self.docmd("EXPN", &command::addr_only(address)).await
    }

    /// smtplib's help(): HELP, with an optional argument.
    pub async fn help(&mut self, args: &str) -> Result<Reply> {
        self.docmd("HELP", args).await
    }

    /// smtplib's quit(): QUIT, then close whatever the outcome.
    pub async fn quit(&mut self) -> Result<Reply> {
        self.refuse_in_body("QUIT")?;
        let result = self.docmd("QUIT", "").await;
        self.close();
        self.reset_esmtp();
        result
    }

    // ----- transaction ----------------------------------------------------

    /// smtplib's mail(): MAIL FROM with the quoted address; options are sent
    /// only to an ESMTP server. SMTPUTF8 among them needs the extension
    /// (`NotSupported` otherwise) and allows UTF-8 in later commands.
    pub async fn mail(&mut self, sender: &str, options: &[&str]) -> Result<Reply> {
        let args = self.mail_args(sender, options)?;
        self.docmd("MAIL", &args).await
    }

    /// The arguments of MAIL: "FROM:<addr>" and, for an ESMTP server, the
    /// options. Sets SMTPUTF8 mode when asked and offered.
    pub(crate) fn mail_args(&mut self, sender: &str, options: &[&str]) -> Result<String> {
        // An address is an address: refused, never altered, when it is not
        // one (nothing in it may become a parameter).
        let mut args = format!("FROM:{}", address::check_path(sender, true)?);
        if !options.is_empty() && self.does_esmtp {
            if options.iter().any(|o| o.eq_ignore_ascii_case("smtputf8")) {
                if !self.has_extn("smtputf8") {
                    return Err(Error::new(
                        Status::NotSupported,
                        "SMTPUTF8 not supported by server",
                    ));
                }
                self.smtputf8 = true;
            }
            for o in options {
                args.push(' ');
                args.push_str(o);
            }
        }
        Ok(args)
    }

    /// smtplib's rcpt(): RCPT TO with the quoted address and options.
    pub async fn rcpt(&mut self, recipient: &str, options: &[&str]) -> Result<Reply> {
        let args = rcpt_args(recipient, options)?;
        self.docmd("RCPT", &args).await
    }

    /// smtplib's data(): DATA, then the encoded body and the reply to its
    /// end. A reply other than 354 to DATA is a `Data` error. For LMTP this
    /// reads only the first of the per-recipient replies: use `sendmail`.
    pub async fn data(&mut self, msg: &[u8]) -> Result<Reply> {
        let reply = self.docmd("DATA", "").await?;
        if reply.code != 354 {
            self.close_on_421(&reply);
            return Err(Error::reply(Status::Data, reply.code, &reply.text()));
        }
        let mut enc = DataEncoder::new();
        self.begin_op("the message body");
        self.debug
            .line(&format!("send: <message data, {} bytes>", msg.len()));
        for chunk in msg.chunks(FLUSH_AT) {
            enc.encode(chunk, &mut self.out);
            self.flush().await?;
        }
        enc.finish(&mut self.out);
        self.flush().await?;
        self.begin_op("the end of data");
        self.getreply().await
    }

    // ----- TLS -------------------------------------------------------------

    /// smtplib's starttls(), hardened (RFC 3207): STARTTLS must be offered
    /// (`NotSupported` and nothing sent otherwise); a reply other than 220 is
    /// a `Response` error; TLS settings that cannot be loaded (a CA file, a
    /// client certificate) are a `Tls` error before anything is sent, the
    /// connection kept; any byte the server sent after the 220 and before
    /// the handshake is an injection attempt: `Tls` error, connection closed.
    /// After the handshake everything EHLO taught is forgotten and EHLO is
    /// sent again at once.
    pub async fn starttls(&mut self) -> Result<Reply> {
        self.ehlo_or_helo_if_needed().await?;
        if self.is_tls() {
            return Err(Error::new(
                Status::Exception,
                "the connection is already encrypted",
            ));
        }
        if !self.has_extn("starttls") {
            return Err(Error::new(
                Status::NotSupported,
                "STARTTLS extension not supported by server.",
            ));
        }
        // The settings are checked before STARTTLS is sent: a bad CA file
        // costs nothing, the session stays as it was.
        let tls = TlsContext::new(&self.tls)?;
        let reply = self.docmd("STARTTLS", "").await?;
        if reply.code != 220 {
            self.close_on_421(&reply);
            return Err(Error::reply(Status::Response, reply.code, &reply.text()));
        }
        let injected = self.conn()?.unread().unwrap_or(0);
        if injected > 0 {
            self.close();
            return Err(Error::new(
                Status::Tls,
                format!(
                    "server sent {injected} bytes after its 220 reply to STARTTLS, before the \
                     TLS handshake (response injection); connection closed"
                ),
            ));
        }
        let host = self.host.clone();
        let result = self.conn()?.start_tls(&tls, &host).await;
        if let Err(e) = result {
            self.close();
            return Err(e);
        }
        if let Some(info) = self.tls_info() {
            self.debug.line(&format!(
                "tls: {} {} peer {}",
                info.version, info.cipher, info.peer_subject
            ));
        }
        self.reset_esmtp();
        self.ehlo_or_helo_if_needed().await?;
        Ok(reply)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

/// The arguments of RCPT: "TO:<addr>" and the options.
/// The error for a connection that failed while `doing` ("sending"): a TLS
/// alert or broken record is ssl.SSLError, anything else
/// SMTPServerDisconnected.
fn lost_while(e: &std::io::Error, doing: &str) -> Error {
    match crate::transport::tls_failure(e) {
        Some(reason) => Error::new(Status::Tls, format!("TLS failure while {doing}: {reason}")),
        None => Error::disconnected(format!("Server not connected: {e}")),
    }
}

pub(crate) fn rcpt_args(recipient: &str, options: &[&str]) -> Result<String> {
    let mut args = format!("TO:{}", address::check_forward_path(recipient, true)?);
    for o in options {
        args.push(' ');
        args.push_str(o);
    }
    Ok(args)
}

/// smtplib's connect(): with no port and exactly one ':', the part after it
/// is the port.
fn split_host_port(host: &str, port: u16) -> Result<(String, u16)> {
    if port == 0 && host.find(':') == host.rfind(':') {
        if let Some(i) = host.rfind(':') {
            let p = host[i + 1..].parse::<u16>().map_err(|_| {
                Error::new(Status::Io, format!("nonnumeric port: {:?}", &host[i + 1..]))
            })?;
            return Ok((host[..i].to_string(), p));
        }
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Ok((host.to_string(), port))
}

/// socket.getfqdn() with smtplib's fallback: the host name when it is
/// qualified, else its canonical name, else "[address]".
fn local_fqdn() -> String {
    let name = dns_lookup::get_hostname().unwrap_or_default();
    if name.contains('.') {
        return name;
    }
    let hints = dns_lookup::AddrInfoHints {
        flags: libc::AI_CANONNAME,
        socktype: libc::SOCK_STREAM,
        ..Default::default()
    };
    let mut addr = None;
    if !name.is_empty() {
        if let Ok(infos) = dns_lookup::getaddrinfo(Some(&name), None, Some(hints)) {
            for info in infos.flatten() {
                if let Some(canon) = info.canonname.as_ref().filter(|c| c.contains('.')) {
                    return canon.clone();
                }
                addr.get_or_insert(info.sockaddr.ip());
            }
        }
    }
    match addr {
        Some(std::net::IpAddr::V6(a)) => format!("[IPv6:{a}]"),
        Some(a) => format!("[{a}]"),
        None => "[127.0.0.1]".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Client>();
    }

    #[test]
    fn host_port_split_as_smtplib() {
        assert_eq!(split_host_port("mx:2525", 0).unwrap(), ("mx".into(), 2525));
        assert_eq!(split_host_port("mx", 0).unwrap(), ("mx".into(), 0));
        assert_eq!(
            split_host_port("mx:25", 587).unwrap(),
            ("mx:25".into(), 587)
        );
        assert_eq!(split_host_port("::1", 25).unwrap(), ("::1".into(), 25));
        assert_eq!(split_host_port("[::1]", 25).unwrap(), ("::1".into(), 25));
        assert_eq!(split_host_port("mx:x", 0).unwrap_err().status, Status::Io);
    }

    #[test]
    fn local_fqdn_is_a_name_or_literal() {
        let n = local_fqdn();
        assert!(n.contains('.') || n.starts_with('['), "{n}");
        assert!(command::check_arg(&n, false).is_ok());
    }

    #[test]
    fn zero_timeout_is_invalid() {
        let mut c = Client::new(Kind::Smtp);
        assert_eq!(
            c.set_timeout(Duration::ZERO).unwrap_err().status,
            Status::Invalid
        );
    }

    #[test]
    fn commands_before_connect_are_disconnected() {
        let mut c = Client::new(Kind::Smtp);
        assert_eq!(c.noop().unwrap_err().status, Status::ServerDisconnected);
    }
}
