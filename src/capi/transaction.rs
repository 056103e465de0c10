//! Transactions beyond sendmail: a body streamed in pieces, from a file
//! descriptor or a callback; batches over one connection; DSN requests;
//! PIPELINING and CHUNKING switches; enhanced status codes.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::io::Read;
use std::os::fd::{FromRawFd, RawFd};

use super::handle::smtp_handle;
use super::{
    bytes, cstr, envelope, op, opt_cstr, options, owned, run, smtp_status, str_array, strs,
    SMTP_AGAIN, SMTP_OK,
};
use crate::error::Error;
use crate::session::{DsnRet, Outgoing};

/// Starts a message whose body follows in `smtp_send_write` calls and ends
/// with `smtp_send_end` (the streaming form of `smtp_sendmail`, in constant
/// memory): EHLO/HELO if needed, MAIL FROM (with SIZE=`size` when the server
/// offers SIZE and `size` is not 0: the body's size with CRLF line endings,
/// an estimate as RFC 1870 allows — a body with bare LF line endings sends
/// one more byte per line), RCPT TO for each recipient, DATA (with
/// CHUNKING, BDAT chunks follow with the body instead). Errors as
/// `smtp_sendmail`; after an error no message is in progress. While the
/// body is open, every other call that would write to the server (a
/// command, another message, QUIT, connect) is SMTP_ERR_INVALID with
/// nothing written and the body left as it was; `smtp_close` abandons it.
///
/// `from`, `to` and the option arrays are read during this call only and not
/// kept; they need not live until `smtp_send_end`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn smtp_send_begin(
    h: *mut smtp_handle,
    from: *const c_char,
    to: *const *const c_char,
    n_to: usize,
    size: u64,
    mail_options: *const *const c_char,
    n_mail_options: usize,
    rcpt_options: *const *const c_char,
    n_rcpt_options: usize,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: C strings and arrays of the counts given, by contract.
        let (from, to, mopts, ropts) = unsafe { owned_envelope(from, to, n_to)? }
            .with(unsafe { options(mail_options, n_mail_options, rcpt_options, n_rcpt_options)? });
        let size = (size != 0).then_some(size);
        Ok(async move {
            s.begin(&from, &strs(&to), size, &strs(&mopts), &strs(&ropts))
                .await
        })
    })
}

/// Sends `len` bytes of the body begun with `smtp_send_begin`. Line endings
/// are made CRLF and lines starting with "." dot-stuffed on the way, across
/// calls: a CR LF or a "." split between two calls is handled. The buffer
/// is not kept after the call. SMTP_ERR_EXCEPTION when no message is in
/// progress.
#[no_mangle]
pub extern "C" fn smtp_send_write(h: *mut smtp_handle, buf: *const u8, len: usize) -> smtp_status {
    op(h, |s| {
        // SAFETY: `len` readable bytes, valid until the operation completes
        // (for a blocking handle, the call), by contract.
        let buf: &'static [u8] = unsafe { bytes(buf, len, "buf") }?;
        Ok(s.write_body(buf))
    })
}

/// Ends the body and reads the outcome, as `smtp_sendmail` does (refused
/// and per-recipient results; for LMTP one reply per accepted recipient).
#[no_mangle]
pub extern "C" fn smtp_send_end(h: *mut smtp_handle) -> smtp_status {
    op(h, |s| Ok(async move { s.end().await.map(drop) }))
}

/// A file descriptor read without being closed.
struct BorrowedFd(std::mem::ManuallyDrop<std::fs::File>);

impl Read for BorrowedFd {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

/// `smtp_sendmail` with the body read from `fd` until end of file, in
/// constant memory. `fd` is not closed. `size` as in `smtp_send_begin`
/// (0: unknown). A read error drops the connection (a truncated message
/// must not be delivered) and gives SMTP_ERR_IO.
///
/// `from`, `to` and the option arrays are read during the call only and not
/// kept.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn smtp_sendmail_fd(
    h: *mut smtp_handle,
    from: *const c_char,
    to: *const *const c_char,
    n_to: usize,
    fd: c_int,
    size: u64,
    mail_options: *const *const c_char,
    n_mail_options: usize,
    rcpt_options: *const *const c_char,
    n_rcpt_options: usize,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: C strings and arrays of the counts given, by contract.
        let (from, to, mopts, ropts) = unsafe { owned_envelope(from, to, n_to)? }
            .with(unsafe { options(mail_options, n_mail_options, rcpt_options, n_rcpt_options)? });
        if fd < 0 {
            return Err(Error::invalid(format!("bad file descriptor {fd}")));
        }
        // SAFETY: the caller owns the open descriptor `fd` for the call's
        // duration; ManuallyDrop keeps us from closing it.
        let mut reader = BorrowedFd(std::mem::ManuallyDrop::new(unsafe {
            std::fs::File::from_raw_fd(fd as RawFd)
        }));
        let size = (size != 0).then_some(size);
        Ok(async move {
            s.sendmail_reader(
                &from,
                &strs(&to),
                size,
                &mut reader,
                &strs(&mopts),
                &strs(&ropts),
            )
            .await
            .map(drop)
        })
    })
}

/// An envelope copied for an operation's future: the sender and the
/// recipients.
struct OwnedEnvelope(String, Vec<String>);

impl OwnedEnvelope {
    /// With the copied MAIL and RCPT options.
    fn with(
        self,
        (mopts, ropts): (Vec<&str>, Vec<&str>),
    ) -> (String, Vec<String>, Vec<String>, Vec<String>) {
        (self.0, self.1, owned(&mopts), owned(&ropts))
    }
}

/// `envelope`, copied.
///
/// # Safety
/// As `envelope`.
unsafe fn owned_envelope(
    from: *const c_char,
    to: *const *const c_char,
    n_to: usize,
) -> crate::error::Result<OwnedEnvelope> {
    // SAFETY: forwarded contract.
    let (from, to) = unsafe { envelope(from, to, n_to)? };
    Ok(OwnedEnvelope(from.to_string(), owned(&to)))
}

/// Supplies body bytes: writes at most `cap` bytes to `buf` and returns how
/// many (0 at the end of the body), or a negative value for an error, which
/// drops the connection (a truncated message must not be delivered).
/// `buf` is valid only during the call.
///
/// Must not throw or unwind: a C++ exception (or a Rust panic, or any
/// other unwinding) that leaves the callback into libsmtp is not caught:
/// the process aborts ("Rust cannot catch foreign exceptions", SIGABRT),
/// and `longjmp` out of it skips libsmtp's clean-up (undefined behaviour).
/// Catch everything inside the callback and report failure through its
/// return value (a negative count); C++ callbacks can be declared
/// `noexcept`.
pub type smtp_read_callback =
    Option<extern "C" fn(userdata: *mut c_void, buf: *mut u8, cap: usize) -> isize>;

struct CallbackReader {
    callback: extern "C" fn(*mut c_void, *mut u8, usize) -> isize,
    userdata: *mut c_void,
}

impl Read for CallbackReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.callback)(self.userdata, buf.as_mut_ptr(), buf.len());
        if n < 0 {
            return Err(std::io::Error::other("the read callback reported an error"));
        }
        let n = n as usize;
        if n > buf.len() {
            return Err(std::io::Error::other(
                "the read callback returned more bytes than asked for",
            ));
        }
        Ok(n)
    }
}

/// `smtp_sendmail` with the body supplied by `callback(userdata, buf, cap)`
/// until it returns 0, in constant memory. The callback runs during this
/// call on the calling thread and must not call functions on this handle,
/// nor throw or unwind into libsmtp (the process would abort: see
/// `smtp_read_callback`).
/// `size` as in `smtp_send_begin` (0: unknown).
///
/// `from`, `to` and the option arrays are read during the call only and not
/// kept; `userdata` is passed to the callback untouched, must stay valid until
/// this call returns, and is not kept after it.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn smtp_sendmail_callback(
    h: *mut smtp_handle,
    from: *const c_char,
    to: *const *const c_char,
    n_to: usize,
    callback: smtp_read_callback,
    userdata: *mut c_void,
    size: u64,
    mail_options: *const *const c_char,
    n_mail_options: usize,
    rcpt_options: *const *const c_char,
    n_rcpt_options: usize,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: C strings and arrays of the counts given, by contract.
        let (from, to, mopts, ropts) = unsafe { owned_envelope(from, to, n_to)? }
            .with(unsafe { options(mail_options, n_mail_options, rcpt_options, n_rcpt_options)? });
        let callback = callback.ok_or_else(|| Error::invalid("callback is NULL"))?;
        let mut reader = CallbackReader { callback, userdata };
        let size = (size != 0).then_some(size);
        Ok(async move {
            s.sendmail_reader(
                &from,
                &strs(&to),
                size,
                &mut reader,
                &strs(&mopts),
                &strs(&ropts),
            )
            .await
            .map(drop)
        })
    })
}

/// One message of `smtp_sendmail_batch`. The pointers are borrowed for the
/// duration of the call only.
#[repr(C)]
pub struct smtp_message {
    /// The envelope sender.
    pub from: *const c_char,
    /// `n_to` envelope recipients.
    pub to: *const *const c_char,
    /// How many recipients.
    pub n_to: usize,
    /// The message bytes.
    pub data: *const u8,
    /// Their length.
    pub len: usize,
}

/// Sends `n` messages over the connection. With PIPELINING the end of each
/// body and the next message's MAIL, RCPT and DATA travel in one write (one
/// round trip a message); a server that refuses commands sent before its
/// reply to the end of data (Haraka's "503 Bad sequence of commands -
/// pipelined after end of DATA") gets that message's envelope again and,
/// for the rest of the session, each end of data alone: no message is
/// refused because of pipelining. Without PIPELINING, one `smtp_sendmail`
/// after another.
///
/// `statuses` (NULL, or room for `n` values) receives each message's status:
/// SMTP_OK when it was accepted for at least one recipient, the error
/// `smtp_sendmail` would give when the server refused it, or
/// SMTP_ERR_NOT_ATTEMPTED when the server never judged it. A refused message
/// does not stop the others. When the session ends during the batch — a 421
/// at any point, a 4xx to MAIL with enhanced code 4.5.3 (a per-session
/// message limit), or a lost connection — the connection is closed (QUIT is
/// sent after a 4.5.3) and every message from `smtp_batch_attempted(h)` on is
/// SMTP_ERR_NOT_ATTEMPTED: "k of n sent, the rest not attempted, connection
/// closed". Reconnect (and STARTTLS and log in again) and send those.
/// On a non-blocking handle `statuses` is written when the operation
/// completes (in the `smtp_resume` that completes it); a batch abandoned
/// by `smtp_close` or `smtp_free` leaves it as it was.
///
/// Returns SMTP_OK when every message was accepted; otherwise the first
/// failed message's status (SMTP_ERR_NOT_ATTEMPTED when all the judged ones
/// were accepted), whose error is then the handle's error: for a message not
/// attempted, the server's reply that ended the session. Per-recipient
/// results are those of the last message; none when it was not attempted.
///
/// When the arguments are refused (or the handle is NULL) no message is
/// sent and each status is the call's.
///
/// `messages`, everything they point to, and the option arrays are read during
/// the call only and not kept.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn smtp_sendmail_batch(
    h: *mut smtp_handle,
    messages: *const smtp_message,
    n: usize,
    mail_options: *const *const c_char,
    n_mail_options: usize,
    rcpt_options: *const *const c_char,
    n_rcpt_options: usize,
    statuses: *mut smtp_status,
) -> smtp_status {
    // Whether the statuses were written (by the operation, when it ran).
    let filled = std::rc::Rc::new(std::cell::Cell::new(false));
    let wrote = filled.clone();
    let status = op(h, |s| {
        s.forget_batch();
        if n > 0 && messages.is_null() {
            return Err(Error::invalid("messages is NULL"));
        }
        // SAFETY: `n` readable structs by contract (checked non-NULL above).
        let raw = if n == 0 {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(messages, n) }
        };
        let mut copies: Vec<(String, Vec<String>, &'static [u8])> = Vec::with_capacity(n);
        // SAFETY: each struct's pointers are valid for the call (its bytes
        // until the operation completes: for a blocking handle, the call),
        // by contract.
        let (mopts, ropts) = unsafe {
            for (i, m) in raw.iter().enumerate() {
                copies.push((
                    cstr(m.from, format_args!("messages[{i}].from"))?.to_string(),
                    owned(&str_array(m.to, m.n_to, format_args!("messages[{i}].to"))?),
                    bytes(m.data, m.len, format_args!("messages[{i}].data"))?,
                ));
            }
            options(mail_options, n_mail_options, rcpt_options, n_rcpt_options)?
        };
        let (mopts, ropts) = (owned(&mopts), owned(&ropts));
        Ok(async move {
            let tos: Vec<Vec<&str>> = copies.iter().map(|(_, to, _)| strs(to)).collect();
            let outgoing: Vec<Outgoing<'_>> = copies
                .iter()
                .zip(&tos)
                .map(|((from, _, msg), to)| Outgoing { from, to, msg })
                .collect();
            let outcomes = s
                .sendmail_batch(&outgoing, &strs(&mopts), &strs(&ropts))
                .await;
            if !statuses.is_null() {
                // SAFETY: room for `n` values, valid until the operation
                // completes, by contract.
                let out = unsafe { std::slice::from_raw_parts_mut(statuses, n) };
                for (slot, o) in out.iter_mut().zip(&outcomes) {
                    *slot = o
                        .as_ref()
                        .map_or_else(|e| e.status as smtp_status, |_| SMTP_OK);
                }
                wrote.set(true);
            }
            match outcomes.into_iter().find_map(Result::err) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    });
    // Refused arguments, a NULL handle or a caught panic: no message was
    // sent, and each one's status is the call's. (A pending batch writes
    // them when it completes.)
    if status != SMTP_AGAIN && !filled.get() && !statuses.is_null() && n > 0 {
        // SAFETY: room for `n` values by contract.
        let out = unsafe { std::slice::from_raw_parts_mut(statuses, n) };
        out.fill(status);
    }
    status
}

/// How many messages of the last `smtp_sendmail_batch`, counted from the
/// first, the server judged (accepted or refused). Messages from this index
/// on were not attempted (their status is SMTP_ERR_NOT_ATTEMPTED) and the
/// connection is closed; `n` when the session lasted the whole batch. 0
/// before any batch, after a batch call that sent nothing (its arguments
/// refused, or a streamed body open), and for a NULL handle.
#[no_mangle]
pub extern "C" fn smtp_batch_attempted(h: *const smtp_handle) -> usize {
    // SAFETY: a handle pointer is NULL or live (the header's contract).
    unsafe { h.as_ref() }
        .and_then(smtp_handle::idle_client)
        .map_or(0, |c| c.batch_attempted())
}

/// Uses PIPELINING when the server offers it (1, the default) or never (0).
#[no_mangle]
pub extern "C" fn smtp_set_pipelining(h: *mut smtp_handle, on: c_int) -> smtp_status {
    run(h, |c| {
        c.set_pipelining(on != 0);
        Ok(())
    })
}

/// Uses CHUNKING (BDAT, RFC 3030) when the server offers it (1, the
/// default) or never (0). BODY=BINARYMIME among the mail options needs it.
#[no_mangle]
pub extern "C" fn smtp_set_chunking(h: *mut smtp_handle, on: c_int) -> smtp_status {
    run(h, |c| {
        c.set_chunking(on != 0);
        Ok(())
    })
}

/// No RET= (the default), for `smtp_set_dsn_ret`.
pub const SMTP_DSN_RET_NONE: c_int = 0;
/// RET=FULL: return the whole message in a DSN.
pub const SMTP_DSN_RET_FULL: c_int = 1;
/// RET=HDRS: return only the headers.
pub const SMTP_DSN_RET_HDRS: c_int = 2;

/// NOTIFY=NEVER, for `smtp_set_dsn_notify`; not combinable with the others.
pub const SMTP_DSN_NOTIFY_NEVER: c_uint = 1;
/// NOTIFY=SUCCESS.
pub const SMTP_DSN_NOTIFY_SUCCESS: c_uint = 2;
/// NOTIFY=FAILURE.
pub const SMTP_DSN_NOTIFY_FAILURE: c_uint = 4;
/// NOTIFY=DELAY.
pub const SMTP_DSN_NOTIFY_DELAY: c_uint = 8;

/// RET= on MAIL for later transactions (RFC 3461 §4.3). Any DSN request
/// makes a transaction fail with SMTP_ERR_NOT_SUPPORTED, nothing sent, when
/// the server does not offer DSN.
#[no_mangle]
pub extern "C" fn smtp_set_dsn_ret(h: *mut smtp_handle, ret: c_int) -> smtp_status {
    run(h, |c| {
        c.dsn().ret = match ret {
            SMTP_DSN_RET_NONE => None,
            SMTP_DSN_RET_FULL => Some(DsnRet::Full),
            SMTP_DSN_RET_HDRS => Some(DsnRet::Hdrs),
            v => return Err(Error::invalid(format!("unknown DSN RET value {v}"))),
        };
        Ok(())
    })
}

/// ENVID= on MAIL (RFC 3461 §4.4), 1 to 100 ASCII characters, sent
/// xtext-encoded; NULL removes it.
///
/// `envid` is copied; the caller's memory need not outlive the call.
#[no_mangle]
pub extern "C" fn smtp_set_dsn_envid(h: *mut smtp_handle, envid: *const c_char) -> smtp_status {
    run(h, |c| {
        // SAFETY: NULL or a C string by contract.
        let envid = unsafe { opt_cstr(envid, "envid") }?;
        c.dsn().envid = envid.map(str::to_string);
        Ok(())
    })
}

/// NOTIFY= on every RCPT (RFC 3461 §4.1): SMTP_DSN_NOTIFY_* flags, 0 for
/// none. NEVER with another flag is SMTP_ERR_INVALID when sending.
#[no_mangle]
pub extern "C" fn smtp_set_dsn_notify(h: *mut smtp_handle, flags: c_uint) -> smtp_status {
    run(h, |c| {
        c.dsn().notify = u8::try_from(flags)
            .ok()
            .filter(|f| f & !0x0f == 0)
            .ok_or_else(|| Error::invalid(format!("unknown NOTIFY flags {flags:#x}")))?;
        Ok(())
    })
}

/// ORCPT=rfc822;<address> on every RCPT (RFC 3461 §4.2) when `on` is 1.
#[no_mangle]
pub extern "C" fn smtp_set_dsn_orcpt(h: *mut smtp_handle, on: c_int) -> smtp_status {
    run(h, |c| {
        c.dsn().orcpt = on != 0;
        Ok(())
    })
}
