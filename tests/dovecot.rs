//! LMTP against Dovecot, the production LMTP server, over its Unix socket
//! and over TCP: what arrives in the maildirs, byte for byte, and the
//! per-recipient replies after the end of data, from the library and from
//! the smtp-send CLI.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::dovecot::{without_trace, Dovecot, TINY};
use common::smtp_send::smtp_send_with;
use smtp::{Client, Kind};

const MSG: &[u8] = b"From: sender@example.org\r\n\
    To: alice@example.org, bob@example.org\r\n\
    Subject: dovecot over lmtp\r\n\
    \r\n\
    First line.\r\n\
    .a line starting with a dot\r\n\
    ..two dots\r\n\
    .\r\n\
    Last line.\r\n";

fn connect_unix(server: &Dovecot) -> Client {
    let mut c = common::new_client(Kind::Lmtp);
    c.set_timeout(Duration::from_secs(10)).unwrap();
    c.set_local_hostname("client.example").unwrap();
    c.connect(&server.socket().display().to_string(), 0)
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", server.log()));
    c
}

/// The single message in `user`'s INBOX, trace headers removed.
fn single_message(server: &Dovecot, user: &str, msg: &[u8]) -> Vec<u8> {
    let inbox = server.inbox(user);
    assert_eq!(inbox.len(), 1, "{user}'s INBOX\n{}", server.log());
    without_trace(&inbox[0], msg).to_vec()
}

/// A message of about `size` bytes of body lines.
fn big_message(size: usize) -> Vec<u8> {
    let mut msg = b"Subject: big\r\n\r\n".to_vec();
    let mut n = 0usize;
    while msg.len() < size {
        msg.extend_from_slice(format!("line {n:08} of a large message.\r\n").as_bytes());
        n += 1;
    }
    msg
}

/// Records the transcript of `c` and gives the lines sent so far.
fn record(c: &mut Client) -> Arc<Mutex<Vec<String>>> {
    common::record_transcript(c, 1)
}

// ----- over the Unix socket ---------------------------------------------------------

#[test]
fn a_message_to_two_users_arrives_byte_exact_in_both_maildirs() {
    // RFC 2033 §4.2: "after the final ".", the server returns one reply
    // for each recipient that was successfully named in a RCPT command".
    let server = Dovecot::start();
    let mut c = connect_unix(&server);
    let refused = c
        .sendmail(
            "sender@example.org",
            &["alice@example.org", "bob@example.org"],
            MSG,
            &[],
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert!(refused.is_empty(), "{refused:?}");
    let results = c.recipient_results();
    assert_eq!(results.len(), 2, "{results:?}");
    for (r, addr) in results.iter().zip(["alice@example.org", "bob@example.org"]) {
        assert_eq!(r.address, addr);
        assert!(r.accepted && r.code == 250, "{r:?}");
        assert_eq!(r.enhanced_code(), Some((2, 0, 0)), "{r:?}");
    }
    c.quit().unwrap();
    assert_eq!(single_message(&server, "alice", MSG), MSG);
    assert_eq!(single_message(&server, "bob", MSG), MSG);
}

#[test]
fn an_unknown_user_is_refused_at_rcpt_and_the_other_gets_the_message() {
    // smtplib sendmail: "If this method does not raise an exception, it
    // returns a dictionary, with one entry for each recipient that was
    // refused."
    let server = Dovecot::start();
    let mut c = connect_unix(&server);
    let refused = c
        .sendmail(
            "sender@example.org",
            &["nosuchuser@example.org", "alice@example.org"],
            MSG,
            &[],
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(refused.len(), 1, "{refused:?}");
    let bad = &refused[0];
    assert_eq!(bad.address, "nosuchuser@example.org");
    assert!(!bad.accepted);
    assert_eq!(bad.code, 550, "{bad:?}");
    // RFC 3463: X.1.1 "Bad destination mailbox address".
    assert_eq!(bad.enhanced_code(), Some((5, 1, 1)), "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.text).contains("User doesn't exist"),
        "{bad:?}"
    );
    let alice = &c.recipient_results()[1];
    assert!(alice.accepted && alice.code == 250, "{alice:?}");
    c.quit().unwrap();
    assert_eq!(single_message(&server, "alice", MSG), MSG);
    assert!(server.inbox("nosuchuser").is_empty());
}

#[test]
fn a_recipient_failing_after_the_end_of_data_is_refused_and_the_other_delivered() {
    // RFC 2033 §4.2: each reply after the end of data says "whether the
    // message was delivered to that recipient"; one failing does not undo
    // the others. Dovecot checks the quota of `tiny` (1 KiB) only when
    // saving, so RCPT accepted it.
    let server = Dovecot::start();
    let msg = big_message(4096);
    let mut c = connect_unix(&server);
    let refused = c
        .sendmail(
            "sender@example.org",
            &["alice@example.org", &format!("{TINY}@example.org")],
            &msg,
            &[],
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    let results = c.recipient_results().to_vec();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results[0].accepted && results[0].code == 250, "{results:?}");
    let full = &results[1];
    assert!(!full.accepted, "{full:?}");
    // Dovecot answers "552 5.2.2 <tiny> Quota exceeded": RFC 3463 X.2.2
    // "Mailbox full".
    assert!((400..600).contains(&full.code), "{full:?}");
    assert_eq!(
        full.enhanced_code().map(|e| (e.1, e.2)),
        Some((2, 2)),
        "{full:?}"
    );
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].address, format!("{TINY}@example.org"));
    assert_eq!(refused[0].code, full.code);
    // The session is still in step: the next command gets its own reply.
    assert_eq!(c.noop().unwrap().code, 250);
    c.quit().unwrap();
    assert_eq!(single_message(&server, "alice", &msg), msg);
    assert!(server.inbox(TINY).is_empty(), "{}", server.log());
}

// ----- over TCP, CHUNKING ----------------------------------------------------------

#[test]
fn lmtp_over_tcp_delivers_too() {
    let server = Dovecot::start();
    let mut c = common::new_client(Kind::Lmtp);
    c.set_timeout(Duration::from_secs(10)).unwrap();
    c.connect("127.0.0.1", server.port).unwrap();
    let refused = c
        .sendmail("sender@example.org", &["bob@example.org"], MSG, &[], &[])
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert!(refused.is_empty(), "{refused:?}");
    assert!(!c.is_tls());
    c.quit().unwrap();
    assert_eq!(single_message(&server, "bob", MSG), MSG);
}

#[test]
fn dovecot_offers_chunking_in_its_lhlo_reply() {
    let server = Dovecot::start();
    let mut c = connect_unix(&server);
    c.ehlo_or_helo_if_needed().unwrap();
    assert!(c.has_extn("chunking"), "{:?}", c.features());
    assert!(c.has_extn("pipelining"), "{:?}", c.features());
    c.quit().unwrap();
}

#[test]
fn five_mebibytes_sent_with_bdat_arrive_whole() {
    // RFC 3030 §2: "The BDAT verb takes two arguments. The first argument
    // indicates the length, in octets, of the binary data chunk."
    let server = Dovecot::start();
    let msg = big_message(5 << 20);
    let mut c = connect_unix(&server);
    let sent = record(&mut c);
    let refused = c
        .sendmail("sender@example.org", &["alice@example.org"], &msg, &[], &[])
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert!(refused.is_empty(), "{refused:?}");
    c.quit().unwrap();
    let sent = sent.lock().unwrap();
    assert!(sent.iter().any(|l| l.contains("'BDAT ")), "{sent:?}");
    assert!(!sent.iter().any(|l| l.contains("'DATA")), "{sent:?}");
    assert!(
        single_message(&server, "alice", &msg) == msg,
        "body differs"
    );
}

#[test]
fn five_mebibytes_sent_with_data_when_chunking_is_off_arrive_whole() {
    let server = Dovecot::start();
    let msg = big_message(5 << 20);
    let mut c = connect_unix(&server);
    c.set_chunking(false);
    let sent = record(&mut c);
    let refused = c
        .sendmail("sender@example.org", &["bob@example.org"], &msg, &[], &[])
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert!(refused.is_empty(), "{refused:?}");
    c.quit().unwrap();
    let sent = sent.lock().unwrap();
    assert!(sent.iter().any(|l| l.contains("'DATA")), "{sent:?}");
    assert!(!sent.iter().any(|l| l.contains("'BDAT ")), "{sent:?}");
    assert!(single_message(&server, "bob", &msg) == msg, "body differs");
}

// ----- the smtp-send CLI ------------------------------------------------------------

fn cli_args(server: &Dovecot, to: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["--lmtp", "--host"].iter().map(|s| s.to_string()).collect();
    a.push(server.socket().display().to_string());
    a.extend(["--from".to_string(), "sender@example.org".to_string()]);
    for t in to {
        a.extend(["--to".to_string(), t.to_string()]);
    }
    a
}

#[test]
fn smtp_send_delivers_to_two_users_over_the_unix_socket() {
    let server = Dovecot::start();
    let a = cli_args(&server, &["alice@example.org", "bob@example.org"]);
    let run = smtp_send_with(&a, MSG);
    assert_eq!(run.status, 0, "stderr: {}\n{}", run.stderr, server.log());
    assert_eq!(run.stderr, "");
    assert_eq!(single_message(&server, "alice", MSG), MSG);
    assert_eq!(single_message(&server, "bob", MSG), MSG);
}

#[test]
fn smtp_send_reports_an_unknown_user_and_still_exits_0() {
    // DESIGN.md: every refused recipient gives "refused: ADDR CODE TEXT";
    // a message delivered to at least one recipient is a success.
    let server = Dovecot::start();
    let a = cli_args(&server, &["alice@example.org", "nosuchuser@example.org"]);
    let run = smtp_send_with(&a, MSG);
    assert_eq!(run.status, 0, "stderr: {}\n{}", run.stderr, server.log());
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("refused: nosuchuser@example.org 550 5.1.1 "),
        "{}",
        run.stderr
    );
    assert_eq!(single_message(&server, "alice", MSG), MSG);
}
