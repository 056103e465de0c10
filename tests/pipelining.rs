//! PIPELINING (RFC 2920), CHUNKING (RFC 3030), DSN (RFC 3461), enhanced
//! status codes (RFC 2034/3463), streaming bodies and LMTP (RFC 2033),
//! byte for byte against the scripted server.

mod common;

use std::time::Duration;

use common::scripted::{accepted_message, esmtp_opening, reply, send, Scripted, Step};
use smtp::session::{DsnRet, Outgoing, NOTIFY_FAILURE, NOTIFY_SUCCESS};
use smtp::{Client, Kind, Status};

fn client(kind: Kind, port: u16) -> Client {
    let mut c = common::new_client(kind);
    c.set_local_hostname("client.example").unwrap();
    c.set_timeout(Duration::from_secs(5)).unwrap();
    c.connect("127.0.0.1", port).unwrap();
    c
}

fn script(parts: Vec<Vec<Step>>) -> Vec<Step> {
    parts.into_iter().flatten().collect()
}

fn replies(lines: &[&str]) -> Vec<Step> {
    lines.iter().map(|l| send(l)).collect()
}

#[test]
fn envelope_goes_in_one_burst_and_every_reply_is_read() {
    // RFC 2920 §3.1: "the client SMTP may send [MAIL, RCPT, DATA] without
    // waiting for a response" and "MUST check ALL statuses".
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING", "SIZE 1000"]),
        vec![Step::Burst(4)],
        replies(&["250 2.1.0 ok", "250 2.1.5 ok", "250 2.1.5 ok", "354 go"]),
        vec![Step::Data, send("250 2.0.0 queued")],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    c.sendmail("a@x", &["b@y", "c@y"], b"hi\r\n", &[], &[])
        .unwrap();
    drop(c);
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\nMAIL FROM:<a@x> SIZE=4\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\nhi\r\n.\r\n"
    );
}

#[test]
fn refused_rcpt_inside_a_pipeline_is_reported_and_the_rest_delivered() {
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(4)],
        replies(&["250 ok", "550 5.1.1 unknown user", "250 ok", "354 go"]),
        vec![Step::Data, send("250 ok")],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let refused = c
        .sendmail("a@x", &["nobody@y", "b@y"], b"x", &[], &[])
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        (refused[0].address.as_str(), refused[0].code),
        ("nobody@y", 550)
    );
    assert_eq!(refused[0].enhanced_code(), Some((5, 1, 1)));
    assert!(!server.transcript().contains("<not pipelined>"));
}

#[test]
fn data_refused_after_pipelined_rcpts_is_data_error_and_rset() {
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "554 5.5.1 no valid recipients"]),
        reply("250 reset"),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let e = c.sendmail("a@x", &["b@y"], b"x", &[], &[]).unwrap_err();
    assert_eq!((e.status, e.code), (Status::Data, Some(554)));
    drop(c);
    assert!(server.transcript().ends_with("DATA\r\nRSET\r\n"));
}

#[test]
fn all_rcpts_refused_but_data_accepted_ends_the_empty_data_then_rsets() {
    // A server that answers 354 although no recipient was accepted still
    // expects data: the client ends it at once, sending no message text.
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "550 no", "354 go"]),
        reply("554 no valid recipients"),
        reply("250 reset"),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let e = c
        .sendmail("a@x", &["b@y"], b"secret body", &[], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::RecipientsRefused);
    assert!(c.is_connected());
    drop(c);
    let t = server.transcript();
    assert!(t.ends_with("DATA\r\n.\r\nRSET\r\n"), "{t}");
    assert!(!t.contains("secret"));
}

#[test]
fn sender_refused_inside_a_pipeline() {
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        replies(&["553 bad sender", "503 need MAIL", "503 need RCPT"]),
        reply("250 reset"),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let e = c.sendmail("a@x", &["b@y"], b"x", &[], &[]).unwrap_err();
    assert_eq!((e.status, e.code), (Status::SenderRefused, Some(553)));
    assert_eq!(e.sender.as_deref(), Some("a@x"));
    drop(c);
    assert!(server.transcript().ends_with("DATA\r\nRSET\r\n"));
}

#[test]
fn more_replies_than_commands_closes_the_connection() {
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        vec![Step::Send(
            b"250 ok\r\n250 ok\r\n354 go\r\n250 surprise\r\n".to_vec(),
        )],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let e = c.sendmail("a@x", &["b@y"], b"x", &[], &[]).unwrap_err();
    assert_eq!(e.status, Status::ServerDisconnected);
    assert!(!c.is_connected());
    drop(c);
    assert!(
        server.transcript().ends_with("DATA\r\n"),
        "no body after a desync"
    );
}

#[test]
fn pipelining_switched_off_waits_for_each_reply() {
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![
            Step::Line,
            Step::Quiet(Duration::from_millis(300)),
            send("250 ok"),
        ],
        vec![
            Step::Line,
            Step::Quiet(Duration::from_millis(300)),
            send("250 ok"),
        ],
        reply("354 go"),
        vec![Step::Data, send("250 ok")],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    c.set_pipelining(false);
    c.sendmail("a@x", &["b@y"], b"x", &[], &[]).unwrap();
    drop(c);
    assert!(!server.transcript().contains("<not waiting>"));
}

#[test]
fn a_batch_sends_each_end_of_data_with_the_next_envelope() {
    let mut steps = script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data],
    ]);
    for _ in 0..2 {
        // The next envelope arrives before the reply to the previous ".".
        steps.extend(script(vec![
            vec![Step::Burst(3)],
            replies(&["250 queued", "250 ok", "250 ok", "354 go"]),
            vec![Step::Data],
        ]));
    }
    steps.push(send("250 queued"));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y"];
    let msgs: Vec<Outgoing> = ["one", "two", "three"]
        .iter()
        .map(|m| Outgoing {
            from: "a@x",
            to: &to,
            msg: m.as_bytes(),
        })
        .collect();
    let outcomes = c.sendmail_batch(&msgs, &[], &[]);
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    drop(c);
    let t = server.transcript();
    assert!(!t.contains("<not pipelined>"), "{t}");
    assert!(
        t.contains("one\r\n.\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\ntwo\r\n.\r\n"),
        "{t}"
    );
}

#[test]
fn a_failed_message_in_a_batch_does_not_stop_the_others() {
    let mut steps = script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data],
        vec![Step::Burst(3)],
        // The first message is refused at its end; the second goes through.
        replies(&["552 5.3.4 too big", "250 ok", "250 ok", "354 go"]),
        vec![Step::Data, send("250 queued")],
    ]);
    steps.push(Step::Sleep(Duration::from_millis(10)));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y"];
    let msgs = [
        Outgoing {
            from: "a@x",
            to: &to,
            msg: b"big",
        },
        Outgoing {
            from: "a@x",
            to: &to,
            msg: b"small",
        },
    ];
    let outcomes = c.sendmail_batch(&msgs, &[], &[]);
    let e = outcomes[0].as_ref().unwrap_err();
    assert_eq!((e.status, e.code), (Status::Data, Some(552)));
    assert!(outcomes[1].is_ok());
    drop(c);
    // No RSET between: the second envelope was already on its way.
    assert!(!server.transcript().contains("RSET"));
}

#[test]
fn chunking_sends_bdat_last_without_dot_stuffing() {
    // RFC 3030 §2: "BDAT <chunk-size> [LAST]" followed by exactly that many
    // octets; no dot-stuffing and no terminating ".".
    let body = b".hidden\r\nline\n";
    let wire = b".hidden\r\nline\r\n";
    let server = Scripted::start(script(vec![
        esmtp_opening(&["CHUNKING"]),
        reply("250 ok"),
        reply("250 ok"),
        vec![
            Step::Line,
            Step::Bytes(wire.len()),
            send("250 2.0.0 queued"),
        ],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    c.sendmail("a@x", &["b@y"], body, &[], &[]).unwrap();
    drop(c);
    assert_eq!(
        server.transcript(),
        format!(
            "EHLO client.example\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT {} LAST\r\n.hidden\r\nline\r\n",
            wire.len()
        )
    );
}

#[test]
fn chunking_refused_at_the_end_is_data_error() {
    let server = Scripted::start(script(vec![
        esmtp_opening(&["CHUNKING"]),
        reply("250 ok"),
        reply("250 ok"),
        vec![Step::Line, Step::Bytes(3), send("554 5.6.0 rejected")],
        reply("250 reset"),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let e = c.sendmail("a@x", &["b@y"], b"x", &[], &[]).unwrap_err();
    assert_eq!((e.status, e.code), (Status::Data, Some(554)));
    assert_eq!(e.enhanced_code(), Some((5, 6, 0)));
}

#[test]
fn binarymime_needs_chunking_and_binarymime() {
    let server = Scripted::start(esmtp_opening(&["CHUNKING", "8BITMIME"]));
    let mut c = client(Kind::Smtp, server.port);
    let e = c
        .sendmail("a@x", &["b@y"], b"\x00\x01", &["BODY=BINARYMIME"], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::NotSupported);
    drop(c);
    assert_eq!(server.transcript(), "EHLO client.example\r\n");
}

#[test]
fn binarymime_sends_bytes_as_they_are() {
    let body = b"a\nb\r\x00.";
    let server = Scripted::start(script(vec![
        esmtp_opening(&["CHUNKING", "BINARYMIME"]),
        reply("250 ok"),
        reply("250 ok"),
        vec![Step::Line, Step::Bytes(body.len()), send("250 ok")],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    c.sendmail("a@x", &["b@y"], body, &["BODY=BINARYMIME"], &[])
        .unwrap();
    drop(c);
    let got = server.finish();
    assert!(
        got.ends_with(b"BDAT 6 LAST\r\na\nb\r\x00."),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(String::from_utf8_lossy(&got).contains("MAIL FROM:<a@x> BODY=BINARYMIME\r\n"));
}

#[test]
fn dsn_parameters_are_sent_when_offered() {
    let server = Scripted::start(script(vec![esmtp_opening(&["DSN"]), accepted_message()]));
    let mut c = client(Kind::Smtp, server.port);
    c.dsn().ret = Some(DsnRet::Hdrs);
    c.dsn().envid = Some("QQ314159".into());
    c.dsn().notify = NOTIFY_SUCCESS | NOTIFY_FAILURE;
    c.dsn().orcpt = true;
    c.sendmail("a@x", &["b+1@y"], b"x", &[], &[]).unwrap();
    drop(c);
    assert!(server.transcript().contains(
        "MAIL FROM:<a@x> RET=HDRS ENVID=QQ314159\r\nRCPT TO:<b+1@y> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2B1@y\r\n"
    ));
}

#[test]
fn dsn_without_the_extension_is_not_supported_and_nothing_is_sent() {
    let server = Scripted::start(esmtp_opening(&["8BITMIME"]));
    let mut c = client(Kind::Smtp, server.port);
    c.dsn().notify = NOTIFY_FAILURE;
    let e = c.sendmail("a@x", &["b@y"], b"x", &[], &[]).unwrap_err();
    assert_eq!(e.status, Status::NotSupported);
    drop(c);
    assert_eq!(server.transcript(), "EHLO client.example\r\n");
}

#[test]
fn enhanced_codes_of_last_reply_and_errors() {
    let server = Scripted::start(script(vec![
        esmtp_opening(&["ENHANCEDSTATUSCODES"]),
        reply("550 5.7.1 relaying denied"),
        reply("250 2.0.0 reset"),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let e = c.sendmail("a@x", &["b@y"], b"x", &[], &[]).unwrap_err();
    assert_eq!(e.enhanced_code(), Some((5, 7, 1)));
    assert_eq!(c.last_reply().unwrap().enhanced_code(), Some((2, 0, 0)));
}

#[test]
fn streamed_body_split_anywhere_is_encoded_as_a_whole() {
    let body: &[u8] = b"a\r\n.b\r\n..c\rd\n.";
    let want = b"a\r\n..b\r\n...c\r\nd\r\n..\r\n.\r\n";
    for split in 0..=body.len() {
        let server = Scripted::start(script(vec![esmtp_opening(&[]), accepted_message()]));
        let mut c = client(Kind::Smtp, server.port);
        c.begin("a@x", &["b@y"], None, &[], &[]).unwrap();
        c.write_body(&body[..split]).unwrap();
        c.write_body(&body[split..]).unwrap();
        c.end().unwrap();
        drop(c);
        let got = server.finish();
        assert!(
            got.ends_with(want),
            "split {split}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

#[test]
fn write_without_begin_is_an_error() {
    let mut c = common::new_client(Kind::Smtp);
    assert_eq!(c.write_body(b"x").unwrap_err().status, Status::Exception);
    assert_eq!(c.end().unwrap_err().status, Status::Exception);
}

#[test]
fn a_failing_body_reader_drops_the_connection_instead_of_truncating() {
    struct Failing(u8);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0 += 1;
            if self.0 > 1 {
                return Err(std::io::Error::other("disk gone"));
            }
            buf[..5].copy_from_slice(b"part\n");
            Ok(5)
        }
    }
    let server = Scripted::start(script(vec![
        esmtp_opening(&[]),
        reply("250 ok"),
        reply("250 ok"),
        reply("354 go"),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let e = c
        .sendmail_reader("a@x", &["b@y"], None, &mut Failing(0), &[], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::Io);
    assert!(!c.is_connected());
    let t = server.transcript();
    assert!(
        !t.contains("\r\n.\r\n"),
        "the data must never be ended: {t}"
    );
}

#[test]
fn lmtp_mixed_per_recipient_replies() {
    // RFC 2033 §4.2: one reply per successful RCPT, in RCPT order.
    let server = Scripted::start(script(vec![
        vec![send("220 lmtp.example LMTP")],
        vec![
            Step::Line,
            send("250-lmtp.example"),
            send("250 ENHANCEDSTATUSCODES"),
        ],
        reply("250 ok"),
        reply("250 ok"),
        reply("550 5.1.1 unknown"),
        reply("250 ok"),
        reply("354 go"),
        vec![
            Step::Data,
            send("250 2.0.0 delivered to b"),
            send("452 4.2.2 mailbox full"),
        ],
    ]));
    let mut c = client(Kind::Lmtp, server.port);
    let refused = c
        .sendmail("a@x", &["b@y", "nobody@y", "c@y"], b"x", &[], &[])
        .unwrap();
    let got: Vec<_> = refused
        .iter()
        .map(|r| (r.address.as_str(), r.code))
        .collect();
    assert_eq!(got, vec![("nobody@y", 550), ("c@y", 452)]);
    let all = c.recipient_results();
    assert!(all[0].accepted && all[0].enhanced_code() == Some((2, 0, 0)));
    assert_eq!(all[2].enhanced_code(), Some((4, 2, 2)));
    drop(c);
    assert!(server.transcript().starts_with("LHLO client.example\r\n"));
}

#[test]
fn lmtp_all_failed_after_data_is_data_error_with_details() {
    let server = Scripted::start(script(vec![
        vec![send("220 lmtp.example LMTP")],
        reply("250 lmtp.example"),
        reply("250 ok"),
        reply("250 ok"),
        reply("250 ok"),
        reply("354 go"),
        vec![Step::Data, send("452 full"), send("550 gone")],
        reply("250 reset"),
    ]));
    let mut c = client(Kind::Lmtp, server.port);
    let e = c
        .sendmail("a@x", &["b@y", "c@y"], b"x", &[], &[])
        .unwrap_err();
    assert_eq!((e.status, e.code), (Status::Data, Some(550)));
    assert_eq!(e.recipients.len(), 2);
}

#[test]
fn too_few_lmtp_replies_is_server_disconnected() {
    let server = Scripted::start(script(vec![
        vec![send("220 lmtp.example LMTP")],
        reply("250 lmtp.example"),
        reply("250 ok"),
        reply("250 ok"),
        reply("250 ok"),
        reply("354 go"),
        vec![Step::Data, send("250 delivered"), Step::Close],
    ]));
    let mut c = client(Kind::Lmtp, server.port);
    let e = c
        .sendmail("a@x", &["b@y", "c@y"], b"x", &[], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::ServerDisconnected);
    assert!(!c.is_connected());
}

fn batch_of<'a>(to: &'a [&'a str], bodies: &[&'a str]) -> Vec<Outgoing<'a>> {
    bodies
        .iter()
        .map(|m| Outgoing {
            from: "a@x",
            to,
            msg: m.as_bytes(),
        })
        .collect()
}

const ENVELOPE: &str = "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n";
const AFTER_DATA_REFUSED: &str = "503 Bad sequence of commands - pipelined after end of DATA";

#[test]
fn an_envelope_refused_for_following_the_end_of_data_is_sent_again() {
    // RFC 2920 §3.1 allows MAIL right after the end of data, but Haraka
    // answers each command that arrived before its reply to the "." with
    // 503. That verdict is on the pipelining, not on the message: the
    // envelope goes again once the reply is in, and from then on each end
    // of data waits for its reply (the envelope itself stays pipelined).
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data, Step::Burst(3)],
        replies(&[
            "250 queued one",
            AFTER_DATA_REFUSED,
            AFTER_DATA_REFUSED,
            AFTER_DATA_REFUSED,
        ]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data, Step::Quiet(Duration::from_millis(300))],
        replies(&["250 queued two"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data, Step::Quiet(Duration::from_millis(300))],
        replies(&["250 queued three"]),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two", "three"]), &[], &[]);
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert_eq!(c.last_reply().unwrap().text(), b"queued three");
    drop(c);
    assert_eq!(
        server.transcript(),
        format!(
            "EHLO client.example\r\n{ENVELOPE}one\r\n.\r\n{ENVELOPE}{ENVELOPE}two\r\n.\r\n\
             {ENVELOPE}three\r\n.\r\n"
        )
    );
}

#[test]
fn after_the_envelope_is_sent_again_every_503_is_counted_and_quit_follows_cleanly() {
    // Haraka answers each complete command that came before its reply to
    // the end of data with 503: with two recipients, four of them. All are
    // read as the replies to the commands they answer, so nothing is left
    // over to be taken for an unsolicited reply before the QUIT at the end.
    let envelope = "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n";
    let accept = ["250 ok", "250 ok", "250 ok", "354 go"];
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(4)],
        replies(&accept),
        vec![Step::Data, Step::Burst(4)],
        replies(&[
            "250 queued one",
            AFTER_DATA_REFUSED,
            AFTER_DATA_REFUSED,
            AFTER_DATA_REFUSED,
            AFTER_DATA_REFUSED,
        ]),
        vec![Step::Burst(4)],
        replies(&accept),
        vec![Step::Data, Step::Quiet(Duration::from_millis(300))],
        replies(&["250 queued two"]),
        vec![Step::Burst(4)],
        replies(&accept),
        vec![Step::Data, Step::Quiet(Duration::from_millis(300))],
        replies(&["250 queued three"]),
        reply("221 bye"),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y", "c@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two", "three"]), &[], &[]);
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.as_ref().unwrap().is_empty()));
    assert_eq!(c.batch_attempted(), 3);
    assert_eq!(c.recipient_results().len(), 2);
    assert_eq!(c.quit().unwrap().code, 221);
    assert_eq!(
        server.transcript(),
        format!(
            "EHLO client.example\r\n{envelope}one\r\n.\r\n{envelope}{envelope}two\r\n.\r\n\
             {envelope}three\r\n.\r\nQUIT\r\n"
        )
    );
}

#[test]
fn an_envelope_refused_again_without_pipelining_is_the_servers_verdict() {
    // Sent once more, and only once: a second refusal is the real one.
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data, Step::Burst(3)],
        replies(&["250 queued", "503 5.5.1 no", "503 5.5.1 no", "503 5.5.1 no"]),
        vec![Step::Burst(3)],
        replies(&["503 5.5.1 still no", "503 5.5.1 no", "503 5.5.1 no"]),
        reply("250 reset"),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two"]), &[], &[]);
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    let e = outcomes[1].as_ref().unwrap_err();
    assert_eq!((e.status, e.code), (Status::SenderRefused, Some(503)));
    assert_eq!(e.text, b"5.5.1 still no");
    drop(c);
    assert_eq!(
        server.transcript(),
        format!("EHLO client.example\r\n{ENVELOPE}one\r\n.\r\n{ENVELOPE}{ENVELOPE}RSET\r\n")
    );
}

// ---- a session that ends inside a batch -----------------------------------
//
// DESIGN.md: "A message is never reported refused or failed by the client's
// own doing (pipelining a server rejects, a session limit): the caller
// learns the server's real verdict or 'not attempted'."

/// The statuses of a batch's outcomes, with the reply codes.
fn verdicts(outcomes: &[smtp::Result<Vec<smtp::RecipientResult>>]) -> Vec<(Status, Option<i32>)> {
    outcomes
        .iter()
        .map(|o| match o {
            Ok(_) => (Status::Ok, Some(250)),
            Err(e) => (e.status, e.code),
        })
        .collect()
}

#[test]
fn a_per_session_message_limit_leaves_the_rest_not_attempted() {
    // OpenSMTPD's "smtp limit max-mails 100": the MAIL after the hundredth
    // message is answered 452 4.5.3. No recipient is named at MAIL, so the
    // count is the session's: the batch ends there, QUIT goes, and the rest
    // carry that reply as "not attempted".
    let limit = "452 4.5.3 Too many recipients: Too many messages sent";
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING", "ENHANCEDSTATUSCODES"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data, Step::Burst(3)],
        replies(&[
            "250 2.0.0 queued one",
            limit,
            "503 5.5.1 Invalid command: Command not allowed at this point.",
            "503 5.5.1 Invalid command: Command not allowed at this point.",
        ]),
        reply("250 2.0.0 reset"),
        reply("221 2.0.0 bye"),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two", "three"]), &[], &[]);
    assert_eq!(
        verdicts(&outcomes),
        [
            (Status::Ok, Some(250)),
            (Status::NotAttempted, Some(452)),
            (Status::NotAttempted, Some(452)),
        ]
    );
    let e = outcomes[2].as_ref().unwrap_err();
    assert_eq!(e.text, &limit.as_bytes()[4..]);
    assert_eq!(c.batch_attempted(), 1);
    assert!(!c.is_connected());
    assert!(c.recipient_results().is_empty());
    assert_eq!(
        server.transcript(),
        format!("EHLO client.example\r\n{ENVELOPE}one\r\n.\r\n{ENVELOPE}RSET\r\nQUIT\r\n")
    );
}

#[test]
fn a_421_to_mail_ends_the_batch_with_the_rest_not_attempted() {
    // RFC 5321 §3.8: 421 means the server is closing the channel.
    let server = Scripted::start(script(vec![
        esmtp_opening(&[]),
        accepted_message(),
        reply("421 4.7.0 too many messages from you, closing"),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two", "three"]), &[], &[]);
    assert_eq!(
        verdicts(&outcomes),
        [
            (Status::Ok, Some(250)),
            (Status::NotAttempted, Some(421)),
            (Status::NotAttempted, Some(421)),
        ]
    );
    assert_eq!(c.batch_attempted(), 1);
    assert!(!c.is_connected());
    assert!(outcomes[1]
        .as_ref()
        .unwrap_err()
        .status
        .is(Status::ServerDisconnected));
    assert!(server
        .transcript()
        .ends_with("one\r\n.\r\nMAIL FROM:<a@x>\r\n"));
}

#[test]
fn a_421_to_the_end_of_data_is_not_a_verdict_on_that_message() {
    // The server closes instead of judging the message: it was not
    // delivered, nor refused; it belongs on the next connection.
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data, Step::Burst(3)],
        replies(&["421 4.3.2 shutting down"]),
        vec![Step::Close],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two"]), &[], &[]);
    assert_eq!(
        verdicts(&outcomes),
        [
            (Status::NotAttempted, Some(421)),
            (Status::NotAttempted, Some(421)),
        ]
    );
    assert_eq!(c.batch_attempted(), 0);
}

#[test]
fn a_421_inside_a_pipeline_after_the_end_of_data_ends_the_batch_and_writes_nothing_more() {
    // RFC 5321 §3.8: after a 421 the server closes the channel, so neither
    // RSET nor QUIT may follow; the first message was judged, the rest
    // were not.
    for answers in [
        ["250 queued one", "421 4.3.2 closing", "", ""],
        ["250 queued one", "250 ok", "421 4.3.2 closing", ""],
    ] {
        let sent: Vec<&str> = answers.into_iter().filter(|a| !a.is_empty()).collect();
        let server = Scripted::start(script(vec![
            esmtp_opening(&["PIPELINING"]),
            vec![Step::Burst(3)],
            replies(&["250 ok", "250 ok", "354 go"]),
            vec![Step::Data, Step::Burst(3)],
            replies(&sent),
            vec![Step::Quiet(Duration::from_millis(300))],
        ]));
        let mut c = client(Kind::Smtp, server.port);
        let to = ["b@y"];
        let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two", "three"]), &[], &[]);
        assert_eq!(
            verdicts(&outcomes),
            [
                (Status::Ok, Some(250)),
                (Status::NotAttempted, Some(421)),
                (Status::NotAttempted, Some(421)),
            ],
            "{sent:?}"
        );
        assert_eq!(outcomes[2].as_ref().unwrap_err().text, b"4.3.2 closing");
        assert_eq!(c.batch_attempted(), 1);
        assert!(!c.is_connected());
        assert!(c.recipient_results().is_empty());
        drop(c);
        assert_eq!(
            server.transcript(),
            format!("EHLO client.example\r\n{ENVELOPE}one\r\n.\r\n{ENVELOPE}"),
            "nothing after the 421 ({sent:?})"
        );
    }
}

#[test]
fn a_refused_address_after_a_deferred_end_of_data_refuses_that_message_alone() {
    // Addresses are checked before anything of their message is sent; the
    // previous message's end of data, waiting for the next envelope, still
    // goes and is answered.
    // The bad one in the middle (the third envelope carries the first end
    // of data), or last (the first end of data goes alone).
    for (bad, rest) in [(1, &["three"][..]), (1, &[][..])] {
        let mut parts = vec![
            esmtp_opening(&["PIPELINING"]),
            vec![Step::Burst(3)],
            replies(&["250 ok", "250 ok", "354 go"]),
        ];
        if rest.is_empty() {
            parts.push(vec![Step::Data, send("250 queued")]);
        } else {
            parts.push(vec![Step::Data, Step::Burst(3)]);
            parts.push(replies(&["250 queued", "250 ok", "250 ok", "354 go"]));
            parts.push(vec![Step::Data, send("250 queued")]);
        }
        let server = Scripted::start(script(parts));
        let mut c = client(Kind::Smtp, server.port);
        let good = ["b@y"];
        let evil = ["b@y>\r\nRSET"];
        let bodies = [&["one", "two"][..], rest].concat();
        let mut batch = batch_of(&good, &bodies);
        batch[bad].to = &evil;
        let outcomes = c.sendmail_batch(&batch, &[], &[]);
        let mut want = vec![(Status::Ok, Some(250)); batch.len()];
        want[bad] = (Status::Invalid, None);
        assert_eq!(verdicts(&outcomes), want, "bad message {bad}");
        assert_eq!(c.batch_attempted(), batch.len());
        assert!(c.is_connected());
        drop(c);
        let tail = if rest.is_empty() {
            String::new()
        } else {
            format!("{ENVELOPE}three\r\n.\r\n")
        };
        assert_eq!(
            server.transcript(),
            format!("EHLO client.example\r\n{ENVELOPE}one\r\n.\r\n{tail}"),
            "bad message {bad}"
        );
    }
}

#[test]
fn a_connection_lost_between_messages_leaves_the_rest_not_attempted() {
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data, Step::Burst(3)],
        replies(&["250 queued one"]),
        vec![Step::Close],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two", "three"]), &[], &[]);
    assert_eq!(
        verdicts(&outcomes),
        [
            (Status::Ok, Some(250)),
            (Status::NotAttempted, None),
            (Status::NotAttempted, None),
        ]
    );
    assert_eq!(c.batch_attempted(), 1);
    let e = outcomes[1].as_ref().unwrap_err();
    assert!(e.message.contains("connection was lost"), "{e}");
}

#[test]
fn a_refusal_followed_by_a_lost_connection_is_still_that_messages_verdict() {
    // The second message's sender is refused; the connection is then lost
    // (here at the RSET that follows). The refusal is the server's verdict
    // on that message; only the third was never attempted, and the 550 is
    // not what ended the session.
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING", "ENHANCEDSTATUSCODES"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data, Step::Burst(3)],
        replies(&[
            "250 2.0.0 queued one",
            "550 5.1.8 bad sender",
            "503 5.5.1 no",
            "503 5.5.1 no",
        ]),
        vec![Step::Line, Step::Close],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two", "three"]), &[], &[]);
    assert_eq!(
        verdicts(&outcomes),
        [
            (Status::Ok, Some(250)),
            (Status::SenderRefused, Some(550)),
            (Status::NotAttempted, None),
        ]
    );
    assert_eq!(c.batch_attempted(), 2);
    assert!(!c.is_connected());
    assert_eq!(
        server.transcript(),
        format!("EHLO client.example\r\n{ENVELOPE}one\r\n.\r\n{ENVELOPE}RSET\r\n")
    );
}

#[test]
fn another_4xx_to_mail_is_that_messages_verdict_and_the_batch_goes_on() {
    // A greylisted sender is about that message, not the session.
    let server = Scripted::start(script(vec![
        esmtp_opening(&["ENHANCEDSTATUSCODES"]),
        reply("451 4.7.1 greylisted, try again later"),
        reply("250 2.0.0 reset"),
        accepted_message(),
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let to = ["b@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two"]), &[], &[]);
    assert_eq!(
        verdicts(&outcomes),
        [(Status::SenderRefused, Some(451)), (Status::Ok, Some(250))]
    );
    assert_eq!(c.batch_attempted(), 2);
    assert!(c.is_connected());
}

/// The client's transcript (debug level 1), "send:" lines only.
fn sent_lines(c: &mut Client) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    c.debug().set_level(1);
    c.debug().set_sink(Some(Box::new(move |l: &str| {
        if l.starts_with("send: ") {
            sink.lock().unwrap().push(l.to_string());
        }
    })));
    lines
}

#[test]
fn the_transcript_shows_bdat_and_its_bytes_in_wire_order() {
    // RFC 3030 §2: "BDAT <chunk-size> LAST", then the chunk: the size line
    // goes first on the wire, and so in the transcript.
    let server = Scripted::start(script(vec![
        esmtp_opening(&["CHUNKING", "PIPELINING"]),
        vec![Step::Burst(2)],
        replies(&["250 ok", "250 ok"]),
        vec![Step::Line, Step::Bytes(5)],
        vec![Step::Burst(2)],
        replies(&["250 queued", "250 ok", "250 ok"]),
        vec![Step::Line, Step::Bytes(5), send("250 queued")],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let lines = sent_lines(&mut c);
    let to = ["b@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one\n", "two\n"]), &[], &[]);
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    let envelope = [
        "send: 'MAIL FROM:<a@x>\\r\\n'",
        "send: 'RCPT TO:<b@y>\\r\\n'",
    ];
    let chunk = ["send: 'BDAT 5 LAST\\r\\n'", "send: <message data, 5 bytes>"];
    let ehlo = ["send: 'EHLO client.example\\r\\n'"];
    let want: Vec<&str> = [&ehlo[..], &envelope, &chunk, &envelope, &chunk].concat();
    assert_eq!(*lines.lock().unwrap(), want);
}

#[test]
fn the_transcript_shows_data_after_its_354_and_before_the_next_envelope() {
    let server = Scripted::start(script(vec![
        esmtp_opening(&["PIPELINING"]),
        vec![Step::Burst(3)],
        replies(&["250 ok", "250 ok", "354 go"]),
        vec![Step::Data, Step::Burst(3)],
        replies(&["250 queued", "250 ok", "250 ok", "354 go"]),
        vec![Step::Data, send("250 queued")],
    ]));
    let mut c = client(Kind::Smtp, server.port);
    let lines = sent_lines(&mut c);
    let to = ["b@y"];
    let outcomes = c.sendmail_batch(&batch_of(&to, &["one", "two"]), &[], &[]);
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    let envelope = [
        "send: 'MAIL FROM:<a@x>\\r\\n'",
        "send: 'RCPT TO:<b@y>\\r\\n'",
        "send: 'DATA\\r\\n'",
    ];
    let data = ["send: <message data, 3 bytes>"];
    let ehlo = ["send: 'EHLO client.example\\r\\n'"];
    let want: Vec<&str> = [&ehlo[..], &envelope, &data, &envelope, &data].concat();
    assert_eq!(*lines.lock().unwrap(), want);
}
