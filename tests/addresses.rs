//! Addresses are addresses: a sender or recipient that is not an RFC 5321
//! path (RFC 6531 with SMTPUTF8) is SMTP_ERR_INVALID with nothing sent,
//! never altered, so that a user-supplied address cannot set ESMTP
//! parameters. Parameters come only through the options arguments.

mod common;

use std::ffi::CString;
use std::ptr::null;
use std::time::Duration;

use common::scripted::{accepted_message, esmtp_opening, Scripted, Step};
use smtp::session::Outgoing;
use smtp::{Client, Kind, Status};

const MSG: &[u8] = b"Subject: x\r\n\r\nx\r\n";

fn connected(server: &Scripted) -> Client {
    let mut c = common::new_client(Kind::Smtp);
    c.set_timeout(Duration::from_secs(5)).unwrap();
    c.set_local_hostname("client.example").unwrap();
    c.connect("127.0.0.1", server.port).unwrap();
    c
}

#[test]
fn a_sender_carrying_parameters_is_invalid_and_nothing_is_sent() {
    let server = Scripted::start(esmtp_opening(&["DSN", "SIZE 1000"]));
    let mut c = connected(&server);
    for from in ["<> RET=FULL", "a@x.org SIZE=1", "<a@x.org> BODY=8BITMIME"] {
        let e = c
            .sendmail(from, &["b@example.org"], MSG, &[], &[])
            .unwrap_err();
        assert_eq!(e.status, Status::Invalid, "{from:?}: {e}");
        let e = c.mail(from, &[]).unwrap_err();
        assert_eq!(e.status, Status::Invalid, "{from:?}: {e}");
    }
    assert!(c.is_connected(), "a refused argument keeps the connection");
    c.close();
    assert_eq!(server.transcript(), "", "not even EHLO");
}

#[test]
fn a_recipient_carrying_parameters_is_invalid_and_nothing_is_sent() {
    let server = Scripted::start(esmtp_opening(&["DSN"]));
    let mut c = connected(&server);
    for to in [
        "<> NOTIFY=SUCCESS ORCPT=rfc822;x@y",
        "b@example.org NOTIFY=NEVER",
        "<b@example.org> <c@example.org>",
        "<>",
    ] {
        let e = c
            .sendmail("a@example.org", &["ok@example.org", to], MSG, &[], &[])
            .unwrap_err();
        assert_eq!(e.status, Status::Invalid, "{to:?}: {e}");
        let e = c.rcpt(to, &[]).unwrap_err();
        assert_eq!(e.status, Status::Invalid, "{to:?}: {e}");
    }
    c.close();
    assert_eq!(server.transcript(), "");
}

#[test]
fn the_forms_smtplib_accepts_go_out_as_plain_paths() {
    let mut steps = esmtp_opening(&[]);
    let mut msg = accepted_message();
    msg.insert(2, Step::Line); // a second RCPT
    msg.insert(3, common::scripted::send("250 ok"));
    steps.extend(msg);
    let server = Scripted::start(steps);
    let mut c = connected(&server);
    c.sendmail(
        "\"Doe, Jo\" <jo@example.org>",
        &["\"odd local\"@example.org", "Bo <bo@example.org> (team)"],
        MSG,
        &[],
        &[],
    )
    .unwrap();
    c.close();
    let t = server.transcript();
    assert!(
        t.starts_with(
            "EHLO client.example\r\nMAIL FROM:<jo@example.org>\r\n\
             RCPT TO:<\"odd local\"@example.org>\r\nRCPT TO:<bo@example.org>\r\nDATA\r\n"
        ),
        "{t:?}"
    );
}

#[test]
fn in_a_batch_only_the_message_with_a_bad_address_is_refused() {
    let mut steps = esmtp_opening(&[]);
    steps.extend(accepted_message());
    let server = Scripted::start(steps);
    let mut c = connected(&server);
    let outcomes = c.sendmail_batch(
        &[
            Outgoing {
                from: "<> RET=FULL",
                to: &["b@example.org"],
                msg: MSG,
            },
            Outgoing {
                from: "a@example.org",
                to: &["b@example.org"],
                msg: MSG,
            },
        ],
        &[],
        &[],
    );
    assert_eq!(outcomes[0].as_ref().unwrap_err().status, Status::Invalid);
    assert!(outcomes[1].is_ok(), "{:?}", outcomes[1]);
    c.close();
    let t = server.transcript();
    assert!(!t.contains("RET=FULL"), "{t:?}");
    assert!(t.contains("MAIL FROM:<a@example.org>\r\n"), "{t:?}");
}

#[test]
fn c_api_smtp_mail_with_a_parameter_in_the_address_is_smtp_err_invalid() {
    use smtp::capi::*;
    let server = Scripted::start(esmtp_opening(&["SIZE 1000"]));
    let h = smtp_new();
    let host = CString::new("127.0.0.1").unwrap();
    assert_eq!(
        smtp_connect(h, host.as_ptr(), u32::from(server.port)),
        SMTP_OK
    );
    let from = CString::new("a@x.org SIZE=1").unwrap();
    assert_eq!(smtp_mail(h, from.as_ptr(), null(), 0), SMTP_ERR_INVALID);
    assert_eq!(smtp_is_connected(h), 1);
    assert_eq!(smtp_close(h), SMTP_OK);
    smtp_free(h);
    assert_eq!(server.transcript(), "");
}
