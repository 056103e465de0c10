//! The C boundary: the only `extern "C"` and the only `unsafe` in libsmtp.
//!
//! Every exported function checks its pointers and strings, runs inside a
//! panic boundary, and turns the engine's `Error` into a status code kept
//! in the handle (sqlite3's errcode/errmsg model). No protocol logic lives
//! here: each function converts arguments, calls the session, records the
//! result.

#![allow(non_camel_case_types)]
// These functions are called from C; their pointer contracts are stated in
// the header, and every pointer is checked before use.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_char, c_int, CStr, CString};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::Poll;

use crate::error::{Error, Result, Status};
use crate::session::{Client, Session};
use crate::wait::{block_on, context_waker, poll_once};

mod auth;
mod commands;
mod handle;
mod message;
mod multi;
mod nonblocking;
mod results;
mod transaction;

pub use auth::*;
pub use commands::*;
pub use handle::*;
pub use message::*;
pub use multi::*;
pub use nonblocking::*;
pub use results::*;
pub use transaction::*;

/// A status code: `SMTP_OK` or one of the `SMTP_ERR_*` values. The values
/// are fixed and mirror smtplib's exception classes.
pub type smtp_status = c_int;

/// Success.
pub const SMTP_OK: smtp_status = 0;
/// SMTPException: the base class (e.g. no suitable AUTH mechanism).
pub const SMTP_ERR_EXCEPTION: smtp_status = 1;
/// SMTPServerDisconnected: the connection was lost, or never made.
pub const SMTP_ERR_SERVER_DISCONNECTED: smtp_status = 2;
/// SMTPResponseException: an error reply (code and text kept).
pub const SMTP_ERR_RESPONSE: smtp_status = 3;
/// SMTPSenderRefused: MAIL FROM refused (sender kept).
pub const SMTP_ERR_SENDER_REFUSED: smtp_status = 4;
/// SMTPRecipientsRefused: every recipient refused (each one kept).
pub const SMTP_ERR_RECIPIENTS_REFUSED: smtp_status = 5;
/// SMTPDataError: the message data was refused.
pub const SMTP_ERR_DATA: smtp_status = 6;
/// SMTPConnectError: the greeting was not 220.
pub const SMTP_ERR_CONNECT: smtp_status = 7;
/// SMTPHeloError: HELO refused (after EHLO was).
pub const SMTP_ERR_HELO: smtp_status = 8;
/// SMTPNotSupportedError: the server does not offer what was asked.
pub const SMTP_ERR_NOT_SUPPORTED: smtp_status = 9;
/// SMTPAuthenticationError: credentials refused.
pub const SMTP_ERR_AUTHENTICATION: smtp_status = 10;
/// OSError: refused, reset, name not found (errno kept).
pub const SMTP_ERR_IO: smtp_status = 20;
/// TimeoutError: a deadline passed; the connection is closed.
pub const SMTP_ERR_TIMEOUT: smtp_status = 21;
/// ssl.SSLError: TLS handshake or certificate verification failed.
pub const SMTP_ERR_TLS: smtp_status = 22;
/// ValueError: a bad argument (NULL, bad UTF-8, CR/LF/NUL, a timeout out of
/// range, an address that is not one) or a call out of turn (a command
/// while a streamed body is open); nothing was sent.
pub const SMTP_ERR_INVALID: smtp_status = 23;
/// A caught panic inside libsmtp; the connection is closed, and the panic's
/// message is the handle's error message (nothing is printed).
pub const SMTP_ERR_INTERNAL: smtp_status = 24;
/// Not attempted: a message of `smtp_sendmail_batch` that the server never
/// judged, because the session ended before its turn — a 421 at any point,
/// a 4xx to MAIL with enhanced code 4.5.3 (a per-session message limit,
/// e.g. OpenSMTPD's "452 4.5.3 Too many recipients: Too many messages
/// sent"), or a connection lost before the message's data was sent. The
/// connection is closed; the message can be sent again on a new one. The
/// error's reply code and text are the server's reply that ended the
/// session, when there was one. A SMTP_ERR_SERVER_DISCONNECTED for
/// `smtp_error_is`.
pub const SMTP_ERR_NOT_ATTEMPTED: smtp_status = 25;
/// Not an error: on a non-blocking handle (`smtp_set_nonblocking`), the
/// operation is under way and would have to wait. Nothing is lost: watch
/// `smtp_fd` for `smtp_want`, at most `smtp_wait_ms`, then `smtp_resume`.
pub const SMTP_AGAIN: smtp_status = 26;

/// Turns a C string into `&str`: NULL and bad UTF-8 are `Invalid`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
unsafe fn cstr<'a>(p: *const c_char, what: impl std::fmt::Display) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
}

/// As `cstr`, with NULL meaning "not given".
///
/// # Safety
/// As `cstr`.
unsafe fn opt_cstr<'a>(p: *const c_char, what: impl std::fmt::Display) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { cstr(p, what) }.map(Some)
    }
}

/// An array of `n` C strings; NULL is allowed only when `n` is 0.
///
/// # Safety
/// `p` is NULL or points to `n` valid pointers, each as for `cstr`.
unsafe fn str_array<'a>(
    p: *const *const c_char,
    n: usize,
    what: impl std::fmt::Display,
) -> Result<Vec<&'a str>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::invalid(format!(
            "{what} is NULL with a count of {n}"
        )));
    }
    // SAFETY: `p` points to `n` pointers by the caller's contract.
    let ptrs = unsafe { std::slice::from_raw_parts(p, n) };
    ptrs.iter()
        .enumerate()
        // SAFETY: each element is a C string by the caller's contract.
        .map(|(i, s)| unsafe { cstr(*s, format_args!("{what}[{i}]")) })
        .collect()
}

/// The envelope of a transaction: the sender and `n_to` recipients.
///
/// # Safety
/// As `cstr` and `str_array`.
unsafe fn envelope<'a>(
    from: *const c_char,
    to: *const *const c_char,
    n_to: usize,
) -> Result<(&'a str, Vec<&'a str>)> {
    // SAFETY: forwarded contract.
    unsafe { Ok((cstr(from, "from")?, str_array(to, n_to, "to")?)) }
}

/// The MAIL and RCPT option arrays of a transaction.
///
/// # Safety
/// As `str_array`, for both arrays.
unsafe fn options<'a>(
    mail: *const *const c_char,
    n_mail: usize,
    rcpt: *const *const c_char,
    n_rcpt: usize,
) -> Result<(Vec<&'a str>, Vec<&'a str>)> {
    // SAFETY: forwarded contract.
    unsafe {
        Ok((
            str_array(mail, n_mail, "mail_options")?,
            str_array(rcpt, n_rcpt, "rcpt_options")?,
        ))
    }
}

/// A byte buffer; NULL is allowed only when `len` is 0.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes.
unsafe fn bytes<'a>(p: *const u8, len: usize, what: impl std::fmt::Display) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::invalid(format!(
            "{what} is NULL with a length of {len}"
        )));
    }
    // SAFETY: `len` readable bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Owned copies of borrowed strings, for an operation's future.
fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Borrowed views of owned strings, for a session call.
fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A C string from arbitrary bytes: NUL (which C cannot carry) becomes '?'.
fn to_cstring(bytes: &[u8]) -> CString {
    let clean: Vec<u8> = bytes
        .iter()
        .map(|&b| if b == 0 { b'?' } else { b })
        .collect();
    CString::new(clean).unwrap_or_default()
}

/// "x.y.z" for an enhanced status code (RFC 3463).
fn enhanced_cstring(code: Option<(u8, u16, u16)>) -> Option<CString> {
    code.map(|(a, b, c)| to_cstring(format!("{a}.{b}.{c}").as_bytes()))
}

/// Runs `f` on the handle's session inside the panic boundary, records its
/// outcome as the handle's last error and refreshes the borrowed strings.
/// Refused while an operation is pending (its future holds the session).
fn run(h: *mut handle::smtp_handle, f: impl FnOnce(&mut Client) -> Result<()>) -> smtp_status {
    // SAFETY: a handle pointer is NULL or came from smtp_new*/smtp_open*
    // and has not been freed (the header's contract); one thread at a time.
    let Some(h) = (unsafe { h.as_mut() }) else {
        return SMTP_ERR_INVALID;
    };
    if let Some(busy) = h.refuse_while_pending() {
        return busy;
    }
    let outcome = silent_catch(|| f(&mut h.client));
    let result = match outcome {
        Ok(r) => r,
        Err(panic) => {
            h.client.close();
            Err(Error::new(
                Status::Internal,
                format!("internal error in libsmtp (caught; connection closed): {panic}"),
            ))
        }
    };
    h.record(result)
}

/// The future of one operation of a handle's session (a call that talks to
/// the server), with the session borrowed for as long as the handle lives.
pub(crate) type OpFuture = Pin<Box<dyn Future<Output = Result<()>>>>;

/// Runs an operation: `make` checks and copies the arguments and returns
/// the session call's future. On a blocking handle it runs to completion
/// here; on a non-blocking one it is polled once, and when it must wait it
/// is kept in the handle, to be polled again by `smtp_resume`, and the
/// status is SMTP_AGAIN. Refused while another operation is pending.
///
/// `make` must capture nothing borrowed from the caller beyond what the
/// header says stays valid until the operation completes (message bytes):
/// strings are copied into the future.
fn op<F>(
    h: *mut handle::smtp_handle,
    make: impl FnOnce(&'static mut Session) -> Result<F>,
) -> smtp_status
where
    F: Future<Output = Result<()>> + 'static,
{
    // SAFETY: as in `run`.
    let Some(h) = (unsafe { h.as_mut() }) else {
        return SMTP_ERR_INVALID;
    };
    if let Some(busy) = h.refuse_while_pending() {
        return busy;
    }
    let session: *mut Session = h.client.session();
    // SAFETY: the session lives in the handle's heap allocation, which does
    // not move, and outlives the future: a pending future is kept in the
    // handle and dropped before the session (smtp_close, smtp_free, field
    // order). While it is pending nothing else touches the session: every
    // entry point that would checks `pending` first.
    let session: &'static mut Session = unsafe { &mut *session };
    let nonblocking = session.is_nonblocking();
    let waiter = h.waiter.clone();
    let outcome = silent_catch(|| -> Option<Result<()>> {
        let fut = match make(session) {
            Ok(fut) => fut,
            Err(e) => return Some(Err(e)),
        };
        if !nonblocking {
            // Completes in its first poll: the socket calls wait.
            return Some(block_on(&waiter, fut));
        }
        let mut fut: OpFuture = Box::pin(fut);
        match poll_once(fut.as_mut(), &context_waker()) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => {
                h.set_pending(Some(fut));
                None
            }
        }
    });
    h.settle(outcome)
}

/// Runs `f` inside the panic boundary, returning `default` on a panic.
fn guard<T>(default: T, f: impl FnOnce() -> T) -> T {
    silent_catch(f).unwrap_or(default)
}

thread_local! {
    /// Set while this thread runs inside the panic boundary; the panic hook
    /// leaves the message here instead of printing it.
    static CAUGHT: std::cell::RefCell<Option<Option<String>>> =
        const { std::cell::RefCell::new(None) };
}

/// Installs, once, a panic hook that is silent for panics inside the
/// boundary (libsmtp never writes to the host's stderr) and keeps their
/// message and place for the handle's error message; panics elsewhere in
/// the process go to the hook that was there before.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let inside = CAUGHT
                .try_with(|c| match c.try_borrow_mut() {
                    Ok(mut slot) if slot.is_some() => {
                        let what = info
                            .payload()
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| info.payload().downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "panic".to_string());
                        let place = info
                            .location()
                            .map(|l| format!(" at {}:{}", l.file(), l.line()))
                            .unwrap_or_default();
                        *slot = Some(Some(format!("{what}{place}")));
                        true
                    }
                    _ => false,
                })
                .unwrap_or(false);
            if !inside {
                previous(info);
            }
        }));
    });
}

/// `catch_unwind` without a word on stderr: a panic's message comes back
/// as the error.
fn silent_catch<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    install_panic_hook();
    let outer = CAUGHT.with(|c| c.borrow_mut().replace(None));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    let message = CAUGHT.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    outcome.map_err(|_| message.flatten().unwrap_or_else(|| "panic".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the child process of `a_caught_panic_prints_nothing`.
    const CHILD: &str = "LIBSMTP_PANIC_CHILD";

    #[test]
    fn a_caught_panic_becomes_the_handles_error_message() {
        let h = smtp_new();
        let st = run(h, |_| panic!("boom in the engine"));
        assert_eq!(st, SMTP_ERR_INTERNAL);
        assert_eq!(smtp_error_code(h), SMTP_ERR_INTERNAL);
        // SAFETY: the message is a C string borrowed from the live handle.
        let msg = unsafe { CStr::from_ptr(smtp_error_message(h)) }
            .to_string_lossy()
            .into_owned();
        assert!(msg.contains("boom in the engine"), "{msg}");
        assert!(msg.contains("src/capi/mod.rs"), "{msg}");
        smtp_free(h);
        assert_eq!(guard(7, || panic!("in a getter")), 7);
    }

    #[test]
    fn a_caught_panic_prints_nothing_and_others_reach_the_previous_hook() {
        // libtest captures what the default hook prints, so the panics run
        // in a child process with its stderr kept: the caught one must not
        // appear there; one outside the boundary goes to the hook that was
        // installed before (here Rust's default, which prints it).
        if std::env::var_os(CHILD).is_some() {
            let h = smtp_new();
            assert_eq!(run(h, |_| panic!("boom")), SMTP_ERR_INTERNAL);
            assert_eq!(guard(1, || panic!("boom again")), 1);
            smtp_free(h);
            let r = std::panic::catch_unwind(|| panic!("outside the boundary"));
            assert!(r.is_err());
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "capi::tests::a_caught_panic_prints_nothing_and_others_reach_the_previous_hook",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("boom"), "stderr: {stderr}");
        assert!(stderr.contains("outside the boundary"), "stderr: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("1 passed"), "the child ran: {stdout}");
    }
}
