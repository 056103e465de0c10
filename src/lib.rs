//! libsmtp: an SMTP and LMTP client engine with the behaviour of Python's
//! smtplib, offered to C through `include/smtp.h`.
//!
//! Layers: `protocol` and `message` (no I/O), `transport` (sockets and TLS), `session`
//! (smtplib's semantics), `capi` (the C boundary, the only `unsafe`).
#![deny(missing_docs)]

pub mod capi;
pub mod error;
pub mod message;
pub mod protocol;
pub mod session;
pub mod transport;
pub mod wait;

pub use error::{Error, RecipientResult, Result, Status};
pub use protocol::reply::Reply;
pub use session::{Client, Kind, Session};
pub use transport::{TlsConfig, TlsInfo, TlsVersion};
