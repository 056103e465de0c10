//! The smtp-send CLI (examples-c/smtp-send.c) as DESIGN.md specifies it:
//! what reaches the server, its exit status (libsmtp's status codes), its
//! stderr lines, and a clean run under valgrind. The C programs are built
//! once per test process against the cdylib this `cargo test` built.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::aiosmtpd::{AioOptions, AioSmtpd, AioTls};
use common::certs::certs;
use common::scripted::{
    accepted_message, esmtp_opening, reply, send, starttls_opening, Scripted, ScriptedSessions,
    Step,
};
use common::sink::{as_dumped, parse_dump, Dump, SmtpSink, SMTP_SINK};
use common::smtp_send::{run_program, smtp_send, smtp_send_with, Run};

/// The same under valgrind, leaks of ours (definite, indirect) being errors.
fn smtp_send_under_valgrind(args: &[String], stdin: &[u8]) -> Run {
    run_program(valgrind_command(args), stdin)
}

/// smtp-send under valgrind, not yet run.
fn valgrind_command(args: &[String]) -> Command {
    let found = Command::new("valgrind")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "valgrind not found: install Debian's valgrind package"
    );
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect",
        "--show-leak-kinds=definite,indirect",
    ])
    .arg(smtp_send())
    .args(args);
    cmd
}

/// Turns a mixed list of literals into owned arguments.
fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The host/port arguments for a server on 127.0.0.1.
fn at(port: u16) -> Vec<String> {
    args(&["--host", "127.0.0.1", "--port", &port.to_string()])
}

fn envelope(from: &str, to: &[&str]) -> Vec<String> {
    let mut v = args(&["--from", from]);
    for t in to {
        v.extend(args(&["--to", t]));
    }
    v
}

/// Sends `msg` through a fresh smtp-sink and returns the single dump.
fn deliver_to_sink(msg: &[u8]) -> Dump {
    let sink = SmtpSink::start(&[]);
    let mut a = at(sink.port);
    a.extend(envelope("sender@example.org", &["rcpt@example.org"]));
    let run = smtp_send_with(&a, msg);
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stderr, "", "nothing refused, nothing failed");
    let dumps = sink.dumps(1);
    assert_eq!(dumps.len(), 1);
    dumps[0].clone()
}

// ---- delivery against Postfix smtp-sink ---------------------------------

#[test]
fn delivers_the_message_byte_exactly() {
    let msg = b"From: a@example.org\r\nSubject: plain\r\n\r\nHello,\r\nworld.\r\n";
    assert_eq!(deliver_to_sink(msg).body, as_dumped(msg));
}

#[test]
fn dots_at_line_starts_arrive_unchanged() {
    // RFC 5321 4.5.2: the client doubles a leading "."; the server removes
    // it again, so the receiver sees the original lines.
    let msg = b"Subject: dots\r\n\r\n.leading\r\n..two\r\n.\r\nend\r\n.";
    assert_eq!(deliver_to_sink(msg).body, as_dumped(msg));
}

#[test]
fn bare_line_feeds_and_carriage_returns_arrive_as_line_breaks() {
    let msg = b"Subject: lf\n\nline one\nline two\rline three\r\n\n8-bit: caf\xc3\xa9 \xff\n";
    assert_eq!(deliver_to_sink(msg).body, as_dumped(msg));
}

#[test]
fn an_empty_message_is_delivered_as_one_empty_line() {
    assert_eq!(deliver_to_sink(b"").body, as_dumped(b""));
}

#[test]
fn a_one_mebibyte_message_arrives_whole() {
    let mut msg = b"Subject: big\r\n\r\n".to_vec();
    let mut i = 0u32;
    while msg.len() < 1 << 20 {
        // Varied lines, some starting with a dot.
        let line = format!(
            "{}line {i} {}\r\n",
            if i % 7 == 0 { "." } else { "" },
            "x".repeat((i % 90) as usize)
        );
        msg.extend_from_slice(line.as_bytes());
        i += 1;
    }
    msg.truncate(1 << 20);
    assert_eq!(deliver_to_sink(&msg).body, as_dumped(&msg));
}

#[test]
fn the_envelope_names_the_sender_and_every_recipient() {
    let sink = SmtpSink::start(&[]);
    let mut a = at(sink.port);
    a.extend(envelope(
        "sender@example.org",
        &["one@example.org", "two@example.org", "three@example.net"],
    ));
    let run = smtp_send_with(&a, b"Subject: several\r\n\r\nbody\r\n");
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    let dump = &sink.dumps(1)[0];
    assert_eq!(dump.mail, "<sender@example.org>");
    assert_eq!(
        dump.rcpts,
        [
            "<one@example.org>",
            "<two@example.org>",
            "<three@example.net>"
        ]
    );
}

#[test]
fn mail_and_rcpt_options_are_sent_with_their_commands() {
    // smtp-sink offers DSN (RFC 3461), whose RET and NOTIFY parameters these are.
    let sink = SmtpSink::start(&[]);
    let mut a = at(sink.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.extend(args(&[
        "--mail-option",
        "RET=HDRS",
        "--rcpt-option",
        "NOTIFY=NEVER",
    ]));
    let run = smtp_send_with(&a, b"Subject: dsn\r\n\r\nbody\r\n");
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    let dump = &sink.dumps(1)[0];
    assert_eq!(dump.mail, "<s@example.org> RET=HDRS");
    assert_eq!(dump.rcpts, ["<r@example.org> NOTIFY=NEVER"]);
}

#[test]
fn the_message_is_read_from_a_file_argument() {
    let sink = SmtpSink::start(&[]);
    let msg = b"Subject: from a file\r\n\r\nbody\r\n.dot\r\n";
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(msg).unwrap();
    let mut a = at(sink.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.push(file.path().display().to_string());
    // Standard input carries something else, which must not be sent.
    let run = smtp_send_with(&a, b"not this\r\n");
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    assert_eq!(sink.dumps(1)[0].body, as_dumped(msg));
}

#[test]
fn a_dash_means_standard_input() {
    let sink = SmtpSink::start(&[]);
    let msg = b"Subject: stdin\r\n\r\nbody\r\n";
    let mut a = at(sink.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.push("-".into());
    let run = smtp_send_with(&a, msg);
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    assert_eq!(sink.dumps(1)[0].body, as_dumped(msg));
}

#[test]
fn count_sends_the_message_that_many_times_over_one_connection() {
    let sink = SmtpSink::start(&[]);
    let msg = b"Subject: thrice\r\n\r\nbody\r\n";
    let mut a = at(sink.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.extend(args(&["--count", "3", "-v"]));
    let run = smtp_send_with(&a, msg);
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    let dumps = sink.dumps(3);
    assert_eq!(dumps.len(), 3);
    for d in &dumps {
        assert_eq!(d.body, as_dumped(msg));
        assert_eq!(d.mail, "<s@example.org>");
    }
    let lines = run.stderr_lines();
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("connect: "), 1, "one connection:\n{}", run.stderr);
    assert_eq!(count("send: 'EHLO "), 1, "one EHLO:\n{}", run.stderr);
    assert_eq!(count("send: 'MAIL FROM:"), 3, "{}", run.stderr);
    assert_eq!(count("send: 'QUIT"), 1, "{}", run.stderr);
}

#[test]
fn lmtp_delivers_to_an_lmtp_server() {
    let sink = SmtpSink::start(&["-L"]);
    let msg = b"Subject: lmtp\r\n\r\nbody\r\n";
    let mut a = at(sink.port);
    a.extend(envelope(
        "s@example.org",
        &["a@example.org", "b@example.org"],
    ));
    a.extend(args(&["--lmtp", "-v"]));
    let run = smtp_send_with(&a, msg);
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    assert!(run.stderr.contains("send: 'LHLO "), "{}", run.stderr);
    let dump = &sink.dumps(1)[0];
    assert_eq!(dump.rcpts, ["<a@example.org>", "<b@example.org>"]);
    assert_eq!(dump.body, as_dumped(msg));
}

/// smtp-sink speaking LMTP on a Unix socket (SmtpSink listens on TCP only).
struct UnixLmtpSink {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl UnixLmtpSink {
    fn start() -> UnixLmtpSink {
        assert!(
            Path::new(SMTP_SINK).exists(),
            "{SMTP_SINK} not found: install Debian's postfix package"
        );
        let dir = tempfile::tempdir().unwrap();
        let dumps = dir.path().join("dumps");
        std::fs::create_dir(&dumps).unwrap();
        let child = Command::new(SMTP_SINK)
            .args(["-u", "root", "-L", "-d"])
            .arg(format!("{}/%Y%m%d%H%M%S.", dumps.display()))
            .arg(format!("unix:{}", dir.path().join("lmtp").display()))
            .arg("64")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn smtp-sink");
        let sink = UnixLmtpSink { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(sink.socket()).is_err() {
            assert!(Instant::now() < deadline, "smtp-sink did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        sink
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("lmtp")
    }

    fn dump(&self) -> Dump {
        let dir = self.dir.path().join("dumps");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            if let [file] = files.as_slice() {
                return parse_dump(&std::fs::read(file).unwrap());
            }
            assert!(Instant::now() < deadline, "no dump from smtp-sink");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for UnixLmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn lmtp_with_a_host_starting_with_a_slash_uses_a_unix_socket() {
    let sink = UnixLmtpSink::start();
    let msg = b"Subject: unix\r\n\r\nbody\r\n";
    let mut a = args(&["--lmtp", "--host", &sink.socket().display().to_string()]);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    let run = smtp_send_with(&a, msg);
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    let dump = sink.dump();
    assert_eq!(dump.rcpts, ["<r@example.org>"]);
    assert_eq!(dump.body, as_dumped(msg));
}

#[test]
fn an_lmtp_server_gone_during_the_body_is_an_error_not_sigpipe() {
    // A C host leaves SIGPIPE at its default: a write to a Unix socket whose
    // reader has gone must fail with EPIPE, not end the program.
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lmtp");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut out = conn.try_clone().unwrap();
        let mut lines = BufReader::new(conn);
        out.write_all(b"220 lmtp.example ready\r\n").unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).unwrap() == 0 {
                return;
            }
            let answer: &[u8] = match line.split_whitespace().next().unwrap_or("") {
                "LHLO" => b"250 lmtp.example\r\n",
                "DATA" => b"354 go ahead\r\n",
                _ => b"250 ok\r\n",
            };
            out.write_all(answer).unwrap();
            if answer.starts_with(b"354") {
                return; // gone, with the body on its way
            }
        }
    });
    let body = vec![b'x'; 8 << 20];
    let mut a = args(&["--lmtp", "--host", &path.display().to_string()]);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    let run = smtp_send_with(&a, &body); // panics if a signal ended it
    server.join().unwrap();
    assert_eq!(run.status, 2, "SMTPServerDisconnected: {}", run.stderr);
}

// ---- refusals and failures, with exact replies ----------------------------

fn scripted_args(server: &Scripted, to: &[&str]) -> Vec<String> {
    let mut a = at(server.port);
    a.extend(envelope("s@example.org", to));
    a
}

#[test]
fn one_refused_recipient_of_two_still_succeeds_and_is_reported() {
    // smtplib sendmail: "If this method does not raise an exception, it
    // returns a dictionary, with one entry for each recipient that was refused."
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply("250 2.1.0 ok")); // MAIL
    steps.extend(reply("250 2.1.5 ok")); // RCPT good
    steps.extend(reply("550 5.1.1 no such user")); // RCPT bad
    steps.extend(reply("354 go ahead")); // DATA
    steps.push(Step::Data);
    steps.push(send("250 2.0.0 queued"));
    steps.extend(reply("221 bye")); // QUIT
    let server = Scripted::start(steps);
    let a = scripted_args(&server, &["good@example.org", "bad@example.org"]);
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    let sent = server.transcript();
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    assert_eq!(
        run.stderr_lines(),
        ["refused: bad@example.org 550 5.1.1 no such user"]
    );
    assert!(sent.ends_with("\r\n.\r\nQUIT\r\n"), "{sent}");
}

#[test]
fn all_recipients_refused_exits_5_and_names_the_class() {
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply("250 ok")); // MAIL
    steps.extend(reply("550 5.1.1 unknown one")); // RCPT
    steps.extend(reply("553 5.1.3 unknown two")); // RCPT
    steps.extend(reply("250 reset")); // RSET
    steps.extend(reply("221 bye")); // QUIT
    let server = Scripted::start(steps);
    let a = scripted_args(&server, &["one@example.org", "two@example.org"]);
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    let sent = server.transcript();
    assert_eq!(run.status, 5, "stderr: {}", run.stderr);
    assert_eq!(
        run.stderr_lines(),
        [
            "refused: one@example.org 550 5.1.1 unknown one",
            "refused: two@example.org 553 5.1.3 unknown two",
            "smtp-send: SMTPRecipientsRefused: 553 5.1.3 unknown two",
        ]
    );
    assert!(!sent.contains("DATA"), "{sent}");
}

#[test]
fn a_refused_sender_exits_4() {
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply("553 5.1.8 sender rejected")); // MAIL
    steps.extend(reply("250 reset")); // RSET
    steps.extend(reply("221 bye")); // QUIT
    let server = Scripted::start(steps);
    let a = scripted_args(&server, &["r@example.org"]);
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    let sent = server.transcript();
    assert_eq!(run.status, 4, "stderr: {}", run.stderr);
    assert_eq!(
        run.stderr_lines(),
        ["smtp-send: SMTPSenderRefused: 553 5.1.8 sender rejected"]
    );
    assert!(!sent.contains("RCPT"), "{sent}");
}

#[test]
fn refused_data_exits_6() {
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply("250 ok")); // MAIL
    steps.extend(reply("250 ok")); // RCPT
    steps.extend(reply("554 5.3.0 no data today")); // DATA
    steps.extend(reply("250 reset")); // RSET
    steps.extend(reply("221 bye")); // QUIT
    let server = Scripted::start(steps);
    let a = scripted_args(&server, &["r@example.org"]);
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    let sent = server.transcript();
    assert_eq!(run.status, 6, "stderr: {}", run.stderr);
    assert_eq!(
        run.stderr_lines(),
        ["smtp-send: SMTPDataError: 554 5.3.0 no data today"]
    );
    assert!(!sent.contains("body"), "the message was not sent: {sent}");
}

#[test]
fn a_greeting_other_than_220_exits_7_and_sends_nothing() {
    // smtplib connect(): "If the server's response is not 220, raise
    // SMTPConnectError" (after closing the connection).
    let server = Scripted::start(vec![send("554 5.7.1 no service for you")]);
    let a = scripted_args(&server, &["r@example.org"]);
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    let sent = server.transcript();
    assert_eq!(run.status, 7, "stderr: {}", run.stderr);
    assert_eq!(
        run.stderr_lines(),
        ["smtp-send: SMTPConnectError: 554 5.7.1 no service for you"]
    );
    assert_eq!(sent, "");
}

#[test]
fn a_server_gone_mid_body_is_an_error_not_a_signal() {
    // Writing to a connection the server closed must not raise SIGPIPE in
    // the host process (a C program keeps the default action: death).
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply("250 ok")); // MAIL
    steps.extend(reply("250 ok")); // RCPT
    steps.extend(reply("354 go")); // DATA
    steps.push(Step::Close);
    let server = Scripted::start(steps);
    let a = scripted_args(&server, &["r@example.org"]);
    let body = "x".repeat(70) + "\r\n";
    let run = smtp_send_with(&a, body.repeat(128 * 1024).as_bytes());
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("SMTPServerDisconnected"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_refused_connection_exits_20() {
    let port = common::free_port();
    let mut a = at(port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    assert_eq!(run.status, 20, "stderr: {}", run.stderr);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("smtp-send: OSError: "),
        "{}",
        run.stderr
    );
    assert!(lines[0].contains("refused"), "{}", run.stderr);
}

#[test]
fn starttls_not_offered_is_fatal_and_nothing_is_sent() {
    // DESIGN: "STARTTLS requested and not possible => error, never plaintext."
    let sink = SmtpSink::start(&[]);
    let mut a = at(sink.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.push("--starttls".into());
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nsecret\r\n");
    assert_eq!(run.status, 9, "stderr: {}", run.stderr);
    assert!(
        run.stderr.starts_with("smtp-send: SMTPNotSupportedError: "),
        "{}",
        run.stderr
    );
    assert!(sink.dumps(0).is_empty());
}

// ---- usage ----------------------------------------------------------------

#[test]
fn usage_errors_exit_23() {
    let cases: &[&[&str]] = &[
        &["--to", "r@example.org"],                        // no --from
        &["--from", "s@example.org"],                      // no --to
        &["--from", "s@x", "--to", "r@x", "--bogus"],      // unknown option
        &["--from", "s@x", "--to", "r@x", "--port", "0"],  // bad port
        &["--from", "s@x", "--to", "r@x", "--count", "0"], // bad count
        &["--from", "s@x", "--to", "r@x", "--timeout", "0"],
        &["--from", "s@x", "--to", "r@x", "--ssl", "--starttls"],
        &["--from", "s@x", "--to", "r@x", "--password-env", "P"], // no --user
        &["--from", "s@x", "--to"],                               // missing value
        &["--from", "s@x", "--to", "r@x", "a", "b"],              // two files
        &[
            "--from",
            "s@x",
            "--to",
            "r@x",
            "--user",
            "u",
            "--password-file",
            "p",
            "--oauth-token-file",
            "t",
        ],
        &["--from", "s@x", "--to", "r@x", "--auth-mechanisms", "PLAIN"], // no --user
    ];
    for case in cases {
        let run = smtp_send_with(&args(case), b"");
        assert_eq!(run.status, 23, "{case:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("smtp-send: "),
            "{case:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn help_prints_usage_and_exits_0() {
    let run = smtp_send_with(&args(&["--help"]), b"");
    assert_eq!(run.status, 0);
    assert!(
        run.stdout.starts_with("usage: smtp-send "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("23 usage error"), "{}", run.stdout);
}

#[test]
fn an_unreadable_message_file_exits_20() {
    let mut a = envelope("s@example.org", &["r@example.org"]);
    a.push("/nonexistent/message.eml".into());
    let run = smtp_send_with(&a, b"");
    assert_eq!(run.status, 20, "{}", run.stderr);
    assert!(run
        .stderr
        .starts_with("smtp-send: OSError: /nonexistent/message.eml: "));
}

#[test]
fn user_and_password_file_log_in_before_sending_and_stay_secret() {
    // RFC 4954 §4: "AUTH PLAIN" with an initial response, 235 on success.
    // The connection is loopback, so PLAIN may go without TLS.
    let mut steps = esmtp_opening(&["AUTH PLAIN LOGIN"]);
    steps.extend(reply("235 2.7.0 Authentication successful"));
    steps.extend(accepted_message());
    steps.extend(reply("221 bye"));
    let server = Scripted::start(steps);
    let mut password = tempfile::NamedTempFile::new().unwrap();
    password.write_all(b"s3cret-pw\n").unwrap();
    let mut a = scripted_args(&server, &["r@example.org"]);
    a.extend(args(&["-vv", "--user", "u", "--password-file"]));
    a.push(password.path().display().to_string());
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    let sent = server.transcript();
    assert_eq!(run.status, 0, "{}", run.stderr);
    // base64("\0u\0s3cret-pw"), without the trailing line break of the file.
    assert!(
        sent.contains("AUTH PLAIN AHUAczNjcmV0LXB3\r\nMAIL FROM:<s@example.org>"),
        "{sent}"
    );
    assert!(
        run.stderr.contains("AUTH PLAIN <redacted>"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("s3cret-pw"));
    assert!(!run.stderr.contains("AHUAczNjcmV0LXB3"));
}

#[test]
fn auth_mechanisms_pins_the_mechanism() {
    // Offered PLAIN and LOGIN; pinned to LOGIN, smtplib's auth_login runs:
    // the user with the command, the password after the 334.
    let mut steps = esmtp_opening(&["AUTH PLAIN LOGIN"]);
    steps.extend(reply("334 UGFzc3dvcmQ6"));
    steps.extend(reply("235 2.7.0 ok"));
    steps.extend(accepted_message());
    steps.extend(reply("221 bye"));
    let server = Scripted::start(steps);
    let mut password = tempfile::NamedTempFile::new().unwrap();
    password.write_all(b"s3cret-pw\n").unwrap();
    let mut a = scripted_args(&server, &["r@example.org"]);
    a.extend(args(&[
        "--user",
        "u",
        "--auth-mechanisms",
        "login",
        "--password-file",
    ]));
    a.push(password.path().display().to_string());
    let run = smtp_send_with(&a, b"x");
    let sent = server.transcript();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        sent.contains("AUTH LOGIN dQ==\r\nczNjcmV0LXB3\r\nMAIL FROM:"),
        "{sent}"
    );
}

#[test]
fn oauth_token_file_logs_in_with_oauthbearer() {
    // RFC 7628 §3.1: "n,a=" user ",^Aauth=Bearer " token "^A^A".
    let mut steps = esmtp_opening(&["AUTH OAUTHBEARER XOAUTH2 PLAIN"]);
    steps.extend(reply("235 2.7.0 ok"));
    steps.extend(accepted_message());
    steps.extend(reply("221 bye"));
    let server = Scripted::start(steps);
    let mut token = tempfile::NamedTempFile::new().unwrap();
    token.write_all(b"tok-123\n").unwrap();
    let mut a = scripted_args(&server, &["r@example.org"]);
    a.extend(args(&["-v", "--user", "u", "--oauth-token-file"]));
    a.push(token.path().display().to_string());
    let run = smtp_send_with(&a, b"x");
    let sent = server.transcript();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        sent.contains("AUTH OAUTHBEARER bixhPXUsAWF1dGg9QmVhcmVyIHRvay0xMjMBAQ==\r\nMAIL"),
        "{sent}"
    );
    assert!(!run.stderr.contains("tok-123") && !run.stderr.contains("bixhPXUs"));
}

#[test]
fn refused_credentials_exit_10() {
    let mut steps = esmtp_opening(&["AUTH PLAIN"]);
    steps.extend(reply("535 5.7.8 Authentication credentials invalid"));
    steps.extend(reply("221 bye"));
    let server = Scripted::start(steps);
    let mut password = tempfile::NamedTempFile::new().unwrap();
    password.write_all(b"wrong").unwrap();
    let mut a = scripted_args(&server, &["r@example.org"]);
    a.extend(args(&["--user", "u", "--password-file"]));
    a.push(password.path().display().to_string());
    let run = smtp_send_with(&a, b"x");
    assert_eq!(run.status, 10, "{}", run.stderr);
    assert!(run.stderr.contains(
        "smtp-send: SMTPAuthenticationError: 535 5.7.8 Authentication credentials invalid"
    ));
    assert!(!server.transcript().contains("MAIL"));
}

#[test]
fn send_message_takes_the_envelope_from_the_headers_and_drops_bcc() {
    let sink = SmtpSink::start(&[]);
    let mut a = at(sink.port);
    a.push("--send-message".into());
    let run = smtp_send_with(
        &a,
        b"From: Sender <s@example.org>\r\nTo: r@example.org\r\nBcc: hidden@example.org\r\n\r\nbody\r\n",
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let dump = sink.dumps(1).remove(0);
    assert_eq!(dump.mail, "<s@example.org>");
    assert_eq!(dump.rcpts, ["<r@example.org>", "<hidden@example.org>"]);
    assert_eq!(
        dump.body,
        as_dumped(b"From: Sender <s@example.org>\r\nTo: r@example.org\r\n\r\nbody\r\n")
    );
}

#[test]
fn a_large_message_sent_once_is_streamed_not_loaded() {
    // 40 MiB from a file: delivered whole, while the process stays far
    // below the message's size (it is streamed from the descriptor).
    let sink = SmtpSink::start(&[]);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let line = format!("{}\r\n", "z".repeat(1022));
    let mut msg = Vec::with_capacity(40 << 20);
    msg.extend_from_slice(b"Subject: big\r\n\r\n");
    while msg.len() < 40 << 20 {
        msg.extend_from_slice(line.as_bytes());
    }
    file.write_all(&msg).unwrap();
    let mut a = args(&["/usr/bin/time", "-f", "maxrss=%M"]);
    a.push(smtp_send().display().to_string());
    a.extend(at(sink.port));
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.push(file.path().display().to_string());
    let out = Command::new(&a[0]).args(&a[1..]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rss_kib: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss="))
        .and_then(|v| v.trim().parse().ok())
        .expect("GNU time's maxrss line");
    assert!(
        rss_kib < 16 * 1024,
        "peak RSS {rss_kib} KiB for a 40 MiB message"
    );
    assert_eq!(sink.dumps(1).remove(0).body, as_dumped(&msg));
}

// ---- transcript -------------------------------------------------------------

#[test]
fn verbose_shows_the_transcript_on_stderr() {
    let sink = SmtpSink::start(&[]);
    let mut a = at(sink.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.push("-v".into());
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    let lines = run.stderr_lines();
    assert!(
        lines.contains(&"send: 'MAIL FROM:<s@example.org>\\r\\n'"),
        "{}",
        run.stderr
    );
    assert!(
        lines.contains(&"send: 'RCPT TO:<r@example.org>\\r\\n'"),
        "{}",
        run.stderr
    );
    assert!(
        lines.iter().any(|l| l.starts_with("reply: retcode (220);")),
        "{}",
        run.stderr
    );
    assert!(lines.contains(&"send: 'QUIT\\r\\n'"), "{}", run.stderr);
}

#[test]
fn double_verbose_timestamps_every_transcript_line() {
    // smtplib: "A value of 2 for level results in these messages being
    // timestamped."
    let sink = SmtpSink::start(&[]);
    let mut a = at(sink.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.push("-vv".into());
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    assert_eq!(run.status, 0, "stderr: {}", run.stderr);
    let lines = run.stderr_lines();
    assert!(lines.len() > 5, "{}", run.stderr);
    for line in lines {
        // "HH:MM:SS.ffffff " then the level-1 text.
        let (stamp, rest) = line.split_at(16);
        let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits.len(), 12, "{line}");
        assert_eq!(
            (&stamp[2..3], &stamp[5..6], &stamp[8..9]),
            (":", ":", "."),
            "{line}"
        );
        assert!(
            rest.starts_with("connect: ")
                || rest.starts_with("send: ")
                || rest.starts_with("reply: "),
            "{line}"
        );
    }
}

#[test]
fn without_verbose_a_success_is_silent() {
    let sink = SmtpSink::start(&[]);
    let mut a = at(sink.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    assert_eq!(run.status, 0);
    assert_eq!(run.stderr, "");
    assert_eq!(run.stdout, "");
}

// ---- valgrind -----------------------------------------------------------------

fn assert_clean(run: &Run, expected: i32) {
    assert_ne!(
        run.status, 99,
        "valgrind found errors or leaks:\n{}",
        run.stderr
    );
    assert_eq!(run.status, expected, "{}", run.stderr);
    assert!(
        run.stderr.contains("ERROR SUMMARY: 0 errors"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_successful_send_has_no_memory_error_or_leak() {
    let sink = SmtpSink::start(&[]);
    let mut a = at(sink.port);
    a.extend(envelope(
        "s@example.org",
        &["r@example.org", "q@example.org"],
    ));
    a.extend(args(&["--count", "2"]));
    let msg = b"Subject: valgrind\r\n\r\n.dot\nbody\r\n";
    let run = smtp_send_under_valgrind(&a, msg);
    assert_clean(&run, 0);
    assert_eq!(sink.dumps(2).len(), 2);
}

#[test]
fn a_refused_sender_has_no_memory_error_or_leak() {
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply("553 5.1.8 sender rejected")); // MAIL
    steps.extend(reply("250 reset")); // RSET
    steps.extend(reply("221 bye")); // QUIT
    let server = Scripted::start(steps);
    let a = scripted_args(&server, &["r@example.org"]);
    let run = smtp_send_under_valgrind(&a, b"Subject: x\r\n\r\nbody\r\n");
    server.finish();
    assert_clean(&run, 4);
    assert!(run
        .stderr
        .contains("smtp-send: SMTPSenderRefused: 553 5.1.8 sender rejected"));
}

#[test]
fn a_refused_connection_has_no_memory_error_or_leak() {
    let mut a = at(common::free_port());
    a.extend(envelope("s@example.org", &["r@example.org"]));
    let run = smtp_send_under_valgrind(&a, b"Subject: x\r\n\r\nbody\r\n");
    assert_clean(&run, 20);
    assert!(run.stderr.contains("smtp-send: OSError: "));
}

// ---- the README example -----------------------------------------------------

#[test]
fn quickstart_sends_its_message_to_two_recipients() {
    let sink = SmtpSink::start(&[]);
    smtp_send(); // builds quickstart too
    let quickstart = common::repo_root().join("examples-c/quickstart");
    let mut cmd = Command::new(quickstart);
    cmd.args(["127.0.0.1", &sink.port.to_string()]);
    let run = run_program(cmd, b"");
    assert_eq!(run.status, 0, "{}", run.stderr);
    let dump = &sink.dumps(1)[0];
    assert_eq!(dump.mail, "<me@example.org>");
    assert_eq!(dump.rcpts, ["<alice@example.org>", "<bob@example.org>"]);
    assert!(dump.body.ends_with(b"\n\nHello from libsmtp.\n"));
}

// ---- TLS: --ssl, --starttls, --cafile, --insecure -----------------------------

/// A self-signed certificate for 127.0.0.1 and localhost, its PEM file (to
/// pass as --cafile), and a server-side acceptor using it.
struct Identity {
    cert_file: tempfile::NamedTempFile,
    acceptor: std::sync::Arc<openssl::ssl::SslAcceptor>,
}

impl Identity {
    fn new() -> Identity {
        use openssl::asn1::Asn1Time;
        use openssl::bn::BigNum;
        use openssl::ec::{EcGroup, EcKey};
        use openssl::hash::MessageDigest;
        use openssl::nid::Nid;
        use openssl::pkey::PKey;
        use openssl::ssl::{SslAcceptor, SslMethod};
        use openssl::x509::extension::SubjectAlternativeName;
        use openssl::x509::{X509NameBuilder, X509};

        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, "localhost")
            .unwrap();
        let name = name.build();
        let mut cert = X509::builder().unwrap();
        cert.set_version(2).unwrap();
        let serial = BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap();
        cert.set_serial_number(&serial).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(2).unwrap())
            .unwrap();
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .build(&cert.x509v3_context(None, None))
            .unwrap();
        cert.append_extension(san).unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = cert.build();

        let mut cert_file = tempfile::NamedTempFile::new().unwrap();
        cert_file.write_all(&cert.to_pem().unwrap()).unwrap();
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        acceptor.set_private_key(&key).unwrap();
        acceptor.set_certificate(&cert).unwrap();
        Identity {
            cert_file,
            acceptor: std::sync::Arc::new(acceptor.build()),
        }
    }

    fn cafile(&self) -> String {
        self.cert_file.path().display().to_string()
    }
}

/// How the TLS server starts encryption.
#[derive(Clone, Copy, PartialEq)]
enum TlsMode {
    Implicit,
    StartTls,
}

/// An SMTP server answering any dialog (250 to everything, 354 to DATA),
/// over TLS from the start or after STARTTLS. `finish` gives what the
/// client sent in plaintext and what it sent encrypted.
struct TlsServer {
    port: u16,
    thread: std::thread::JoinHandle<(String, String)>,
}

impl TlsServer {
    fn start(identity: &Identity, mode: TlsMode) -> TlsServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = identity.acceptor.clone();
        let thread = std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().expect("accept");
            // Generous: under valgrind on a loaded machine, loading the
            // system trust store before STARTTLS alone can take seconds.
            tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            let mut plain = Vec::new();
            let mut secret = Vec::new();
            if mode == TlsMode::StartTls {
                let _ = tcp.write_all(b"220 tls.example ESMTP\r\n");
                if !answer(&mut tcp, &mut plain, true) {
                    return (lossy(&plain), String::new());
                }
            }
            let Ok(mut tls) = acceptor.accept(tcp) else {
                return (lossy(&plain), String::new());
            };
            if mode == TlsMode::Implicit {
                let _ = tls.write_all(b"220 tls.example ESMTP\r\n");
            }
            answer(&mut tls, &mut secret, false);
            (lossy(&plain), lossy(&secret))
        });
        TlsServer { port, thread }
    }

    fn finish(self) -> (String, String) {
        self.thread.join().expect("TLS server thread")
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Answers commands until QUIT or the end of the stream; true when the
/// client asked for STARTTLS (answered 220).
fn answer<S: std::io::Read + Write>(s: &mut S, got: &mut Vec<u8>, offer_starttls: bool) -> bool {
    let read_until = |s: &mut S, got: &mut Vec<u8>, end: &[u8]| -> bool {
        let start = got.len();
        let mut byte = [0u8; 1];
        while !got[start..].ends_with(end) {
            match s.read(&mut byte) {
                Ok(1) => got.push(byte[0]),
                _ => return false,
            }
        }
        true
    };
    loop {
        let start = got.len();
        if !read_until(s, got, b"\n") {
            return false;
        }
        let verb = lossy(&got[start..]).to_ascii_uppercase();
        let out: &[u8] = if verb.starts_with("EHLO") {
            if offer_starttls {
                b"250-tls.example\r\n250 STARTTLS\r\n"
            } else {
                b"250 tls.example\r\n"
            }
        } else if verb.starts_with("STARTTLS") {
            let _ = s.write_all(b"220 go ahead\r\n");
            return true;
        } else if verb.starts_with("DATA") {
            let _ = s.write_all(b"354 go ahead\r\n");
            if !read_until(s, got, b"\r\n.\r\n") {
                return false;
            }
            b"250 queued\r\n"
        } else if verb.starts_with("QUIT") {
            let _ = s.write_all(b"221 bye\r\n");
            return false;
        } else {
            b"250 ok\r\n"
        };
        if s.write_all(out).is_err() {
            return false;
        }
    }
}

fn tls_args(server: &TlsServer, extra: &[&str]) -> Vec<String> {
    let mut a = at(server.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.extend(args(extra));
    a
}

#[test]
fn ssl_with_the_servers_certificate_as_cafile_delivers() {
    let id = Identity::new();
    let server = TlsServer::start(&id, TlsMode::Implicit);
    let a = tls_args(&server, &["--ssl", "--cafile", &id.cafile()]);
    let run = smtp_send_with(&a, b"Subject: tls\r\n\r\nsealed\r\n");
    let (plain, secret) = server.finish();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(plain, "");
    assert!(secret.contains("MAIL FROM:<s@example.org>\r\n"), "{secret}");
    assert!(secret.contains("\r\nsealed\r\n.\r\n"), "{secret}");
}

#[test]
fn ssl_with_an_untrusted_certificate_exits_22() {
    // DESIGN: "TLS verification is on by default (chain, hostname, SNI)".
    let id = Identity::new();
    let server = TlsServer::start(&id, TlsMode::Implicit);
    let a = tls_args(&server, &["--ssl"]);
    let run = smtp_send_with(&a, b"Subject: tls\r\n\r\nsealed\r\n");
    let (_, secret) = server.finish();
    assert_eq!(run.status, 22, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("smtp-send: SSLError: "),
        "{}",
        run.stderr
    );
    assert_eq!(secret, "");
}

#[test]
fn insecure_turns_verification_off() {
    let id = Identity::new();
    let server = TlsServer::start(&id, TlsMode::Implicit);
    let a = tls_args(&server, &["--ssl", "--insecure"]);
    let run = smtp_send_with(&a, b"Subject: tls\r\n\r\nsealed\r\n");
    let (_, secret) = server.finish();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(secret.contains("\r\nsealed\r\n.\r\n"), "{secret}");
}

#[test]
fn starttls_encrypts_before_the_envelope_and_says_ehlo_again() {
    // RFC 3207 4.2: "the client MUST discard any knowledge obtained from
    // the server [...] The client SHOULD send an EHLO command as the first
    // command after a successful TLS negotiation."
    let id = Identity::new();
    let server = TlsServer::start(&id, TlsMode::StartTls);
    let a = tls_args(
        &server,
        &[
            "--starttls",
            "--cafile",
            &id.cafile(),
            "--local-hostname",
            "client.example",
        ],
    );
    let run = smtp_send_with(&a, b"Subject: tls\r\n\r\nsealed\r\n");
    let (plain, secret) = server.finish();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(plain, "EHLO client.example\r\nSTARTTLS\r\n");
    assert!(
        secret.starts_with("EHLO client.example\r\nMAIL FROM:"),
        "{secret}"
    );
    assert!(secret.contains("\r\nsealed\r\n.\r\n"), "{secret}");
}

#[test]
fn a_send_over_starttls_has_no_memory_error_or_leak() {
    let id = Identity::new();
    let server = TlsServer::start(&id, TlsMode::StartTls);
    let a = tls_args(&server, &["--starttls", "--cafile", &id.cafile()]);
    let run = smtp_send_under_valgrind(&a, b"Subject: tls\r\n\r\nsealed\r\n");
    let (_, secret) = server.finish();
    assert_clean(&run, 0);
    assert!(secret.contains("\r\nsealed\r\n.\r\n"), "{secret}");
}

// ---- against aiosmtpd: STARTTLS, AUTH, implicit TLS ---------------------------

const AIO_USER: &str = "user";
const AIO_PASSWORD: &str = "s3cr3t-pw";
const AIO_MSG: &[u8] = b"Subject: via aiosmtpd\r\n\r\nover TLS\r\n.dot\r\n";

/// aiosmtpd with the test CA's certificate for 127.0.0.1, in `tls` mode,
/// AUTH offered (over TLS only) for AIO_USER/AIO_PASSWORD.
fn aiosmtpd(tls: AioTls) -> AioSmtpd {
    let c = certs();
    AioSmtpd::start(AioOptions {
        tls,
        cert: Some(c.good_cert.clone()),
        key: Some(c.good_key.clone()),
        auth: Some((AIO_USER.into(), AIO_PASSWORD.into())),
        ..Default::default()
    })
}

fn aiosmtpd_starttls() -> AioSmtpd {
    aiosmtpd(AioTls::StartTls { require: true })
}

/// Arguments for a send to `server` with `extra` options.
fn aio_args(server: &AioSmtpd, extra: &[&str]) -> Vec<String> {
    let mut a = at(server.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.extend(args(extra));
    a
}

fn cafile() -> String {
    certs().ca.display().to_string()
}

/// The message arrived once, unchanged, and its envelope was sent over TLS.
fn assert_delivered_over_tls(server: &AioSmtpd) {
    let got = server.messages(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].mail_from, "s@example.org");
    assert_eq!(got[0].rcpt_tos, ["r@example.org"]);
    assert_eq!(got[0].content, AIO_MSG);
    assert!(
        server
            .commands()
            .contains(&"tls MAIL s@example.org".to_string()),
        "{:?}",
        server.commands()
    );
}

/// The run failed verifying the certificate, as DESIGN.md's smtp-send
/// prints it, and nothing but EHLO reached the server.
fn assert_verify_failed(run: &Run, server: &AioSmtpd) {
    assert!(
        run.stderr_lines()
            .iter()
            .any(|l| l.starts_with("smtp-send: SSLError: ")
                && l.contains("certificate verify failed")),
        "{}",
        run.stderr
    );
    assert!(server.messages(0).is_empty());
    for line in server.commands() {
        assert!(
            line.starts_with("clear EHLO ") || line.starts_with("tls SNI "),
            "{line}"
        );
    }
}

#[test]
fn starttls_with_the_ca_as_cafile_delivers_to_aiosmtpd() {
    let server = aiosmtpd_starttls();
    let a = aio_args(&server, &["--starttls", "--cafile", &cafile()]);
    let run = smtp_send_with(&a, AIO_MSG);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    assert_delivered_over_tls(&server);
}

#[test]
fn starttls_to_aiosmtpd_without_cafile_exits_22_certificate_verify_failed() {
    // DESIGN: "TLS verification is on by default"; the test CA is not in
    // the system store.
    let server = aiosmtpd_starttls();
    let run = smtp_send_with(&aio_args(&server, &["--starttls"]), AIO_MSG);
    assert_eq!(run.status, 22, "{}", run.stderr);
    assert_verify_failed(&run, &server);
}

/// A file holding `password`.
fn password_file(password: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(password.as_bytes()).unwrap();
    f
}

#[test]
fn starttls_and_the_right_password_deliver_to_aiosmtpd() {
    let server = aiosmtpd_starttls();
    let pw = password_file(&format!("{AIO_PASSWORD}\n"));
    let mut a = aio_args(&server, &["--starttls", "--cafile", &cafile()]);
    a.extend(args(&["--user", AIO_USER, "--password-file"]));
    a.push(pw.path().display().to_string());
    let run = smtp_send_with(&a, AIO_MSG);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_delivered_over_tls(&server);
    assert!(
        server
            .commands()
            .iter()
            .any(|l| l.starts_with("tls AUTH ") && l.ends_with(" ok")),
        "{:?}",
        server.commands()
    );
}

#[test]
fn starttls_and_a_wrong_password_exit_10_with_aiosmtpds_535() {
    let server = aiosmtpd_starttls();
    let pw = password_file("not-the-password");
    let mut a = aio_args(&server, &["--starttls", "--cafile", &cafile()]);
    a.extend(args(&["--user", AIO_USER, "--password-file"]));
    a.push(pw.path().display().to_string());
    let run = smtp_send_with(&a, AIO_MSG);
    assert_eq!(run.status, 10, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "smtp-send: SMTPAuthenticationError: 535 5.7.8 Authentication credentials invalid"
        ),
        "{}",
        run.stderr
    );
    assert!(server.messages(0).is_empty());
}

#[test]
fn ssl_with_the_ca_as_cafile_delivers_to_aiosmtpd_implicit_tls() {
    let server = aiosmtpd(AioTls::Implicit);
    let a = aio_args(&server, &["--ssl", "--cafile", &cafile()]);
    let run = smtp_send_with(&a, AIO_MSG);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_delivered_over_tls(&server);
}

#[test]
fn starttls_to_aiosmtpd_has_no_memory_error_or_leak() {
    let server = aiosmtpd_starttls();
    let a = aio_args(&server, &["--starttls", "--cafile", &cafile()]);
    let run = smtp_send_under_valgrind(&a, AIO_MSG);
    assert_clean(&run, 0);
    assert_delivered_over_tls(&server);
}

#[test]
fn a_failed_verification_against_aiosmtpd_has_no_memory_error_or_leak() {
    let server = aiosmtpd_starttls();
    let run = smtp_send_under_valgrind(&aio_args(&server, &["--starttls"]), AIO_MSG);
    assert_clean(&run, 22);
    assert_verify_failed(&run, &server);
}

// ---- for scripts: --version, --exit-codes sysexits, address lists, secrets --

#[test]
fn version_prints_the_programs_and_the_librarys_version() {
    let run = smtp_send_with(&args(&["--version"]), b"");
    assert_eq!(run.status, 0, "{}", run.stderr);
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(run.stdout, format!("smtp-send {v}\nlibsmtp {v}\n"));
    assert_eq!(run.stderr, "");
}

#[test]
fn help_names_the_options_for_scripts() {
    let run = smtp_send_with(&args(&["--help"]), b"");
    assert_eq!(run.status, 0);
    for option in [
        "--version",
        "--exit-codes KIND",
        "--password-env VAR",
        "address list",
        "75 EX_TEMPFAIL",
        "67 EX_NOUSER",
        "65 EX_DATAERR",
        "69 EX_UNAVAILABLE",
    ] {
        assert!(run.stdout.contains(option), "{option}: {}", run.stdout);
    }
}

/// One transaction against a scripted server whose MAIL, RCPT and DATA
/// replies are given (None: that command is never reached).
fn transaction(mail: &str, rcpt: &str, data: Option<&str>, extra: &[&str]) -> Run {
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply(mail));
    if mail.starts_with('2') {
        steps.extend(reply(rcpt));
        if let Some(data) = data {
            steps.extend(reply(data));
        }
    }
    steps.extend(reply("250 reset")); // RSET
    steps.extend(reply("221 bye")); // QUIT
    let server = Scripted::start(steps);
    let mut a = scripted_args(&server, &["r@example.org"]);
    a.extend(args(extra));
    let run = smtp_send_with(&a, b"Subject: x\r\n\r\nbody\r\n");
    drop(server.transcript());
    run
}

const SYSEXITS: &[&str] = &["--exit-codes", "sysexits"];

#[test]
fn sysexits_a_4xx_recipient_refusal_is_75_tempfail() {
    // msmtp's convention, from sysexits.h: "EX_TEMPFAIL -- temporary
    // failure, indicating something that is not really an error. [...] a
    // retry later is possible."
    let run = transaction("250 ok", "450 4.2.1 mailbox busy", None, SYSEXITS);
    assert_eq!(run.status, 75, "{}", run.stderr);
    assert!(run
        .stderr
        .contains("smtp-send: SMTPRecipientsRefused: 450 4.2.1 mailbox busy"));
}

#[test]
fn sysexits_a_5xx_recipient_refusal_is_67_nouser() {
    let run = transaction("250 ok", "550 5.1.1 no such user", None, SYSEXITS);
    assert_eq!(run.status, 67, "{}", run.stderr);
}

#[test]
fn sysexits_a_5xx_to_data_is_65_dataerr() {
    let run = transaction("250 ok", "250 ok", Some("554 5.6.0 bad content"), SYSEXITS);
    assert_eq!(run.status, 65, "{}", run.stderr);
}

#[test]
fn sysexits_a_5xx_to_mail_from_is_69_unavailable_and_a_4xx_is_75() {
    let run = transaction("553 5.1.8 sender rejected", "", None, SYSEXITS);
    assert_eq!(run.status, 69, "{}", run.stderr);
    let run = transaction("451 4.3.0 try later", "", None, SYSEXITS);
    assert_eq!(run.status, 75, "{}", run.stderr);
}

#[test]
fn without_sysexits_the_status_codes_stay_the_contract() {
    // DESIGN.md: the exit status is libsmtp's status code by default.
    let run = transaction("250 ok", "450 4.2.1 mailbox busy", None, &[]);
    assert_eq!(run.status, 5, "{}", run.stderr);
    let run = transaction(
        "250 ok",
        "250 ok",
        Some("554 5.6.0 bad"),
        &["--exit-codes=status"],
    );
    assert_eq!(run.status, 6, "{}", run.stderr);
}

#[test]
fn sysexits_a_greeting_of_421_is_75_and_of_554_is_69() {
    for (greeting, expected) in [("421 4.3.2 busy", 75), ("554 5.7.1 go away", 69)] {
        let server = Scripted::start(vec![send(greeting)]);
        let mut a = scripted_args(&server, &["r@example.org"]);
        a.extend(args(SYSEXITS));
        let run = smtp_send_with(&a, b"x");
        assert_eq!(run.status, expected, "{greeting}: {}", run.stderr);
        drop(server.transcript());
    }
}

#[test]
fn sysexits_refused_credentials_are_77_noperm() {
    let mut steps = esmtp_opening(&["AUTH PLAIN"]);
    steps.extend(reply("535 5.7.8 Authentication credentials invalid"));
    steps.extend(reply("221 bye"));
    let server = Scripted::start(steps);
    let mut a = scripted_args(&server, &["r@example.org"]);
    a.extend(args(&[
        "--user",
        "u",
        "--password-env",
        "SMTP_SEND_TEST_PW",
    ]));
    a.extend(args(SYSEXITS));
    let mut cmd = Command::new(smtp_send());
    cmd.args(&a).env("SMTP_SEND_TEST_PW", "wrong");
    let run = run_program(cmd, b"x");
    assert_eq!(run.status, 77, "{}", run.stderr);
    drop(server.transcript());
}

#[test]
fn sysexits_usage_errors_are_64_even_before_the_option() {
    for case in [
        &["--bogus", "--exit-codes", "sysexits"][..],
        &["--exit-codes=sysexits", "--from", "s@x"],
    ] {
        let run = smtp_send_with(&args(case), b"");
        assert_eq!(run.status, 64, "{case:?}: {}", run.stderr);
    }
    let run = smtp_send_with(&args(&["--exit-codes", "posix", "--from", "s@x"]), b"");
    assert_eq!(run.status, 23, "{}", run.stderr);
    assert!(run.stderr.contains("--exit-codes"), "{}", run.stderr);
}

#[test]
fn a_refused_connection_is_told_from_an_unknown_host() {
    // A refused connection: nobody listens on the port; 75 under sysexits
    // (retry later). An unknown host: 68 EX_NOHOST. glibc refuses a name
    // with an empty label without asking a name server, so this does not
    // depend on DNS.
    let port = common::free_port();
    let mut a = at(port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    let run = smtp_send_with(&a, b"x");
    assert_eq!(run.status, 20, "{}", run.stderr);
    assert_eq!(
        run.stderr_lines(),
        [format!(
            "smtp-send: OSError: connection refused by 127.0.0.1 port {port}"
        )]
    );
    a.extend(args(SYSEXITS));
    assert_eq!(smtp_send_with(&a, b"x").status, 75);

    let mut a = args(&["--host", "nohost..invalid"]);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    let run = smtp_send_with(&a, b"x");
    assert_eq!(run.status, 20, "{}", run.stderr);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("smtp-send: OSError: cannot resolve host 'nohost..invalid': "),
        "{}",
        run.stderr
    );
    a.extend(args(SYSEXITS));
    assert_eq!(smtp_send_with(&a, b"x").status, 68);
}

#[test]
fn to_with_commas_is_an_rfc_5322_address_list() {
    // RFC 5322 §3.4: address-list = (address *("," address)); a comma in a
    // quoted display name separates nothing.
    let sink = SmtpSink::start(&[]);
    let mut a = at(sink.port);
    a.extend(args(&[
        "--from",
        "s@example.org",
        "--to",
        "\"Doe, John\" <j@example.org>, b@example.net (Bee, B.)",
        "--to",
        "c@example.com",
    ]));
    let run = smtp_send_with(&a, b"Subject: list\r\n\r\nbody\r\n");
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        sink.dumps(1)[0].rcpts,
        ["<j@example.org>", "<b@example.net>", "<c@example.com>"]
    );
}

#[test]
fn to_with_commas_and_no_address_is_a_usage_error() {
    let a = args(&["--from", "s@example.org", "--to", " , "]);
    let run = smtp_send_with(&a, b"x");
    assert_eq!(run.status, 23, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("smtp-send: --to holds no address"),
        "{}",
        run.stderr
    );
}

/// A server that takes AUTH PLAIN with an initial response, then a message.
fn auth_plain_server() -> Scripted {
    let mut steps = esmtp_opening(&["AUTH PLAIN"]);
    steps.extend(reply("235 2.7.0 Authentication successful"));
    steps.extend(accepted_message());
    steps.extend(reply("221 bye"));
    Scripted::start(steps)
}

#[test]
fn password_env_reads_the_password_from_the_named_variable() {
    let server = auth_plain_server();
    let mut a = scripted_args(&server, &["r@example.org"]);
    a.extend(args(&[
        "--user",
        "u",
        "--password-env",
        "SMTP_SEND_TEST_PW",
    ]));
    let mut cmd = Command::new(smtp_send());
    cmd.args(&a).env("SMTP_SEND_TEST_PW", "s3cret-pw");
    let run = run_program(cmd, b"Subject: x\r\n\r\nbody\r\n");
    assert_eq!(run.status, 0, "{}", run.stderr);
    // base64("\0u\0s3cret-pw")
    assert!(server
        .transcript()
        .contains("AUTH PLAIN AHUAczNjcmV0LXB3\r\n"));
}

#[test]
fn password_env_naming_an_unset_variable_is_a_usage_error() {
    let mut a = envelope("s@example.org", &["r@example.org"]);
    a.extend(args(&[
        "--user",
        "u",
        "--password-env",
        "SMTP_SEND_TEST_UNSET",
    ]));
    let mut cmd = Command::new(smtp_send());
    cmd.args(&a).env_remove("SMTP_SEND_TEST_UNSET");
    let run = run_program(cmd, b"x");
    assert_eq!(run.status, 23, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(
            "smtp-send: --password-env names an unset environment variable: SMTP_SEND_TEST_UNSET"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn user_without_a_password_and_without_a_terminal_is_a_usage_error() {
    // setsid: a new session, without a controlling terminal to ask on.
    let mut a = envelope("s@example.org", &["r@example.org"]);
    a.extend(args(&["--user", "u"]));
    let mut cmd = Command::new("setsid");
    cmd.arg("-w").arg(smtp_send()).args(&a);
    let run = run_program(cmd, b"x");
    assert_eq!(run.status, 23, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("smtp-send: --user needs --password-file, --password-env, or a terminal"),
        "{}",
        run.stderr
    );
}

#[test]
fn user_without_a_password_asks_on_the_terminal_without_echo() {
    // util-linux's script(1) runs smtp-send on a pseudo-terminal: the
    // prompt appears there, the password typed is not echoed back.
    let server = auth_plain_server();
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("msg.eml");
    std::fs::write(&msg, b"Subject: x\r\n\r\nbody\r\n").unwrap();
    let mut a = scripted_args(&server, &["r@example.org"]);
    a.extend(args(&["--user", "u"]));
    a.push(msg.display().to_string());
    let command_line = std::iter::once(smtp_send().display().to_string())
        .chain(a.iter().cloned())
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command_line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script not found: install Debian's bsdutils package");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Read the terminal's output until the prompt, then type.
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        loop {
            match std::io::Read::read(&mut stdout, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !String::from_utf8_lossy(&seen).contains("Password for u: ") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!("no prompt: {:?}", String::from_utf8_lossy(&seen)),
        }
    }
    stdin.write_all(b"s3cret-pw\n").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    seen.extend(rx.try_iter().flatten());
    let shown = String::from_utf8_lossy(&seen);
    assert_eq!(status.code(), Some(0), "{shown}");
    assert!(!shown.contains("s3cret-pw"), "echoed: {shown:?}");
    assert!(server
        .transcript()
        .contains("AUTH PLAIN AHUAczNjcmV0LXB3\r\n"));
}

#[test]
fn control_characters_from_the_server_are_escaped() {
    // A reply may carry terminal escape sequences (colours, a window title,
    // a C1 CSI); smtp-send must not pass them to the user's terminal.
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply("250 ok")); // MAIL
    steps.extend(reply(
        "550 5.1.1 \x1b[31mred\x1b]0;title\x07 caf\u{e9} \u{9b}2J tab\there",
    ));
    steps.push(Step::Line); // RCPT two
    steps.push(Step::Send(b"553 5.1.3 raw \xff\\ byte\r\n".to_vec()));
    steps.extend(reply("250 reset")); // RSET
    steps.extend(reply("221 bye")); // QUIT
    let server = Scripted::start(steps);
    let a = scripted_args(&server, &["one@example.org", "two@example.org"]);
    let run = smtp_send_with(&a, b"x");
    assert_eq!(run.status, 5, "{}", run.stderr);
    assert_eq!(
        run.stderr_lines(),
        [
            "refused: one@example.org 550 5.1.1 \\x1b[31mred\\x1b]0;title\\x07 caf\u{e9} \\xc2\\x9b2J tab\\x09here",
            "refused: two@example.org 553 5.1.3 raw \\xff\\\\ byte",
            "smtp-send: SMTPRecipientsRefused: 553 5.1.3 raw \\xff\\\\ byte",
        ]
    );
    assert!(!run.stderr.bytes().any(|b| b < 0x20 && b != b'\n'));
    drop(server.transcript());
}

#[test]
fn an_address_list_and_a_password_from_the_environment_leak_nothing() {
    let server = auth_plain_server();
    let mut a = at(server.port);
    a.extend(args(&[
        "--from",
        "s@example.org",
        "--to",
        "\"Doe, John\" <r@example.org>",
        "--user",
        "u",
        "--password-env",
        "SMTP_SEND_TEST_PW",
    ]));
    let mut cmd = valgrind_command(&a);
    cmd.env("SMTP_SEND_TEST_PW", "s3cret-pw");
    let run = run_program(cmd, b"Subject: x\r\n\r\nbody\r\n");
    assert_clean(&run, 0);
    assert!(server.transcript().contains("RCPT TO:<r@example.org>\r\n"));
}

// ---- a session that ends inside --count ----------------------------------

/// OpenSMTPD's answer to the MAIL after its per-session limit.
const SESSION_LIMIT: &str = "452 4.5.3 Too many recipients: Too many messages sent";

/// One session over STARTTLS with AUTH PLAIN: `accepted` messages, then
/// `end`.
fn tls_auth_session(accepted: usize, end: Vec<Step>) -> Vec<Step> {
    let mut steps = starttls_opening(&["STARTTLS", "AUTH PLAIN", "ENHANCEDSTATUSCODES"]);
    steps.extend([
        Step::Line,
        send("250-scripted.example"),
        send("250-AUTH PLAIN"),
        send("250 ENHANCEDSTATUSCODES"),
    ]);
    steps.extend(reply("235 2.7.0 ok"));
    for _ in 0..accepted {
        steps.extend(accepted_message());
    }
    steps.extend(end);
    steps
}

fn count_args(port: u16, count: usize, password: &Path) -> Vec<String> {
    let mut a = at(port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.extend(args(&["--starttls", "--cafile"]));
    a.push(certs().ca.display().to_string());
    a.extend(args(&["--user", "u", "--password-file"]));
    a.push(password.display().to_string());
    a.extend(args(&["--count", &count.to_string()]));
    a
}

#[test]
fn count_goes_on_over_a_new_session_when_the_server_ends_one() {
    // The server takes 2 messages a session; --count 3 delivers all 3, the
    // third over a second connection with STARTTLS and AUTH again.
    let mut end = reply(SESSION_LIMIT);
    end.extend(reply("250 2.0.0 reset"));
    end.extend(reply("221 2.0.0 bye"));
    let server = ScriptedSessions::start(vec![
        tls_auth_session(2, end),
        tls_auth_session(1, reply("221 2.0.0 bye")),
    ]);
    let mut password = tempfile::NamedTempFile::new().unwrap();
    password.write_all(b"s3cret-pw\n").unwrap();
    let run = smtp_send_with(&count_args(server.port, 3, password.path()), b"x\r\n");
    let sessions = server.transcripts();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "", "nothing refused, nothing failed");
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    for (t, ends) in sessions.iter().zip([2, 1]) {
        assert!(t.starts_with("EHLO "), "{t}");
        assert!(t.contains("STARTTLS\r\nEHLO "), "{t}");
        assert!(t.contains("AUTH PLAIN AHUAczNjcmV0LXB3\r\n"), "{t}");
        assert_eq!(t.matches("\r\n.\r\n").count(), ends, "{t}");
        assert!(t.ends_with("QUIT\r\n"), "{t}");
    }
}

#[test]
fn sysexits_a_batch_whose_connection_is_lost_unjudged_is_75_tempfail() {
    // Messages the server never judged are "try later", whether the session
    // ended with a 421 or with no reply at all.
    let mut first = esmtp_opening(&["ENHANCEDSTATUSCODES"]);
    first.extend(accepted_message());
    first.extend(reply("421 4.7.0 too much mail, closing"));
    let second = esmtp_opening(&["ENHANCEDSTATUSCODES"]); // then hangs up
    let server = ScriptedSessions::start(vec![first, second]);
    let mut a = at(server.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.extend(args(&["--count", "3", "--exit-codes", "sysexits"]));
    let run = smtp_send_with(&a, b"x\r\n");
    let sessions = server.transcripts();
    assert_eq!(run.status, 75, "{}", run.stderr);
    assert!(
        run.stderr.contains("smtp-send: NotAttempted: "),
        "{}",
        run.stderr
    );
    assert_eq!(sessions.len(), 2);
}

#[test]
fn count_stops_when_a_new_session_carries_nothing() {
    // Reconnecting helps only when the last session delivered something;
    // a server that refuses at once would otherwise be called forever.
    let mut first = esmtp_opening(&["ENHANCEDSTATUSCODES"]);
    first.extend(accepted_message());
    first.extend(reply("421 4.7.0 too much mail, closing"));
    let mut second = esmtp_opening(&["ENHANCEDSTATUSCODES"]);
    second.extend(reply("421 4.7.0 too much mail, closing"));
    let server = ScriptedSessions::start(vec![first, second]);
    let mut a = at(server.port);
    a.extend(envelope("s@example.org", &["r@example.org"]));
    a.extend(args(&["--count", "3"]));
    let run = smtp_send_with(&a, b"x\r\n");
    let sessions = server.transcripts();
    assert_eq!(run.status, 25, "{}", run.stderr);
    assert_eq!(
        run.stderr_lines(),
        ["smtp-send: NotAttempted: 421 4.7.0 too much mail, closing"]
    );
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[1].matches("MAIL FROM").count(), 1);
}
