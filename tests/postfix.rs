//! Delivery through Postfix's smtpd, the production server: what its
//! virtual(8) agent wrote to the maildir is read back and compared with
//! what was sent.

mod common;

use std::time::Duration;

use common::certs::certs;
use common::postfix::{received, sent_part, Postfix, OTHER};
use common::sink::as_dumped;
use smtp::session::{DsnRet, Outgoing, NOTIFY_FAILURE, NOTIFY_SUCCESS};
use smtp::{Client, Kind, Status};

const FROM: &str = "sender@client.test";
const JO: &str = "jo@example.test";

fn connect(pf: &Postfix) -> Client {
    let mut c = common::new_client(Kind::Smtp);
    c.set_local_hostname("client.example").unwrap();
    c.set_timeout(Duration::from_secs(15)).unwrap();
    c.connect("127.0.0.1", pf.port).unwrap();
    c
}

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!("From: {FROM}\r\nTo: {JO}\r\nSubject: {subject}\r\n\r\n{body}").into_bytes()
}

/// What Postfix stores of a message sent as `msg`: LF line endings and a
/// final line break, as smtp-sink dumps it.
fn as_stored(msg: &[u8]) -> Vec<u8> {
    as_dumped(msg)
}

#[test]
fn ehlo_offers_the_extensions_libsmtp_uses() {
    let pf = Postfix::start();
    let mut c = connect(&pf);
    c.ehlo_or_helo_if_needed().unwrap();
    for ext in [
        "pipelining",
        "chunking",
        "size",
        "dsn",
        "8bitmime",
        "enhancedstatuscodes",
        "smtputf8",
        "starttls",
    ] {
        assert!(c.has_extn(ext), "{ext} not offered");
    }
    c.quit().unwrap();
}

#[test]
fn chunking_delivers_the_message_byte_for_byte_with_bdat_last() {
    // RFC 3030 §2: "BDAT <chunk-size> LAST" ends the message.
    let pf = Postfix::start();
    let mut c = connect(&pf);
    let lines = common::record_transcript(&mut c, 1);
    let msg = message("bdat", "line one\r\nline two\r\n");
    let refused = c.sendmail(FROM, &[JO], &msg, &[], &[]).unwrap();
    assert!(refused.is_empty());
    c.quit().unwrap();
    let got = lines.lock().unwrap().join("\n");
    assert!(
        got.contains(&format!("send: 'BDAT {} LAST\\r\\n'", msg.len())),
        "{got}"
    );
    assert!(!got.contains("send: 'DATA"), "{got}");
    let delivered = pf.delivered("jo", 1).remove(0);
    assert_eq!(sent_part(&delivered), as_stored(&msg));
}

#[test]
fn lines_starting_with_dots_go_unstuffed_in_bdat_and_arrive_unchanged() {
    // RFC 3030 §3: with BDAT "there is no need to ... dot-stuff".
    let pf = Postfix::start();
    let mut c = connect(&pf);
    let lines = common::record_transcript(&mut c, 1);
    let msg = message("dots", ".\r\n..\r\n.leading\r\nmid.dle\r\n");
    c.sendmail(FROM, &[JO], &msg, &[], &[]).unwrap();
    c.quit().unwrap();
    let got = lines.lock().unwrap().join("\n");
    assert!(
        got.contains(&format!("send: 'BDAT {} LAST\\r\\n'", msg.len())),
        "the chunk is the message as given, no period added: {got}"
    );
    let delivered = pf.delivered("jo", 1).remove(0);
    assert_eq!(sent_part(&delivered), as_stored(&msg));
}

#[test]
fn twenty_mebibytes_streamed_arrive_whole_in_several_chunks() {
    let pf = Postfix::start();
    let mut c = connect(&pf);
    let lines = common::record_transcript(&mut c, 1);
    let mut msg = message("big", "");
    let mut i = 0u32;
    while msg.len() < 20 << 20 {
        let line = if i % 5 == 0 {
            format!(".line {i} {}\r\n", "x".repeat(70))
        } else {
            format!("line {i} {}\r\n", "y".repeat(60))
        };
        msg.extend_from_slice(line.as_bytes());
        i += 1;
    }
    c.begin(FROM, &[JO], Some(msg.len() as u64), &[], &[])
        .unwrap();
    for piece in msg.chunks(100_003) {
        c.write_body(piece).unwrap();
    }
    assert!(c.end().unwrap().is_empty());
    c.quit().unwrap();
    let bdats = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("send: 'BDAT "))
        .count();
    assert!(bdats > 1, "{bdats} BDAT commands");
    let delivered = pf.delivered("jo", 1).remove(0);
    assert!(sent_part(&delivered) == as_stored(&msg), "the body differs");
}

#[test]
fn without_chunking_data_delivers_the_same_bytes() {
    let pf = Postfix::start();
    let mut c = connect(&pf);
    c.set_chunking(false);
    let lines = common::record_transcript(&mut c, 1);
    let msg = message("data", ".\r\n..\r\n.leading\r\nmid.dle\r\n");
    c.sendmail(FROM, &[JO], &msg, &[], &[]).unwrap();
    c.quit().unwrap();
    let got = lines.lock().unwrap().join("\n");
    assert!(got.contains("send: 'DATA\\r\\n'"), "{got}");
    assert!(!got.contains("BDAT"), "{got}");
    let delivered = pf.delivered("jo", 1).remove(0);
    assert_eq!(sent_part(&delivered), as_stored(&msg));
}

#[test]
fn starttls_with_the_test_ca_delivers_over_tls() {
    let pf = Postfix::start();
    let mut c = connect(&pf);
    c.tls_config().ca_file = Some(certs().ca.clone());
    c.starttls().unwrap();
    assert!(c.is_tls());
    let msg = message("tls", "secret\r\n");
    c.sendmail(FROM, &[JO], &msg, &[], &[]).unwrap();
    c.quit().unwrap();
    let delivered = pf.delivered("jo", 1).remove(0);
    // smtpd_tls_received_header = yes: "(using TLSv1.3 with cipher ...)".
    let rcvd = received(&delivered);
    assert!(rcvd.contains("(using TLSv1."), "{rcvd}");
    assert!(rcvd.contains("with ESMTPS"), "{rcvd}");
    assert_eq!(sent_part(&delivered), as_stored(&msg));
}

#[test]
fn dsn_parameters_are_accepted_and_honoured() {
    // RFC 3461: the success notification carries the ENVID and ORCPT given.
    let pf = Postfix::start();
    let mut c = connect(&pf);
    let dsn = c.dsn();
    dsn.notify = NOTIFY_SUCCESS | NOTIFY_FAILURE;
    dsn.orcpt = true;
    dsn.ret = Some(DsnRet::Hdrs);
    dsn.envid = Some("QQ314159".into());
    let bounces = "bounces@example.test";
    let msg = message("dsn", "notify me\r\n");
    assert!(c
        .sendmail(bounces, &[JO], &msg, &[], &[])
        .unwrap()
        .is_empty());
    c.quit().unwrap();
    let delivered = pf.delivered("jo", 1).remove(0);
    assert_eq!(sent_part(&delivered), as_stored(&msg));
    let report = String::from_utf8_lossy(&pf.delivered(OTHER, 1).remove(0)).into_owned();
    assert!(
        report.contains("Original-Envelope-Id: QQ314159"),
        "{report}"
    );
    assert!(
        report.contains("Original-Recipient: rfc822;jo@example.test"),
        "{report}"
    );
    assert!(report.contains("Action: delivered"), "{report}");
}

#[test]
fn smtputf8_message_to_a_non_ascii_address_is_delivered() {
    let pf = Postfix::start();
    let mut c = connect(&pf);
    let msg = "From: sender@client.test\r\nTo: Jürgen <jürgen@example.test>\r\n\
               Subject: grüße\r\n\r\nÄpfel\r\n"
        .as_bytes();
    assert!(c
        .send_message(msg, None, None, &[], &[])
        .unwrap()
        .is_empty());
    c.quit().unwrap();
    let delivered = pf.delivered("juergen", 1).remove(0);
    assert!(
        String::from_utf8_lossy(&delivered).contains("Delivered-To: jürgen@example.test"),
        "{}",
        String::from_utf8_lossy(&delivered)
    );
    assert_eq!(sent_part(&delivered), as_stored(msg));
}

#[test]
fn a_recipient_outside_the_domain_is_refused_and_the_other_delivered() {
    let pf = Postfix::start();
    let mut c = connect(&pf);
    let outside = "someone@elsewhere.test";
    let msg = message("relay", "one of two\r\n");
    let refused = c.sendmail(FROM, &[outside, JO], &msg, &[], &[]).unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].address, outside);
    assert_eq!(refused[0].code, 554);
    let text = String::from_utf8_lossy(&refused[0].text).into_owned();
    assert!(text.starts_with("5.7.1 "), "{text}");
    assert!(text.contains("Relay access denied"), "{text}");
    let results = c.recipient_results();
    assert_eq!(results.len(), 2);
    assert!(!results[0].accepted && results[1].accepted);
    c.quit().unwrap();
    let delivered = pf.delivered("jo", 1).remove(0);
    assert_eq!(sent_part(&delivered), as_stored(&msg));
}

#[test]
fn a_batch_of_one_hundred_messages_over_one_connection_is_delivered() {
    let pf = Postfix::start();
    let mut c = connect(&pf);
    let msgs: Vec<Vec<u8>> = (0..100)
        .map(|i| message(&format!("batch {i:03}"), &format!("message {i}\r\n")))
        .collect();
    let to = [JO];
    let batch: Vec<Outgoing<'_>> = msgs
        .iter()
        .map(|m| Outgoing {
            from: FROM,
            to: &to,
            msg: m,
        })
        .collect();
    for (i, outcome) in c.sendmail_batch(&batch, &[], &[]).into_iter().enumerate() {
        assert!(outcome.unwrap().is_empty(), "message {i}");
    }
    c.quit().unwrap();
    let mut got: Vec<Vec<u8>> = pf
        .delivered("jo", 100)
        .iter()
        .map(|d| sent_part(d).to_vec())
        .collect();
    got.sort();
    let want: Vec<Vec<u8>> = msgs.iter().map(|m| as_stored(m)).collect();
    assert_eq!(got, want);
}

#[test]
fn a_message_over_the_size_limit_is_refused_at_mail() {
    // RFC 1870 §6.1: a server that cannot take the declared SIZE replies
    // 552 to MAIL; libsmtp declares it whenever SIZE is offered.
    let pf = Postfix::start_with(&[("message_size_limit", "1048576")]);
    let mut c = connect(&pf);
    let lines = common::record_transcript(&mut c, 1);
    let msg = message("too big", &"z".repeat(2 << 20));
    let e = c.sendmail(FROM, &[JO], &msg, &[], &[]).unwrap_err();
    assert_eq!(e.status, Status::SenderRefused, "{e:?}");
    assert_eq!(e.code, Some(552));
    let text = String::from_utf8_lossy(&e.text).into_owned();
    assert_eq!(text, "5.3.4 Message size exceeds fixed limit");
    assert_eq!(e.sender.as_deref(), Some(FROM));
    let got = lines.lock().unwrap().join("\n");
    assert!(got.contains(&format!("SIZE={}", msg.len())), "{got}");
    assert!(!got.contains("BDAT"), "{got}");
    // The session goes on: a small message is delivered.
    let small = message("small", "fits\r\n");
    c.sendmail(FROM, &[JO], &small, &[], &[]).unwrap();
    c.quit().unwrap();
    let delivered = pf.delivered("jo", 1).remove(0);
    assert_eq!(sent_part(&delivered), as_stored(&small));
}
