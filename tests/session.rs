//! smtplib's behaviours, checked byte for byte against the scripted server.

mod common;

use std::time::Duration;

use common::scripted::{accepted_message, esmtp_opening, reply, send, Scripted, Step};
use smtp::{Client, Kind, Status};

const MSG: &[u8] = b"Subject: hi\r\n\r\nhello\r\n";

fn client(port: u16) -> Client {
    let mut c = common::new_client(Kind::Smtp);
    c.set_local_hostname("client.example").unwrap();
    c.set_timeout(Duration::from_secs(5)).unwrap();
    c.connect("127.0.0.1", port).unwrap();
    c
}

fn steps(parts: Vec<Vec<Step>>) -> Vec<Step> {
    parts.into_iter().flatten().collect()
}

#[test]
fn sendmail_sends_the_exact_dialog() {
    let server = Scripted::start(steps(vec![
        esmtp_opening(&["SIZE 1000000", "8BITMIME"]),
        reply("250 2.1.0 ok"),
        reply("250 2.1.5 ok"),
        reply("251 2.1.5 will forward"),
        reply("354 go ahead"),
        vec![Step::Data, send("250 2.0.0 queued")],
        reply("221 bye"),
    ]));
    let mut c = client(server.port);
    let refused = c
        .sendmail(
            "a@example.org",
            &["b@example.org", "Carol <c@example.org>"],
            MSG,
            &[],
            &[],
        )
        .unwrap();
    assert!(refused.is_empty(), "251 counts as accepted, as in smtplib");
    assert_eq!(c.recipient_results().len(), 2);
    c.quit().unwrap();
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\n\
         MAIL FROM:<a@example.org> SIZE=22\r\n\
         RCPT TO:<b@example.org>\r\n\
         RCPT TO:<c@example.org>\r\n\
         DATA\r\n\
         Subject: hi\r\n\r\nhello\r\n.\r\n\
         QUIT\r\n"
    );
}

#[test]
fn helo_is_tried_when_ehlo_is_refused_and_options_are_suppressed() {
    // smtplib: "If EHLO fails, HELO will be tried and ESMTP options suppressed."
    let server = Scripted::start(steps(vec![
        vec![send("220 old.example SMTP")],
        reply("502 what?"),
        reply("250 old.example"),
        accepted_message(),
    ]));
    let mut c = client(server.port);
    c.sendmail("a@x", &["b@y"], b"x", &["BODY=8BITMIME"], &[])
        .unwrap();
    assert!(!c.does_esmtp());
    assert_eq!(c.helo_resp(), Some(&b"old.example"[..]));
    drop(c);
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\nHELO client.example\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nx\r\n.\r\n"
    );
}

#[test]
fn helo_refused_is_helo_error() {
    let server = Scripted::start(steps(vec![
        vec![send("220 x")],
        reply("502 no"),
        reply("550 go away"),
    ]));
    let mut c = client(server.port);
    let e = c.sendmail("a@x", &["b@y"], MSG, &[], &[]).unwrap_err();
    assert_eq!(e.status, Status::Helo);
    assert_eq!((e.code, e.text.as_slice()), (Some(550), &b"go away"[..]));
}

#[test]
fn sender_refused_keeps_sender_and_sends_rset() {
    let server = Scripted::start(steps(vec![
        esmtp_opening(&[]),
        reply("553 5.1.8 bad sender"),
        reply("250 reset"),
    ]));
    let mut c = client(server.port);
    let e = c.sendmail("bad@x", &["b@y"], MSG, &[], &[]).unwrap_err();
    assert_eq!(e.status, Status::SenderRefused);
    assert_eq!(e.code, Some(553));
    assert_eq!(e.text, b"5.1.8 bad sender");
    assert_eq!(e.sender.as_deref(), Some("bad@x"));
    assert!(c.is_connected(), "smtplib: the connection stays open");
    drop(c);
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\nMAIL FROM:<bad@x>\r\nRSET\r\n"
    );
}

#[test]
fn a_421_to_mail_closes_without_rset() {
    // RFC 5321 §3.8: 421 means the server is closing the transmission channel.
    let server = Scripted::start(steps(vec![
        esmtp_opening(&[]),
        reply("421 4.3.2 shutting down"),
    ]));
    let mut c = client(server.port);
    let e = c.sendmail("a@x", &["b@y"], MSG, &[], &[]).unwrap_err();
    assert_eq!((e.status, e.code), (Status::SenderRefused, Some(421)));
    assert!(!c.is_connected());
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\nMAIL FROM:<a@x>\r\n"
    );
}

#[test]
fn some_recipients_refused_is_success_with_the_refused_list() {
    // smtplib: "This method will return normally if the mail is accepted for
    // at least one recipient ... it returns a dictionary, with one entry for
    // each recipient that was refused."
    let server = Scripted::start(steps(vec![
        esmtp_opening(&[]),
        reply("250 ok"),
        reply("550 5.1.1 no such user"),
        reply("250 ok"),
        reply("354 go"),
        vec![Step::Data, send("250 ok")],
    ]));
    let mut c = client(server.port);
    let refused = c
        .sendmail("a@x", &["nobody@y", "b@y"], MSG, &[], &[])
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].address, "nobody@y");
    assert_eq!(refused[0].code, 550);
    assert_eq!(refused[0].text, b"5.1.1 no such user");
    let all = c.recipient_results();
    assert!(!all[0].accepted && all[1].accepted);
}

#[test]
fn all_recipients_refused_is_recipients_refused_and_rset() {
    let server = Scripted::start(steps(vec![
        esmtp_opening(&[]),
        reply("250 ok"),
        reply("550 no"),
        reply("450 later"),
        reply("250 reset"),
    ]));
    let mut c = client(server.port);
    let e = c
        .sendmail("a@x", &["b@y", "c@y"], MSG, &[], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::RecipientsRefused);
    assert!(!e.status.is(Status::Response));
    let got: Vec<_> = e
        .recipients
        .iter()
        .map(|r| (r.address.as_str(), r.code))
        .collect();
    assert_eq!(got, vec![("b@y", 550), ("c@y", 450)]);
    drop(c);
    assert!(server.transcript().ends_with("RCPT TO:<c@y>\r\nRSET\r\n"));
}

#[test]
fn a_421_to_rcpt_closes_without_rset() {
    let server = Scripted::start(steps(vec![
        esmtp_opening(&[]),
        reply("250 ok"),
        reply("421 bye"),
    ]));
    let mut c = client(server.port);
    let e = c
        .sendmail("a@x", &["b@y", "c@y"], MSG, &[], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::RecipientsRefused);
    assert!(!c.is_connected());
    assert!(server.transcript().ends_with("RCPT TO:<b@y>\r\n"));
}

#[test]
fn data_refused_is_data_error_and_rset() {
    let server = Scripted::start(steps(vec![
        esmtp_opening(&[]),
        reply("250 ok"),
        reply("250 ok"),
        reply("554 no data for you"),
        reply("250 reset"),
    ]));
    let mut c = client(server.port);
    let e = c.sendmail("a@x", &["b@y"], MSG, &[], &[]).unwrap_err();
    assert_eq!((e.status, e.code), (Status::Data, Some(554)));
    drop(c);
    assert!(server.transcript().ends_with("DATA\r\nRSET\r\n"));
}

#[test]
fn message_refused_after_data_is_data_error_and_rset() {
    let server = Scripted::start(steps(vec![
        esmtp_opening(&[]),
        reply("250 ok"),
        reply("250 ok"),
        reply("354 go"),
        vec![Step::Data, send("552 5.3.4 too big")],
        reply("250 reset"),
    ]));
    let mut c = client(server.port);
    let e = c.sendmail("a@x", &["b@y"], MSG, &[], &[]).unwrap_err();
    assert_eq!((e.status, e.code), (Status::Data, Some(552)));
    assert!(e.status.is(Status::Response));
    drop(c);
    assert!(server.transcript().ends_with(".\r\nRSET\r\n"));
}

#[test]
fn a_421_after_data_closes_without_rset() {
    let server = Scripted::start(steps(vec![
        esmtp_opening(&[]),
        reply("250 ok"),
        reply("250 ok"),
        reply("354 go"),
        vec![Step::Data, send("421 going down")],
    ]));
    let mut c = client(server.port);
    let e = c.sendmail("a@x", &["b@y"], MSG, &[], &[]).unwrap_err();
    assert_eq!((e.status, e.code), (Status::Data, Some(421)));
    assert!(!c.is_connected());
    assert!(server.transcript().ends_with("hello\r\n.\r\n"));
}

#[test]
fn a_421_to_ehlo_closes() {
    let server = Scripted::start(steps(vec![vec![send("220 x")], reply("421 busy")]));
    let mut c = client(server.port);
    let e = c.sendmail("a@x", &["b@y"], MSG, &[], &[]).unwrap_err();
    assert_eq!((e.status, e.code), (Status::Helo, Some(421)));
    assert!(!c.is_connected());
    assert_eq!(server.transcript(), "EHLO client.example\r\n");
}

#[test]
fn several_messages_on_one_connection() {
    let mut script = esmtp_opening(&[]);
    for _ in 0..3 {
        script.extend(steps(vec![accepted_message()]));
    }
    let server = Scripted::start(script);
    let mut c = client(server.port);
    for i in 0..3 {
        c.sendmail("a@x", &["b@y"], format!("n{i}").as_bytes(), &[], &[])
            .unwrap();
    }
    drop(c);
    let t = server.transcript();
    assert_eq!(t.matches("EHLO").count(), 1, "EHLO once per session");
    assert!(t.contains("n0\r\n.\r\n") && t.contains("n2\r\n.\r\n"));
}

#[test]
fn disconnect_at_each_step_is_server_disconnected() {
    // After the greeting, after EHLO, after MAIL, after RCPT, after DATA, and
    // during the final reply: each lost connection is SMTPServerDisconnected.
    let full = steps(vec![
        esmtp_opening(&[]),
        reply("250 ok"),
        reply("250 ok"),
        reply("354 go"),
        vec![Step::Data],
    ]);
    let cut_points = [1, 2, 4, 6, 8, 9];
    for cut in cut_points {
        let mut script: Vec<Step> = full[..cut].to_vec();
        if cut == 1 {
            // Greeting sent, then the server reads EHLO and hangs up.
            script.push(Step::Line);
        }
        script.push(Step::Close);
        let server = Scripted::start(script);
        let mut c = client(server.port);
        let e = c.sendmail("a@x", &["b@y"], MSG, &[], &[]).unwrap_err();
        assert_eq!(
            e.status,
            Status::ServerDisconnected,
            "cut at step {cut}: {e}"
        );
        assert!(!c.is_connected());
        server.finish();
    }
}

#[test]
fn disconnect_before_the_greeting() {
    let server = Scripted::start(vec![Step::Close]);
    let mut c = common::new_client(Kind::Smtp);
    let e = c.connect("127.0.0.1", server.port).unwrap_err();
    assert_eq!(e.status, Status::ServerDisconnected);
    server.finish();
}

#[test]
fn greeting_other_than_220_is_connect_error() {
    let server = Scripted::start(vec![send("554 5.7.1 no service")]);
    let mut c = common::new_client(Kind::Smtp);
    let e = c.connect("127.0.0.1", server.port).unwrap_err();
    assert_eq!((e.status, e.code), (Status::Connect, Some(554)));
    assert_eq!(e.text, b"5.7.1 no service");
    assert!(!c.is_connected());
}

#[test]
fn over_long_reply_line_is_refused_and_closes() {
    // smtplib: a line over _MAXLINE raises SMTPResponseException(500,
    // "Line too long.").
    let long = format!("250 {}", "x".repeat(9000));
    let server = Scripted::start(vec![send("220 x"), Step::Line, send(&long)]);
    let mut c = client(server.port);
    let e = c.ehlo("").unwrap_err();
    assert_eq!((e.status, e.code), (Status::Response, Some(500)));
    assert_eq!(e.text, b"Line too long.");
    assert!(!c.is_connected());
}

#[test]
fn garbage_reply_is_a_response_error_and_closes() {
    let server = Scripted::start(vec![send("220 x"), Step::Line, send("HELLO THERE")]);
    let mut c = client(server.port);
    let e = c.noop().unwrap_err();
    assert_eq!(e.status, Status::Response);
    assert!(!c.is_connected());
}

#[test]
fn silent_server_times_out_and_closes() {
    let server = Scripted::start(vec![
        send("220 x"),
        Step::Line,
        Step::Sleep(Duration::from_secs(3)),
    ]);
    let mut c = client(server.port);
    c.set_timeout(Duration::from_millis(300)).unwrap();
    let e = c.noop().unwrap_err();
    assert_eq!(e.status, Status::Timeout);
    assert!(e.status.is(Status::Io));
    assert!(!c.is_connected());
}

#[test]
fn line_breaks_in_arguments_never_reach_the_wire() {
    let server = Scripted::start(esmtp_opening(&[]));
    let mut c = client(server.port);
    c.ehlo("").unwrap();
    for (from, to) in [
        ("a@x\r\nRCPT TO:<evil@x>", "b@y"),
        ("a@x", "b@y\nDATA"),
        ("a@x", "b\0@y"),
    ] {
        let e = c.sendmail(from, &[to], MSG, &[], &[]).unwrap_err();
        assert_eq!(e.status, Status::Invalid, "{from:?} {to:?}: {e}");
    }
    assert_eq!(c.docmd("NOOP", "x\ry").unwrap_err().status, Status::Invalid);
    assert_eq!(c.verify("a\n@b").unwrap_err().status, Status::Invalid);
    drop(c);
    assert_eq!(server.transcript(), "EHLO client.example\r\n");
}

#[test]
fn simple_commands_return_their_replies() {
    let server = Scripted::start(steps(vec![
        vec![send("220 x")],
        reply("250 2.0.0 ok"),
        reply("252 2.1.5 cannot verify"),
        reply("550 5.1.1 nope"),
        vec![Step::Line, send("214-help line 1"), send("214 end")],
        reply("250 reset"),
        reply("250 custom"),
    ]));
    let mut c = client(server.port);
    assert_eq!(c.noop().unwrap().code, 250);
    assert_eq!(c.verify("Jo <jo@x>").unwrap().code, 252);
    assert_eq!(c.expn("list").unwrap().code, 550);
    assert_eq!(c.help("").unwrap().text(), b"help line 1\nend");
    assert_eq!(c.rset().unwrap().code, 250);
    assert_eq!(c.docmd("XCUSTOM", "arg").unwrap().code, 250);
    drop(c);
    assert_eq!(
        server.transcript(),
        "NOOP\r\nVRFY jo@x\r\nEXPN list\r\nHELP\r\nRSET\r\nXCUSTOM arg\r\n"
    );
}

#[test]
fn ehlo_features_and_responses() {
    let server = Scripted::start(esmtp_opening(&[
        "PIPELINING",
        "SIZE 2048",
        "AUTH PLAIN LOGIN",
        "AUTH=CRAM-MD5",
    ]));
    let mut c = client(server.port);
    let r = c.ehlo("").unwrap();
    assert_eq!(r.code, 250);
    assert!(c.does_esmtp());
    assert!(c.has_extn("pipelining") && c.has_extn("SIZE"));
    assert_eq!(c.features().get("size"), Some("2048"));
    assert_eq!(c.features().get("auth"), Some(" PLAIN LOGIN CRAM-MD5"));
    assert!(c
        .ehlo_resp()
        .unwrap()
        .starts_with(b"scripted.example\nPIPELINING"));
}

#[test]
fn smtputf8_option_needs_the_extension() {
    let server = Scripted::start(esmtp_opening(&["8BITMIME"]));
    let mut c = client(server.port);
    let e = c
        .sendmail("jörg@x", &["b@y"], MSG, &["SMTPUTF8"], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::NotSupported);
    drop(c);
    assert_eq!(server.transcript(), "EHLO client.example\r\n");
}

#[test]
fn non_ascii_address_without_smtputf8_is_invalid() {
    let server = Scripted::start(esmtp_opening(&["SMTPUTF8"]));
    let mut c = client(server.port);
    let e = c.sendmail("jörg@x", &["b@y"], MSG, &[], &[]).unwrap_err();
    assert_eq!(e.status, Status::Invalid);
    drop(c);
    assert_eq!(server.transcript(), "EHLO client.example\r\n");
}

#[test]
fn smtputf8_allows_utf8_in_mail_and_rcpt() {
    let server = Scripted::start(steps(vec![
        esmtp_opening(&["SMTPUTF8", "8BITMIME"]),
        accepted_message(),
    ]));
    let mut c = client(server.port);
    c.sendmail(
        "jörg@x",
        &["zoë@y"],
        b"x",
        &["SMTPUTF8", "BODY=8BITMIME"],
        &[],
    )
    .unwrap();
    drop(c);
    assert!(server
        .transcript()
        .contains("MAIL FROM:<jörg@x> SMTPUTF8 BODY=8BITMIME\r\nRCPT TO:<zoë@y>\r\n"));
}

#[test]
fn host_port_form_and_commands_before_connect() {
    let server = Scripted::start(vec![send("220 x"), Step::Line, send("250 ok")]);
    let mut c = common::new_client(Kind::Smtp);
    assert_eq!(c.noop().unwrap_err().status, Status::ServerDisconnected);
    let r = c.connect(&format!("127.0.0.1:{}", server.port), 0).unwrap();
    assert_eq!(r.code, 220);
    assert_eq!(c.noop().unwrap().code, 250);
}

#[test]
fn connection_refused_is_an_os_error_with_errno() {
    let port = common::free_port();
    let mut c = common::new_client(Kind::Smtp);
    let e = c.connect("127.0.0.1", port).unwrap_err();
    assert_eq!(e.status, Status::Io);
    assert_eq!(e.errno, Some(libc::ECONNREFUSED));
}

#[test]
fn quit_closes_even_when_the_server_is_gone() {
    let server = Scripted::start(vec![send("220 x"), Step::Close]);
    let mut c = client(server.port);
    server.finish();
    assert!(c.quit().is_err());
    assert!(!c.is_connected());
}

#[test]
fn transcript_shows_commands_and_replies() {
    let server = Scripted::start(steps(vec![vec![send("220 x")], reply("250 fine")]));
    let mut c = common::new_client(Kind::Smtp);
    let lines = common::record_transcript(&mut c, 1);
    c.connect("127.0.0.1", server.port).unwrap();
    c.noop().unwrap();
    let got = lines.lock().unwrap().join("\n");
    assert!(got.contains("connect: ('127.0.0.1',"), "{got}");
    assert!(got.contains("reply: retcode (220); Msg: 'x'"), "{got}");
    assert!(got.contains("send: 'NOOP\\r\\n'"), "{got}");
    assert!(got.contains("reply: retcode (250); Msg: 'fine'"), "{got}");
}

#[test]
fn connects_over_ipv6() {
    let server = Scripted::start_on("::1", vec![send("220 x"), Step::Line, send("250 ok")]);
    let mut c = common::new_client(Kind::Smtp);
    c.set_local_hostname("client.example").unwrap();
    // smtplib's host form "[::1]" as well as the bare address.
    assert_eq!(c.connect("[::1]", server.port).unwrap().code, 220);
    assert_eq!(c.noop().unwrap().code, 250);
    drop(c);
    let (sent, peer) = server.finish_with_peer();
    assert!(peer.is_ipv6());
    assert_eq!(sent, b"NOOP\r\n");
}

#[test]
fn source_address_binds_the_local_end() {
    // smtplib: source_address "takes a 2-tuple (host, port), for the socket
    // to bind to as its source address before connecting".
    let server = Scripted::start(vec![send("220 x")]);
    let source_port = common::free_port();
    let mut c = common::new_client(Kind::Smtp);
    c.set_source_address("127.0.0.1", source_port);
    c.connect("127.0.0.1", server.port).unwrap();
    drop(c);
    let (_, peer) = server.finish_with_peer();
    assert_eq!(peer.port(), source_port);
}

#[test]
fn a_source_address_of_another_family_is_an_os_error() {
    let server = Scripted::start_on("::1", vec![send("220 x")]);
    let mut c = common::new_client(Kind::Smtp);
    c.set_source_address("127.0.0.1", 0);
    let e = c.connect("::1", server.port).unwrap_err();
    assert_eq!(e.status, Status::Io);
    // Nothing connected: let the server thread go.
    drop(std::net::TcpStream::connect(("::1", server.port)));
}
