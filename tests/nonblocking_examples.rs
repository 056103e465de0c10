//! The two event-loop examples of the non-blocking mode, built with
//! `make -C examples-c` and run: examples-c/poll.c (a plain poll() loop
//! over the per-handle calls) and examples-c/libevent.c (libevent's
//! event_base). Each drives many sessions from one thread: connect,
//! optionally STARTTLS, several messages, QUIT; every message must arrive.
//! A server that never answers must cost a session no more than its
//! deadline: the loops wake up when smtp_wait_ms runs out, and libsmtp
//! enforces the deadline at that smtp_resume.

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::aiosmtpd::{AioOptions, AioSmtpd, AioTls};
use common::certs::certs;
use common::sink::{as_dumped, SmtpSink};

/// The example program `name`, built (with every other example) by
/// `make -C examples-c` against the libsmtp.so this `cargo test` built.
fn example(name: &str) -> PathBuf {
    common::smtp_send::smtp_send();
    let exe = common::repo_root().join("examples-c").join(name);
    assert!(
        exe.exists(),
        "make -C examples-c did not build {}: libevent.c needs Debian's libevent-dev",
        exe.display()
    );
    exe
}

/// What a run printed and how it ended.
struct Run {
    status: i32,
    stdout: String,
}

/// Runs example `name` with `args`, under valgrind when asked.
fn run(name: &str, args: &[&str], valgrind: bool) -> Run {
    let exe = example(name);
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args(common::cdylib::VALGRIND).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let out = cmd
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name} ({e}); valgrind is Debian's valgrind"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = out
        .status
        .code()
        .unwrap_or_else(|| panic!("{name} was killed ({})\n{stdout}\n{stderr}", out.status));
    // valgrind's verdict: its error exit status, and anything it printed.
    if valgrind {
        assert!(
            status != 99 && stderr.is_empty(),
            "valgrind found errors in {name}:\n{stderr}"
        );
    }
    Run { status, stdout }
}

/// The message the examples send as message `m` of session `s`.
fn message(s: usize, m: usize) -> Vec<u8> {
    format!("From: sender@example.org\r\nSubject: session {s} message {m}\r\n\r\nHello.\r\n")
        .into_bytes()
}

/// Every message of `sessions` sessions of `messages` each, as sent.
fn all_messages(sessions: usize, messages: usize) -> BTreeSet<Vec<u8>> {
    (1..=sessions)
        .flat_map(|s| (1..=messages).map(move |m| message(s, m)))
        .collect()
}

/// The run succeeded and said so for each session and in its summary.
fn assert_all_ok(run: &Run, sessions: usize, messages: usize) {
    assert_eq!(run.status, 0, "{}", run.stdout);
    for s in 1..=sessions {
        let line = format!("session {s}: ok, {messages} message(s) sent\n");
        assert!(
            run.stdout.contains(&line),
            "no {line:?} in:\n{}",
            run.stdout
        );
    }
    let summary = format!(
        "{sessions} session(s): {sessions} ok, 0 failed; {} message(s) sent\n",
        sessions * messages
    );
    assert!(run.stdout.ends_with(&summary), "{}", run.stdout);
}

/// `sessions` x `messages` against smtp-sink: each message in its dumps,
/// byte for byte, with the envelope the example gave.
fn delivers_to_smtp_sink(name: &str, sessions: usize, messages: usize, valgrind: bool) {
    let sink = SmtpSink::start(&[]);
    let port = sink.port.to_string();
    let (n, m) = (sessions.to_string(), messages.to_string());
    let run = run(name, &["127.0.0.1", &port, &n, &m], valgrind);
    assert_all_ok(&run, sessions, messages);
    let dumps = sink.dumps(sessions * messages);
    assert_eq!(dumps.len(), sessions * messages);
    for d in &dumps {
        assert_eq!(d.mail, "<sender@example.org>");
        assert_eq!(d.rcpts, ["<rcpt@example.org>"]);
    }
    let got: BTreeSet<Vec<u8>> = dumps.into_iter().map(|d| d.body).collect();
    let want: BTreeSet<Vec<u8>> = all_messages(sessions, messages)
        .iter()
        .map(|m| as_dumped(m))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn poll_sends_three_messages_on_each_of_50_concurrent_sessions() {
    delivers_to_smtp_sink("poll", 50, 3, false);
}

#[test]
fn libevent_sends_three_messages_on_each_of_50_concurrent_sessions() {
    delivers_to_smtp_sink("libevent", 50, 3, false);
}

#[test]
fn poll_is_clean_under_valgrind() {
    delivers_to_smtp_sink("poll", 4, 2, true);
}

#[test]
fn libevent_is_clean_under_valgrind() {
    delivers_to_smtp_sink("libevent", 4, 2, true);
}

/// RFC 3207 through the loop: each session upgrades with STARTTLS
/// (verified against the test CA) before any transaction, so the server,
/// which requires it, sees every MAIL and RCPT over TLS.
fn delivers_over_starttls(name: &str) {
    let c = certs();
    let server = AioSmtpd::start(AioOptions {
        tls: AioTls::StartTls { require: true },
        cert: Some(c.good_cert.clone()),
        key: Some(c.good_key.clone()),
        ..Default::default()
    });
    let port = server.port.to_string();
    let ca = c.ca.to_str().unwrap();
    let run = run(
        name,
        &["--starttls", "--cafile", ca, "127.0.0.1", &port, "10", "2"],
        false,
    );
    assert_all_ok(&run, 10, 2);
    let got = server.messages(20);
    assert_eq!(got.len(), 20);
    for r in &got {
        assert_eq!(r.mail_from, "sender@example.org");
        assert_eq!(r.rcpt_tos, ["rcpt@example.org"]);
    }
    let contents: BTreeSet<Vec<u8>> = got.into_iter().map(|r| r.content).collect();
    assert_eq!(contents, all_messages(10, 2));
    let commands = server.commands();
    let transaction: Vec<&String> = commands
        .iter()
        .filter(|l| l.contains(" MAIL ") || l.contains(" RCPT "))
        .collect();
    assert_eq!(transaction.len(), 40, "{commands:?}");
    assert!(
        transaction.iter().all(|l| l.starts_with("tls ")),
        "{commands:?}"
    );
}

#[test]
fn poll_sends_over_starttls_with_the_test_ca() {
    delivers_over_starttls("poll");
}

#[test]
fn libevent_sends_over_starttls_with_the_test_ca() {
    delivers_over_starttls("libevent");
}

/// A server that accepts and never says a word: the kernel completes each
/// connection on the listener's backlog, and nothing is ever read or
/// written. With a 1 s deadline every session fails at connect with
/// smtplib's TimeoutError, all ten together in about one second (one after
/// the other would take ten): the loop wakes up when smtp_wait_ms runs
/// out, and smtp_resume enforces the deadline however quiet the socket.
fn times_out_on_a_silent_server(name: &str) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let started = Instant::now();
    let run = run(
        name,
        &["--timeout", "1", "127.0.0.1", &port, "10", "1"],
        false,
    );
    let elapsed = started.elapsed();
    drop(listener);
    assert_eq!(run.status, 1, "{}", run.stdout);
    for s in 1..=10 {
        let line = format!(
            "session {s}: failed at connect after 0 message(s): \
             TimeoutError: reading the greeting timed out after 1.0 s\n"
        );
        assert!(
            run.stdout.contains(&line),
            "no {line:?} in:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout
            .ends_with("10 session(s): 0 ok, 10 failed; 0 message(s) sent\n"),
        "{}",
        run.stdout
    );
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
}

#[test]
fn poll_reports_a_timeout_for_each_session_of_a_silent_server() {
    times_out_on_a_silent_server("poll");
}

#[test]
fn libevent_reports_a_timeout_for_each_session_of_a_silent_server() {
    times_out_on_a_silent_server("libevent");
}
