//! A session that refuses misuse: every public C function, called in each
//! state a handle can be in -- NULL, new, connected, with a streamed body
//! open, closed -- gives the status its header promises; while a body is
//! open nothing but its bytes and its end reaches the wire; and every
//! out-parameter the header says is filled is filled on every return.

mod common;

use std::ffi::{c_char, c_void, CString};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::ptr::{null, null_mut};

use smtp::capi::*;

/// The states a handle can be in when a function is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A NULL handle.
    Null,
    /// `smtp_new`, never connected.
    New,
    /// Connected, greeted, EHLO done, no message open.
    Connected,
    /// Between `smtp_send_begin` and `smtp_send_end`.
    BodyOpen,
    /// After `smtp_close`.
    Closed,
    /// Non-blocking, with an operation pending (SMTP_AGAIN).
    Pending,
}

/// What a function is, for the status it must give in each state.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Talks to the server: SMTP_ERR_INVALID on NULL and while a body is
    /// open (nothing written), SMTP_ERR_SERVER_DISCONNECTED unconnected,
    /// the given status when connected to the answering server.
    Command(smtp_status),
    /// Changes a setting: allowed in every state but NULL.
    Setting,
    /// Part of a streamed body: SMTP_ERR_EXCEPTION unless a body is open.
    Body,
    /// Reads the handle: a NULL handle gives this value (NULL and 0 are
    /// 0 here), never a crash.
    Query(i64),
}

/// A C string kept alive for the test.
fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

extern "C" fn auth_callback(
    _userdata: *mut c_void,
    _challenge: *const u8,
    _len: usize,
    response: *mut smtp_buffer,
) -> i32 {
    smtp_buffer_set(response, b"\0u\0p".as_ptr(), 4)
}

extern "C" fn empty_body(_userdata: *mut c_void, _buf: *mut u8, _cap: usize) -> isize {
    0
}

extern "C" fn debug_line(_userdata: *mut c_void, _line: *const c_char, _len: usize) {}

type Call = Box<dyn Fn(*mut smtp_handle) -> i64>;

/// Every public function taking a handle, with valid arguments.
fn table(fd: i32) -> Vec<(&'static str, Kind, Call)> {
    let from = c("a@example.org");
    let to_s = c("b@example.org");
    let name = c("client.example");
    let msg: &'static [u8] = b"From: a@example.org\r\nTo: b@example.org\r\n\r\nhi\r\n";
    let leak = |s: CString| -> &'static CString { Box::leak(Box::new(s)) };
    let from: &'static CString = leak(from);
    let to_s: &'static CString = leak(to_s);
    let name: &'static CString = leak(name);
    let to: &'static [*const c_char; 1] = Box::leak(Box::new([to_s.as_ptr()]));
    let (f, t, n) = (from.as_ptr(), to.as_ptr(), name.as_ptr());
    let u = leak(c("user")).as_ptr();
    let p = leak(c("secret")).as_ptr();
    let plain = leak(c("PLAIN")).as_ptr();
    let noop = leak(c("XTEST")).as_ptr();
    let empty = leak(c("")).as_ptr();
    let feature = leak(c("8bitmime")).as_ptr();
    let message: &'static smtp_message = Box::leak(Box::new(smtp_message {
        from: f,
        to: t,
        n_to: 1,
        data: msg.as_ptr(),
        len: msg.len(),
    }));
    let s = |x: smtp_status| x as i64;
    let ptr = |x: *const c_char| i64::from(!x.is_null());
    use Kind::*;
    let ok = SMTP_OK;
    vec![
        // Settings.
        (
            "smtp_set_nonblocking",
            Setting,
            // The mode the handle is in, kept.
            Box::new(move |h| s(smtp_set_nonblocking(h, smtp_pending(h)))),
        ),
        (
            "smtp_set_debuglevel",
            Setting,
            Box::new(move |h| s(smtp_set_debuglevel(h, 0))),
        ),
        (
            "smtp_set_debug_callback",
            Setting,
            Box::new(move |h| s(smtp_set_debug_callback(h, Some(debug_line), null_mut()))),
        ),
        (
            "smtp_set_local_hostname",
            Setting,
            Box::new(move |h| s(smtp_set_local_hostname(h, n))),
        ),
        (
            "smtp_set_timeout",
            Setting,
            Box::new(move |h| s(smtp_set_timeout(h, 10.0))),
        ),
        (
            "smtp_set_source_address",
            Setting,
            Box::new(move |h| s(smtp_set_source_address(h, null(), 0))),
        ),
        (
            "smtp_set_tls_verify",
            Setting,
            Box::new(move |h| s(smtp_set_tls_verify(h, 1))),
        ),
        (
            "smtp_set_tls_cafile",
            Setting,
            Box::new(move |h| s(smtp_set_tls_cafile(h, null()))),
        ),
        (
            "smtp_set_tls_cadir",
            Setting,
            Box::new(move |h| s(smtp_set_tls_cadir(h, null()))),
        ),
        (
            "smtp_set_tls_client_cert",
            Setting,
            Box::new(move |h| s(smtp_set_tls_client_cert(h, null(), null()))),
        ),
        (
            "smtp_set_tls_min_version",
            Setting,
            Box::new(move |h| s(smtp_set_tls_min_version(h, SMTP_TLS1_2))),
        ),
        (
            "smtp_set_tls_server_name",
            Setting,
            Box::new(move |h| s(smtp_set_tls_server_name(h, null()))),
        ),
        (
            "smtp_set_auth_mechanisms",
            Setting,
            Box::new(move |h| s(smtp_set_auth_mechanisms(h, null(), 0))),
        ),
        (
            "smtp_set_allow_cleartext_auth",
            Setting,
            Box::new(move |h| s(smtp_set_allow_cleartext_auth(h, 0))),
        ),
        (
            "smtp_set_pipelining",
            Setting,
            Box::new(move |h| s(smtp_set_pipelining(h, 1))),
        ),
        (
            "smtp_set_chunking",
            Setting,
            Box::new(move |h| s(smtp_set_chunking(h, 1))),
        ),
        (
            "smtp_set_dsn_ret",
            Setting,
            Box::new(move |h| s(smtp_set_dsn_ret(h, 0))),
        ),
        (
            "smtp_set_dsn_envid",
            Setting,
            Box::new(move |h| s(smtp_set_dsn_envid(h, null()))),
        ),
        (
            "smtp_set_dsn_notify",
            Setting,
            Box::new(move |h| s(smtp_set_dsn_notify(h, 0))),
        ),
        (
            "smtp_set_dsn_orcpt",
            Setting,
            Box::new(move |h| s(smtp_set_dsn_orcpt(h, 0))),
        ),
        // Queries.
        (
            "smtp_pending",
            Query(0),
            Box::new(move |h| i64::from(smtp_pending(h))),
        ),
        (
            "smtp_fd",
            Query(-1),
            Box::new(move |h| i64::from(smtp_fd(h))),
        ),
        (
            "smtp_want",
            Query(0),
            Box::new(move |h| i64::from(smtp_want(h))),
        ),
        (
            "smtp_wait_ms",
            Query(-1),
            Box::new(move |h| smtp_wait_ms(h) as i64),
        ),
        (
            "smtp_local_hostname",
            Query(0),
            Box::new(move |h| ptr(smtp_local_hostname(h))),
        ),
        (
            "smtp_timeout",
            Query(0),
            Box::new(move |h| i64::from(smtp_timeout(h) > 0.0)),
        ),
        (
            "smtp_error_code",
            Query(SMTP_ERR_INVALID as i64),
            Box::new(move |h| i64::from(smtp_error_code(h))),
        ),
        (
            "smtp_error_message",
            Query(0),
            Box::new(move |h| ptr(smtp_error_message(h))),
        ),
        (
            "smtp_error_reply_code",
            Query(0),
            Box::new(move |h| i64::from(smtp_error_reply_code(h) > 0)),
        ),
        (
            "smtp_error_reply_text",
            Query(0),
            Box::new(move |h| ptr(smtp_error_reply_text(h))),
        ),
        (
            "smtp_error_sender",
            Query(0),
            Box::new(move |h| ptr(smtp_error_sender(h))),
        ),
        (
            "smtp_error_errno",
            Query(0),
            Box::new(move |h| i64::from(smtp_error_errno(h) != 0)),
        ),
        (
            "smtp_reply_code",
            Query(0),
            Box::new(move |h| i64::from(smtp_reply_code(h) > 0)),
        ),
        (
            "smtp_reply_text",
            Query(0),
            Box::new(move |h| ptr(smtp_reply_text(h))),
        ),
        (
            "smtp_reply_enhanced",
            Query(0),
            Box::new(move |h| ptr(smtp_reply_enhanced(h))),
        ),
        (
            "smtp_error_reply_enhanced",
            Query(0),
            Box::new(move |h| ptr(smtp_error_reply_enhanced(h))),
        ),
        (
            "smtp_recipient_enhanced",
            Query(0),
            Box::new(move |h| ptr(smtp_recipient_enhanced(h, 0))),
        ),
        (
            "smtp_is_connected",
            Query(0),
            Box::new(move |h| i64::from(smtp_is_connected(h))),
        ),
        (
            "smtp_does_esmtp",
            Query(0),
            Box::new(move |h| i64::from(smtp_does_esmtp(h))),
        ),
        (
            "smtp_has_extn",
            Query(0),
            Box::new(move |h| i64::from(smtp_has_extn(h, feature))),
        ),
        (
            "smtp_esmtp_feature",
            Query(0),
            Box::new(move |h| ptr(smtp_esmtp_feature(h, feature))),
        ),
        (
            "smtp_esmtp_feature_count",
            Query(0),
            Box::new(move |h| smtp_esmtp_feature_count(h) as i64),
        ),
        (
            "smtp_esmtp_feature_at",
            Query(0),
            Box::new(move |h| {
                let (mut a, mut b) = (null(), null());
                i64::from(smtp_esmtp_feature_at(h, 0, &mut a, &mut b) == ok)
            }),
        ),
        (
            "smtp_helo_resp",
            Query(0),
            Box::new(move |h| ptr(smtp_helo_resp(h))),
        ),
        (
            "smtp_ehlo_resp",
            Query(0),
            Box::new(move |h| ptr(smtp_ehlo_resp(h))),
        ),
        (
            "smtp_recipient_count",
            Query(0),
            Box::new(move |h| smtp_recipient_count(h) as i64),
        ),
        (
            "smtp_recipient_get",
            Query(0),
            Box::new(move |h| {
                let (mut a, mut code, mut text, mut acc) = (null(), 0, null(), 0);
                i64::from(smtp_recipient_get(h, 0, &mut a, &mut code, &mut text, &mut acc) == ok)
            }),
        ),
        (
            "smtp_refused_count",
            Query(0),
            Box::new(move |h| smtp_refused_count(h) as i64),
        ),
        (
            "smtp_refused_get",
            Query(0),
            Box::new(move |h| {
                let (mut a, mut code, mut text) = (null(), 0, null());
                i64::from(smtp_refused_get(h, 0, &mut a, &mut code, &mut text) == ok)
            }),
        ),
        (
            "smtp_tls_version",
            Query(0),
            Box::new(move |h| ptr(smtp_tls_version(h))),
        ),
        (
            "smtp_tls_cipher",
            Query(0),
            Box::new(move |h| ptr(smtp_tls_cipher(h))),
        ),
        (
            "smtp_tls_peer_subject",
            Query(0),
            Box::new(move |h| ptr(smtp_tls_peer_subject(h))),
        ),
        // Body calls.
        (
            "smtp_send_write",
            Body,
            Box::new(move |h| s(smtp_send_write(h, b"x".as_ptr(), 1))),
        ),
        (
            "smtp_send_end",
            Body,
            Box::new(move |h| s(smtp_send_end(h))),
        ),
        // Commands, in the order they run on the connection.
        (
            "smtp_helo",
            Command(ok),
            Box::new(move |h| s(smtp_helo(h, n))),
        ),
        (
            "smtp_ehlo",
            Command(ok),
            Box::new(move |h| s(smtp_ehlo(h, n))),
        ),
        (
            "smtp_ehlo_or_helo_if_needed",
            Command(ok),
            Box::new(move |h| s(smtp_ehlo_or_helo_if_needed(h))),
        ),
        (
            "smtp_docmd",
            Command(ok),
            Box::new(move |h| s(smtp_docmd(h, noop, empty))),
        ),
        ("smtp_noop", Command(ok), Box::new(move |h| s(smtp_noop(h)))),
        ("smtp_rset", Command(ok), Box::new(move |h| s(smtp_rset(h)))),
        (
            "smtp_verify",
            Command(ok),
            Box::new(move |h| s(smtp_verify(h, f))),
        ),
        (
            "smtp_expn",
            Command(ok),
            Box::new(move |h| s(smtp_expn(h, f))),
        ),
        (
            "smtp_help",
            Command(ok),
            Box::new(move |h| s(smtp_help(h, null()))),
        ),
        (
            "smtp_mail",
            Command(ok),
            Box::new(move |h| s(smtp_mail(h, f, null(), 0))),
        ),
        (
            "smtp_rcpt",
            Command(ok),
            Box::new(move |h| s(smtp_rcpt(h, to_s.as_ptr(), null(), 0))),
        ),
        (
            "smtp_data",
            Command(ok),
            Box::new(move |h| s(smtp_data(h, msg.as_ptr(), msg.len()))),
        ),
        (
            "smtp_sendmail",
            Command(ok),
            Box::new(move |h| {
                s(smtp_sendmail(
                    h,
                    f,
                    t,
                    1,
                    msg.as_ptr(),
                    msg.len(),
                    null(),
                    0,
                    null(),
                    0,
                ))
            }),
        ),
        (
            "smtp_send_message",
            Command(ok),
            Box::new(move |h| {
                s(smtp_send_message(
                    h,
                    msg.as_ptr(),
                    msg.len(),
                    null(),
                    null(),
                    0,
                    null(),
                    0,
                    null(),
                    0,
                ))
            }),
        ),
        (
            "smtp_sendmail_fd",
            Command(ok),
            Box::new(move |h| s(smtp_sendmail_fd(h, f, t, 1, fd, 0, null(), 0, null(), 0))),
        ),
        (
            "smtp_sendmail_callback",
            Command(ok),
            Box::new(move |h| {
                s(smtp_sendmail_callback(
                    h,
                    f,
                    t,
                    1,
                    Some(empty_body),
                    null_mut(),
                    0,
                    null(),
                    0,
                    null(),
                    0,
                ))
            }),
        ),
        (
            "smtp_sendmail_batch",
            Command(ok),
            Box::new(move |h| {
                let mut st = [-1];
                let r = smtp_sendmail_batch(h, message, 1, null(), 0, null(), 0, st.as_mut_ptr());
                assert_eq!(st[0], r, "statuses filled");
                s(r)
            }),
        ),
        (
            "smtp_login",
            Command(SMTP_ERR_AUTHENTICATION),
            Box::new(move |h| s(smtp_login(h, u, p))),
        ),
        (
            "smtp_login_ex",
            Command(SMTP_ERR_AUTHENTICATION),
            Box::new(move |h| s(smtp_login_ex(h, u, p, 1))),
        ),
        (
            "smtp_login_oauth2",
            Command(SMTP_ERR_EXCEPTION),
            Box::new(move |h| s(smtp_login_oauth2(h, u, p))),
        ),
        (
            "smtp_auth",
            Command(SMTP_ERR_AUTHENTICATION),
            Box::new(move |h| s(smtp_auth(h, plain, Some(auth_callback), null_mut(), 1))),
        ),
        (
            "smtp_starttls",
            Command(SMTP_ERR_NOT_SUPPORTED),
            Box::new(move |h| s(smtp_starttls(h))),
        ),
        (
            "smtp_send_begin",
            Command(ok),
            Box::new(move |h| s(smtp_send_begin(h, f, t, 1, 0, null(), 0, null(), 0))),
        ),
    ]
}

/// A server that answers everything: EHLO with AUTH PLAIN and 8BITMIME,
/// DATA with 354 and the data with 250, AUTH with 535, VRFY and EXPN with
/// 252, QUIT with 221; anything else 250. Returns what the client sent.
fn answering_server() -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut out = stream.try_clone().unwrap();
        let mut input = BufReader::new(stream);
        let mut got = String::new();
        out.write_all(b"220 misuse.example ESMTP\r\n").unwrap();
        let mut line = String::new();
        while matches!(input.read_line(&mut line), Ok(n) if n > 0) {
            got.push_str(&line);
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => b"250-misuse.example\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n",
                "DATA" => {
                    out.write_all(b"354 go ahead\r\n").unwrap();
                    let mut data = String::new();
                    while !data.ends_with("\r\n.\r\n") && !data.starts_with(".\r\n") {
                        let mut l = String::new();
                        if input.read_line(&mut l).unwrap_or(0) == 0 {
                            return got;
                        }
                        data.push_str(&l);
                    }
                    got.push_str(&data);
                    b"250 2.0.0 queued\r\n"
                }
                "AUTH" => b"535 5.7.8 no\r\n",
                "VRFY" | "EXPN" => b"252 maybe\r\n",
                "QUIT" => {
                    let _ = out.write_all(b"221 bye\r\n");
                    return got;
                }
                _ => b"250 ok\r\n",
            };
            if out.write_all(reply).is_err() {
                break;
            }
            line.clear();
        }
        got
    });
    (port, thread)
}

/// What `kind` must give in `state`; None when the value is free (a query
/// on a live handle, which is checked only not to crash).
fn expected(kind: Kind, state: State) -> Option<i64> {
    use State::*;
    let v = match (kind, state) {
        (Kind::Query(null_value), Null) => return Some(null_value),
        (Kind::Query(_), _) => return None,
        (_, Null) => SMTP_ERR_INVALID,
        // The pending operation holds the session: every call that would
        // touch it is refused, and the operation goes on undisturbed.
        (_, Pending) => SMTP_ERR_INVALID,
        (Kind::Setting, _) => SMTP_OK,
        (Kind::Body, BodyOpen) => return None,
        (Kind::Body, _) => SMTP_ERR_EXCEPTION,
        (Kind::Command(_), BodyOpen) => SMTP_ERR_INVALID,
        (Kind::Command(_), New | Closed) => SMTP_ERR_SERVER_DISCONNECTED,
        (Kind::Command(status), Connected) => status,
    };
    Some(v as i64)
}

/// Runs every row but the body calls on `h` in `state`, asserting each.
fn run_table(h: *mut smtp_handle, state: State, rows: &[(&'static str, Kind, Call)]) {
    for (name, kind, call) in rows {
        if matches!(kind, Kind::Body) && state == State::BodyOpen {
            continue;
        }
        let got = call(h);
        if let Some(want) = expected(*kind, state) {
            assert_eq!(got, want, "{name} in state {state:?}");
        }
        if state == State::BodyOpen {
            assert_eq!(smtp_is_connected(h), 1, "{name} kept the body open");
        }
        if state == State::Pending {
            assert_eq!(smtp_pending(h), 1, "{name} left the operation pending");
        }
    }
}

#[test]
fn every_function_in_every_state_gives_the_status_the_header_promises() {
    let mut body = tempfile::tempfile().unwrap();
    body.write_all(b"Subject: fd\r\n\r\nfrom a descriptor\r\n")
        .unwrap();
    let rows = table(body.as_raw_fd());

    // NULL: SMTP_ERR_INVALID, or NULL and 0 from the queries.
    run_table(null_mut(), State::Null, &rows);
    smtp_free(null_mut());
    assert_eq!(smtp_close(null_mut()), SMTP_ERR_INVALID);
    assert_eq!(smtp_connect(null_mut(), null(), 25), SMTP_ERR_INVALID);

    // New, never connected.
    let h = smtp_new();
    run_table(h, State::New, &rows);

    // Connected to a server answering everything.
    let (port, server) = answering_server();
    let host = c("127.0.0.1");
    assert_eq!(smtp_set_timeout(h, 10.0), SMTP_OK);
    assert_eq!(smtp_connect(h, host.as_ptr(), port as u32), SMTP_OK);
    {
        use std::io::Seek;
        body.rewind().unwrap();
    }
    run_table(h, State::Connected, &rows);
    let before_body = smtp_is_connected(h);
    assert_eq!(before_body, 1);

    // The last row opened a body: now everything else is refused with
    // nothing written, and the body goes on undisturbed.
    run_table(h, State::BodyOpen, &rows);
    assert_eq!(
        smtp_connect(h, host.as_ptr(), port as u32),
        SMTP_ERR_INVALID,
        "connect would drop the message"
    );
    assert_eq!(smtp_quit(h), SMTP_ERR_INVALID);
    assert_eq!(smtp_is_connected(h), 1);
    assert_eq!(smtp_send_write(h, b"body\r\n".as_ptr(), 6), SMTP_OK);
    assert_eq!(smtp_send_end(h), SMTP_OK);
    assert_eq!(smtp_quit(h), SMTP_OK);
    let sent = server.join().unwrap();
    let after_begin = sent.rsplit("DATA\r\n").next().unwrap();
    assert_eq!(
        after_begin, "body\r\n.\r\nQUIT\r\n",
        "nothing but the body between smtp_send_begin and smtp_send_end: {sent:?}"
    );

    // Closed.
    assert_eq!(smtp_close(h), SMTP_OK);
    run_table(h, State::Closed, &rows);
    assert_eq!(smtp_close(h), SMTP_OK, "closing twice is harmless");
    smtp_free(h);

    // Non-blocking, an operation pending: a server that never greets.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port() as u32;
    let h = smtp_new();
    assert_eq!(smtp_set_timeout(h, 30.0), SMTP_OK);
    assert_eq!(smtp_set_nonblocking(h, 1), SMTP_OK);
    assert_eq!(smtp_resume(h), SMTP_ERR_INVALID, "nothing is pending yet");
    assert_eq!(smtp_connect(h, host.as_ptr(), silent_port), SMTP_AGAIN);
    run_table(h, State::Pending, &rows);
    assert_eq!(smtp_resume(h), SMTP_AGAIN, "still no greeting");
    assert_eq!(smtp_close(h), SMTP_OK, "closing abandons the operation");
    assert_eq!(smtp_pending(h), 0);
    assert_eq!(smtp_resume(h), SMTP_ERR_INVALID);
    run_table(h, State::Closed, &rows);
    smtp_free(h);
    // Freed with an operation pending: nothing leaks (valgrind runs the C
    // programs; here it must simply not crash).
    let h = smtp_new();
    assert_eq!(smtp_set_nonblocking(h, 1), SMTP_OK);
    assert_eq!(smtp_connect(h, host.as_ptr(), silent_port), SMTP_AGAIN);
    smtp_free(h);
    drop(silent);

    // The functions without a handle state.
    for make in [smtp_new, smtp_new_ssl, smtp_new_lmtp] {
        let h = make();
        assert!(!h.is_null());
        assert_eq!(smtp_close(h), SMTP_OK, "closing a new handle");
        smtp_free(h);
    }
    assert!(!smtp_version().is_null());
    assert!(!smtp_error_name(SMTP_ERR_INVALID).is_null());
    assert!(!smtp_error_name(-7).is_null(), "unknown codes have a name");
    // SAFETY: smtp_error_name returns a static C string.
    let again = unsafe { std::ffi::CStr::from_ptr(smtp_error_name(SMTP_AGAIN)) };
    assert_eq!(again.to_str().unwrap(), "Again");
    assert_eq!(
        smtp_error_is(SMTP_AGAIN, SMTP_ERR_EXCEPTION),
        0,
        "not an error"
    );
    assert_eq!(smtp_error_is(SMTP_ERR_TIMEOUT, SMTP_ERR_IO), 1);
    assert_eq!(smtp_buffer_set(null_mut(), null(), 0), SMTP_ERR_INVALID);
    for open in [smtp_open, smtp_open_ssl, smtp_open_lmtp] {
        assert_eq!(open(host.as_ptr(), 0, null_mut()), SMTP_ERR_INVALID);
    }
}

#[test]
fn noop_inside_a_streamed_body_is_invalid_and_writes_nothing() {
    // The case: NOOP between smtp_send_begin and smtp_send_end once
    // wrote "NOOP" into the message body.
    let (port, server) = answering_server();
    let host = c("127.0.0.1");
    let from = c("a@example.org");
    let to = [c("b@example.org")];
    let to_ptrs = [to[0].as_ptr()];
    let h = smtp_new();
    assert_eq!(smtp_connect(h, host.as_ptr(), port as u32), SMTP_OK);
    assert_eq!(
        smtp_send_begin(
            h,
            from.as_ptr(),
            to_ptrs.as_ptr(),
            1,
            0,
            null(),
            0,
            null(),
            0
        ),
        SMTP_OK
    );
    assert_eq!(smtp_send_write(h, b"line one\r\n".as_ptr(), 10), SMTP_OK);
    assert_eq!(smtp_noop(h), SMTP_ERR_INVALID);
    assert_eq!(smtp_error_code(h), SMTP_ERR_INVALID);
    assert_eq!(smtp_send_write(h, b"line two\r\n".as_ptr(), 10), SMTP_OK);
    assert_eq!(smtp_send_end(h), SMTP_OK);
    assert_eq!(smtp_quit(h), SMTP_OK);
    smtp_free(h);
    let sent = server.join().unwrap();
    assert!(
        sent.ends_with("DATA\r\nline one\r\nline two\r\n.\r\nQUIT\r\n"),
        "{sent:?}"
    );
}

#[test]
fn a_batch_inside_a_streamed_body_is_invalid_for_every_message_and_writes_nothing() {
    // Header: "While the body is open, every other call that would write to
    // the server (a command, another message, QUIT, connect) is
    // SMTP_ERR_INVALID with nothing written and the body left as it was";
    // a batch's statuses are filled all the same.
    let (port, server) = answering_server();
    let host = c("127.0.0.1");
    let from = c("a@example.org");
    let to = [c("b@example.org")];
    let to_ptrs = [to[0].as_ptr()];
    let msg = b"Subject: batch\r\n\r\nbatch body\r\n";
    let message = || smtp_message {
        from: from.as_ptr(),
        to: to_ptrs.as_ptr(),
        n_to: 1,
        data: msg.as_ptr(),
        len: msg.len(),
    };
    let messages = [message(), message()];
    let h = smtp_new();
    assert_eq!(smtp_connect(h, host.as_ptr(), port as u32), SMTP_OK);
    assert_eq!(
        smtp_send_begin(
            h,
            from.as_ptr(),
            to_ptrs.as_ptr(),
            1,
            0,
            null(),
            0,
            null(),
            0
        ),
        SMTP_OK
    );
    assert_eq!(smtp_send_write(h, b"line one\r\n".as_ptr(), 10), SMTP_OK);
    let mut st = [-1; 2];
    let r = smtp_sendmail_batch(
        h,
        messages.as_ptr(),
        2,
        null(),
        0,
        null(),
        0,
        st.as_mut_ptr(),
    );
    assert_eq!(r, SMTP_ERR_INVALID);
    assert_eq!(st, [SMTP_ERR_INVALID; 2]);
    assert_eq!(smtp_is_connected(h), 1);
    assert_eq!(smtp_send_write(h, b"line two\r\n".as_ptr(), 10), SMTP_OK);
    assert_eq!(smtp_send_end(h), SMTP_OK);
    assert_eq!(smtp_quit(h), SMTP_OK);
    smtp_free(h);
    let sent = server.join().unwrap();
    assert!(
        sent.ends_with("DATA\r\nline one\r\nline two\r\n.\r\nQUIT\r\n"),
        "{sent:?}"
    );
    assert!(!sent.contains("batch"), "{sent:?}");
}

#[test]
fn a_batch_call_that_sends_nothing_leaves_no_attempted_count_behind() {
    // Header: smtp_batch_attempted is 0 "after a batch call that sent
    // nothing (its arguments refused, or a streamed body open)" -- never
    // the count of an earlier batch.
    let (port, server) = answering_server();
    let host = c("127.0.0.1");
    let from = c("a@example.org");
    let to = [c("b@example.org")];
    let to_ptrs = [to[0].as_ptr()];
    let msg = b"Subject: counted\r\n\r\ncounted\r\n";
    let good = || smtp_message {
        from: from.as_ptr(),
        to: to_ptrs.as_ptr(),
        n_to: 1,
        data: msg.as_ptr(),
        len: msg.len(),
    };
    let refused = || smtp_message {
        from: null(),
        ..good()
    };
    let send = |h, messages: &[smtp_message]| {
        let mut st = [-1; 2];
        let r = smtp_sendmail_batch(
            h,
            messages.as_ptr(),
            2,
            null(),
            0,
            null(),
            0,
            st.as_mut_ptr(),
        );
        (r, st)
    };
    let h = smtp_new();
    assert_eq!(smtp_connect(h, host.as_ptr(), port as u32), SMTP_OK);
    assert_eq!(send(h, &[good(), good()]), (SMTP_OK, [SMTP_OK; 2]));
    assert_eq!(smtp_batch_attempted(h), 2);
    assert_eq!(send(h, &[refused(), good()]).0, SMTP_ERR_INVALID);
    assert_eq!(smtp_batch_attempted(h), 0);
    assert_eq!(send(h, &[good(), good()]).0, SMTP_OK);
    assert_eq!(smtp_batch_attempted(h), 2);
    assert_eq!(
        smtp_send_begin(
            h,
            from.as_ptr(),
            to_ptrs.as_ptr(),
            1,
            0,
            null(),
            0,
            null(),
            0
        ),
        SMTP_OK
    );
    assert_eq!(send(h, &[good(), good()]).0, SMTP_ERR_INVALID);
    assert_eq!(smtp_batch_attempted(h), 0);
    assert_eq!(smtp_send_end(h), SMTP_OK);
    assert_eq!(smtp_quit(h), SMTP_OK);
    smtp_free(h);
    let sent = server.join().unwrap();
    assert_eq!(sent.matches("Subject: counted").count(), 4, "{sent:?}");
}

#[test]
fn batch_statuses_are_filled_when_the_arguments_are_refused() {
    let to = [c("b@example.org")];
    let to_ptrs = [to[0].as_ptr()];
    let msg = b"Subject: x\r\n\r\nx\r\n";
    let messages = [
        smtp_message {
            from: null(), // refused: NULL sender
            to: to_ptrs.as_ptr(),
            n_to: 1,
            data: msg.as_ptr(),
            len: msg.len(),
        },
        smtp_message {
            from: to_ptrs[0],
            to: to_ptrs.as_ptr(),
            n_to: 1,
            data: msg.as_ptr(),
            len: msg.len(),
        },
    ];
    let h = smtp_new();
    let mut st = [-1; 2];
    let r = smtp_sendmail_batch(
        h,
        messages.as_ptr(),
        2,
        null(),
        0,
        null(),
        0,
        st.as_mut_ptr(),
    );
    assert_eq!(r, SMTP_ERR_INVALID);
    assert_eq!(st, [SMTP_ERR_INVALID; 2]);
    // A NULL handle too.
    let mut st = [-1; 2];
    let r = smtp_sendmail_batch(
        null_mut(),
        messages.as_ptr(),
        2,
        null(),
        0,
        null(),
        0,
        st.as_mut_ptr(),
    );
    assert_eq!(r, SMTP_ERR_INVALID);
    assert_eq!(st, [SMTP_ERR_INVALID; 2]);
    smtp_free(h);
}

#[test]
fn smtp_open_writes_its_handle_on_failure() {
    let host = c("127.0.0.1");
    let mut h: *mut smtp_handle = 1 as *mut smtp_handle;
    let st = smtp_open(host.as_ptr(), u32::from(common::free_port()), &mut h);
    assert_eq!(st, SMTP_ERR_IO);
    assert!(!h.is_null());
    assert_eq!(smtp_error_code(h), SMTP_ERR_IO);
    smtp_free(h);
    assert_eq!(smtp_open(host.as_ptr(), 25, null_mut()), SMTP_ERR_INVALID);
}
