//! Replies the client never asked for are a protocol error, not the next
//! command's reply: before a command that is not pipelined, bytes already
//! waiting from the server close the connection (as for STARTTLS
//! injection), and an extra reply after the end of data is caught at the
//! message it follows.
//!
//! DESIGN.md: "Bytes from the server that no command asked for are a
//! protocol error, not the next reply."

mod common;

use std::time::Duration;

use common::certs::certs;
use common::scripted::{esmtp_opening, reply, send, starttls_opening, Scripted, Step};
use smtp::{Client, Kind, Status};

fn client(kind: Kind) -> Client {
    let mut c = common::new_client(kind);
    c.set_timeout(Duration::from_secs(5)).unwrap();
    c.set_local_hostname("client.example").unwrap();
    c
}

/// Asserts the unsolicited-reply error and the closed connection.
fn assert_unsolicited(c: &Client, e: &smtp::Error, before: &str) {
    assert_eq!(e.status, Status::Response, "{e}");
    assert!(
        e.message.contains("no command asked for") && e.message.contains(before),
        "{e}"
    );
    assert!(!c.is_connected(), "the connection is closed");
}

#[test]
fn a_235_sent_ahead_of_auth_is_refused_and_auth_is_never_sent() {
    // The case: the early 235 was taken as the answer to AUTH, and
    // the real 535 surfaced later as "SMTPSenderRefused: 535".
    let mut steps = esmtp_opening(&["AUTH PLAIN"]);
    steps.push(send("235 2.7.0 accepted before you asked"));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    c.ehlo("").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let e = c.login("user", "secret").unwrap_err();
    assert_unsolicited(&c, &e, "before AUTH");
    assert!(e.message.contains("235 2.7.0"), "{e}");
    assert_eq!(server.transcript(), "EHLO client.example\r\n");
}

#[test]
fn a_reply_glued_to_the_previous_one_is_refused_before_the_next_command() {
    // Here the extra reply travels in the same segment as the EHLO reply,
    // so it is already in the client's buffer.
    let mut steps = vec![send("220 scripted.example ESMTP"), Step::Line];
    steps.push(Step::Send(
        b"250-scripted.example\r\n250 SIZE 1000\r\n250 2.1.0 sender ok\r\n".to_vec(),
    ));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    c.ehlo("").unwrap();
    let e = c.mail("a@example.org", &[]).unwrap_err();
    assert_unsolicited(&c, &e, "before MAIL");
    assert_eq!(server.transcript(), "EHLO client.example\r\n");
}

#[test]
fn an_extra_reply_after_the_end_of_data_fails_that_message_not_the_next() {
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply("250 ok"));
    steps.extend(reply("250 ok"));
    steps.extend(reply("354 go ahead"));
    steps.push(Step::Data);
    steps.push(Step::Send(
        b"250 2.0.0 queued\r\n250 2.0.0 extra\r\n".to_vec(),
    ));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c
        .sendmail("a@example.org", &["b@example.org"], b"hi\r\n", &[], &[])
        .unwrap_err();
    assert_unsolicited(&c, &e, "after the reply to the end of data");
    assert!(e.message.contains("250 2.0.0 extra"), "{e}");
    let t = server.transcript();
    assert!(t.ends_with("DATA\r\nhi\r\n.\r\n"), "nothing after: {t:?}");
}

#[test]
fn an_extra_lmtp_reply_is_caught_at_its_message() {
    // RFC 2033 §4.2: one reply "for each recipient that was successfully
    // named in a RCPT command" -- one recipient, one reply. A second one
    // once surfaced on the next message as "SMTPDataError: 250 ok".
    let mut steps = vec![send("220 lmtp.example LMTP"), Step::Line];
    steps.push(send("250 lmtp.example"));
    steps.extend(reply("250 ok"));
    steps.extend(reply("250 ok"));
    steps.extend(reply("354 go ahead"));
    steps.push(Step::Data);
    steps.push(Step::Send(
        b"250 2.0.0 <b> delivered\r\n250 ok\r\n".to_vec(),
    ));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Lmtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c
        .sendmail("a@example.org", &["b@example.org"], b"hi\r\n", &[], &[])
        .unwrap_err();
    assert_unsolicited(&c, &e, "after the reply to the end of data");
    // What the server said for the recipient is still there.
    assert_eq!(c.recipient_results()[0].code, 250);
    let t = server.transcript();
    assert!(t.ends_with("DATA\r\nhi\r\n.\r\n"), "{t:?}");
}

#[test]
fn a_reply_sent_ahead_over_tls_is_refused_too() {
    // Over TLS the look at the socket decrypts: a TLS 1.3 session ticket
    // is not a reply, an SMTP line is.
    let mut steps = starttls_opening(&["STARTTLS"]);
    steps.extend(reply("250-tls.example\r\n250 SIZE 1000"));
    steps.extend(reply("250 ok"));
    steps.push(send("250 2.1.0 ahead of MAIL"));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.tls_config().ca_file = Some(certs().ca.clone());
    c.connect("localhost", server.port).unwrap();
    c.starttls().unwrap();
    assert_eq!(c.noop().unwrap().code, 250, "a ticket is not a reply");
    std::thread::sleep(Duration::from_millis(200));
    let e = c.mail("a@example.org", &[]).unwrap_err();
    assert_unsolicited(&c, &e, "before MAIL");
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\nNOOP\r\n"
    );
}

#[test]
fn a_server_that_closed_is_a_disconnection_not_an_unsolicited_reply() {
    let mut steps = esmtp_opening(&[]);
    steps.push(Step::Close);
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    c.ehlo("").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let e = c.noop().unwrap_err();
    assert_eq!(e.status, Status::ServerDisconnected, "{e}");
    drop(server);
}

#[test]
fn a_235_glued_to_a_challenge_is_refused_before_the_response() {
    // The response to a 334 would otherwise meet a 235 the server sent
    // before reading it.
    let mut steps = esmtp_opening(&["AUTH LOGIN"]);
    steps.push(Step::Line);
    steps.push(Step::Send(
        b"334 VXNlcm5hbWU6\r\n235 2.7.0 accepted before you answered\r\n".to_vec(),
    ));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c.login_with("user", "secret", false).unwrap_err();
    assert_unsolicited(&c, &e, "before the AUTH response");
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\nAUTH LOGIN\r\n",
        "no credentials sent"
    );
}
