//! AUTH: smtplib's login() and auth(), OAuth 2.0 bearer tokens, and the
//! settings that govern them (pinned mechanisms, cleartext opt-in).

use std::ffi::{c_char, c_int, c_void};

use super::handle::smtp_handle;
use zeroize::Zeroizing;

use super::{bytes, cstr, guard, op, run, smtp_status, str_array, SMTP_ERR_INVALID, SMTP_OK};
use crate::error::{Error, Result, Status};
use crate::protocol::sasl::Secret;

/// Logs in (smtplib `login(user, password)`): EHLO/HELO if needed, then
/// the advertised mechanisms among CRAM-MD5, PLAIN and LOGIN, in that order
/// (within the list set by `smtp_set_auth_mechanisms`), each with an
/// initial response where the mechanism has one (RFC 4954), until one
/// succeeds. A 235 reply, or 503 ("already authenticated"), is SMTP_OK.
///
/// Errors: SMTP_ERR_NOT_SUPPORTED when the server does not offer AUTH
/// (nothing sent after EHLO); SMTP_ERR_EXCEPTION when no mechanism is in
/// common, or when the only ones in common would reveal the password on a
/// connection that is neither TLS nor to this machine (nothing sent; see
/// `smtp_set_allow_cleartext_auth`); SMTP_ERR_AUTHENTICATION when every
/// attempt failed, with the last reply's code and text.
///
/// `user` and `password` are NUL-terminated UTF-8, read during the call
/// only; libsmtp keeps no copy after it returns (the buffers it derives
/// from them are wiped). They never appear in the transcript.
#[no_mangle]
pub extern "C" fn smtp_login(
    h: *mut smtp_handle,
    user: *const c_char,
    password: *const c_char,
) -> smtp_status {
    smtp_login_ex(h, user, password, 1)
}

/// As `smtp_login`; `initial_response_ok` 0 sends "AUTH MECH" alone and
/// gives every response after a 334 challenge (smtplib's
/// `initial_response_ok=False`).
#[no_mangle]
pub extern "C" fn smtp_login_ex(
    h: *mut smtp_handle,
    user: *const c_char,
    password: *const c_char,
    initial_response_ok: c_int,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: C strings, by the caller's contract. The copies are wiped
        // when the operation ends.
        let (user, password) = unsafe {
            (
                Zeroizing::new(cstr(user, "user")?.to_string()),
                Zeroizing::new(cstr(password, "password")?.to_string()),
            )
        };
        Ok(async move {
            s.login_with(&user, &password, initial_response_ok != 0)
                .await
                .map(drop)
        })
    })
}

/// Logs in with an OAuth 2.0 bearer token: OAUTHBEARER (RFC 7628) when the
/// server offers it, else XOAUTH2, always with an initial response. To force
/// one of them, pin it with `smtp_set_auth_mechanisms`.
///
/// Errors as `smtp_login`. When the server answers with an error challenge
/// (a 334 carrying base64 JSON), the exchange is finished as the mechanism
/// requires (a "\x01" response for OAUTHBEARER, an empty line for XOAUTH2)
/// and SMTP_ERR_AUTHENTICATION is returned with the final reply's code and
/// text; `smtp_error_message` then includes the server's JSON.
///
/// `user` and `token` are read during the call only and never appear in
/// the transcript.
#[no_mangle]
pub extern "C" fn smtp_login_oauth2(
    h: *mut smtp_handle,
    user: *const c_char,
    token: *const c_char,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: C strings, by the caller's contract. The copies are wiped
        // when the operation ends.
        let (user, token) = unsafe {
            (
                Zeroizing::new(cstr(user, "user")?.to_string()),
                Zeroizing::new(cstr(token, "token")?.to_string()),
            )
        };
        Ok(async move { s.login_oauth2(&user, &token, None).await.map(drop) })
    })
}

/// Restricts the mechanisms `smtp_login` and `smtp_login_oauth2` may use to
/// these `n` names (case-insensitive, e.g. "XOAUTH2"); they are still tried
/// in the library's order. `mechs` NULL with `n` 0 restores smtplib's
/// default. An invalid name gives SMTP_ERR_INVALID and changes nothing.
/// The strings are copied.
#[no_mangle]
pub extern "C" fn smtp_set_auth_mechanisms(
    h: *mut smtp_handle,
    mechs: *const *const c_char,
    n: usize,
) -> smtp_status {
    run(h, |c| {
        // SAFETY: an array of `n` C strings, by the caller's contract.
        let mechs = unsafe { str_array(mechs, n, "mechs") }?;
        c.set_auth_mechanisms(&mechs)
    })
}

/// Allows (1) or forbids (0, the default) mechanisms that send the password
/// or token itself (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, and any mechanism
/// libsmtp does not know to protect it) over a connection that is neither
/// TLS nor to a loopback address or Unix socket. CRAM-MD5 is always
/// allowed: it sends a proof, not the password.
#[no_mangle]
pub extern "C" fn smtp_set_allow_cleartext_auth(h: *mut smtp_handle, allow: c_int) -> smtp_status {
    run(h, |c| {
        c.allow_cleartext_auth(allow != 0);
        Ok(())
    })
}

/// Where an `smtp_auth_callback` puts its response. Opaque; owned by
/// libsmtp and valid only during the callback that receives it.
pub struct smtp_buffer {
    response: Option<Secret>,
}

/// Copies `len` bytes at `data` into `buf` as the callback's response,
/// replacing any set before (which is wiped). `data` may be NULL when `len`
/// is 0 (an empty response). The caller's memory is not used after this
/// returns; libsmtp wipes its copy once sent. SMTP_ERR_INVALID for a NULL
/// `buf`, or NULL `data` with a non-zero `len`.
#[no_mangle]
pub extern "C" fn smtp_buffer_set(
    buf: *mut smtp_buffer,
    data: *const u8,
    len: usize,
) -> smtp_status {
    guard(super::SMTP_ERR_INTERNAL, || {
        // SAFETY: NULL or the buffer handed to a running callback, by the
        // contract of smtp_auth_callback.
        let Some(buf) = (unsafe { buf.as_mut() }) else {
            return SMTP_ERR_INVALID;
        };
        // SAFETY: `len` readable bytes, by the caller's contract.
        match unsafe { bytes(data, len, "data") } {
            Ok(data) => {
                buf.response = Some(Secret::from(data));
                SMTP_OK
            }
            Err(_) => SMTP_ERR_INVALID,
        }
    })
}

/// The authobject of `smtp_auth` (smtplib's `authobject(challenge=None)`).
///
/// Called first with `challenge` NULL and `challenge_len` 0 for the initial
/// response (only when `initial_response_ok` is non-zero), then once per 334
/// challenge with the challenge already base64-decoded: `challenge_len`
/// bytes at `challenge`, followed by a NUL not counted in the length. The
/// challenge is valid only during the call.
///
/// To respond, call `smtp_buffer_set(response, bytes, len)` (libsmtp
/// base64-encodes it); `response` is valid only during the call. Not
/// calling it means "no initial response" for the first call, and an empty
/// response to a challenge. Return 0 to go on; any other value aborts: for
/// the initial call nothing is sent, for a challenge the exchange is
/// cancelled with "*", and `smtp_auth` returns SMTP_ERR_EXCEPTION. The
/// callback runs on the calling thread, during `smtp_auth`, and must not
/// call functions on the same handle.
///
/// Must not throw or unwind: a C++ exception (or a Rust panic, or any
/// other unwinding) that leaves the callback into libsmtp is not caught:
/// the process aborts ("Rust cannot catch foreign exceptions", SIGABRT),
/// and `longjmp` out of it skips libsmtp's clean-up (undefined behaviour).
/// Catch everything inside the callback and report failure through its
/// return value (non-zero); C++ callbacks can be declared `noexcept`.
pub type smtp_auth_callback = Option<
    extern "C" fn(
        userdata: *mut c_void,
        challenge: *const u8,
        challenge_len: usize,
        response: *mut smtp_buffer,
    ) -> c_int,
>;

/// Authenticates with any SASL mechanism (smtplib `auth()`): EHLO/HELO if
/// needed, "AUTH mechanism" (with the callback's initial response, base64,
/// when `initial_response_ok` is non-zero and it gives one), then each 334
/// challenge decoded and passed to `callback`, whose response is sent in
/// base64. SMTP_OK on 235 or 503.
///
/// Errors: SMTP_ERR_INVALID for a bad mechanism name or NULL callback;
/// SMTP_ERR_EXCEPTION when the mechanism would reveal the secret on an
/// unprotected connection (see `smtp_set_allow_cleartext_auth`; nothing
/// sent), when a challenge is not base64 or more than 5 arrive, or when
/// the callback aborts (the exchange is then cancelled with "*", and the
/// server's reply to it is the error's reply code and text);
/// SMTP_ERR_AUTHENTICATION for any other final reply. `userdata` is passed
/// to the callback untouched and is not kept after the call. The callback
/// must not throw or unwind into libsmtp (the process would abort: see
/// `smtp_auth_callback`).
///
/// `mechanism` is read during the call only.
#[no_mangle]
pub extern "C" fn smtp_auth(
    h: *mut smtp_handle,
    mechanism: *const c_char,
    callback: smtp_auth_callback,
    userdata: *mut c_void,
    initial_response_ok: c_int,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: a C string, by the caller's contract.
        let mechanism = unsafe { cstr(mechanism, "mechanism") }?.to_string();
        let Some(callback) = callback else {
            return Err(Error::invalid("callback is NULL"));
        };
        let authobject = move |challenge: Option<&[u8]>| -> Result<Option<Secret>> {
            let mut buf = smtp_buffer { response: None };
            let terminated = challenge.map(|c| {
                let mut t = Vec::with_capacity(c.len() + 1);
                t.extend_from_slice(c);
                t.push(0);
                t
            });
            let (ptr, len) = match (&terminated, challenge) {
                (Some(t), Some(c)) => (t.as_ptr(), c.len()),
                _ => (std::ptr::null(), 0),
            };
            let rc = callback(userdata, ptr, len, &mut buf);
            if rc != 0 {
                return Err(Error::new(
                    Status::Exception,
                    format!("the authentication callback returned {rc}: AUTH aborted"),
                ));
            }
            Ok(buf.response.take())
        };
        Ok(async move {
            let mut authobject = authobject;
            s.auth(&mechanism, &mut authobject, initial_response_ok != 0)
                .await
                .map(drop)
        })
    })
}
