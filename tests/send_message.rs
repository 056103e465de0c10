//! send_message: the envelope read from the headers, as smtplib reads it,
//! checked on the wire (scripted server) and end to end (smtp-sink).

mod common;

use std::ffi::CString;

use common::scripted::{esmtp_opening, reply, Scripted, Step};
use common::sink::{as_dumped, SmtpSink};
use smtp::{Client, Kind, Result, Status};

const HELLO: &str = "EHLO client.example\r\n";

fn client(port: u16) -> Client {
    let mut c = common::new_client(Kind::Smtp);
    c.set_local_hostname("client.example").unwrap();
    c.connect("127.0.0.1", port).unwrap();
    c
}

/// A server offering `features` that accepts one message for `n_rcpt`
/// recipients.
fn accepting(features: &[&str], n_rcpt: usize) -> Scripted {
    let mut steps = esmtp_opening(features);
    steps.extend(reply("250 sender ok"));
    for _ in 0..n_rcpt {
        steps.extend(reply("250 recipient ok"));
    }
    steps.extend(reply("354 go ahead"));
    steps.push(Step::Data);
    steps.push(common::scripted::send("250 queued"));
    Scripted::start(steps)
}

/// Sends `msg` with the envelope from its headers; returns the outcome and
/// every byte the client sent.
fn send(server: Scripted, msg: &[u8], mail_options: &[&str]) -> (Result<()>, String) {
    let mut c = client(server.port);
    let result = c.send_message(msg, None, None, mail_options, &[]).map(drop);
    drop(c);
    (result, server.transcript())
}

#[test]
fn the_sender_field_is_preferred_to_from() {
    // smtplib: "from_addr is set to the Sender field if it is present, and
    // otherwise to the From field."
    let msg = b"From: Jo <jo@example.com>\r\nSender: Desk <desk@example.com>\r\n\
                To: ann@example.org\r\n\r\nhi\r\n";
    let (result, wire) = send(accepting(&[], 1), msg, &[]);
    result.unwrap();
    assert_eq!(
        wire,
        format!(
            "{HELLO}MAIL FROM:<desk@example.com>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n{}.\r\n",
            String::from_utf8_lossy(msg)
        )
    );
}

#[test]
fn without_sender_the_first_from_mailbox_is_the_sender() {
    let msg = b"From: \"Doe, Jo\" <jo@example.com>\r\nTo: ann@example.org\r\n\r\nhi\r\n";
    let (result, wire) = send(accepting(&[], 1), msg, &[]);
    result.unwrap();
    assert!(
        wire.starts_with(&format!(
            "{HELLO}MAIL FROM:<jo@example.com>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n"
        )),
        "{wire}"
    );
}

#[test]
fn to_bcc_and_cc_are_the_recipients_and_bcc_is_not_transmitted() {
    // smtplib: "to_addrs combines the values (if any) of the To, Cc, and Bcc
    // fields" (its code reads them in the order To, Bcc, Cc), and
    // "send_message does not transmit any Bcc or Resent-Bcc headers".
    let msg = b"From: jo@example.com\r\nTo: Ann <ann@example.org>, bo@example.org\r\n\
                Cc: cy@example.org\r\nBcc: hidden@example.net,\r\n other@example.net\r\n\
                Subject: s\r\n\r\nhi\r\n";
    let (result, wire) = send(accepting(&[], 5), msg, &[]);
    result.unwrap();
    assert_eq!(
        wire,
        format!(
            "{HELLO}MAIL FROM:<jo@example.com>\r\nRCPT TO:<ann@example.org>\r\n\
             RCPT TO:<bo@example.org>\r\nRCPT TO:<hidden@example.net>\r\n\
             RCPT TO:<other@example.net>\r\nRCPT TO:<cy@example.org>\r\nDATA\r\n\
             From: jo@example.com\r\nTo: Ann <ann@example.org>, bo@example.org\r\n\
             Cc: cy@example.org\r\nSubject: s\r\n\r\nhi\r\n.\r\n"
        )
    );
}

#[test]
fn one_resent_block_gives_the_envelope() {
    // smtplib: "If exactly one set of Resent-* headers appear in the
    // message, the regular headers are ignored and the Resent-* headers are
    // used instead."
    let msg = b"Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nResent-From: fw@example.com\r\n\
                Resent-To: new@example.org\r\nResent-Bcc: quiet@example.org\r\n\
                From: jo@example.com\r\nTo: ann@example.org\r\n\r\nhi\r\n";
    let (result, wire) = send(accepting(&[], 2), msg, &[]);
    result.unwrap();
    assert_eq!(
        wire,
        format!(
            "{HELLO}MAIL FROM:<fw@example.com>\r\nRCPT TO:<new@example.org>\r\n\
             RCPT TO:<quiet@example.org>\r\nDATA\r\n\
             Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nResent-From: fw@example.com\r\n\
             Resent-To: new@example.org\r\nFrom: jo@example.com\r\nTo: ann@example.org\r\n\
             \r\nhi\r\n.\r\n"
        )
    );
}

#[test]
fn two_resent_blocks_are_invalid_and_nothing_follows_ehlo() {
    // smtplib raises ValueError "since there is no way to unambiguously
    // detect the most recent set of Resent- headers".
    let msg = b"Resent-Date: Tue, 2 Jan 2024 00:00:00 +0000\r\nResent-To: b@example.org\r\n\
                Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nResent-To: a@example.org\r\n\
                From: jo@example.com\r\nTo: ann@example.org\r\n\r\nhi\r\n";
    let (result, wire) = send(Scripted::start(esmtp_opening(&[])), msg, &[]);
    let e = result.unwrap_err();
    assert_eq!(e.status, Status::Invalid);
    assert_eq!(
        e.message,
        "message has more than one 'Resent-' header block"
    );
    assert_eq!(wire, HELLO);
}

#[test]
fn non_ascii_addresses_add_smtputf8_and_body_8bitmime_when_offered() {
    // smtplib: "SMTPUTF8 and BODY=8BITMIME are added to mail_options",
    // after the caller's options (and after SIZE=, which sendmail puts first).
    let msg = "From: Jörg <jörg@bücher.example>\r\nTo: ann@example.org\r\n\r\nhi\r\n";
    let (result, wire) = send(
        accepting(&["SMTPUTF8", "8BITMIME"], 1),
        msg.as_bytes(),
        &["MT-PRIORITY=3"],
    );
    result.unwrap();
    assert!(
        wire.starts_with(&format!(
            "{HELLO}MAIL FROM:<jörg@bücher.example> MT-PRIORITY=3 SMTPUTF8 BODY=8BITMIME\r\n\
             RCPT TO:<ann@example.org>\r\n"
        )),
        "{wire}"
    );
}

#[test]
fn non_ascii_addresses_without_smtputf8_are_not_supported_and_nothing_is_sent() {
    // smtplib: "If any of the addresses in from_addr and to_addrs contain
    // non-ASCII characters and the server does not advertise SMTPUTF8
    // support, an SMTPNotSupported error is raised."
    let msg = "From: jo@example.com\r\nTo: jörg@bücher.example\r\n\r\nhi\r\n";
    let (result, wire) = send(
        Scripted::start(esmtp_opening(&["8BITMIME"])),
        msg.as_bytes(),
        &[],
    );
    assert_eq!(result.unwrap_err().status, Status::NotSupported);
    assert_eq!(wire, HELLO);
}

#[test]
fn an_eight_bit_message_gets_body_8bitmime_when_offered() {
    // RFC 6152 §3: "BODY=8BITMIME" declares a body with octets above 127.
    let msg = "From: jo@example.com\r\nTo: ann@example.org\r\nSubject: café\r\n\r\nnaïve\r\n";
    let (result, wire) = send(accepting(&["8BITMIME"], 1), msg.as_bytes(), &[]);
    result.unwrap();
    assert!(
        wire.starts_with(&format!(
            "{HELLO}MAIL FROM:<jo@example.com> BODY=8BITMIME\r\n"
        )),
        "{wire}"
    );
}

#[test]
fn a_body_option_given_by_the_caller_is_not_doubled() {
    // RFC 5321 §4.1.2: parameters are given once.
    let msg = "From: jo@example.com\r\nTo: ann@example.org\r\n\r\nnaïve\r\n";
    let (result, wire) = send(
        accepting(&["8BITMIME"], 1),
        msg.as_bytes(),
        &["BODY=8BITMIME"],
    );
    result.unwrap();
    assert!(
        wire.starts_with(&format!(
            "{HELLO}MAIL FROM:<jo@example.com> BODY=8BITMIME\r\n"
        )),
        "{wire}"
    );
}

#[test]
fn no_recipient_in_the_headers_is_invalid_and_nothing_follows_ehlo() {
    let msg = b"From: jo@example.com\r\nTo: undisclosed-recipients:;\r\n\r\nhi\r\n";
    let (result, wire) = send(Scripted::start(esmtp_opening(&[])), msg, &[]);
    let e = result.unwrap_err();
    assert_eq!(e.status, Status::Invalid);
    assert!(e.message.contains("no recipients"), "{}", e.message);
    assert_eq!(wire, HELLO);
}

#[test]
fn no_sender_in_the_headers_is_invalid_and_nothing_follows_ehlo() {
    let msg = b"To: ann@example.org\r\n\r\nhi\r\n";
    let (result, wire) = send(Scripted::start(esmtp_opening(&[])), msg, &[]);
    let e = result.unwrap_err();
    assert_eq!(e.status, Status::Invalid);
    assert!(e.message.contains("no sender"), "{}", e.message);
    assert_eq!(wire, HELLO);
}

#[test]
fn a_given_envelope_replaces_the_headers_and_bcc_is_still_removed() {
    let server = accepting(&[], 1);
    let msg = b"From: jo@example.com\r\nTo: ann@example.org\r\nBcc: b@example.net\r\n\r\nhi\r\n";
    let mut c = client(server.port);
    c.send_message(
        msg,
        Some("bounce@example.com"),
        Some(&["x@example.org"]),
        &[],
        &[],
    )
    .unwrap();
    drop(c);
    assert_eq!(
        server.transcript(),
        format!(
            "{HELLO}MAIL FROM:<bounce@example.com>\r\nRCPT TO:<x@example.org>\r\nDATA\r\n\
             From: jo@example.com\r\nTo: ann@example.org\r\n\r\nhi\r\n.\r\n"
        )
    );
}

#[test]
fn the_c_function_reads_the_envelope_when_from_and_to_are_null() {
    use smtp::capi::*;
    let server = accepting(&[], 2);
    let msg = b"From: jo@example.com\r\nTo: ann@example.org\r\nBcc: b@example.net\r\n\r\nhi\r\n";
    let h = smtp_new();
    let name = CString::new("client.example").unwrap();
    let host = CString::new("127.0.0.1").unwrap();
    assert_eq!(smtp_set_local_hostname(h, name.as_ptr()), SMTP_OK);
    assert_eq!(smtp_connect(h, host.as_ptr(), server.port.into()), SMTP_OK);
    let status = smtp_send_message(
        h,
        msg.as_ptr(),
        msg.len(),
        std::ptr::null(),
        std::ptr::null(),
        0,
        std::ptr::null(),
        0,
        std::ptr::null(),
        0,
    );
    assert_eq!(status, SMTP_OK);
    smtp_free(h);
    assert_eq!(
        server.transcript(),
        format!(
            "{HELLO}MAIL FROM:<jo@example.com>\r\nRCPT TO:<ann@example.org>\r\n\
             RCPT TO:<b@example.net>\r\nDATA\r\n\
             From: jo@example.com\r\nTo: ann@example.org\r\n\r\nhi\r\n.\r\n"
        )
    );
}

#[test]
fn smtp_sink_receives_everything_but_the_bcc_field() {
    let sink = SmtpSink::start(&[]);
    let msg = b"From: Jo <jo@example.com>\r\nTo: ann@example.org\r\n\
                Bcc: Hidden <hidden@example.net>,\r\n\tother@example.net\r\n\
                Subject: report\r\nMessage-ID: <1@example.com>\r\n\r\n\
                Bcc: this body line stays\r\n.leading dot\r\nend\r\n";
    let mut c = client(sink.port);
    let refused = c.send_message(msg, None, None, &[], &[]).unwrap();
    assert!(refused.is_empty());
    c.quit().unwrap();

    let dump = &sink.dumps(1)[0];
    assert!(dump.mail.contains("jo@example.com"), "{}", dump.mail);
    assert_eq!(dump.rcpts.len(), 3, "{:?}", dump.rcpts);
    assert!(
        dump.rcpts[0].contains("ann@example.org"),
        "{:?}",
        dump.rcpts
    );
    assert!(
        dump.rcpts[1].contains("hidden@example.net"),
        "{:?}",
        dump.rcpts
    );
    assert!(
        dump.rcpts[2].contains("other@example.net"),
        "{:?}",
        dump.rcpts
    );
    // The message as given, less the Bcc field and its continuation line;
    // the body line starting with "Bcc:" is body and stays.
    let expected = b"From: Jo <jo@example.com>\r\nTo: ann@example.org\r\n\
                     Subject: report\r\nMessage-ID: <1@example.com>\r\n\r\n\
                     Bcc: this body line stays\r\n.leading dot\r\nend\r\n";
    assert_eq!(
        String::from_utf8_lossy(&dump.body),
        String::from_utf8_lossy(&as_dumped(expected))
    );
}
