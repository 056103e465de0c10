//! AUTH against the scripted server: the exact bytes of smtplib's login()
//! and auth(), OAuth 2.0, the cleartext policy's wiring, and transcripts
//! free of credentials.

mod common;

use std::sync::Arc;
use std::sync::Mutex;

use common::scripted::{esmtp_opening, reply, Scripted, Step};
use smtp::protocol::sasl::Secret;
use smtp::{Client, Kind, Status};

const EHLO: &str = "EHLO client.example\r\n";

/// The server: greeting, EHLO answered with `features`, then `steps`.
fn server(features: &[&str], steps: Vec<Vec<Step>>) -> Scripted {
    let mut all = esmtp_opening(features);
    for s in steps {
        all.extend(s);
    }
    Scripted::start(all)
}

fn client(s: &Scripted) -> Client {
    let mut c = common::new_client(Kind::Smtp);
    c.set_local_hostname("client.example").unwrap();
    c.connect("127.0.0.1", s.port).unwrap();
    c
}

/// What the client sent after its EHLO, once it has gone.
fn sent_after_ehlo(c: Client, s: Scripted) -> String {
    drop(c);
    let t = s.transcript();
    t.strip_prefix(EHLO)
        .unwrap_or_else(|| panic!("no EHLO first: {t:?}"))
        .to_string()
}

/// A challenge line read, then `text` sent.
fn challenge(text: &str) -> Vec<Step> {
    reply(text)
}

// ----- PLAIN and LOGIN -------------------------------------------------------

#[test]
fn plain_sends_its_initial_response_with_auth() {
    // smtplib auth(): 'with initial response, "AUTH MECH <b64>"'.
    let s = server(
        &["AUTH PLAIN"],
        vec![reply("235 2.7.0 Authentication successful")],
    );
    let mut c = client(&s);
    let r = c.login("user", "pass").unwrap();
    assert_eq!(r.code, 235);
    // base64("\0user\0pass")
    assert_eq!(sent_after_ehlo(c, s), "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
}

#[test]
fn plain_without_initial_response_answers_the_empty_challenge() {
    let s = server(
        &["AUTH PLAIN"],
        vec![reply("334 "), reply("235 2.7.0 Authentication successful")],
    );
    let mut c = client(&s);
    c.login_with("user", "pass", false).unwrap();
    assert_eq!(sent_after_ehlo(c, s), "AUTH PLAIN\r\nAHVzZXIAcGFzcw==\r\n");
}

#[test]
fn login_with_initial_response_sends_user_then_password() {
    // smtplib auth_login: "if challenge is None or
    // self._auth_challenge_count < 2: return self.user" -- the user goes
    // with AUTH, the password answers the first challenge.
    let s = server(
        &["AUTH LOGIN"],
        vec![
            reply("334 UGFzc3dvcmQ6"),
            reply("235 2.7.0 Authentication successful"),
        ],
    );
    let mut c = client(&s);
    c.login("user", "pass").unwrap();
    assert_eq!(sent_after_ehlo(c, s), "AUTH LOGIN dXNlcg==\r\ncGFzcw==\r\n");
}

#[test]
fn login_without_initial_response_answers_two_challenges() {
    let s = server(
        &["AUTH LOGIN"],
        vec![
            reply("334 VXNlcm5hbWU6"),
            reply("334 UGFzc3dvcmQ6"),
            reply("235 2.7.0 Authentication successful"),
        ],
    );
    let mut c = client(&s);
    c.login_with("user", "pass", false).unwrap();
    assert_eq!(
        sent_after_ehlo(c, s),
        "AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n"
    );
}

#[test]
fn cram_md5_answers_rfc_2195_challenge() {
    // RFC 2195 §2: S: + PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+
    //              C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw
    let s = server(
        &["AUTH CRAM-MD5 PLAIN LOGIN"],
        vec![
            challenge("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
            reply("235 2.7.0 Authentication successful"),
        ],
    );
    let mut c = client(&s);
    c.login("tim", "tanstaaftanstaaf").unwrap();
    // smtplib: "CRAM-MD5 does not support initial-response."
    assert_eq!(
        sent_after_ehlo(c, s),
        "AUTH CRAM-MD5\r\ndGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"
    );
}

// ----- login()'s outcome ------------------------------------------------------

#[test]
fn a_refused_mechanism_is_followed_by_the_next() {
    // smtplib: "if authentication fails, we continue until we've tried all
    // methods."
    let s = server(
        &["AUTH LOGIN PLAIN"],
        vec![
            reply("535 5.7.8 PLAIN refused"),
            reply("334 UGFzc3dvcmQ6"),
            reply("235 2.7.0 Authentication successful"),
        ],
    );
    let mut c = client(&s);
    c.login("user", "pass").unwrap();
    assert_eq!(
        sent_after_ehlo(c, s),
        "AUTH PLAIN AHVzZXIAcGFzcw==\r\nAUTH LOGIN dXNlcg==\r\ncGFzcw==\r\n"
    );
}

#[test]
fn every_mechanism_refused_is_the_last_authentication_error() {
    let s = server(
        &["AUTH PLAIN LOGIN"],
        vec![
            reply("535 5.7.8 PLAIN refused"),
            reply("334 UGFzc3dvcmQ6"),
            reply("535 5.7.8 LOGIN refused"),
        ],
    );
    let mut c = client(&s);
    let e = c.login("user", "pass").unwrap_err();
    assert_eq!(e.status, Status::Authentication);
    assert_eq!(e.code, Some(535));
    assert_eq!(e.text, b"5.7.8 LOGIN refused");
    drop(c);
    s.finish();
}

#[test]
fn reply_503_already_authenticated_is_success() {
    // smtplib: "503 == 'Error: already authenticated'" returns normally.
    let s = server(
        &["AUTH PLAIN"],
        vec![reply("503 5.5.1 Already authenticated")],
    );
    let mut c = client(&s);
    assert_eq!(c.login("user", "pass").unwrap().code, 503);
    drop(c);
    s.finish();
}

#[test]
fn auth_not_advertised_is_not_supported_and_nothing_is_sent() {
    let s = server(&["SIZE 1000"], vec![]);
    let mut c = client(&s);
    let e = c.login("user", "pass").unwrap_err();
    assert_eq!(e.status, Status::NotSupported);
    assert_eq!(e.message, "SMTP AUTH extension not supported by server.");
    assert_eq!(sent_after_ehlo(c, s), "");
}

#[test]
fn no_mechanism_in_common_is_exception_and_nothing_is_sent() {
    let s = server(&["AUTH GSSAPI NTLM"], vec![]);
    let mut c = client(&s);
    let e = c.login("user", "pass").unwrap_err();
    assert_eq!(e.status, Status::Exception);
    assert_eq!(e.message, "No suitable authentication method found.");
    assert_eq!(sent_after_ehlo(c, s), "");
}

#[test]
fn old_style_auth_equals_advertisement_is_understood() {
    // smtplib ehlo(): "To be able to communicate with as many SMTP servers
    // as possible, we have to take the old-style auth advertisement into
    // account".
    let s = server(
        &["AUTH=LOGIN"],
        vec![
            reply("334 UGFzc3dvcmQ6"),
            reply("235 2.7.0 Authentication successful"),
        ],
    );
    let mut c = client(&s);
    c.login("user", "pass").unwrap();
    assert_eq!(sent_after_ehlo(c, s), "AUTH LOGIN dXNlcg==\r\ncGFzcw==\r\n");
}

#[test]
fn pinned_mechanisms_restrict_login() {
    let s = server(
        &["AUTH CRAM-MD5 PLAIN LOGIN"],
        vec![
            reply("334 UGFzc3dvcmQ6"),
            reply("235 2.7.0 Authentication successful"),
        ],
    );
    let mut c = client(&s);
    c.set_auth_mechanisms(&["login"]).unwrap();
    c.login("user", "pass").unwrap();
    assert_eq!(sent_after_ehlo(c, s), "AUTH LOGIN dXNlcg==\r\ncGFzcw==\r\n");
}

#[test]
fn pinned_list_without_a_password_mechanism_stops_login() {
    let s = server(&["AUTH PLAIN LOGIN XOAUTH2"], vec![]);
    let mut c = client(&s);
    c.set_auth_mechanisms(&["XOAUTH2"]).unwrap();
    let e = c.login("user", "pass").unwrap_err();
    assert_eq!(e.status, Status::Exception);
    assert_eq!(sent_after_ehlo(c, s), "");
}

#[test]
fn invalid_pinned_name_is_refused() {
    let mut c = common::new_client(Kind::Smtp);
    let e = c.set_auth_mechanisms(&["PLAIN LOGIN"]).unwrap_err();
    assert_eq!(e.status, Status::Invalid);
    assert!(c.auth_mechanisms().is_empty());
}

// ----- bounds and cancellation ------------------------------------------------

#[test]
fn endless_challenges_are_cancelled_after_five() {
    // smtplib's _MAXCHALLENGE = 5: "If server keeps sending challenges,
    // something is wrong." We answer five, then cancel with "*"
    // (RFC 4954 §4).
    let mut steps = vec![reply("334 ")];
    for _ in 0..5 {
        steps.push(reply("334 "));
    }
    steps.push(reply("501 5.7.0 Authentication cancelled"));
    let s = server(&["AUTH PLAIN"], steps);
    let mut c = client(&s);
    let e = c.login("user", "pass").unwrap_err();
    assert_eq!(e.status, Status::Exception);
    assert!(e.message.contains("infinite loop"), "{}", e.message);
    assert_eq!(e.code, Some(501));
    // smtplib: SMTPException("Server AUTH mechanism infinite loop. ...");
    // the message leads with the reason, the reply kept in its fields.
    let shown = e.to_string();
    let reason = shown.split_once(": ").map_or(shown.as_str(), |(_, r)| r);
    assert!(
        reason.starts_with("Server AUTH mechanism infinite loop"),
        "{shown}"
    );
    assert!(
        shown.ends_with("(last reply: 501 5.7.0 Authentication cancelled)"),
        "{shown}"
    );
    let expected = format!(
        "AUTH PLAIN AHVzZXIAcGFzcw==\r\n{}*\r\n",
        "AHVzZXIAcGFzcw==\r\n".repeat(5)
    );
    assert_eq!(sent_after_ehlo(c, s), expected);
}

#[test]
fn invalid_base64_challenge_is_cancelled() {
    // RFC 4954 §4: "If the client wishes to cancel the authentication
    // exchange, it issues a line with a single "*"."
    let s = server(
        &["AUTH LOGIN"],
        vec![
            reply("334 not*base64!"),
            reply("501 5.7.0 Authentication cancelled"),
        ],
    );
    let mut c = client(&s);
    let e = c.login("user", "pass").unwrap_err();
    assert_eq!(e.status, Status::Exception);
    assert!(e.message.contains("invalid base64"), "{}", e.message);
    assert_eq!(e.code, Some(501));
    assert_eq!(sent_after_ehlo(c, s), "AUTH LOGIN dXNlcg==\r\n*\r\n");
}

// ----- the generic auth() ----------------------------------------------------

#[test]
fn auth_passes_decoded_challenges_and_encodes_responses() {
    let s = server(
        &["AUTH X-TEST"],
        vec![
            reply("334 Y2hhbGxlbmdl"),
            reply("235 2.7.0 Authentication successful"),
        ],
    );
    let mut c = client(&s);
    let mut seen: Vec<Option<Vec<u8>>> = Vec::new();
    let mut authobject = |ch: Option<&[u8]>| {
        seen.push(ch.map(<[u8]>::to_vec));
        Ok(Some(Secret::from(match ch {
            None => &b"first"[..],
            Some(_) => &b"second"[..],
        })))
    };
    c.auth("x-test", &mut authobject, true).unwrap();
    assert_eq!(seen, vec![None, Some(b"challenge".to_vec())]);
    assert_eq!(
        sent_after_ehlo(c, s),
        "AUTH X-TEST Zmlyc3Q=\r\nc2Vjb25k\r\n"
    );
}

#[test]
fn auth_without_initial_response_when_authobject_gives_none() {
    // smtplib: "If the authobject() does not support an initial response
    // (e.g. the challenge is required), it should return None".
    let s = server(&["AUTH X-TEST"], vec![reply("334 "), reply("235 ok")]);
    let mut c = client(&s);
    let mut authobject = |ch: Option<&[u8]>| Ok(ch.map(|_| Secret::from(&b""[..])));
    c.auth("X-TEST", &mut authobject, true).unwrap();
    // An empty response to a challenge is an empty line.
    assert_eq!(sent_after_ehlo(c, s), "AUTH X-TEST\r\n\r\n");
}

#[test]
fn empty_initial_response_is_sent_as_equals_sign() {
    // RFC 4954 §4: "If the initial response is zero-length, it MUST be
    // sent as a single equals sign ("=")".
    let s = server(&["AUTH X-TEST"], vec![reply("235 ok")]);
    let mut c = client(&s);
    let mut authobject = |_: Option<&[u8]>| Ok(Some(Secret::default()));
    c.auth("X-TEST", &mut authobject, true).unwrap();
    assert_eq!(sent_after_ehlo(c, s), "AUTH X-TEST =\r\n");
}

#[test]
fn authobject_error_cancels_the_exchange() {
    let s = server(
        &["AUTH X-TEST"],
        vec![reply("334 Zm9v"), reply("501 5.7.0 cancelled")],
    );
    let mut c = client(&s);
    let mut authobject = |ch: Option<&[u8]>| match ch {
        None => Ok(None),
        Some(_) => Err(smtp::Error::new(Status::Exception, "caller gave up")),
    };
    let e = c.auth("X-TEST", &mut authobject, true).unwrap_err();
    assert_eq!(e.status, Status::Exception);
    assert_eq!(e.message, "caller gave up");
    assert_eq!(e.code, Some(501));
    assert_eq!(sent_after_ehlo(c, s), "AUTH X-TEST\r\n*\r\n");
}

// ----- OAuth 2.0 -------------------------------------------------------------

#[test]
fn xoauth2_sends_user_and_bearer_token() {
    let s = server(&["AUTH XOAUTH2 PLAIN"], vec![reply("235 2.7.0 Accepted")]);
    let mut c = client(&s);
    c.login_oauth2("user@example.com", "tok", None).unwrap();
    // base64("user=user@example.com\x01auth=Bearer tok\x01\x01")
    assert_eq!(
        sent_after_ehlo(c, s),
        "AUTH XOAUTH2 dXNlcj11c2VyQGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHRvawEB\r\n"
    );
}

#[test]
fn oauthbearer_is_preferred_when_both_are_offered() {
    let s = server(
        &["AUTH XOAUTH2 OAUTHBEARER"],
        vec![reply("235 2.7.0 Accepted")],
    );
    let mut c = client(&s);
    c.login_oauth2("user@example.com", "tok", None).unwrap();
    // base64("n,a=user@example.com,\x01auth=Bearer tok\x01\x01")
    assert_eq!(
        sent_after_ehlo(c, s),
        "AUTH OAUTHBEARER bixhPXVzZXJAZXhhbXBsZS5jb20sAWF1dGg9QmVhcmVyIHRvawEB\r\n"
    );
}

#[test]
fn pinned_xoauth2_is_used_even_when_oauthbearer_is_offered() {
    let s = server(
        &["AUTH XOAUTH2 OAUTHBEARER"],
        vec![reply("235 2.7.0 Accepted")],
    );
    let mut c = client(&s);
    c.set_auth_mechanisms(&["XOAUTH2"]).unwrap();
    c.login_oauth2("user@example.com", "tok", None).unwrap();
    assert!(sent_after_ehlo(c, s).starts_with("AUTH XOAUTH2 "));
}

const OAUTH_ERROR_JSON: &str = r#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}"#;

fn oauth_error_server(mechanism: &str) -> Scripted {
    use base64::Engine;
    let json = base64::engine::general_purpose::STANDARD.encode(OAUTH_ERROR_JSON);
    server(
        &[&format!("AUTH {mechanism}")],
        vec![
            reply(&format!("334 {json}")),
            reply("535 5.7.8 Authentication credentials invalid"),
        ],
    )
}

#[test]
fn oauthbearer_error_challenge_is_acknowledged_with_ctrl_a() {
    // RFC 7628 §3.2.3: the client "MUST then send either an additional
    // client response consisting of a single %x01 (control A) character to
    // the server in order to allow the server to finish the exchange or a
    // SASL abort message".
    let s = oauth_error_server("OAUTHBEARER");
    let mut c = client(&s);
    let e = c.login_oauth2("user@example.com", "tok", None).unwrap_err();
    assert_eq!(e.status, Status::Authentication);
    assert_eq!(e.code, Some(535));
    assert_eq!(e.text, b"5.7.8 Authentication credentials invalid");
    assert!(e.message.contains(OAUTH_ERROR_JSON), "{}", e.message);
    assert!(e.to_string().contains("invalid_token"), "{e}");
    let sent = sent_after_ehlo(c, s);
    assert!(sent.ends_with("\r\nAQ==\r\n"), "{sent:?}");
}

#[test]
fn xoauth2_error_challenge_is_acknowledged_with_an_empty_line() {
    let s = oauth_error_server("XOAUTH2");
    let mut c = client(&s);
    let e = c.login_oauth2("user@example.com", "tok", None).unwrap_err();
    assert_eq!(e.status, Status::Authentication);
    assert_eq!(e.code, Some(535));
    assert!(e.message.contains(OAUTH_ERROR_JSON), "{}", e.message);
    let sent = sent_after_ehlo(c, s);
    assert!(sent.starts_with("AUTH XOAUTH2 "), "{sent:?}");
    assert!(sent.ends_with("\r\n\r\n"), "{sent:?}");
    assert_eq!(sent.matches("\r\n").count(), 2);
}

// ----- the cleartext policy, wired -------------------------------------------
//
// The scripted server listens on 127.0.0.1, which the policy rightly lets
// through. `treat_peer_as_remote_for_tests` makes the session report the
// peer as non-local to the policy; the decision itself is the real
// `sasl::cleartext_allowed`, unit-tested on every combination in sasl.rs.

fn remote_client(s: &Scripted) -> Client {
    let mut c = client(s);
    c.treat_peer_as_remote_for_tests(true);
    c
}

#[test]
fn plain_and_login_are_refused_in_clear_to_a_remote_server() {
    let s = server(&["AUTH PLAIN LOGIN"], vec![]);
    let mut c = remote_client(&s);
    let e = c.login("user", "pass").unwrap_err();
    assert_eq!(e.status, Status::Exception);
    assert!(e.message.contains("in clear"), "{}", e.message);
    assert!(e.message.contains("allow_cleartext_auth"), "{}", e.message);
    assert_eq!(sent_after_ehlo(c, s), "");
}

#[test]
fn oauth_is_refused_in_clear_to_a_remote_server() {
    let s = server(&["AUTH XOAUTH2 OAUTHBEARER"], vec![]);
    let mut c = remote_client(&s);
    let e = c.login_oauth2("user", "tok", None).unwrap_err();
    assert_eq!(e.status, Status::Exception);
    assert_eq!(sent_after_ehlo(c, s), "");
}

#[test]
fn generic_auth_plain_is_refused_in_clear_to_a_remote_server() {
    let s = server(&["AUTH PLAIN"], vec![]);
    let mut c = remote_client(&s);
    let mut called = false;
    let mut authobject = |_: Option<&[u8]>| {
        called = true;
        Ok(None)
    };
    let e = c.auth("PLAIN", &mut authobject, true).unwrap_err();
    assert_eq!(e.status, Status::Exception);
    assert!(!called);
    assert_eq!(sent_after_ehlo(c, s), "");
}

#[test]
fn cram_md5_is_allowed_in_clear_to_a_remote_server() {
    let s = server(
        &["AUTH PLAIN CRAM-MD5"],
        vec![
            challenge("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
            reply("235 2.7.0 Authentication successful"),
        ],
    );
    let mut c = remote_client(&s);
    c.login("tim", "tanstaaftanstaaf").unwrap();
    assert!(sent_after_ehlo(c, s).starts_with("AUTH CRAM-MD5\r\n"));
}

#[test]
fn cram_md5_failure_does_not_fall_back_to_a_refused_mechanism() {
    let s = server(
        &["AUTH PLAIN CRAM-MD5"],
        vec![
            challenge("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
            reply("535 5.7.8 no"),
        ],
    );
    let mut c = remote_client(&s);
    let e = c.login("tim", "wrong").unwrap_err();
    assert_eq!(e.status, Status::Authentication);
    let sent = sent_after_ehlo(c, s);
    assert!(!sent.contains("AUTH PLAIN"), "{sent:?}");
}

#[test]
fn opting_in_allows_plain_in_clear_to_a_remote_server() {
    let s = server(&["AUTH PLAIN"], vec![reply("235 2.7.0 ok")]);
    let mut c = remote_client(&s);
    c.allow_cleartext_auth(true);
    c.login("user", "pass").unwrap();
    assert_eq!(sent_after_ehlo(c, s), "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
}

#[test]
fn a_loopback_server_gets_plain_without_opting_in() {
    let s = server(&["AUTH PLAIN"], vec![reply("235 2.7.0 ok")]);
    let mut c = client(&s);
    assert!(c.is_local_peer());
    assert!(!c.is_tls());
    c.login("user", "pass").unwrap();
    assert_eq!(sent_after_ehlo(c, s), "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
}

// ----- transcripts -----------------------------------------------------------

fn capture(c: &mut Client) -> Arc<Mutex<Vec<String>>> {
    common::record_transcript(c, 2)
}

fn assert_no_secret(transcript: &str) {
    for secret in [
        "s3cr3t-pw",
        // base64 of the password, of "\0user\0s3cr3t-pw", and of the user
        // name (which LOGIN sends alone).
        "czNjcjN0LXB3",
        "AHVzZXIAczNjcjN0LXB3",
        "dXNlcg==",
    ] {
        assert!(!transcript.contains(secret), "{secret} in {transcript}");
    }
    assert!(transcript.contains("<redacted>"), "{transcript}");
}

#[test]
fn plain_login_transcript_shows_no_credentials() {
    let s = server(&["AUTH PLAIN"], vec![reply("235 2.7.0 ok")]);
    let mut c = client(&s);
    let lines = capture(&mut c);
    c.login("user", "s3cr3t-pw").unwrap();
    let t = lines.lock().unwrap().join("\n");
    assert_no_secret(&t);
    assert!(t.contains("AUTH PLAIN <redacted>"), "{t}");
    drop(c);
    s.finish();
}

#[test]
fn login_login_transcript_shows_no_credentials() {
    let s = server(
        &["AUTH LOGIN"],
        vec![
            reply("334 VXNlcm5hbWU6"),
            reply("334 UGFzc3dvcmQ6"),
            reply("235 2.7.0 ok"),
        ],
    );
    let mut c = client(&s);
    let lines = capture(&mut c);
    c.login_with("user", "s3cr3t-pw", false).unwrap();
    let t = lines.lock().unwrap().join("\n");
    assert_no_secret(&t);
    // The challenges are hidden too.
    assert!(!t.contains("UGFzc3dvcmQ6"), "{t}");
    assert!(t.contains("retcode (235)"), "{t}");
    drop(c);
    s.finish();
}
