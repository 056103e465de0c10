//! The AUTH functions of the C boundary, called through their C ABI from
//! Rust against the scripted server: the callback protocol of `smtp_auth`
//! (NULL challenge first, responses copied by `smtp_buffer_set`, non-zero
//! return aborts) and the status codes of `smtp_login`.

mod common;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;

use common::scripted::{esmtp_opening, reply, Scripted};
use smtp::capi::*;

/// A NUL-terminated literal as a C string (C string literals need a newer
/// Rust than the crate's rust-version).
fn cs(bytes: &'static [u8]) -> *const c_char {
    assert_eq!(bytes.last(), Some(&0));
    bytes.as_ptr().cast()
}

fn open(s: &Scripted) -> *mut smtp_handle {
    let h = smtp_new();
    assert!(!h.is_null());
    assert_eq!(smtp_set_local_hostname(h, cs(b"client.example\0")), SMTP_OK);
    assert_eq!(
        smtp_connect(h, cs(b"127.0.0.1\0"), u32::from(s.port)),
        SMTP_OK
    );
    h
}

fn message(h: *mut smtp_handle) -> String {
    let p = smtp_error_message(h);
    assert!(!p.is_null());
    // SAFETY: smtp_error_message gives a NUL-terminated string borrowed
    // from the live handle.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Records each call's challenge length (None for the initial call) and
/// answers "first", then "second".
extern "C" fn answering(
    userdata: *mut c_void,
    challenge: *const u8,
    challenge_len: usize,
    response: *mut smtp_buffer,
) -> c_int {
    // SAFETY: userdata is the test's Vec, alive during smtp_auth.
    let calls = unsafe { &mut *(userdata as *mut Vec<Option<usize>>) };
    calls.push((!challenge.is_null()).then_some(challenge_len));
    let text: &[u8] = if challenge.is_null() {
        b"first"
    } else {
        b"second"
    };
    smtp_buffer_set(response, text.as_ptr(), text.len())
}

extern "C" fn aborting(
    _userdata: *mut c_void,
    challenge: *const u8,
    _challenge_len: usize,
    _response: *mut smtp_buffer,
) -> c_int {
    if challenge.is_null() {
        0
    } else {
        7
    }
}

#[test]
fn smtp_auth_calls_back_with_null_then_each_challenge() {
    let mut steps = esmtp_opening(&["AUTH X-TEST"]);
    steps.extend(reply("334 Y2hhbGxlbmdl"));
    steps.extend(reply("235 2.7.0 ok"));
    let s = Scripted::start(steps);
    let h = open(&s);
    let mut calls: Vec<Option<usize>> = Vec::new();
    let status = smtp_auth(
        h,
        cs(b"X-TEST\0"),
        Some(answering),
        &mut calls as *mut _ as *mut c_void,
        1,
    );
    assert_eq!(status, SMTP_OK, "{}", message(h));
    assert_eq!(calls, vec![None, Some(9)]);
    smtp_free(h);
    assert_eq!(
        s.transcript(),
        "EHLO client.example\r\nAUTH X-TEST Zmlyc3Q=\r\nc2Vjb25k\r\n"
    );
}

#[test]
fn smtp_auth_callback_abort_cancels_with_star() {
    let mut steps = esmtp_opening(&["AUTH X-TEST"]);
    steps.extend(reply("334 Zm9v"));
    steps.extend(reply("501 5.7.0 cancelled"));
    let s = Scripted::start(steps);
    let h = open(&s);
    let status = smtp_auth(h, cs(b"X-TEST\0"), Some(aborting), ptr::null_mut(), 1);
    assert_eq!(status, SMTP_ERR_EXCEPTION);
    assert_eq!(smtp_error_reply_code(h), 501);
    assert!(message(h).contains("returned 7"), "{}", message(h));
    smtp_free(h);
    assert_eq!(
        s.transcript(),
        "EHLO client.example\r\nAUTH X-TEST\r\n*\r\n"
    );
}

#[test]
fn smtp_auth_null_callback_is_invalid() {
    let s = Scripted::start(esmtp_opening(&["AUTH X-TEST"]));
    let h = open(&s);
    assert_eq!(
        smtp_auth(h, cs(b"X-TEST\0"), None, ptr::null_mut(), 1),
        SMTP_ERR_INVALID
    );
    smtp_free(h);
    s.finish();
}

#[test]
fn smtp_buffer_set_refuses_null() {
    assert_eq!(
        smtp_buffer_set(ptr::null_mut(), b"x".as_ptr(), 1),
        SMTP_ERR_INVALID
    );
}

#[test]
fn smtp_login_refused_is_authentication_with_the_reply() {
    let mut steps = esmtp_opening(&["AUTH PLAIN"]);
    steps.extend(reply("535 5.7.8 Authentication credentials invalid"));
    let s = Scripted::start(steps);
    let h = open(&s);
    assert_eq!(
        smtp_login(h, cs(b"user\0"), cs(b"pass\0")),
        SMTP_ERR_AUTHENTICATION
    );
    assert_eq!(smtp_error_reply_code(h), 535);
    smtp_free(h);
    s.finish();
}

#[test]
fn smtp_login_null_password_is_invalid_and_sends_nothing() {
    let s = Scripted::start(esmtp_opening(&["AUTH PLAIN"]));
    let h = open(&s);
    assert_eq!(smtp_login(h, cs(b"user\0"), ptr::null()), SMTP_ERR_INVALID);
    smtp_free(h);
    // Not even EHLO: the arguments are checked first.
    assert_eq!(s.transcript(), "");
}

#[test]
fn smtp_set_auth_mechanisms_pins_and_resets() {
    let mut steps = esmtp_opening(&["AUTH PLAIN LOGIN"]);
    steps.extend(reply("334 UGFzc3dvcmQ6"));
    steps.extend(reply("235 2.7.0 ok"));
    let s = Scripted::start(steps);
    let h = open(&s);
    let mechs = [cs(b"LOGIN\0")];
    assert_eq!(smtp_set_auth_mechanisms(h, mechs.as_ptr(), 1), SMTP_OK);
    let bad = [cs(b"NOT VALID\0")];
    assert_eq!(
        smtp_set_auth_mechanisms(h, bad.as_ptr(), 1),
        SMTP_ERR_INVALID
    );
    assert_eq!(smtp_set_allow_cleartext_auth(h, 0), SMTP_OK);
    assert_eq!(smtp_login(h, cs(b"user\0"), cs(b"pass\0")), SMTP_OK);
    smtp_free(h);
    assert_eq!(
        s.transcript(),
        "EHLO client.example\r\nAUTH LOGIN dXNlcg==\r\ncGFzcw==\r\n"
    );
}
