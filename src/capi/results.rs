//! What a handle tells after a call: the last reply, the last error with
//! smtplib's exception attributes, per-recipient results, EHLO facts, TLS
//! facts; plus the status-code helpers and the version.

use std::ffi::{c_char, c_int, CStr};

use super::handle::smtp_handle;
use super::{cstr, guard, smtp_status, SMTP_ERR_INVALID, SMTP_OK};
use crate::error::Status;

/// Borrows the handle for a read-only query.
fn view<'a>(h: *const smtp_handle) -> Option<&'a smtp_handle> {
    // SAFETY: a handle pointer is NULL or live (the header's contract).
    unsafe { h.as_ref() }
}

fn ptr(s: Option<&std::ffi::CString>) -> *const c_char {
    s.map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The status of the last call on the handle: SMTP_OK if it succeeded.
/// SMTP_ERR_INVALID for a NULL handle.
#[no_mangle]
pub extern "C" fn smtp_error_code(h: *const smtp_handle) -> smtp_status {
    view(h).map_or(SMTP_ERR_INVALID, |h| match &h.last {
        Some(e) => e.status as smtp_status,
        None if h.pending.is_some() => super::SMTP_AGAIN,
        None => SMTP_OK,
    })
}

/// A readable description of the last call's error, without the class
/// name (`smtp_error_name(smtp_error_code(h))` gives it): the reply code
/// and text for an error reply, else one sentence, e.g. "connection refused
/// by 127.0.0.1 port 25". "" after a success. Borrowed from the handle until
/// the next call on it; never NULL for a non-NULL handle.
#[no_mangle]
pub extern "C" fn smtp_error_message(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| h.view.error_message.as_ptr())
}

/// The reply code carried by the last error (smtplib's `smtp_code`), or -1
/// when the error carries none (e.g. a timeout). For
/// SMTP_ERR_RECIPIENTS_REFUSED it is the last refused recipient's code.
#[no_mangle]
pub extern "C" fn smtp_error_reply_code(h: *const smtp_handle) -> c_int {
    view(h)
        .and_then(|h| h.last.as_ref())
        .and_then(|e| e.code)
        .unwrap_or(-1)
}

/// The reply text carried by the last error (smtplib's `smtp_error`), lines
/// joined by "\n"; NULL when there is none. Borrowed until the next call.
#[no_mangle]
pub extern "C" fn smtp_error_reply_text(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| ptr(h.view.error_text.as_ref()))
}

/// The refused sender after SMTP_ERR_SENDER_REFUSED (smtplib's `sender`);
/// NULL otherwise. Borrowed until the next call.
#[no_mangle]
pub extern "C" fn smtp_error_sender(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| ptr(h.view.error_sender.as_ref()))
}

/// The operating system's error number behind the last SMTP_ERR_IO,
/// SMTP_ERR_TIMEOUT or SMTP_ERR_TLS (e.g. ECONNREFUSED for a refused
/// connection, ENOENT for a missing CA file); for a host name that does not
/// resolve, getaddrinfo's negative EAI_* code (as Python's
/// `socket.gaierror`; EAI_AGAIN means the name server could not be asked).
/// 0 when none.
#[no_mangle]
pub extern "C" fn smtp_error_errno(h: *const smtp_handle) -> c_int {
    view(h)
        .and_then(|h| h.last.as_ref())
        .and_then(|e| e.errno)
        .unwrap_or(0)
}

/// The smtplib class name of a status ("SMTPSenderRefused",
/// "TimeoutError", ...); "InternalError" for SMTP_ERR_INTERNAL and
/// "NotAttempted" for SMTP_ERR_NOT_ATTEMPTED, which smtplib lacks; "OK" for
/// SMTP_OK, "Again" for SMTP_AGAIN, "Unknown" for other values.
/// A static string: never freed, never NULL.
#[no_mangle]
pub extern "C" fn smtp_error_name(code: c_int) -> *const c_char {
    static NAMES: [&CStr; 17] = [
        c"OK",
        c"SMTPException",
        c"SMTPServerDisconnected",
        c"SMTPResponseException",
        c"SMTPSenderRefused",
        c"SMTPRecipientsRefused",
        c"SMTPDataError",
        c"SMTPConnectError",
        c"SMTPHeloError",
        c"SMTPNotSupportedError",
        c"SMTPAuthenticationError",
        c"OSError",
        c"TimeoutError",
        c"SSLError",
        c"ValueError",
        c"InternalError",
        c"NotAttempted",
    ];
    match Status::ALL.iter().position(|s| *s as c_int == code) {
        Some(i) => NAMES[i].as_ptr(),
        None if code == super::SMTP_AGAIN => c"Again".as_ptr(),
        None => c"Unknown".as_ptr(),
    }
}

/// 1 when `code` is `ancestor` or derives from it in smtplib's hierarchy
/// (as Python's `isinstance`), else 0. SMTP_ERR_SENDER_REFUSED is a
/// SMTP_ERR_RESPONSE is a SMTP_ERR_EXCEPTION; SMTP_ERR_RECIPIENTS_REFUSED is
/// a SMTP_ERR_EXCEPTION but not a SMTP_ERR_RESPONSE; every error but
/// SMTP_ERR_INVALID is a SMTP_ERR_IO (OSError); SMTP_ERR_NOT_ATTEMPTED is a
/// SMTP_ERR_SERVER_DISCONNECTED (its connection is closed). Unknown values
/// give 0.
#[no_mangle]
pub extern "C" fn smtp_error_is(code: c_int, ancestor: c_int) -> c_int {
    match (Status::from_code(code), Status::from_code(ancestor)) {
        (Some(c), Some(a)) => c_int::from(c.is(a)),
        _ => 0,
    }
}

/// The code of the last reply read, whatever the command (the first element
/// of smtplib's `(code, message)`); -1 before any reply.
#[no_mangle]
pub extern "C" fn smtp_reply_code(h: *const smtp_handle) -> c_int {
    view(h).map_or(-1, |h| h.view.reply_code)
}

/// The text of the last reply read, lines joined by "\n"; NULL before any
/// reply. Borrowed from the handle until the next call on it.
#[no_mangle]
pub extern "C" fn smtp_reply_text(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| ptr(h.view.reply_text.as_ref()))
}

/// The enhanced status code (RFC 3463, e.g. "2.0.0") starting the last
/// reply's text, or NULL when it has none. Borrowed until the next call.
#[no_mangle]
pub extern "C" fn smtp_reply_enhanced(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| ptr(h.view.reply_enhanced.as_ref()))
}

/// The enhanced status code of the reply carried by the last error (e.g.
/// "5.1.1"), or NULL. Borrowed until the next call.
#[no_mangle]
pub extern "C" fn smtp_error_reply_enhanced(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| ptr(h.view.error_enhanced.as_ref()))
}

/// The enhanced status code of the `index`th recipient's reply in the last
/// transaction, or NULL (none, or out of range). Borrowed until the next
/// call.
#[no_mangle]
pub extern "C" fn smtp_recipient_enhanced(h: *const smtp_handle, index: usize) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| {
        ptr(h
            .view
            .recipient_enhanced
            .get(index)
            .and_then(Option::as_ref))
    })
}

/// 1 while connected, else 0.
#[no_mangle]
pub extern "C" fn smtp_is_connected(h: *const smtp_handle) -> c_int {
    view(h)
        .and_then(smtp_handle::idle_client)
        .map_or(0, |c| c_int::from(c.is_connected()))
}

/// 1 when the server accepted EHLO this session (smtplib `does_esmtp`).
#[no_mangle]
pub extern "C" fn smtp_does_esmtp(h: *const smtp_handle) -> c_int {
    view(h)
        .and_then(smtp_handle::idle_client)
        .map_or(0, |c| c_int::from(c.does_esmtp()))
}

/// 1 when the server announced extension `name` (smtplib `has_extn()`; case
/// is ignored), else 0 (also for NULL or non-UTF-8 `name`).
///
/// `name` is read during the call only.
#[no_mangle]
pub extern "C" fn smtp_has_extn(h: *const smtp_handle, name: *const c_char) -> c_int {
    guard(0, || {
        let Some(c) = view(h).and_then(smtp_handle::idle_client) else {
            return 0;
        };
        // SAFETY: a C string by contract; NULL is handled.
        match unsafe { cstr(name, "name") } {
            Ok(name) => c_int::from(c.has_extn(name)),
            Err(_) => 0,
        }
    })
}

/// The parameters of extension `name` (smtplib `esmtp_features[name]`, ""
/// when it has none), or NULL when not announced. For "auth" the value
/// starts with a space, as in smtplib. Borrowed until the next call.
///
/// `name` is read during the call only.
#[no_mangle]
pub extern "C" fn smtp_esmtp_feature(h: *const smtp_handle, name: *const c_char) -> *const c_char {
    guard(std::ptr::null(), || {
        let Some(h) = view(h) else {
            return std::ptr::null();
        };
        // SAFETY: a C string by contract; NULL is handled.
        let Ok(name) = (unsafe { cstr(name, "name") }) else {
            return std::ptr::null();
        };
        h.view
            .features
            .iter()
            .find(|(k, _)| k.to_bytes().eq_ignore_ascii_case(name.as_bytes()))
            .map_or(std::ptr::null(), |(_, v)| v.as_ptr())
    })
}

/// How many extensions the server announced.
#[no_mangle]
pub extern "C" fn smtp_esmtp_feature_count(h: *const smtp_handle) -> usize {
    view(h).map_or(0, |h| h.view.features.len())
}

/// The `index`th extension: its lowercased keyword and its parameters.
/// SMTP_ERR_INVALID when out of range or an out-pointer is NULL. Borrowed
/// until the next call.
#[no_mangle]
pub extern "C" fn smtp_esmtp_feature_at(
    h: *const smtp_handle,
    index: usize,
    name: *mut *const c_char,
    params: *mut *const c_char,
) -> smtp_status {
    let Some(h) = view(h) else {
        return SMTP_ERR_INVALID;
    };
    let Some((k, v)) = h.view.features.get(index) else {
        return SMTP_ERR_INVALID;
    };
    if name.is_null() || params.is_null() {
        return SMTP_ERR_INVALID;
    }
    // SAFETY: both checked non-NULL; writable by contract.
    unsafe {
        *name = k.as_ptr();
        *params = v.as_ptr();
    }
    SMTP_OK
}

/// The reply text to HELO (smtplib `helo_resp`), or NULL. Borrowed until
/// the next call.
#[no_mangle]
pub extern "C" fn smtp_helo_resp(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| ptr(h.view.helo.as_ref()))
}

/// The reply text to EHLO/LHLO (smtplib `ehlo_resp`), or NULL. Borrowed
/// until the next call.
#[no_mangle]
pub extern "C" fn smtp_ehlo_resp(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| ptr(h.view.ehlo.as_ref()))
}

/// How many recipients the last `smtp_sendmail` named.
#[no_mangle]
pub extern "C" fn smtp_recipient_count(h: *const smtp_handle) -> usize {
    view(h).map_or(0, |h| h.view.recipients.len())
}

/// The `index`th recipient of the last `smtp_sendmail`: address, reply code,
/// reply text, and whether it was accepted. Any out-pointer may be NULL.
/// SMTP_ERR_INVALID when out of range. Borrowed until the next call.
#[no_mangle]
pub extern "C" fn smtp_recipient_get(
    h: *const smtp_handle,
    index: usize,
    address: *mut *const c_char,
    code: *mut c_int,
    text: *mut *const c_char,
    accepted: *mut c_int,
) -> smtp_status {
    let Some(h) = view(h) else {
        return SMTP_ERR_INVALID;
    };
    let Some((a, c, t, ok)) = h.view.recipients.get(index) else {
        return SMTP_ERR_INVALID;
    };
    // SAFETY: each pointer is checked for NULL; writable by contract.
    unsafe {
        if !address.is_null() {
            *address = a.as_ptr();
        }
        if !code.is_null() {
            *code = *c;
        }
        if !text.is_null() {
            *text = t.as_ptr();
        }
        if !accepted.is_null() {
            *accepted = c_int::from(*ok);
        }
    }
    SMTP_OK
}

/// How many recipients the last `smtp_sendmail` had refused (the size of
/// the dictionary smtplib's sendmail returns, or of the `recipients` of its
/// SMTPRecipientsRefused).
#[no_mangle]
pub extern "C" fn smtp_refused_count(h: *const smtp_handle) -> usize {
    view(h).map_or(0, |h| h.view.recipients.iter().filter(|r| !r.3).count())
}

/// The `index`th refused recipient: address, code and text. Any out-pointer
/// may be NULL. SMTP_ERR_INVALID when out of range. Borrowed until the next
/// call.
#[no_mangle]
pub extern "C" fn smtp_refused_get(
    h: *const smtp_handle,
    index: usize,
    address: *mut *const c_char,
    code: *mut c_int,
    text: *mut *const c_char,
) -> smtp_status {
    let Some(hv) = view(h) else {
        return SMTP_ERR_INVALID;
    };
    let Some(pos) = hv
        .view
        .recipients
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.3)
        .nth(index)
        .map(|(i, _)| i)
    else {
        return SMTP_ERR_INVALID;
    };
    smtp_recipient_get(h, pos, address, code, text, std::ptr::null_mut())
}

/// The negotiated TLS version ("TLSv1.3"), or NULL when not encrypted.
/// Borrowed until the next call.
#[no_mangle]
pub extern "C" fn smtp_tls_version(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| {
        ptr(h.view.tls.as_ref().map(|t| &t[0]))
    })
}

/// The negotiated cipher suite, or NULL when not encrypted.
///
/// Borrowed until the next call.
#[no_mangle]
pub extern "C" fn smtp_tls_cipher(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| {
        ptr(h.view.tls.as_ref().map(|t| &t[1]))
    })
}

/// The server certificate's subject ("CN=mx.example, O=..."), or NULL when
/// not encrypted.
///
/// Borrowed until the next call.
#[no_mangle]
pub extern "C" fn smtp_tls_peer_subject(h: *const smtp_handle) -> *const c_char {
    view(h).map_or(std::ptr::null(), |h| {
        ptr(h.view.tls.as_ref().map(|t| &t[2]))
    })
}

/// The library's version, "MAJOR.MINOR.PATCH", equal to SMTP_VERSION in the
/// header it was built with. A static string.
#[no_mangle]
pub extern "C" fn smtp_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
