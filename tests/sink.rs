//! Delivery to a real server, Postfix smtp-sink, checked byte for byte in
//! its dumps.

mod common;

use std::time::Duration;

use common::sink::{as_dumped, dumped_body_sha256, AsDumped, SmtpSink};
use smtp::session::Outgoing;
use smtp::{Client, Kind, Status};

fn connect(sink: &SmtpSink, kind: Kind) -> Client {
    let mut c = common::new_client(kind);
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

// ----- without PIPELINING, large bodies, batches ---------------------------------------

/// The `n`th message of a batch: distinct headers and body.
fn numbered(n: usize) -> Vec<u8> {
    format!("Subject: message {n}\r\nX-N: {n}\r\n\r\nbody of {n}\r\n.dot {n}\r\n").into_bytes()
}

/// Sends `count` numbered messages with `sendmail_batch` over `c` and
/// checks that each arrived at `sink` whole, once.
fn batch_arrives_whole(c: &mut Client, sink: &SmtpSink, count: usize) {
    let msgs: Vec<Vec<u8>> = (0..count).map(numbered).collect();
    let to = ["b@example.org"];
    let batch: Vec<Outgoing<'_>> = msgs
        .iter()
        .map(|m| Outgoing {
            from: "a@example.org",
            to: &to,
            msg: m,
        })
        .collect();
    let outcomes = c.sendmail_batch(&batch, &[], &[]);
    assert_eq!(outcomes.len(), count);
    for (i, o) in outcomes.iter().enumerate() {
        assert!(matches!(o, Ok(r) if r.is_empty()), "message {i}: {o:?}");
    }
    c.quit().unwrap();
    let dumps = sink.dumps(count);
    assert_eq!(dumps.len(), count);
    let mut got: Vec<Vec<u8>> = dumps.into_iter().map(|d| d.body).collect();
    let mut want: Vec<Vec<u8>> = msgs.iter().map(|m| as_dumped(m)).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn without_pipelining_announced_a_message_is_delivered() {
    // smtp-sink -p: "Do not announce support for ESMTP command pipelining";
    // RFC 2920 §3.1: without it, one command at a time.
    let sink = SmtpSink::start(&["-p"]);
    let mut c = connect(&sink, Kind::Smtp);
    c.ehlo_or_helo_if_needed().unwrap();
    assert!(!c.has_extn("pipelining"));
    let msg = b"Subject: one at a time\r\n\r\n.dot\r\nbody\r\n";
    c.sendmail(
        "a@example.org",
        &["b@example.org", "c@example.org"],
        msg,
        &[],
        &[],
    )
    .unwrap();
    c.quit().unwrap();
    let dump = sink.dumps(1).remove(0);
    assert_eq!(dump.rcpts, ["<b@example.org>", "<c@example.org>"]);
    assert_eq!(dump.body, as_dumped(msg));
}

#[test]
fn without_pipelining_announced_a_batch_of_50_arrives_whole() {
    let sink = SmtpSink::start(&["-p"]);
    let mut c = connect(&sink, Kind::Smtp);
    batch_arrives_whole(&mut c, &sink, 50);
}

#[test]
fn a_batch_of_200_over_one_pipelined_connection_arrives_whole() {
    let sink = SmtpSink::start(&[]);
    let mut c = connect(&sink, Kind::Smtp);
    c.ehlo_or_helo_if_needed().unwrap();
    assert!(c.has_extn("pipelining"));
    batch_arrives_whole(&mut c, &sink, 200);
}

/// A body of any length made on the fly: numbered lines of varied length,
/// every 7th starting with ".", every 11th a lone ".", every 5th ending in
/// a bare LF instead of CRLF. Lines run across pieces, CRLF included.
struct Lines {
    n: u64,
    carry: Vec<u8>,
}

impl Lines {
    fn new() -> Lines {
        Lines {
            n: 0,
            carry: Vec::new(),
        }
    }

    /// The next `size` bytes.
    fn piece(&mut self, size: usize) -> Vec<u8> {
        const FILL: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-+ ";
        let mut out = std::mem::take(&mut self.carry);
        while out.len() < size {
            let n = self.n;
            self.n += 1;
            if n % 11 == 0 {
                out.push(b'.');
            } else {
                if n % 7 == 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(n.to_string().as_bytes());
                out.extend_from_slice(&FILL[..(n % FILL.len() as u64) as usize]);
            }
            out.extend_from_slice(if n % 5 == 0 { b"\n" } else { b"\r\n" });
        }
        self.carry = out.split_off(size);
        out
    }
}

#[test]
fn a_100_mebibyte_body_streamed_in_64_kib_pieces_arrives_byte_exact() {
    // RFC 5321 §4.5.2: the client doubles a leading "."; the server takes
    // it off again. The body is made, sent and hashed piece by piece; the
    // dump is hashed as it is read: nothing holds the whole message.
    const PIECE: usize = 64 << 10;
    const PIECES: usize = 1600; // 100 MiB
    let sink = SmtpSink::start(&[]);
    let mut c = connect(&sink, Kind::Smtp);
    // The whole body of DATA is one operation with one deadline (as
    // smtplib's sendall): 100 MiB through an unoptimised build and a sink
    // dumping to disk needs more than 10 s.
    c.set_timeout(Duration::from_secs(120)).unwrap();
    c.begin("a@example.org", &["b@example.org"], None, &[], &[])
        .unwrap();
    let mut lines = Lines::new();
    let mut expected = AsDumped::new();
    let mut hash = openssl::sha::Sha256::new();
    let mut out = Vec::with_capacity(PIECE + 1);
    let mut len = 0u64;
    for _ in 0..PIECES {
        let piece = lines.piece(PIECE);
        c.write_body(&piece).unwrap();
        out.clear();
        expected.feed(&piece, &mut out);
        hash.update(&out);
        len += out.len() as u64;
    }
    out.clear();
    expected.finish(&mut out);
    hash.update(&out);
    len += out.len() as u64;
    let refused = c.end().unwrap();
    assert!(refused.is_empty());
    // smtp-sink handles one command after another: once QUIT is answered
    // the dump of the transaction before it is complete.
    c.quit().unwrap();
    let files = sink.dump_files(1);
    assert_eq!(files.len(), 1);
    let (got, got_len) = dumped_body_sha256(&files[0]);
    assert_eq!(got_len, len);
    assert!(got == hash.finish(), "the dumped body differs");
}

#[test]
fn the_streaming_as_dumped_equals_as_dumped() {
    // The 100 MiB test relies on it; cut at every place, CRLF included.
    let msg = b".a\r\nb\rc\n\r\n..\r\r\nend\r";
    for cut in 0..=msg.len() {
        let mut s = AsDumped::new();
        let mut out = Vec::new();
        s.feed(&msg[..cut], &mut out);
        s.feed(&msg[cut..], &mut out);
        s.finish(&mut out);
        assert_eq!(out, as_dumped(msg), "cut at {cut}");
    }
    for m in [&b""[..], b"x", b"x\n", b"\r"] {
        let mut s = AsDumped::new();
        let mut out = Vec::new();
        s.feed(m, &mut out);
        s.finish(&mut out);
        assert_eq!(out, as_dumped(m), "{m:?}");
    }
}
