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

/// Whether an I/O error is a socket timeout.
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.status.name())?;
        match self.code {
            Some(code) => {
                let text = String::from_utf8_lossy(&self.text);
                write!(f, "{code} {text}")?;
                // A message saying more than the reply (why AUTH was
                // cancelled, an OAuth server's JSON) is kept.
                if !self.message.is_empty() && self.message != text {
                    write!(f, " ({})", self.message)?;
                }
            }
            None => write!(f, "{}", self.message)?,
        }
        if let Some(sender) = &self.sender {
            write!(f, " (sender {sender})")?;
        }
        Ok(())
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
}
