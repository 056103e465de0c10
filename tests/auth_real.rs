//! SMTP AUTH end to end against a real server, aiosmtpd, over STARTTLS:
//! `login` with each password mechanism, `login_oauth2` with each bearer
//! mechanism, right and wrong credentials, and AUTH withheld in clear.
//!
//! RFC 4954 §4: "If the client is transmitting an initial response of
//! zero length, it MUST instead transmit the response as a single equals
//! sign"; §6: 535 "Authentication credentials invalid".

mod common;

use std::time::Duration;

use common::aiosmtpd::{AioOptions, AioSmtpd, AioTls, OAUTH_ERROR_JSON};
use common::certs::certs;
use smtp::{Client, Kind, Status};

const USER: &str = "user";
const PASSWORD: &str = "s3cr3t-pw";
const OAUTH_USER: &str = "user@example.com";
const TOKEN: &str = "good-token";
const MSG: &[u8] =
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: auth\r\n\r\nafter AUTH\r\n";

/// aiosmtpd requiring STARTTLS, with AUTH (PLAIN, LOGIN, CRAM-MD5 for
/// USER/PASSWORD; XOAUTH2, OAUTHBEARER for OAUTH_USER/TOKEN) offered only
/// over TLS, as aiosmtpd does by default.
fn server() -> AioSmtpd {
    let c = certs();
    AioSmtpd::start(AioOptions {
        tls: AioTls::StartTls { require: true },
        cert: Some(c.good_cert.clone()),
        key: Some(c.good_key.clone()),
        auth: Some((USER.into(), PASSWORD.into())),
        oauth: Some((OAUTH_USER.into(), TOKEN.into())),
        ..Default::default()
    })
}

/// Connected to `server`, trusting the test CA, TLS not yet started.
fn connect(server: &AioSmtpd) -> Client {
    let mut c = Client::new(Kind::Smtp);
    c.set_timeout(Duration::from_secs(10)).unwrap();
    c.set_local_hostname("client.example").unwrap();
    c.tls_config().ca_file = Some(certs().ca.clone());
    c.connect("localhost", server.port).unwrap();
    c
}

/// Connected and encrypted with STARTTLS.
fn connect_tls(server: &AioSmtpd) -> Client {
    let mut c = connect(server);
    c.starttls().unwrap();
    c
}

/// The AUTH lines the server logged ("tls AUTH PLAIN ok", ...).
fn auth_log(server: &AioSmtpd) -> Vec<String> {
    server
        .commands()
        .into_iter()
        .filter(|l| l.contains(" AUTH "))
        .collect()
}

/// Sends MSG and checks that the server received it, once.
fn assert_delivers(c: &mut Client, server: &AioSmtpd) {
    let refused = c
        .sendmail("a@example.org", &["b@example.org"], MSG, &[], &[])
        .unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    c.quit().unwrap();
    let got = server.messages(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_tos, ["b@example.org"]);
    assert!(got[0].content.ends_with(b"after AUTH\r\n"));
}

// ----- login ---------------------------------------------------------------------

#[test]
fn starttls_then_login_with_the_right_password_delivers() {
    let server = server();
    let mut c = connect_tls(&server);
    let reply = c.login(USER, PASSWORD).unwrap();
    assert_eq!(reply.code, 235);
    assert_delivers(&mut c, &server);
    // smtplib's order puts CRAM-MD5 first; it is offered, so it is used.
    assert_eq!(auth_log(&server), ["tls AUTH CRAM-MD5 ok"]);
}

#[test]
fn a_wrong_password_is_an_authentication_error_with_535() {
    let server = server();
    let mut c = connect_tls(&server);
    let e = c.login(USER, "not-the-password").unwrap_err();
    assert_eq!(e.status, Status::Authentication, "{e}");
    assert_eq!(e.code, Some(535), "{e}");
    assert_eq!(
        String::from_utf8_lossy(&e.text),
        "5.7.8 Authentication credentials invalid"
    );
    // Every offered mechanism was tried, as smtplib's login() does, and
    // the session is still usable.
    assert_eq!(
        auth_log(&server),
        [
            "tls AUTH CRAM-MD5 refused",
            "tls AUTH PLAIN refused",
            "tls AUTH LOGIN refused"
        ]
    );
    assert_eq!(c.noop().unwrap().code, 250);
}

#[test]
fn login_before_starttls_is_not_supported_and_sends_no_auth() {
    // aiosmtpd (auth_require_tls) does not offer AUTH in clear; smtplib's
    // login(): "SMTPNotSupportedError: The AUTH command is not supported
    // by the server."
    let server = server();
    let mut c = connect(&server);
    let e = c.login(USER, PASSWORD).unwrap_err();
    assert_eq!(e.status, Status::NotSupported, "{e}");
    assert!(c.is_connected());
    assert!(auth_log(&server).is_empty(), "{:?}", server.commands());
    assert_eq!(server.messages(0).len(), 0);
}

/// `login` pinned to `mechanism` over STARTTLS, then a delivery.
fn login_pinned(mechanism: &str) {
    let server = server();
    let mut c = connect_tls(&server);
    c.set_auth_mechanisms(&[mechanism]).unwrap();
    assert_eq!(c.login(USER, PASSWORD).unwrap().code, 235);
    assert_delivers(&mut c, &server);
    assert_eq!(auth_log(&server), [format!("tls AUTH {mechanism} ok")]);
}

/// `login` pinned to `mechanism` with a wrong password: 535, one attempt.
fn login_pinned_refused(mechanism: &str) {
    let server = server();
    let mut c = connect_tls(&server);
    c.set_auth_mechanisms(&[mechanism]).unwrap();
    let e = c.login(USER, "wrong").unwrap_err();
    assert_eq!(e.status, Status::Authentication, "{e}");
    assert_eq!(e.code, Some(535), "{e}");
    assert_eq!(auth_log(&server), [format!("tls AUTH {mechanism} refused")]);
}

#[test]
fn login_pinned_to_cram_md5_delivers() {
    // RFC 2195: the response is the user, a space and the HMAC-MD5 digest
    // of the challenge keyed with the password; aiosmtpd checks it.
    login_pinned("CRAM-MD5");
}

#[test]
fn login_pinned_to_cram_md5_with_a_wrong_password_is_535() {
    login_pinned_refused("CRAM-MD5");
}

#[test]
fn login_pinned_to_plain_delivers() {
    login_pinned("PLAIN");
}

#[test]
fn login_pinned_to_plain_with_a_wrong_password_is_535() {
    login_pinned_refused("PLAIN");
}

#[test]
fn login_pinned_to_login_delivers() {
    login_pinned("LOGIN");
}

#[test]
fn login_pinned_to_login_with_a_wrong_password_is_535() {
    login_pinned_refused("LOGIN");
}

// ----- login_oauth2 ----------------------------------------------------------------

/// `login_oauth2` with `mechanism` and the good token, then a delivery.
fn oauth_good(mechanism: Option<&str>, logged: &str) {
    let server = server();
    let mut c = connect_tls(&server);
    assert_eq!(
        c.login_oauth2(OAUTH_USER, TOKEN, mechanism).unwrap().code,
        235
    );
    assert_delivers(&mut c, &server);
    assert_eq!(auth_log(&server), [format!("tls AUTH {logged} ok")]);
}

/// `login_oauth2` with `mechanism` and a bad token: the server's error
/// challenge is acknowledged, the final 535 is `Authentication`, and the
/// server's JSON explains it.
fn oauth_bad(mechanism: Option<&str>, logged: &str) {
    // RFC 7628 §3.2.2: "the server responds with an error challenge [...]
    // The client MUST then send a dummy client response"; then "the server
    // fails the authentication".
    let server = server();
    let mut c = connect_tls(&server);
    let e = c
        .login_oauth2(OAUTH_USER, "expired-token", mechanism)
        .unwrap_err();
    assert_eq!(e.status, Status::Authentication, "{e}");
    assert_eq!(e.code, Some(535), "{e}");
    assert!(e.message.contains(OAUTH_ERROR_JSON), "{}", e.message);
    assert_eq!(auth_log(&server), [format!("tls AUTH {logged} refused")]);
    // The acknowledgement was the right one: no 501, the session goes on.
    assert_eq!(c.noop().unwrap().code, 250);
}

#[test]
fn oauth2_prefers_oauthbearer_and_delivers_with_a_good_token() {
    oauth_good(None, "OAUTHBEARER");
}

#[test]
fn oauth2_with_a_bad_token_carries_the_servers_json_error() {
    oauth_bad(None, "OAUTHBEARER");
}

#[test]
fn xoauth2_delivers_with_a_good_token() {
    oauth_good(Some("XOAUTH2"), "XOAUTH2");
}

#[test]
fn xoauth2_with_a_bad_token_carries_the_servers_json_error() {
    oauth_bad(Some("XOAUTH2"), "XOAUTH2");
}

#[test]
fn oauth2_pinned_to_xoauth2_by_set_auth_mechanisms_uses_it() {
    let server = server();
    let mut c = connect_tls(&server);
    c.set_auth_mechanisms(&["XOAUTH2"]).unwrap();
    assert_eq!(c.login_oauth2(OAUTH_USER, TOKEN, None).unwrap().code, 235);
    assert_eq!(auth_log(&server), ["tls AUTH XOAUTH2 ok"]);
}
