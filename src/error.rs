//! The error model: one `Status` per smtplib exception class, and one `Error`
//! value carrying everything an smtplib exception carries (reply code and
//! text, refused sender, refused recipients, errno).

use std::fmt;
use std::io;

/// The status of an operation. The values are fixed (DESIGN.md) and are also
/// the exit codes of `smtp-send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// `SMTPException`: the base class (e.g. no suitable AUTH mechanism).
    Exception = 1,
    /// `SMTPServerDisconnected`: the connection was lost, or never made.
    ServerDisconnected = 2,
    /// `SMTPResponseException`: the server answered with an error reply.
    Response = 3,
    /// `SMTPSenderRefused`: MAIL FROM was refused.
    SenderRefused = 4,
    /// `SMTPRecipientsRefused`: every recipient was refused.
    RecipientsRefused = 5,
    /// `SMTPDataError`: the message data was refused.
    Data = 6,
    /// `SMTPConnectError`: the greeting was not 220.
    Connect = 7,
    /// `SMTPHeloError`: HELO (after EHLO) was refused.
    Helo = 8,
    /// `SMTPNotSupportedError`: the server does not offer what was asked.
    NotSupported = 9,
    /// `SMTPAuthenticationError`: the credentials were not accepted.
    Authentication = 10,
    /// `OSError`: connection refused, reset, name resolution failure.
    Io = 20,
    /// `TimeoutError`: a deadline passed.
    Timeout = 21,
    /// `ssl.SSLError`: TLS handshake or certificate verification failed.
    Tls = 22,
    /// `ValueError`: a bad argument; nothing was sent.
    Invalid = 23,
    /// A caught panic or an allocation failure inside the library.
    Internal = 24,
    /// A message of a batch that the server never judged: the session
    /// ended before its turn (a 421, a session limit at MAIL, a lost
    /// connection). The connection is closed; the message can be sent
    /// again on a new one. Not an smtplib class (smtplib has no batches).
    NotAttempted = 25,
}

impl Status {
    /// Every status, in value order.
    pub const ALL: [Status; 17] = [
        Status::Ok,
        Status::Exception,
        Status::ServerDisconnected,
        Status::Response,
        Status::SenderRefused,
        Status::RecipientsRefused,
        Status::Data,
        Status::Connect,
        Status::Helo,
        Status::NotSupported,
        Status::Authentication,
        Status::Io,
        Status::Timeout,
        Status::Tls,
        Status::Invalid,
        Status::Internal,
        Status::NotAttempted,
    ];

    /// The status with this numeric value, if any.
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| *s as i32 == code)
    }

    /// The name of the Python class this status stands for.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Exception => "SMTPException",
            Status::ServerDisconnected => "SMTPServerDisconnected",
            Status::Response => "SMTPResponseException",
            Status::SenderRefused => "SMTPSenderRefused",
            Status::RecipientsRefused => "SMTPRecipientsRefused",
            Status::Data => "SMTPDataError",
            Status::Connect => "SMTPConnectError",
            Status::Helo => "SMTPHeloError",
            Status::NotSupported => "SMTPNotSupportedError",
            Status::Authentication => "SMTPAuthenticationError",
            Status::Io => "OSError",
            Status::Timeout => "TimeoutError",
            Status::Tls => "SSLError",
            Status::Invalid => "ValueError",
            Status::Internal => "InternalError",
            Status::NotAttempted => "NotAttempted",
        }
    }

    /// The base class, as in Python's exception hierarchy. `Io` (OSError) is
    /// the root of everything except `Invalid` and `Ok`.
    pub fn parent(self) -> Option<Status> {
        match self {
            Status::Ok | Status::Invalid | Status::Io => None,
            Status::Exception | Status::Timeout | Status::Tls | Status::Internal => {
                Some(Status::Io)
            }
            // The connection is closed when a message is not attempted.
            Status::NotAttempted => Some(Status::ServerDisconnected),
            Status::ServerDisconnected
            | Status::Response
            | Status::RecipientsRefused
            | Status::NotSupported => Some(Status::Exception),
            Status::SenderRefused
            | Status::Data
            | Status::Connect
            | Status::Helo
            | Status::Authentication => Some(Status::Response),
        }
    }

    /// Whether `self` is `ancestor` or derives from it (Python's `isinstance`).
    pub fn is(self, ancestor: Status) -> bool {
        let mut cur = Some(self);
        while let Some(s) = cur {
            if s == ancestor {
                return true;
            }
            cur = s.parent();
        }
        false
    }
}

/// One recipient's outcome in a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    /// The address as the caller gave it.
    pub address: String,
    /// The reply code to RCPT (or, for LMTP, to the end of data when RCPT
    /// was accepted).
    pub code: i32,
    /// The reply text, lines joined by "\n".
    pub text: Vec<u8>,
    /// Whether the recipient got (or will get) the message.
    pub accepted: bool,
}

impl RecipientResult {
    /// The enhanced status code (RFC 3463) starting the reply text, if any.
    pub fn enhanced_code(&self) -> Option<(u8, u16, u16)> {
        crate::protocol::reply::parse_enhanced(&self.text)
    }
}

/// An error with everything smtplib's exceptions carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Which class of error.
    pub status: Status,
    /// `smtp_code`: the reply code, for the response classes.
    pub code: Option<i32>,
    /// `smtp_error`: the reply text, for the response classes.
    pub text: Vec<u8>,
    /// A readable description.
    pub message: String,
    /// `sender`, for `SenderRefused`.
    pub sender: Option<String>,
    /// `recipients`, for `RecipientsRefused` (refused ones only).
    pub recipients: Vec<RecipientResult>,
    /// The operating system's error number, for `Io`.
    pub errno: Option<i32>,
}

impl Error {
    /// An error with no reply attached.
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            code: None,
            text: Vec::new(),
            message: message.into(),
            sender: None,
            recipients: Vec::new(),
            errno: None,
        }
    }

    /// An error carrying a server reply (`SMTPResponseException` and kin).
    pub fn reply(status: Status, code: i32, text: &[u8]) -> Error {
        let mut e = Error::new(status, String::from_utf8_lossy(text).into_owned());
        e.code = Some(code);
        e.text = text.to_vec();
        e
    }

    /// The enhanced status code (RFC 3463) starting the reply text, if any.
    pub fn enhanced_code(&self) -> Option<(u8, u16, u16)> {
        self.code
            .and_then(|_| crate::protocol::reply::parse_enhanced(&self.text))
    }

    /// A `ValueError`.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(Status::Invalid, message)
    }

    /// `SMTPServerDisconnected`.
    pub fn disconnected(message: impl Into<String>) -> Error {
        Error::new(Status::ServerDisconnected, message)
    }

    /// An `OSError` from an I/O error, keeping errno; timeouts become
    /// `TimeoutError`.
    pub fn from_io(err: &io::Error, context: &str) -> Error {
        let status = if is_timeout(err) {
            Status::Timeout
        } else {
            Status::Io
        };
        let mut e = Error::new(status, format!("{context}: {err}"));
        e.errno = err.raw_os_error();
        e
    }
}

/// OpenSSL's error stack as one readable line: each entry's reason, with
/// the detail OpenSSL attached (e.g. which PEM label it expected), without
/// the library, function, source file and line. Repeats are dropped; the
/// order is OpenSSL's (the first error raised first). An empty stack says
/// so.
pub fn openssl_line(stack: &openssl::error::ErrorStack) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in stack.errors() {
        let mut part = match e.reason() {
            Some(reason) => reason.to_string(),
            None => format!("OpenSSL error {:#x}", e.code()),
        };
        if let Some(data) = e.data().filter(|d| !d.is_empty()) {
            part.push_str(&format!(" ({data})"));
        }
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    if parts.is_empty() {
        return "no reason given by OpenSSL".to_string();
    }
    parts.join(": ")
}

/// A TLS failure from OpenSSL (a handshake, a read or a write) as one
/// line: OpenSSL's reasons, else the socket's error, else what the code
/// means.
pub fn tls_line(err: &openssl::ssl::Error) -> String {
    use openssl::ssl::ErrorCode;
    if let Some(stack) = err.ssl_error() {
        if !stack.errors().is_empty() {
            return openssl_line(stack);
        }
    }
    if let Some(io) = err.io_error() {
        return os_reason(io);
    }
    match err.code() {
        ErrorCode::ZERO_RETURN => "the server closed the TLS session".to_string(),
        ErrorCode::SYSCALL => "the server closed the connection mid-TLS".to_string(),
        _ => "TLS failure without a reason from OpenSSL".to_string(),
    }
}

/// A handshake failure as one line: when certificate verification failed,
/// "certificate verify failed: <why> (host <name>)", else OpenSSL's reasons
/// and the host.
pub fn tls_handshake_line(
    err: &openssl::ssl::Error,
    verify: openssl::x509::X509VerifyResult,
    host: &str,
) -> String {
    if verify != openssl::x509::X509VerifyResult::OK {
        return format!(
            "certificate verify failed: {} (host {host})",
            verify.error_string()
        );
    }
    format!("TLS handshake failed: {} (host {host})", tls_line(err))
}

/// An I/O error's text without Rust's " (os error N)" suffix: the OS's
/// sentence ("No such file or directory"), for messages a person reads.
pub fn os_reason(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

/// Whether an I/O error is a socket timeout.
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Error {
    /// What went wrong, without the class name (which `Status::name`
    /// gives): "CODE TEXT" for an error reply, else the message. This is
    /// what `smtp_error_message` returns, so a caller printing
    /// "class: message" does not repeat the class.
    pub fn detail(&self) -> String {
        let mut out = match self.code {
            // The base class carrying a reply (AUTH cancelled after endless
            // challenges) leads with its reason, as smtplib's message does;
            // the reply stays in its own fields.
            Some(code) if self.status == Status::Exception && !self.message.is_empty() => {
                let text = String::from_utf8_lossy(&self.text);
                format!("{} (last reply: {code} {text})", self.message)
            }
            Some(code) => {
                let text = String::from_utf8_lossy(&self.text);
                let mut out = format!("{code} {text}");
                // A message saying more than the reply (why AUTH was
                // cancelled, an OAuth server's JSON) is kept.
                if !self.message.is_empty() && self.message != text {
                    out.push_str(&format!(" ({})", self.message));
                }
                out
            }
            None => self.message.clone(),
        };
        if let Some(sender) = &self.sender {
            out.push_str(&format!(" (sender {sender})"));
        }
        out
    }
}

/// "Class: detail", as Python prints an exception.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.name(), self.detail())
    }
}

impl std::error::Error for Error {}

/// The result type of the engine.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_a_message_that_says_more_than_the_reply() {
        let e = Error::reply(Status::Authentication, 535, b"5.7.8 no");
        assert_eq!(e.to_string(), "SMTPAuthenticationError: 535 5.7.8 no");
        let mut e = e;
        e.message = "OAuth server error: {}".into();
        assert_eq!(
            e.to_string(),
            "SMTPAuthenticationError: 535 5.7.8 no (OAuth server error: {})"
        );
    }

    #[test]
    fn detail_never_names_the_class() {
        // The class is smtp_error_name's; smtp_error_message is the detail,
        // so "TimeoutError: TimeoutError: ..." cannot be printed.
        let e = Error::new(Status::Timeout, "waiting for a reply: timed out");
        assert_eq!(e.detail(), "waiting for a reply: timed out");
        assert_eq!(
            e.to_string(),
            "TimeoutError: waiting for a reply: timed out"
        );
        let mut e = Error::reply(Status::SenderRefused, 550, b"5.1.0 no");
        e.sender = Some("a@x".into());
        assert_eq!(e.detail(), "550 5.1.0 no (sender a@x)");
        for s in Status::ALL {
            let e = Error::new(s, "it failed");
            assert!(!e.detail().contains(s.name()), "{s:?}");
        }
    }

    #[test]
    fn hierarchy_matches_smtplib() {
        // "SMTPSenderRefused: ... In addition to the attributes set by on all
        // SMTPResponseException exceptions ..." -- a subclass of it.
        assert!(Status::SenderRefused.is(Status::Response));
        assert!(Status::SenderRefused.is(Status::Exception));
        assert!(Status::SenderRefused.is(Status::Io));
        assert!(Status::RecipientsRefused.is(Status::Exception));
        assert!(!Status::RecipientsRefused.is(Status::Response));
        assert!(Status::Timeout.is(Status::Io));
        assert!(!Status::Timeout.is(Status::Exception));
        assert!(!Status::Invalid.is(Status::Io));
        assert!(!Status::Ok.is(Status::Io));
        assert!(Status::NotAttempted.is(Status::ServerDisconnected));
        assert!(!Status::NotAttempted.is(Status::Response));
        for s in Status::ALL {
            assert!(s.is(s));
            assert_eq!(Status::from_code(s as i32), Some(s));
        }
        assert_eq!(Status::from_code(11), None);
    }

    #[test]
    fn os_reason_drops_the_errno_suffix() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(os_reason(&e), "No such file or directory");
        let e = io::Error::other("plain");
        assert_eq!(os_reason(&e), "plain");
    }

    #[test]
    fn openssl_line_is_one_line_of_reasons() {
        // Loading a CA file that holds no certificate fills the stack.
        let dir = std::env::temp_dir().join(format!("libsmtp-ossl-{}", std::process::id()));
        std::fs::write(&dir, b"not a certificate\n").unwrap();
        let mut b =
            openssl::ssl::SslContext::builder(openssl::ssl::SslMethod::tls_client()).unwrap();
        let stack = b.set_ca_file(&dir).unwrap_err();
        let _ = std::fs::remove_file(&dir);
        let line = openssl_line(&stack);
        assert!(!line.contains('\n') && !line.contains("error:"), "{line}");
        assert!(!line.contains(".c:"), "source file in {line}");
        assert!(line.contains("no certificate or crl found"), "{line}");
    }
}
