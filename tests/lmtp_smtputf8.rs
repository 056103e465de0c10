//! LMTP and SMTPUTF8 against a real server, aiosmtpd, over TCP.

mod common;

use std::time::Duration;

use common::aiosmtpd::{AioOptions, AioSmtpd};
use smtp::{Client, Kind, Status};

fn connect(server: &AioSmtpd, kind: Kind) -> Client {
    let mut c = common::new_client(kind);
    c.set_timeout(Duration::from_secs(10)).unwrap();
    c.set_local_hostname("client.example").unwrap();
    c.connect("127.0.0.1", server.port).unwrap();
    c
}

// ----- LMTP ------------------------------------------------------------------------

#[test]
fn lmtp_delivers_to_two_recipients_each_with_its_own_250() {
    // RFC 2033 §4.2: "after the final ".", the server returns one reply
    // for each recipient that was successfully named in a RCPT command".
    let server = AioSmtpd::start(AioOptions {
        lmtp: true,
        ..Default::default()
    });
    // aiosmtpd's LMTP answers EHLO with 500: the session got this far
    // only because the client said LHLO.
    let mut c = connect(&server, Kind::Lmtp);
    let refused = c
        .sendmail(
            "a@example.org",
            &["b@example.org", "c@example.org"],
            b"Subject: lmtp\r\n\r\nto two\r\n",
            &[],
            &[],
        )
        .unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    let results = c.recipient_results();
    let addresses: Vec<&str> = results.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addresses, ["b@example.org", "c@example.org"]);
    for r in results {
        assert!(r.accepted && r.code == 250, "{r:?}");
    }
    // Both replies were read: the next command gets its own.
    assert_eq!(c.noop().unwrap().code, 250);
    c.quit().unwrap();
    let got = server.messages(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_tos, ["b@example.org", "c@example.org"]);
}

// ----- SMTPUTF8 --------------------------------------------------------------------

const INTERNATIONAL: &str =
    "From: a@example.org\r\nTo: J\u{f6}rg <j\u{f6}rg@b\u{fc}cher.example>\r\n\
     Subject: Gr\u{fc}\u{df}e\r\n\r\nHallo J\u{f6}rg.\r\n";

#[test]
fn send_message_to_a_non_ascii_address_uses_smtputf8() {
    // RFC 6531 §3.4: "the SMTPUTF8 parameter [...] MUST be specified on
    // the MAIL command" when an address is not ASCII; smtplib's
    // send_message() adds SMTPUTF8 and BODY=8BITMIME.
    let server = AioSmtpd::start(AioOptions {
        smtputf8: true,
        ..Default::default()
    });
    let mut c = connect(&server, Kind::Smtp);
    let refused = c
        .send_message(INTERNATIONAL.as_bytes(), None, None, &[], &[])
        .unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    c.quit().unwrap();
    let got = server.messages(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_tos, ["j\u{f6}rg@b\u{fc}cher.example"]);
    assert!(
        got[0].mail_options.iter().any(|o| o == "SMTPUTF8"),
        "{:?}",
        got[0].mail_options
    );
    assert_eq!(got[0].content, INTERNATIONAL.as_bytes());
}

#[test]
fn send_message_to_a_non_ascii_address_without_smtputf8_is_not_supported() {
    // smtplib: "One or more source or delivery addresses require
    // internationalized email support, but the server does not advertise
    // the required SMTPUTF8 capability" (SMTPNotSupportedError).
    let server = AioSmtpd::start(AioOptions::default());
    let mut c = connect(&server, Kind::Smtp);
    let e = c
        .send_message(INTERNATIONAL.as_bytes(), None, None, &[], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::NotSupported, "{e}");
    assert!(c.is_connected());
    c.quit().unwrap();
    assert!(server.messages(0).is_empty());
    assert!(
        !server.commands().iter().any(|l| l.contains(" MAIL ")),
        "{:?}",
        server.commands()
    );
}
