//! Non-blocking sessions at scale (issue 13): tests/c/many.c drives 1,000
//! sessions at once from one thread through smtp_multi, against four
//! Postfix smtp-sink instances and, for 50 of them through STARTTLS
//! verified against the test CA, aiosmtpd; each session sends three
//! messages with smtp_sendmail. Every message must arrive once, byte for
//! byte, at the server its session talked to, and every session must end
//! with its QUIT. A smaller set runs under valgrind: no error, no leak.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::aiosmtpd::{AioOptions, AioSmtpd, AioTls};
use common::sink::{as_dumped, SmtpSink};

/// The bytes of message `n` of session `i`, as tests/c/many.c builds them.
fn message(i: usize, n: usize) -> Vec<u8> {
    format!(
        "From: s{i}@example.org\r\n\
         To: rcpt@example.net\r\n\
         Subject: session {i} message {n}\r\n\
         X-Session: {i}\r\n\
         X-Message: {n}\r\n\
         \r\n\
         Message {n} of session {i}.\r\n\
         .a line that starts with a dot\r\n"
    )
    .into_bytes()
}

/// The header value `name` in a dumped body (LF line ends).
fn header(body: &[u8], name: &str) -> usize {
    let text = String::from_utf8_lossy(body);
    let prefix = format!("{name}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} header in {text:?}"))
}

struct Scale {
    sessions: usize,
    messages: usize,
    tls_sessions: usize,
    sinks: usize,
}

/// Runs tests/c/many.c (under valgrind when asked) with `s`, then checks
/// its report and what every server stored.
fn run_many(s: &Scale, valgrind: bool) {
    let certs = common::certs::certs();
    let aio = AioSmtpd::start(AioOptions {
        // Nothing but EHLO, NOOP, QUIT and STARTTLS before TLS.
        tls: AioTls::StartTls { require: true },
        cert: Some(certs.good_cert.clone()),
        key: Some(certs.good_key.clone()),
        ..AioOptions::default()
    });
    // smtp-sink serves 256 connections at once by default; -m raises that
    // bound above the share of sessions each instance gets.
    let sinks: Vec<SmtpSink> = (0..s.sinks)
        .map(|_| SmtpSink::start(&["-m", "1024"]))
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let exe = common::cdylib::compile(
        &common::repo_root().join("tests/c/many.c"),
        &dir.path().join("many"),
    );
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args(common::cdylib::VALGRIND).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.arg(s.sessions.to_string())
        .arg(s.messages.to_string())
        .arg(&certs.ca)
        .arg(aio.port.to_string())
        .arg(s.tls_sessions.to_string())
        .args(sinks.iter().map(|k| k.port.to_string()));
    let out = common::run_ok(
        &mut cmd,
        "tests/c/many.c",
        if valgrind { "valgrind" } else { "gcc" },
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();

    // Every session was connected and greeted (the TLS ones through
    // STARTTLS) before any sent: they were all open at the same time.
    assert!(
        stdout
            .lines()
            .any(|l| l == format!("connected at once: {}", s.sessions)),
        "{stdout}"
    );
    // One thread drove them all, without waiting for any: a non-blocking
    // TCP connect returns before the handshake (EINPROGRESS), so each
    // smtp_connect returned SMTP_AGAIN and, after the loop that started
    // them, every session had an operation pending.
    assert!(stdout.lines().any(|l| l == "threads: 1"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l == format!("most pending at once: {}", s.sessions)),
        "{stdout}"
    );
    for i in 0..s.sessions {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("session {i} ")))
            .unwrap_or_else(|| panic!("no line for session {i}:\n{stdout}"));
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[2], "OK", "{line}");
        assert_eq!(fields[4], s.messages.to_string(), "{line}");
        // RFC 3207 §4.2: after the handshake the session is protected;
        // the others never had TLS.
        if i < s.tls_sessions {
            assert!(fields[6].starts_with("TLSv1."), "{line}");
        } else {
            assert_eq!(fields[6], "-", "{line}");
        }
        // At least its connect completed through smtp_multi_next.
        let waited: usize = fields[8].parse().unwrap();
        assert!(waited >= 1, "{line}");
    }

    // smtp-sink: each plain session's messages, once each, whole, at the
    // instance the session was given (in turn).
    for (k, sink) in sinks.iter().enumerate() {
        let mine: Vec<usize> = (s.tls_sessions..s.sessions)
            .filter(|i| (i - s.tls_sessions) % s.sinks == k)
            .collect();
        let want: BTreeSet<(usize, usize)> = mine
            .iter()
            .flat_map(|&i| (0..s.messages).map(move |n| (i, n)))
            .collect();
        let dumps = sink.dumps(want.len());
        assert_eq!(dumps.len(), want.len(), "messages at sink {k}");
        let mut got = BTreeSet::new();
        for d in &dumps {
            let (i, n) = (header(&d.body, "X-Session"), header(&d.body, "X-Message"));
            assert!(
                got.insert((i, n)),
                "message {n} of session {i} arrived twice"
            );
            assert_eq!(d.helo, "many.example");
            assert_eq!(d.mail, format!("<s{i}@example.org>"));
            assert_eq!(d.rcpts, ["<rcpt@example.net>"]);
            assert_eq!(d.body, as_dumped(&message(i, n)), "session {i} message {n}");
        }
        assert_eq!(got, want, "messages at sink {k}");
    }

    // aiosmtpd: the STARTTLS sessions' messages, whole, every envelope
    // over TLS.
    let want: BTreeSet<(usize, usize)> = (0..s.tls_sessions)
        .flat_map(|i| (0..s.messages).map(move |n| (i, n)))
        .collect();
    let received = aio.messages(want.len());
    assert_eq!(received.len(), want.len(), "messages at aiosmtpd");
    let mut got = BTreeSet::new();
    for r in &received {
        let (i, n) = (
            header(&r.content, "X-Session"),
            header(&r.content, "X-Message"),
        );
        assert!(
            got.insert((i, n)),
            "message {n} of session {i} arrived twice"
        );
        assert_eq!(r.mail_from, format!("s{i}@example.org"));
        assert_eq!(r.rcpt_tos, ["rcpt@example.net"]);
        assert_eq!(r.content, message(i, n), "session {i} message {n}");
    }
    assert_eq!(got, want, "messages at aiosmtpd");
    let commands = aio.commands();
    assert!(
        commands
            .iter()
            .filter(|l| l.contains(" MAIL ") || l.contains(" RCPT "))
            .all(|l| l.starts_with("tls ")),
        "{commands:?}"
    );
    // RFC 3207 §4.2: the client SHOULD send EHLO again after the handshake.
    assert_eq!(
        commands
            .iter()
            .filter(|l| l.starts_with("tls EHLO "))
            .count(),
        s.tls_sessions
    );
}

#[test]
fn a_thousand_sessions_from_one_thread_deliver_every_message() {
    run_many(
        &Scale {
            sessions: 1000,
            messages: 3,
            tls_sessions: 50,
            sinks: 4,
        },
        false,
    );
}

#[test]
fn many_sessions_with_starttls_are_clean_under_valgrind() {
    run_many(
        &Scale {
            sessions: 20,
            messages: 2,
            tls_sessions: 5,
            sinks: 2,
        },
        true,
    );
}
