//! Non-blocking handles: an operation that would wait returns SMTP_AGAIN,
//! says what it waits for, and is resumed by the caller's event loop.

use std::ffi::{c_int, c_long};

use super::handle::smtp_handle;
use super::{guard, run, smtp_status, SMTP_ERR_INVALID};
use crate::error::Error;

/// `smtp_want`: the pending operation waits for its descriptor to be
/// readable.
pub const SMTP_WANT_READ: c_int = 1;
/// `smtp_want`: the pending operation waits for its descriptor to be
/// writable.
pub const SMTP_WANT_WRITE: c_int = 2;

/// Makes the handle non-blocking (`on` non-zero) or blocking (0, the
/// default), for the connection open now and those made later.
///
/// On a non-blocking handle every call that talks to the server
/// (`smtp_connect`, `smtp_ehlo`, `smtp_starttls`, `smtp_login`, `smtp_auth`,
/// `smtp_sendmail` and its streamed, file, callback and batch forms,
/// `smtp_send_message`, `smtp_mail`, `smtp_rcpt`, `smtp_data`,
/// `smtp_docmd`, `smtp_putcmd`, `smtp_getreply`, `smtp_noop`, `smtp_rset`,
/// `smtp_verify`, `smtp_expn`, `smtp_help`, `smtp_quit`, ...) either
/// completes as it does on a blocking handle, or does all it can without
/// waiting and returns SMTP_AGAIN. The operation is then pending: watch
/// `smtp_fd(h)` for `smtp_want(h)`, for at most `smtp_wait_ms(h)`
/// milliseconds, and call `smtp_resume(h)` when it is ready or the time is
/// up, until it returns something else than SMTP_AGAIN: the status the
/// blocking call would have returned, with the same reply, per-recipient
/// results and error (read with the usual getters). The deadline of each
/// operation (`smtp_set_timeout`) is kept by libsmtp: a resume after it
/// ends the operation with SMTP_ERR_TIMEOUT, however the server trickles.
///
/// While an operation is pending, every call but the getters,
/// `smtp_resume`, `smtp_pending`, `smtp_fd`, `smtp_want`, `smtp_wait_ms`,
/// `smtp_close` and `smtp_free` is SMTP_ERR_INVALID, and the pending
/// operation is untouched; `smtp_close` and `smtp_free` abandon it and
/// close the connection. `smtp_error_code` is SMTP_AGAIN while it is
/// pending.
///
/// What a non-blocking call keeps: strings (host, addresses, options,
/// commands, mechanism names) are copied before it returns. Message bytes
/// are not: `smtp_sendmail`'s and `smtp_data`'s `msg`, `smtp_send_message`'s
/// `msg`, `smtp_send_write`'s `buf`, `smtp_sendmail_batch`'s message
/// bytes (its envelopes are copied) and its `statuses` (written when the
/// operation completes), the descriptor of `smtp_sendmail_fd` and the
/// callbacks' `userdata` must stay valid and unchanged until the operation
/// completes. The callbacks run during `smtp_resume`.
///
/// Name resolution (getaddrinfo) in `smtp_connect` waits: pass an address
/// literal ("192.0.2.1", "::1") to never wait. A Unix-socket connect
/// whose listener's queue is full is retried every few milliseconds
/// (`smtp_fd` is -1 then, and `smtp_wait_ms` says when).
///
/// SMTP_ERR_INVALID while an operation is pending.
#[no_mangle]
pub extern "C" fn smtp_set_nonblocking(h: *mut smtp_handle, on: c_int) -> smtp_status {
    run(h, |c| c.set_nonblocking(on != 0))
}

/// Goes on with the pending operation: returns SMTP_AGAIN when it must
/// wait again, or its final status. SMTP_ERR_INVALID when no operation is
/// pending.
#[no_mangle]
pub extern "C" fn smtp_resume(h: *mut smtp_handle) -> smtp_status {
    // SAFETY: a handle pointer is NULL or live (the header's contract).
    let Some(h) = (unsafe { h.as_mut() }) else {
        return SMTP_ERR_INVALID;
    };
    if h.pending.is_none() {
        return h.record(Err(Error::invalid(
            "smtp_resume: no operation is pending on this handle",
        )));
    }
    h.resume()
}

/// 1 while an operation is pending (it returned SMTP_AGAIN and no resume
/// has completed it), else 0.
#[no_mangle]
pub extern "C" fn smtp_pending(h: *const smtp_handle) -> c_int {
    // SAFETY: a handle pointer is NULL or live (the header's contract).
    unsafe { h.as_ref() }.map_or(0, |h| c_int::from(h.pending.is_some()))
}

/// The descriptor the pending operation waits on, to watch for
/// `smtp_want`; -1 when no operation is pending or it waits on time only
/// (then resume after `smtp_wait_ms`). The descriptor is libsmtp's: watch
/// it, never read, write or close it; it may change from one operation to
/// the next (a new connection).
#[no_mangle]
pub extern "C" fn smtp_fd(h: *const smtp_handle) -> c_int {
    // SAFETY: a handle pointer is NULL or live (the header's contract).
    let Some(h) = (unsafe { h.as_ref() }) else {
        return -1;
    };
    guard(-1, || h.wait().map_or(-1, |w| w.fd))
}

/// What the pending operation waits for on `smtp_fd`: SMTP_WANT_READ,
/// SMTP_WANT_WRITE (a connect, a full send buffer, or TLS that must write
/// while reading), or 0 when no operation is pending or it waits on time
/// only.
#[no_mangle]
pub extern "C" fn smtp_want(h: *const smtp_handle) -> c_int {
    // SAFETY: a handle pointer is NULL or live (the header's contract).
    let Some(h) = (unsafe { h.as_ref() }) else {
        return 0;
    };
    guard(0, || {
        h.wait().map_or(0, |w| {
            let mut want = 0;
            if w.read && w.fd >= 0 {
                want |= SMTP_WANT_READ;
            }
            if w.write && w.fd >= 0 {
                want |= SMTP_WANT_WRITE;
            }
            want
        })
    })
}

/// Milliseconds until the pending operation must be resumed even if its
/// descriptor is not ready: its deadline (the resume then ends it with
/// SMTP_ERR_TIMEOUT), or a short retry. 0: resume now. -1 when no
/// operation is pending.
#[no_mangle]
pub extern "C" fn smtp_wait_ms(h: *const smtp_handle) -> c_long {
    // SAFETY: a handle pointer is NULL or live (the header's contract).
    let Some(h) = (unsafe { h.as_ref() }) else {
        return -1;
    };
    guard(-1, || {
        if h.pending.is_none() {
            return -1;
        }
        h.wait()
            .map_or(0, |w| w.ms_left().min(c_long::MAX as u64) as c_long)
    })
}
