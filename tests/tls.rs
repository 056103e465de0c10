//! TLS over OpenSSL: STARTTLS and implicit TLS (SMTP_SSL), verified by
//! default, never stripped to plaintext, immune to response injection.
//!
//! RFC 3207 §4.2: "the client MUST discard any knowledge obtained from the
//! server, such as the list of SMTP service extensions, which was not
//! obtained from the TLS negotiation itself. The client SHOULD send an EHLO
//! command as the first command after a successful TLS negotiation."

mod common;

use std::ffi::{CStr, CString};
use std::time::Duration;

use common::aiosmtpd::{AioOptions, AioSmtpd, AioTls};
use common::certs::{certs, WRONG_NAME};
use common::scripted::{esmtp_opening, reply, send, starttls_opening, Scripted, Step};
use smtp::{Client, Kind, Status};

const MSG: &[u8] = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: tls\r\n\r\nover TLS\r\n";

/// A client with a short deadline, so that a broken test fails fast.
fn client(kind: Kind) -> Client {
    let mut c = common::new_client(kind);
    c.set_timeout(Duration::from_secs(10)).unwrap();
    c.set_local_hostname("client.example").unwrap();
    c
}

/// A client that trusts the test CA.
fn trusting_client(kind: Kind) -> Client {
    let mut c = client(kind);
    c.tls_config().ca_file = Some(certs().ca.clone());
    c
}

/// aiosmtpd requiring STARTTLS, presenting `cert`/`key`.
fn starttls_server(cert: &std::path::Path, key: &std::path::Path) -> AioSmtpd {
    AioSmtpd::start(AioOptions {
        tls: AioTls::StartTls { require: true },
        cert: Some(cert.to_path_buf()),
        key: Some(key.to_path_buf()),
        ..Default::default()
    })
}

fn good_starttls_server() -> AioSmtpd {
    let c = certs();
    starttls_server(&c.good_cert, &c.good_key)
}

/// Nothing but EHLO (and the STARTTLS that the handler does not log) went
/// out in clear, and no MAIL, RCPT or AUTH at all.
fn assert_no_transaction(server: &AioSmtpd) {
    for line in server.commands() {
        assert!(
            line.starts_with("clear EHLO ") || line.starts_with("tls SNI "),
            "the server saw {line:?} (all: {:?})",
            server.commands()
        );
    }
}

/// After a failed STARTTLS the connection is gone: a later sendmail cannot
/// fall back to plaintext.
fn assert_closed_for_good(c: &mut Client) {
    assert!(!c.is_connected());
    let e = c
        .sendmail("a@example.org", &["b@example.org"], MSG, &[], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::ServerDisconnected, "{e}");
}

// ----- STARTTLS against aiosmtpd ---------------------------------------------

#[test]
fn starttls_with_the_test_ca_delivers_a_message() {
    let server = good_starttls_server();
    let mut c = trusting_client(Kind::Smtp);
    c.connect("localhost", server.port).unwrap();
    let reply = c.starttls().unwrap();
    assert_eq!(reply.code, 220);
    assert!(c.is_tls());
    let refused = c
        .sendmail("a@example.org", &["b@example.org"], MSG, &[], &[])
        .unwrap();
    assert!(refused.is_empty());
    c.quit().unwrap();
    let got = server.messages(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].mail_from, "a@example.org");
    assert_eq!(got[0].rcpt_tos, vec!["b@example.org".to_string()]);
    assert_eq!(got[0].content, MSG);
    assert!(server
        .commands()
        .iter()
        .filter(|l| l.contains("MAIL") || l.contains("RCPT"))
        .all(|l| l.starts_with("tls ")));
}

#[test]
fn starttls_negotiates_tls_1_2_or_later_and_reports_it() {
    let server = good_starttls_server();
    let mut c = trusting_client(Kind::Smtp);
    c.connect("localhost", server.port).unwrap();
    assert!(c.tls_info().is_none());
    c.starttls().unwrap();
    let info = c.tls_info().expect("TLS facts after the handshake");
    assert!(
        info.version == "TLSv1.2" || info.version == "TLSv1.3",
        "{info:?}"
    );
    assert!(!info.cipher.is_empty(), "{info:?}");
    assert!(
        info.peer_subject.contains("CN=libsmtp test server"),
        "{info:?}"
    );
}

#[test]
fn starttls_sends_ehlo_again_and_relearns_the_features() {
    // aiosmtpd offers AUTH only over TLS and STARTTLS only in clear: the
    // feature list after the handshake must be the second EHLO's.
    let c_ = certs();
    let server = AioSmtpd::start(AioOptions {
        tls: AioTls::StartTls { require: true },
        cert: Some(c_.good_cert.clone()),
        key: Some(c_.good_key.clone()),
        auth: Some(("user".into(), "secret".into())),
        ..Default::default()
    });
    let mut c = trusting_client(Kind::Smtp);
    c.connect("localhost", server.port).unwrap();
    c.ehlo("").unwrap();
    assert!(c.has_extn("starttls"));
    assert!(!c.has_extn("auth"));
    c.starttls().unwrap();
    assert!(c.does_esmtp());
    assert!(c.ehlo_resp().is_some());
    assert!(
        !c.has_extn("starttls"),
        "a feature learnt in clear survived"
    );
    assert!(
        c.has_extn("auth"),
        "the EHLO after the handshake was not read"
    );
    assert_eq!(
        server.commands(),
        vec![
            "clear EHLO client.example".to_string(),
            "tls SNI localhost".to_string(),
            "tls EHLO client.example".to_string()
        ]
    );
}

#[test]
fn starttls_without_the_ca_fails_verification_and_sends_nothing_more() {
    let server = good_starttls_server();
    let mut c = client(Kind::Smtp);
    c.connect("localhost", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(
        e.message.contains("certificate verify failed"),
        "{}",
        e.message
    );
    assert_closed_for_good(&mut c);
    assert_no_transaction(&server);
    assert!(server.messages(0).is_empty());
}

#[test]
fn starttls_to_a_certificate_for_another_name_fails() {
    let c_ = certs();
    let server = starttls_server(&c_.wrong_name_cert, &c_.wrong_name_key);
    let mut c = trusting_client(Kind::Smtp);
    c.connect("localhost", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(e.message.contains("hostname mismatch"), "{}", e.message);
    assert_closed_for_good(&mut c);
    assert_no_transaction(&server);
}

#[test]
fn starttls_to_an_expired_certificate_fails() {
    let c_ = certs();
    let server = starttls_server(&c_.expired_cert, &c_.expired_key);
    let mut c = trusting_client(Kind::Smtp);
    c.connect("localhost", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(e.message.contains("expired"), "{}", e.message);
    assert_closed_for_good(&mut c);
    assert_no_transaction(&server);
}

#[test]
fn starttls_to_a_self_signed_certificate_fails() {
    let c_ = certs();
    let server = starttls_server(&c_.self_signed_cert, &c_.self_signed_key);
    let mut c = trusting_client(Kind::Smtp);
    c.connect("localhost", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(e.message.contains("self-signed"), "{}", e.message);
    assert_closed_for_good(&mut c);
    assert_no_transaction(&server);
}

#[test]
fn starttls_with_verification_turned_off_accepts_any_certificate() {
    let c_ = certs();
    let server = starttls_server(&c_.self_signed_cert, &c_.self_signed_key);
    let mut c = client(Kind::Smtp);
    c.tls_config().verify = false;
    c.connect("localhost", server.port).unwrap();
    c.starttls().unwrap();
    c.sendmail("a@example.org", &["b@example.org"], MSG, &[], &[])
        .unwrap();
    assert_eq!(server.messages(1).len(), 1);
}

#[test]
fn server_name_override_verifies_against_that_name() {
    let c_ = certs();
    let server = starttls_server(&c_.wrong_name_cert, &c_.wrong_name_key);
    let mut c = trusting_client(Kind::Smtp);
    c.tls_config().server_name = Some(WRONG_NAME.to_string());
    c.connect("127.0.0.1", server.port).unwrap();
    c.starttls().unwrap();
    c.sendmail("a@example.org", &["b@example.org"], MSG, &[], &[])
        .unwrap();
    assert_eq!(server.messages(1).len(), 1);
}

#[test]
fn an_ip_address_is_verified_against_the_certificate_ip() {
    // The good certificate names IP:127.0.0.1 as well as localhost.
    let server = good_starttls_server();
    let mut c = trusting_client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    c.starttls().unwrap();
    assert!(c.is_tls());
}

#[test]
fn a_server_name_the_certificate_lacks_fails_even_with_a_good_certificate() {
    let server = good_starttls_server();
    let mut c = trusting_client(Kind::Smtp);
    c.tls_config().server_name = Some(WRONG_NAME.to_string());
    c.connect("localhost", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert_no_transaction(&server);
}

// ----- implicit TLS (SMTP_SSL) ----------------------------------------------

fn implicit_server() -> AioSmtpd {
    let c = certs();
    AioSmtpd::start(AioOptions {
        tls: AioTls::Implicit,
        cert: Some(c.good_cert.clone()),
        key: Some(c.good_key.clone()),
        ..Default::default()
    })
}

#[test]
fn smtp_ssl_handshakes_before_the_greeting_and_delivers() {
    let server = implicit_server();
    let mut c = trusting_client(Kind::SmtpSsl);
    assert_eq!(c.default_port(), 465);
    let greeting = c.connect("localhost", server.port).unwrap();
    assert_eq!(greeting.code, 220);
    assert!(c.is_tls());
    c.sendmail("a@example.org", &["b@example.org"], MSG, &[], &[])
        .unwrap();
    c.quit().unwrap();
    let got = server.messages(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].content, MSG);
}

#[test]
fn smtp_ssl_verifies_by_default() {
    let server = implicit_server();
    let mut c = client(Kind::SmtpSsl);
    let e = c.connect("localhost", server.port).unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(
        e.message.contains("certificate verify failed"),
        "{}",
        e.message
    );
    assert!(!c.is_connected());
    assert_eq!(server.commands(), vec!["tls SNI localhost".to_string()]);
}

#[test]
fn smtp_ssl_to_a_plaintext_server_is_a_tls_error_and_sends_nothing_in_clear() {
    // The plaintext server greets at once: OpenSSL reads "220 ..." where it
    // expects a TLS record.
    let server = Scripted::start(vec![send("220 plain.example ESMTP"), Step::Line]);
    let mut c = trusting_client(Kind::SmtpSsl);
    let e = c.connect("127.0.0.1", server.port).unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(!c.is_connected());
    let sent = server.finish();
    // Only a TLS ClientHello record: content type 22 (handshake).
    assert_eq!(sent.first(), Some(&0x16), "{sent:?}");
    let text = String::from_utf8_lossy(&sent);
    for verb in ["EHLO", "HELO", "MAIL", "RCPT", "AUTH"] {
        assert!(!text.contains(verb), "{verb} went out in clear");
    }
}

// ----- STARTTLS against the scripted server ----------------------------------

/// The transcript after the client's EHLO line.
fn after_ehlo(transcript: &str) -> &str {
    let at = transcript
        .find("EHLO client.example\r\n")
        .expect("EHLO sent");
    &transcript[at + "EHLO client.example\r\n".len()..]
}

fn assert_nothing_in_clear(transcript: &str) {
    for verb in ["MAIL", "RCPT", "AUTH", "DATA"] {
        assert!(
            !transcript.contains(verb),
            "{verb} went out in clear: {transcript:?}"
        );
    }
}

#[test]
fn starttls_not_offered_is_not_supported_and_nothing_is_sent() {
    let server = Scripted::start(esmtp_opening(&["SIZE 1000", "AUTH PLAIN"]));
    let mut c = trusting_client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::NotSupported, "{e}");
    drop(c);
    let t = server.transcript();
    assert_eq!(after_ehlo(&t), "", "sent after EHLO: {t:?}");
}

#[test]
fn unloadable_tls_settings_send_no_starttls() {
    let server = Scripted::start(esmtp_opening(&["STARTTLS"]));
    let mut c = client(Kind::Smtp);
    c.tls_config().ca_file = Some("/nonexistent/ca.pem".into());
    c.connect("127.0.0.1", server.port).unwrap();
    assert_eq!(c.starttls().unwrap_err().status, Status::Tls);
    assert!(c.is_connected());
    drop(c);
    let t = server.transcript();
    assert_eq!(after_ehlo(&t), "", "sent after EHLO: {t:?}");
}

fn refused_starttls(code_line: &str) -> (smtp::Error, String) {
    let mut steps = esmtp_opening(&["STARTTLS"]);
    steps.extend(reply(code_line));
    let server = Scripted::start(steps);
    let mut c = trusting_client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    // The caller gives up: whatever it sends now is what the server sees.
    drop(c);
    (e, server.transcript())
}

#[test]
fn starttls_454_is_a_response_error_with_the_reply() {
    let (e, t) = refused_starttls("454 4.7.0 TLS not available due to temporary reason");
    assert_eq!(e.status, Status::Response, "{e}");
    assert_eq!(e.code, Some(454));
    assert_eq!(e.text, b"4.7.0 TLS not available due to temporary reason");
    assert_eq!(after_ehlo(&t), "STARTTLS\r\n");
}

#[test]
fn starttls_501_is_a_response_error_with_the_reply() {
    let (e, t) = refused_starttls("501 5.5.4 Syntax error");
    assert_eq!(e.status, Status::Response, "{e}");
    assert_eq!(e.code, Some(501));
    assert_eq!(after_ehlo(&t), "STARTTLS\r\n");
}

#[test]
fn starttls_421_closes_the_connection_and_sends_nothing_more() {
    let mut steps = esmtp_opening(&["STARTTLS"]);
    steps.extend(reply("421 4.3.2 shutting down"));
    let server = Scripted::start(steps);
    let mut c = trusting_client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Response, "{e}");
    assert_eq!(e.code, Some(421));
    assert!(!c.is_connected());
    assert_closed_for_good(&mut c);
    let t = server.transcript();
    assert_eq!(after_ehlo(&t), "STARTTLS\r\n", "{t:?}");
}

#[test]
fn bytes_after_the_220_are_an_injection_tls_error_and_close() {
    // curl CVE-2021-22947, Mutt CVE-2020-14954: a man in the middle appends
    // a reply to the 220 in clear, hoping it is read after the handshake as
    // if it came over TLS.
    let mut steps = esmtp_opening(&["STARTTLS"]);
    steps.push(Step::Line);
    steps.push(Step::Send(b"220 go ahead\r\n250 injected\r\n".to_vec()));
    let server = Scripted::start(steps);
    let mut c = trusting_client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(e.message.contains("injection"), "{}", e.message);
    assert_closed_for_good(&mut c);
    let t = server.transcript();
    assert_eq!(after_ehlo(&t), "STARTTLS\r\n", "{t:?}");
}

#[test]
fn a_stalled_handshake_times_out_within_the_deadline() {
    let mut steps = esmtp_opening(&["STARTTLS"]);
    steps.extend(reply("220 go ahead"));
    steps.push(Step::Sleep(Duration::from_secs(4)));
    let server = Scripted::start(steps);
    let mut c = trusting_client(Kind::Smtp);
    c.set_timeout(Duration::from_secs(1)).unwrap();
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert!(!c.is_connected());
    let t = server.transcript();
    assert_nothing_in_clear(after_ehlo(&t));
}

#[test]
fn the_first_command_over_tls_is_ehlo_and_nothing_learnt_in_clear_survives() {
    // In clear the server offers PIPELINING and AUTH PLAIN; over TLS only
    // SIZE. The client must send EHLO first, then act on SIZE alone.
    let mut steps = starttls_opening(&["PIPELINING", "AUTH PLAIN", "STARTTLS"]);
    steps.extend(reply("250-tls.example\r\n250 SIZE 1000000"));
    steps.extend(reply("250 ok"));
    let server = Scripted::start(steps);
    let mut c = trusting_client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    c.starttls().unwrap();
    assert!(!c.has_extn("auth"));
    assert!(!c.has_extn("pipelining"));
    assert!(!c.has_extn("starttls"));
    assert!(c.has_extn("size"));
    c.mail("a@example.org", &[]).unwrap();
    drop(c);
    let t = server.transcript();
    assert_eq!(
        after_ehlo(&t),
        "STARTTLS\r\nEHLO client.example\r\nMAIL FROM:<a@example.org>\r\n",
        "{t:?}"
    );
}

// ----- the C functions ---------------------------------------------------------

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// # Safety
/// `p` is NULL or a NUL-terminated string that outlives the call.
unsafe fn text(p: *const std::os::raw::c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

#[test]
fn c_api_starttls_with_a_ca_file_delivers_and_reports_tls_facts() {
    use smtp::capi::*;
    let server = good_starttls_server();
    let host = cstr("localhost");
    let ca = cstr(certs().ca.to_str().unwrap());
    let from = cstr("a@example.org");
    let rcpt = cstr("b@example.org");
    let to = [rcpt.as_ptr()];
    let h = smtp_new();
    assert!(!h.is_null());
    assert_eq!(smtp_set_tls_cafile(h, ca.as_ptr()), SMTP_OK);
    assert_eq!(smtp_connect(h, host.as_ptr(), server.port.into()), SMTP_OK);
    // SAFETY: strings borrowed from a live handle, read before the next call.
    assert_eq!(unsafe { text(smtp_tls_version(h)) }, None);
    assert_eq!(smtp_starttls(h), SMTP_OK);
    let version = unsafe { text(smtp_tls_version(h)) }.expect("a TLS version");
    assert!(version == "TLSv1.2" || version == "TLSv1.3", "{version}");
    assert!(unsafe { text(smtp_tls_cipher(h)) }.is_some_and(|c| !c.is_empty()));
    assert!(unsafe { text(smtp_tls_peer_subject(h)) }
        .is_some_and(|s| s.contains("libsmtp test server")));
    let status = smtp_sendmail(
        h,
        from.as_ptr(),
        to.as_ptr(),
        1,
        MSG.as_ptr(),
        MSG.len(),
        std::ptr::null(),
        0,
        std::ptr::null(),
        0,
    );
    assert_eq!(status, SMTP_OK);
    assert_eq!(smtp_quit(h), SMTP_OK);
    smtp_free(h);
    assert_eq!(server.messages(1).len(), 1);
}

#[test]
fn c_api_verification_failure_is_smtp_err_tls_with_openssl_reason() {
    use smtp::capi::*;
    let server = good_starttls_server();
    let host = cstr("localhost");
    let h = smtp_new();
    assert_eq!(smtp_connect(h, host.as_ptr(), server.port.into()), SMTP_OK);
    assert_eq!(smtp_starttls(h), SMTP_ERR_TLS);
    assert_eq!(smtp_error_code(h), SMTP_ERR_TLS);
    // SAFETY: borrowed from the live handle until the next call.
    let message = unsafe { text(smtp_error_message(h)) }.unwrap_or_default();
    // One readable line, not OpenSSL's error stack.
    assert!(
        message.starts_with("certificate verify failed: ")
            && message.ends_with(" (host localhost)"),
        "{message}"
    );
    assert!(
        !message.contains("error:") && !message.contains('\n'),
        "{message}"
    );
    smtp_free(h);
    assert_no_transaction(&server);
}

/// The handle's error message and errno.
fn c_error(h: *mut smtp::capi::smtp_handle) -> (String, i32) {
    use smtp::capi::*;
    // SAFETY: borrowed from the live handle until the next call.
    let message = unsafe { text(smtp_error_message(h)) }.unwrap_or_default();
    (message, smtp_error_errno(h))
}

#[test]
fn c_api_path_setters_check_their_file_at_once_and_keep_the_previous_setting() {
    // The issue: smtp_set_tls_cafile(h, "/nonexistent.pem") returned OK and
    // the fault appeared only at STARTTLS.
    use smtp::capi::*;
    let server = good_starttls_server();
    let host = cstr("localhost");
    let ca = cstr(certs().ca.to_str().unwrap());
    let missing = cstr("/nonexistent/ca.pem");
    let h = smtp_new();
    assert_eq!(smtp_set_tls_cafile(h, ca.as_ptr()), SMTP_OK);
    assert_eq!(smtp_set_tls_cafile(h, missing.as_ptr()), SMTP_ERR_TLS);
    assert_eq!(
        c_error(h),
        (
            "cannot read CA file /nonexistent/ca.pem: No such file or directory".to_string(),
            libc::ENOENT
        )
    );
    assert_eq!(smtp_set_tls_cadir(h, missing.as_ptr()), SMTP_ERR_TLS);
    assert_eq!(
        c_error(h).0,
        "cannot read CA directory /nonexistent/ca.pem: No such file or directory"
    );
    assert_eq!(
        smtp_set_tls_client_cert(h, missing.as_ptr(), std::ptr::null()),
        SMTP_ERR_TLS
    );
    assert_eq!(
        c_error(h).0,
        "cannot read client certificate /nonexistent/ca.pem: No such file or directory"
    );
    // The good CA file set first is still the one used.
    assert_eq!(smtp_connect(h, host.as_ptr(), server.port.into()), SMTP_OK);
    assert_eq!(smtp_starttls(h), SMTP_OK, "{}", c_error(h).0);
    assert_eq!(smtp_quit(h), SMTP_OK);
    smtp_free(h);
}

#[test]
fn c_api_a_ca_file_without_certificates_is_refused_in_one_line() {
    use smtp::capi::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.pem");
    std::fs::write(&path, "no certificate here\n").unwrap();
    let p = cstr(path.to_str().unwrap());
    let h = smtp_new();
    assert_eq!(smtp_set_tls_cafile(h, p.as_ptr()), SMTP_ERR_TLS);
    let (message, _) = c_error(h);
    let prefix = format!("cannot load CA file {}: ", path.display());
    assert!(message.starts_with(&prefix), "{message}");
    assert!(
        !message.contains("error:") && !message.contains('\n'),
        "{message}"
    );
    smtp_free(h);
}

#[test]
fn c_api_starttls_not_offered_is_smtp_err_not_supported() {
    use smtp::capi::*;
    let server = Scripted::start(esmtp_opening(&["SIZE 1000"]));
    let host = cstr("127.0.0.1");
    let h = smtp_new();
    assert_eq!(smtp_connect(h, host.as_ptr(), server.port.into()), SMTP_OK);
    assert_eq!(smtp_starttls(h), SMTP_ERR_NOT_SUPPORTED);
    smtp_free(h);
    let t = server.transcript();
    assert!(t.ends_with("\r\n") && t.lines().count() == 1, "{t:?}");
}

#[test]
fn a_handshake_dripped_byte_by_byte_still_ends_at_the_deadline() {
    // A server (or a man in the middle) that sends one byte of a TLS record
    // every 300 ms keeps each read short of the 1 s deadline; the deadline
    // is for the whole handshake, so the client gives up with a timeout
    // before the server closes at about 3 s (which would be a Tls error).
    let mut steps = esmtp_opening(&["STARTTLS"]);
    steps.extend(reply("220 go ahead"));
    for byte in [0x16u8, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00, 0x3c, 0x03] {
        steps.push(Step::Sleep(Duration::from_millis(300)));
        steps.push(Step::Send(vec![byte]));
    }
    steps.push(Step::Close);
    let server = Scripted::start(steps);
    let mut c = trusting_client(Kind::Smtp);
    c.set_timeout(Duration::from_secs(1)).unwrap();
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert!(!c.is_connected());
    let t = server.transcript();
    assert_nothing_in_clear(after_ehlo(&t));
}

// ----- trust anchors and versions ----------------------------------------------

#[test]
fn a_hashed_ca_directory_is_a_trust_anchor_too() {
    let c_ = certs();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("openssl")
        .args(["x509", "-hash", "-noout", "-in"])
        .arg(&c_.ca)
        .output()
        .expect("the openssl command");
    let hash = String::from_utf8(out.stdout).unwrap();
    std::fs::copy(&c_.ca, dir.path().join(format!("{}.0", hash.trim()))).unwrap();
    let server = good_starttls_server();
    let mut c = client(Kind::Smtp);
    c.tls_config().ca_dir = Some(dir.path().to_path_buf());
    c.connect("localhost", server.port).unwrap();
    c.starttls().unwrap();
    assert!(c.is_tls());
}

#[test]
fn a_missing_ca_file_is_a_tls_error_before_starttls_is_sent() {
    // The settings are loaded before STARTTLS goes out: the error costs
    // nothing, and once mended the same session upgrades.
    let server = good_starttls_server();
    let mut c = client(Kind::Smtp);
    c.tls_config().ca_file = Some("/nonexistent/ca.pem".into());
    c.connect("localhost", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(e.message.contains("/nonexistent/ca.pem"), "{}", e.message);
    assert!(c.is_connected());
    assert!(!c.is_tls());
    assert_no_transaction(&server);
    c.tls_config().ca_file = Some(certs().ca.clone());
    c.starttls().unwrap();
    c.sendmail("a@example.org", &["b@example.org"], MSG, &[], &[])
        .unwrap();
    assert_eq!(server.messages(1).len(), 1);
}

#[test]
fn a_missing_client_certificate_is_a_tls_error_before_starttls_is_sent() {
    let server = good_starttls_server();
    let mut c = trusting_client(Kind::Smtp);
    c.tls_config().cert_file = Some("/nonexistent/client.pem".into());
    c.connect("localhost", server.port).unwrap();
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(c.is_connected() && !c.is_tls());
    assert_no_transaction(&server);
}

#[test]
fn implicit_tls_with_a_missing_ca_file_fails_before_connecting() {
    let server = Scripted::start(vec![]);
    let mut c = client(Kind::SmtpSsl);
    c.tls_config().ca_file = Some("/nonexistent/ca.pem".into());
    let e = c.connect("127.0.0.1", server.port).unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(!c.is_connected());
    // Nothing connected: let the server thread go.
    drop(std::net::TcpStream::connect(("127.0.0.1", server.port)));
    assert!(server.finish().is_empty());
}

#[test]
fn a_minimum_of_tls_1_3_is_honoured() {
    let server = good_starttls_server();
    let mut c = trusting_client(Kind::Smtp);
    c.tls_config().min_version = smtp::TlsVersion::Tls13;
    c.connect("localhost", server.port).unwrap();
    c.starttls().unwrap();
    assert_eq!(c.tls_info().unwrap().version, "TLSv1.3");
}

#[test]
fn starttls_twice_is_refused_without_sending_anything() {
    let server = good_starttls_server();
    let mut c = trusting_client(Kind::Smtp);
    c.connect("localhost", server.port).unwrap();
    c.starttls().unwrap();
    let e = c.starttls().unwrap_err();
    assert!(e.status.is(Status::Exception), "{e}");
    assert!(c.is_tls());
    c.sendmail("a@example.org", &["b@example.org"], MSG, &[], &[])
        .unwrap();
    assert_eq!(server.messages(1).len(), 1);
}

// ----- SNI -------------------------------------------------------------------

#[test]
fn sni_carries_the_host_connected_to() {
    let server = good_starttls_server();
    let mut c = trusting_client(Kind::Smtp);
    c.connect("localhost", server.port).unwrap();
    c.starttls().unwrap();
    assert!(server.commands().contains(&"tls SNI localhost".to_string()));
}

#[test]
fn sni_carries_the_server_name_when_one_is_set() {
    let c_ = certs();
    let server = starttls_server(&c_.wrong_name_cert, &c_.wrong_name_key);
    let mut c = trusting_client(Kind::Smtp);
    c.tls_config().server_name = Some(WRONG_NAME.to_string());
    c.connect("127.0.0.1", server.port).unwrap();
    c.starttls().unwrap();
    assert!(server.commands().contains(&format!("tls SNI {WRONG_NAME}")));
}

#[test]
fn no_sni_is_sent_for_an_ip_address() {
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in
    // "HostName"."
    let server = good_starttls_server();
    let mut c = trusting_client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    c.starttls().unwrap();
    assert!(server.commands().contains(&"tls SNI -".to_string()));
}

#[test]
fn smtp_ssl_sends_sni() {
    let server = implicit_server();
    let mut c = trusting_client(Kind::SmtpSsl);
    c.connect("localhost", server.port).unwrap();
    assert_eq!(server.commands(), vec!["tls SNI localhost".to_string()]);
}

// ----- client certificates ---------------------------------------------------

/// A server that greets, offers STARTTLS, and then requires a client
/// certificate signed by the test CA; after the handshake it answers EHLO.
fn client_cert_server() -> Scripted {
    let c_ = certs();
    let mut steps = esmtp_opening(&["STARTTLS"]);
    steps.extend(reply("220 go ahead"));
    steps.push(Step::TlsClientCert {
        cert: c_.good_cert.clone(),
        key: c_.good_key.clone(),
        ca: c_.ca.clone(),
    });
    steps.extend(reply("250 tls.example"));
    Scripted::start(steps)
}

#[test]
fn a_client_certificate_is_presented_when_set() {
    let c_ = certs();
    let server = client_cert_server();
    let mut c = trusting_client(Kind::Smtp);
    c.tls_config().cert_file = Some(c_.good_cert.clone());
    c.tls_config().key_file = Some(c_.good_key.clone());
    c.connect("localhost", server.port).unwrap();
    c.starttls().unwrap();
    assert!(c.is_tls());
    drop(c);
    let t = server.transcript();
    assert_eq!(after_ehlo(&t), "STARTTLS\r\nEHLO client.example\r\n");
}

#[test]
fn a_server_requiring_a_client_certificate_refuses_a_client_without_one() {
    let server = client_cert_server();
    let mut c = trusting_client(Kind::Smtp);
    c.connect("localhost", server.port).unwrap();
    // With TLS 1.3 the server's refusal (an alert) arrives after the
    // client's side of the handshake is done: with the reply to the EHLO
    // that follows it. It is still a TLS failure, with OpenSSL's reason.
    let e = c.starttls().unwrap_err();
    assert_eq!(e.status, Status::Tls, "{e}");
    assert!(e.message.contains("certificate required"), "{}", e.message);
    assert!(!c.is_connected());
    let t = server.transcript();
    assert_eq!(after_ehlo(&t), "STARTTLS\r\n");
}

#[test]
fn smtp_ssl_to_a_silent_server_times_out_within_the_deadline() {
    // The deadline covers the handshake of implicit TLS as well.
    let server = Scripted::start(vec![Step::Sleep(Duration::from_secs(4))]);
    let mut c = trusting_client(Kind::SmtpSsl);
    c.set_timeout(Duration::from_secs(1)).unwrap();
    let e = c.connect("127.0.0.1", server.port).unwrap_err();
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert!(!c.is_connected());
    let sent = server.finish();
    assert_eq!(sent.first(), Some(&0x16), "not a TLS record: {sent:?}");
}
