//! Delivery to a real server, Postfix smtp-sink, checked byte for byte in
//! its dumps.

mod common;

use std::time::Duration;

use common::sink::{as_dumped, SmtpSink};
use smtp::{Client, Kind, Status};

fn connect(sink: &SmtpSink, kind: Kind) -> Client {
    let mut c = Client::new(kind);
    c.set_local_hostname("client.example").unwrap();
    c.set_timeout(Duration::from_secs(10)).unwrap();
    c.connect("127.0.0.1", sink.port).unwrap();
    c
}

fn deliver(msg: &[u8]) -> Vec<u8> {
    let sink = SmtpSink::start(&[]);
    let mut c = connect(&sink, Kind::Smtp);
    c.sendmail("from@example.org", &["to@example.org"], msg, &[], &[])
        .unwrap();
    c.quit().unwrap();
    sink.dumps(1).remove(0).body
}

#[test]
fn crlf_message_arrives_unchanged() {
    let msg = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: t\r\n\r\nbody\r\n";
    assert_eq!(deliver(msg), as_dumped(msg));
}

#[test]
fn lines_starting_with_dots_survive_stuffing() {
    // RFC 5321 §4.5.2: the server removes the period the client added.
    let msg = b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmid.dle\r\n.";
    assert_eq!(deliver(msg), as_dumped(msg));
}

#[test]
fn bare_lf_message_arrives_with_line_breaks() {
    let msg = b"Subject: lf\n\nline one\nline two\n";
    assert_eq!(deliver(msg), as_dumped(msg));
}

#[test]
fn empty_body_arrives_as_one_empty_line() {
    // smtplib sends an empty message as one empty line: "\r\n.\r\n".
    assert_eq!(deliver(b""), b"\n");
}

#[test]
fn one_mebibyte_body_arrives_whole() {
    let mut msg = b"Subject: big\r\n\r\n".to_vec();
    let mut i = 0u32;
    while msg.len() < 1 << 20 {
        let line = if i % 7 == 0 {
            format!(".line {i} {}\r\n", "x".repeat(70))
        } else {
            format!("line {i} {}\r\n", "y".repeat(60))
        };
        msg.extend_from_slice(line.as_bytes());
        i += 1;
    }
    assert_eq!(deliver(&msg), as_dumped(&msg));
}

#[test]
fn several_recipients_are_in_the_envelope() {
    let sink = SmtpSink::start(&[]);
    let mut c = connect(&sink, Kind::Smtp);
    let to = ["a@example.org", "Bee <b@example.org>", "c@example.org"];
    let refused = c.sendmail("<>", &to, b"x\r\n", &[], &[]).unwrap();
    assert!(refused.is_empty());
    c.quit().unwrap();
    let dump = sink.dumps(1).remove(0);
    assert_eq!(dump.mail, "<>");
    assert_eq!(
        dump.rcpts,
        ["<a@example.org>", "<b@example.org>", "<c@example.org>"]
    );
    assert_eq!(dump.helo, "client.example");
}

#[test]
fn several_messages_over_one_connection() {
    let sink = SmtpSink::start(&[]);
    let mut c = connect(&sink, Kind::Smtp);
    for i in 0..5 {
        let msg = format!("Subject: {i}\r\n\r\nmessage {i}\r\n");
        c.sendmail(
            "a@example.org",
            &["b@example.org"],
            msg.as_bytes(),
            &[],
            &[],
        )
        .unwrap();
    }
    c.quit().unwrap();
    let mut bodies: Vec<Vec<u8>> = sink.dumps(5).into_iter().map(|d| d.body).collect();
    bodies.sort();
    let want: Vec<Vec<u8>> = (0..5)
        .map(|i| as_dumped(format!("Subject: {i}\r\n\r\nmessage {i}\r\n").as_bytes()))
        .collect();
    assert_eq!(bodies, want);
}

#[test]
fn esmtp_features_of_smtp_sink() {
    let sink = SmtpSink::start(&[]);
    let mut c = connect(&sink, Kind::Smtp);
    c.ehlo_or_helo_if_needed().unwrap();
    assert!(c.does_esmtp());
    for ext in ["pipelining", "8bitmime", "dsn", "enhancedstatuscodes"] {
        assert!(c.has_extn(ext), "{ext}");
    }
}

#[test]
fn rejected_recipient_from_a_real_server() {
    // smtp-sink -r rcpt: every RCPT gets a 4xx reply.
    let sink = SmtpSink::start(&["-r", "rcpt"]);
    let mut c = connect(&sink, Kind::Smtp);
    let e = c
        .sendmail("a@example.org", &["b@example.org"], b"x", &[], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::RecipientsRefused);
    assert_eq!(e.recipients.len(), 1);
    assert!(
        (400..500).contains(&e.recipients[0].code),
        "{:?}",
        e.recipients
    );
    assert!(c.is_connected());
    c.quit().unwrap();
}

#[test]
fn lmtp_gives_one_reply_per_recipient() {
    // RFC 2033 §4.2: one reply for each recipient accepted by RCPT.
    let sink = SmtpSink::start(&["-L"]);
    let mut c = connect(&sink, Kind::Lmtp);
    let refused = c
        .sendmail(
            "a@example.org",
            &["b@example.org", "c@example.org"],
            b"Subject: l\r\n\r\nx\r\n",
            &[],
            &[],
        )
        .unwrap();
    assert!(refused.is_empty());
    let results = c.recipient_results();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r.accepted && r.code == 250));
    // The session is still in step: another command gets its own reply.
    assert_eq!(c.noop().unwrap().code, 250);
    c.quit().unwrap();
    assert_eq!(sink.dumps(1)[0].rcpts.len(), 2);
}
