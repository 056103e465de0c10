//! One deadline per operation, over every byte: a server that drips its
//! replies (in clear or as TLS records), reads a body slowly, floods replies
//! without reading, or never accepts, is cut off at the operation's
//! deadline plus a small margin -- never a fresh timeout per read or write.
//!
//! DESIGN.md: "Every operation has one absolute deadline, computed once and
//! used by every socket wait inside it (TLS records and body writes
//! included); no server can stretch it by dripping or by reading slowly."

mod common;

use std::ffi::CString;
use std::time::{Duration, Instant};

use common::certs::certs;
use common::scripted::{esmtp_opening, reply, send, starttls_opening, Scripted, Step};
use smtp::session::Outgoing;
use smtp::{Client, Kind, Status};

/// The deadline of every test here.
const T: Duration = Duration::from_secs(1);
/// How far past the deadline a call may return (scheduling on a loaded
/// machine; the library's own slack is 10 ms).
const MARGIN: Duration = Duration::from_millis(600);
/// A pause between dripped bytes.
const DRIP: Duration = Duration::from_millis(100);

fn client(kind: Kind) -> Client {
    let mut c = common::new_client(kind);
    c.set_timeout(T).unwrap();
    c.set_local_hostname("client.example").unwrap();
    c
}

/// Runs `f`, asserting that it took about one deadline: not more than the
/// deadline plus the margin, and not much less (the deadline was not cut
/// short either).
fn within_deadline<R>(f: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let r = f();
    let took = start.elapsed();
    assert!(took <= T + MARGIN, "took {took:?}, deadline {T:?}");
    assert!(took >= T - Duration::from_millis(100), "took only {took:?}");
    r
}

/// A reply long enough to take 10 s when dripped (100 bytes at 100 ms).
fn long_reply() -> Vec<u8> {
    let mut r = Vec::new();
    for _ in 0..4 {
        r.extend_from_slice(b"250-this reply is dripped byte by byte\r\n");
    }
    r.extend_from_slice(b"250 end\r\n");
    r
}

#[test]
fn a_dripped_greeting_times_out_at_the_deadline() {
    let server = Scripted::start(vec![Step::Drip(long_reply(), DRIP)]);
    let mut c = client(Kind::Smtp);
    let e = within_deadline(|| c.connect("127.0.0.1", server.port).unwrap_err());
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert_eq!(e.message, "reading the greeting timed out after 1.0 s");
    assert!(!c.is_connected());
    assert_eq!(server.transcript(), "", "nothing may be sent");
}

#[test]
fn a_dripped_reply_to_a_command_times_out_and_names_the_command() {
    let mut steps = esmtp_opening(&[]);
    steps.push(Step::Line);
    steps.push(Step::Drip(long_reply(), DRIP));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    c.ehlo("").unwrap();
    let e = within_deadline(|| c.noop().unwrap_err());
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert_eq!(e.message, "reading the reply to NOOP timed out after 1.0 s");
    assert!(!c.is_connected(), "a timed-out connection is closed");
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\nNOOP\r\n",
        "nothing after the timeout"
    );
}

#[test]
fn a_silent_server_after_data_times_out_on_the_reply_to_data() {
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply("250 ok"));
    steps.extend(reply("250 ok"));
    steps.push(Step::Line);
    steps.push(Step::Sleep(T * 3));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c
        .sendmail("a@example.org", &["b@example.org"], b"x\r\n", &[], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert_eq!(e.message, "reading the reply to DATA timed out after 1.0 s");
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    );
}

/// Steps that start TLS at once (implicit TLS), then drip the greeting's
/// TLS records one byte every 100 ms.
fn implicit_tls_dripping() -> Vec<Step> {
    let c = certs();
    vec![
        Step::Tls {
            cert: c.good_cert.clone(),
            key: c.good_key.clone(),
        },
        Step::Drip(long_reply(), DRIP),
    ]
}

#[test]
fn tls_records_dripped_after_an_implicit_tls_handshake_time_out_at_the_deadline() {
    // Before, each of OpenSSL's many socket reads per record got the whole
    // timeout again: 40 s and more with a 3 s timeout.
    let server = Scripted::start(implicit_tls_dripping());
    let mut c = client(Kind::SmtpSsl);
    c.tls_config().ca_file = Some(certs().ca.clone());
    let start = Instant::now();
    let e = c.connect("localhost", server.port).unwrap_err();
    let took = start.elapsed();
    // Two operations: the handshake (quick) and the greeting (dripped).
    assert!(took <= T + MARGIN + Duration::from_millis(300), "{took:?}");
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert_eq!(e.message, "reading the greeting timed out after 1.0 s");
    assert_eq!(server.transcript(), "");
}

#[test]
fn tls_records_dripped_after_starttls_time_out_at_the_deadline() {
    let mut steps = starttls_opening(&["STARTTLS"]);
    steps.extend(reply("250-tls.example\r\n250 SIZE 1000"));
    steps.push(Step::Line);
    steps.push(Step::Drip(long_reply(), DRIP));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.tls_config().ca_file = Some(certs().ca.clone());
    c.connect("localhost", server.port).unwrap();
    c.starttls().unwrap();
    let e = within_deadline(|| c.noop().unwrap_err());
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert_eq!(e.message, "reading the reply to NOOP timed out after 1.0 s");
    assert!(!c.is_connected());
    // The transcript holds the decrypted bytes after the handshake.
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\nNOOP\r\n"
    );
}

/// An opening that accepts MAIL, RCPT and DATA, then does `then`.
fn up_to_data(then: Step) -> Vec<Step> {
    let mut steps = esmtp_opening(&[]);
    steps.extend(reply("250 ok"));
    steps.extend(reply("250 ok"));
    steps.extend(reply("354 go ahead"));
    steps.push(then);
    steps
}

/// A body of `n` bytes in lines.
fn body(n: usize) -> Vec<u8> {
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123\r\n"
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

/// Streams up to `total` bytes of body after `begin`, returning the error
/// that stopped it and how long the body took.
fn stream_body(c: &mut Client, total: usize) -> (smtp::Error, Duration) {
    c.begin("a@example.org", &["b@example.org"], None, &[], &[])
        .unwrap();
    let piece = body(1 << 20);
    let start = Instant::now();
    let mut sent = 0;
    let e = loop {
        if let Err(e) = c.write_body(&piece) {
            break e;
        }
        sent += piece.len();
        if sent >= total {
            break c.end().unwrap_err();
        }
    };
    (e, start.elapsed())
}

#[test]
fn a_server_reading_the_body_slowly_is_cut_off_at_the_deadline() {
    // Before, the write timeout applied to each write() and was restarted
    // whenever a byte went out: still sending after 60 s at 256 KiB/s.
    let server = Scripted::start(up_to_data(Step::SlowRead(256 * 1024, T * 4)));
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let (e, took) = stream_body(&mut c, 64 << 20);
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert_eq!(e.message, "sending the message body timed out after 1.0 s");
    assert!(took <= T + MARGIN, "took {took:?}");
    assert!(!c.is_connected());
    let t = server.finish();
    assert!(t.len() < 64 << 20, "the body was cut short");
    assert!(
        !t.windows(5).any(|w| w == b"\r\n.\r\n"),
        "no end of data after a timed-out body"
    );
}

#[test]
fn a_server_reading_the_body_slowly_over_tls_is_cut_off_at_the_deadline() {
    // OpenSSL writes each record with several socket writes: each waits
    // only for what is left of the body's deadline.
    let c_ = certs();
    let mut steps = vec![Step::Tls {
        cert: c_.good_cert.clone(),
        key: c_.good_key.clone(),
    }];
    steps.extend(up_to_data(Step::SlowRead(256 * 1024, T * 4)));
    let server = Scripted::start(steps);
    let mut c = client(Kind::SmtpSsl);
    c.tls_config().ca_file = Some(c_.ca.clone());
    c.connect("localhost", server.port).unwrap();
    let (e, took) = stream_body(&mut c, 64 << 20);
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert_eq!(e.message, "sending the message body timed out after 1.0 s");
    assert!(took <= T + MARGIN, "took {took:?}");
    assert!(!c.is_connected());
    let t = server.finish();
    assert!(
        t.starts_with(b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n"),
        "{:?}",
        String::from_utf8_lossy(&t[..t.len().min(200)])
    );
    assert!(!t.windows(5).any(|w| w == b"\r\n.\r\n"));
}

#[test]
fn a_server_flooding_replies_and_never_reading_is_cut_off_at_the_deadline() {
    // Before: 4.3 to 6.1 s with a 2 s timeout.
    let server = Scripted::start(up_to_data(Step::Flood(b"250 ok\r\n".repeat(512))));
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let (e, took) = stream_body(&mut c, 256 << 20);
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert_eq!(e.message, "sending the message body timed out after 1.0 s");
    assert!(took <= T + MARGIN, "took {took:?}");
    assert!(!c.is_connected());
    let t = server.transcript();
    assert!(
        t.ends_with("DATA\r\n"),
        "the server read nothing more: {t:?}"
    );
}

#[test]
fn a_streamed_body_to_a_slow_reader_is_bounded_in_time_and_memory() {
    // sendmail_reader offers 1 GiB; a slow reader takes a fraction of it.
    // The client holds at most a chunk of it at a time.
    let server = Scripted::start(up_to_data(Step::SlowRead(1 << 20, T * 4)));
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let before = peak_rss_kib();
    let mut reader = std::io::Read::take(std::io::repeat(b'a'), 1 << 30);
    let start = Instant::now();
    let e = c
        .sendmail_reader(
            "a@example.org",
            &["b@example.org"],
            None,
            &mut reader,
            &[],
            &[],
        )
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert!(took <= T + MARGIN, "took {took:?}");
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "peak RSS grew by {grown} KiB");
    drop(server);
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[test]
fn a_unix_listener_with_a_full_accept_queue_times_out_at_the_deadline() {
    use socket2::{Domain, SockAddr, Socket, Type};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lmtp.sock");
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
    listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
    listener.listen(0).unwrap();
    // Fill the accept queue: connections nobody accepts.
    let mut fillers = Vec::new();
    loop {
        let s = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        match s.connect(&SockAddr::unix(&path).unwrap()) {
            Ok(()) => fillers.push(s),
            Err(_) => break,
        }
        assert!(fillers.len() < 100, "the queue never filled");
    }
    let mut c = client(Kind::Lmtp);
    let e = within_deadline(|| c.connect(path.to_str().unwrap(), 0).unwrap_err());
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert_eq!(
        e.message,
        format!("connecting to {} timed out after 1.0 s", path.display())
    );
    assert!(!c.is_connected());
}

#[test]
fn a_tcp_connect_that_is_never_answered_times_out_at_the_deadline() {
    // A listener whose backlog is full drops further SYNs on Linux, so the
    // connect waits for an answer that never comes.
    use socket2::{Domain, SockAddr, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&SockAddr::from(
            "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
        ))
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let _ = s.connect_timeout(&SockAddr::from(addr), Duration::from_millis(200));
        fillers.push(s);
    }
    let mut c = client(Kind::Smtp);
    let start = Instant::now();
    let e = c.connect("127.0.0.1", addr.port()).unwrap_err();
    assert!(start.elapsed() <= T + MARGIN, "{:?}", start.elapsed());
    assert_eq!(e.status, Status::Timeout, "{e}");
    assert_eq!(
        e.message,
        format!(
            "connecting to 127.0.0.1 port {} timed out after 1.0 s",
            addr.port()
        )
    );
}

#[test]
fn timeouts_out_of_range_are_invalid() {
    let mut c = common::new_client(Kind::Smtp);
    for bad in [Duration::ZERO, Duration::from_secs(86_401), Duration::MAX] {
        assert_eq!(c.set_timeout(bad).unwrap_err().status, Status::Invalid);
    }
    assert_eq!(c.timeout(), smtp::session::DEFAULT_TIMEOUT, "unchanged");
    c.set_timeout(smtp::session::MAX_TIMEOUT).unwrap();
}

#[test]
fn c_api_timeouts_out_of_range_are_smtp_err_invalid() {
    let h = smtp::capi::smtp_new();
    for bad in [
        1e19,
        -1.0,
        0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        86_401.0,
    ] {
        assert_eq!(
            smtp::capi::smtp_set_timeout(h, bad),
            smtp::capi::SMTP_ERR_INVALID,
            "{bad}"
        );
    }
    assert_eq!(smtp::capi::smtp_timeout(h), 60.0, "the default stays");
    assert_eq!(smtp::capi::smtp_set_timeout(h, 0.25), smtp::capi::SMTP_OK);
    assert_eq!(smtp::capi::smtp_timeout(h), 0.25);
    // 1e19 once made the next connect panic on an overflowing deadline.
    let host = CString::new("127.0.0.1").unwrap();
    let port = common::free_port();
    let st = smtp::capi::smtp_connect(h, host.as_ptr(), port as u32);
    assert_eq!(st, smtp::capi::SMTP_ERR_IO, "refused, not a panic");
    smtp::capi::smtp_free(h);
}

#[test]
fn each_command_gets_its_own_deadline() {
    // Three replies, each 0.6 s late: each within its own 1 s deadline,
    // though together they take longer than one.
    let mut steps = esmtp_opening(&[]);
    for _ in 0..3 {
        steps.push(Step::Line);
        steps.push(Step::Sleep(Duration::from_millis(600)));
        steps.push(send("250 ok"));
    }
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    c.ehlo("").unwrap();
    for _ in 0..3 {
        assert_eq!(c.noop().unwrap().code, 250);
    }
    c.close();
    assert_eq!(
        server.transcript(),
        "EHLO client.example\r\nNOOP\r\nNOOP\r\nNOOP\r\n"
    );
}

/// Two messages in a batch with PIPELINING: the second envelope travels
/// with the first end of data.
fn two_messages<'a>(to: &'a [&'a str]) -> Vec<Outgoing<'a>> {
    ["one\r\n", "two\r\n"]
        .iter()
        .map(|m| Outgoing {
            from: "a@example.org",
            to,
            msg: m.as_bytes(),
        })
        .collect()
}

const ENVELOPE: &str = "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n";

#[test]
fn each_step_of_a_pipelined_batch_gets_its_own_deadline() {
    // The first end of data and the second envelope go in one write; the
    // reply to the end of data, then the envelope's replies, each come
    // 0.6 s late: each within its own 1 s deadline, though together they
    // take longer than one.
    let late = Duration::from_millis(600);
    let mut steps = esmtp_opening(&["PIPELINING"]);
    steps.push(Step::Burst(3));
    steps.push(Step::Send(b"250 ok\r\n250 ok\r\n354 go\r\n".to_vec()));
    steps.push(Step::Data);
    steps.push(Step::Burst(3));
    steps.push(Step::Sleep(late));
    steps.push(send("250 2.0.0 queued one"));
    steps.push(Step::Sleep(late));
    steps.push(Step::Send(b"250 ok\r\n250 ok\r\n354 go\r\n".to_vec()));
    steps.push(Step::Data);
    steps.push(Step::Sleep(late));
    steps.push(send("250 2.0.0 queued two"));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let to = ["b@example.org"];
    let outcomes = c.sendmail_batch(&two_messages(&to), &[], &[]);
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert_eq!(c.batch_attempted(), 2);
    c.close();
    assert_eq!(
        server.transcript(),
        format!("EHLO client.example\r\n{ENVELOPE}one\r\n.\r\n{ENVELOPE}two\r\n.\r\n")
    );
}

#[test]
fn a_silent_server_after_an_end_of_data_in_a_batch_times_out_on_the_envelope() {
    // The first end of data is answered; the second envelope never is. The
    // timeout names what was waited for, and the second message, never
    // judged, is not attempted.
    let mut steps = esmtp_opening(&["PIPELINING"]);
    steps.push(Step::Burst(3));
    steps.push(Step::Send(b"250 ok\r\n250 ok\r\n354 go\r\n".to_vec()));
    steps.push(Step::Data);
    steps.push(Step::Burst(3));
    steps.push(send("250 2.0.0 queued one"));
    steps.push(Step::Sleep(T * 3));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let to = ["b@example.org"];
    let outcomes = within_deadline(|| c.sendmail_batch(&two_messages(&to), &[], &[]));
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    let e = outcomes[1].as_ref().unwrap_err();
    assert_eq!(e.status, Status::NotAttempted, "{e}");
    assert!(
        e.message.contains(
            "reading the reply to the pipelined MAIL, RCPT and DATA timed out after 1.0 s"
        ),
        "{e}"
    );
    assert_eq!(c.batch_attempted(), 1);
    assert!(!c.is_connected());
    assert_eq!(
        server.transcript(),
        format!("EHLO client.example\r\n{ENVELOPE}one\r\n.\r\n{ENVELOPE}")
    );
}

#[test]
fn quit_after_a_session_limit_in_a_batch_waits_one_deadline_at_most() {
    // A 452 4.5.3 to MAIL ends the batch with RSET and QUIT; a server that
    // never answers QUIT holds the caller for QUIT's own deadline, no more.
    let mut steps = esmtp_opening(&["PIPELINING", "ENHANCEDSTATUSCODES"]);
    steps.push(Step::Burst(3));
    steps.push(Step::Send(b"250 ok\r\n250 ok\r\n354 go\r\n".to_vec()));
    steps.push(Step::Data);
    steps.push(Step::Burst(3));
    steps.push(Step::Send(
        b"250 2.0.0 queued one\r\n452 4.5.3 Too many messages\r\n\
          503 5.5.1 no\r\n503 5.5.1 no\r\n"
            .to_vec(),
    ));
    steps.extend(reply("250 2.0.0 reset"));
    steps.push(Step::Line);
    steps.push(Step::Sleep(T * 3));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let to = ["b@example.org"];
    let outcomes = within_deadline(|| c.sendmail_batch(&two_messages(&to), &[], &[]));
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    let e = outcomes[1].as_ref().unwrap_err();
    assert_eq!((e.status, e.code), (Status::NotAttempted, Some(452)), "{e}");
    assert_eq!(c.batch_attempted(), 1);
    assert!(!c.is_connected());
    assert_eq!(
        server.transcript(),
        format!("EHLO client.example\r\n{ENVELOPE}one\r\n.\r\n{ENVELOPE}RSET\r\nQUIT\r\n")
    );
}

#[test]
fn the_empty_data_after_refused_recipients_gets_its_own_deadline() {
    // Every recipient refused but DATA answered 354: the client ends the
    // (empty) data at once. The envelope's replies and the reply to that
    // end come 0.6 s late each: each within its own 1 s deadline.
    let late = Duration::from_millis(600);
    let mut steps = esmtp_opening(&["PIPELINING"]);
    steps.push(Step::Burst(3));
    steps.push(Step::Sleep(late));
    steps.push(Step::Send(b"250 ok\r\n550 no\r\n354 go\r\n".to_vec()));
    steps.push(Step::Line);
    steps.push(Step::Sleep(late));
    steps.push(send("554 no valid recipients"));
    steps.extend(reply("250 reset"));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let e = c
        .sendmail("a@example.org", &["b@example.org"], b"x\r\n", &[], &[])
        .unwrap_err();
    assert_eq!(e.status, Status::RecipientsRefused, "{e}");
    assert!(c.is_connected());
    c.close();
    assert_eq!(
        server.transcript(),
        format!("EHLO client.example\r\n{ENVELOPE}.\r\nRSET\r\n")
    );
}

#[test]
fn a_slow_producer_of_a_streamed_body_is_not_the_servers_timeout() {
    // The body's deadline counts the server's time: the caller may take
    // longer than the timeout to produce the whole body.
    let mut steps = up_to_data(Step::Data);
    steps.push(send("250 2.0.0 queued"));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    c.begin("a@example.org", &["b@example.org"], None, &[], &[])
        .unwrap();
    let start = Instant::now();
    for i in 0..5 {
        std::thread::sleep(Duration::from_millis(300));
        c.write_body(format!("line {i}\r\n").as_bytes()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.end().unwrap().is_empty());
    assert!(start.elapsed() > T);
    c.close();
    let t = server.transcript();
    assert!(
        t.ends_with("DATA\r\nline 0\r\nline 1\r\nline 2\r\nline 3\r\nline 4\r\n.\r\n"),
        "{t:?}"
    );
}

#[test]
fn a_reply_that_never_ends_is_cut_off_by_its_bounds_at_once() {
    // A flood of continuation lines: the reply's line bound (512 lines)
    // ends it long before the deadline, with memory bounded.
    let mut steps = vec![send("220 flood.example ESMTP"), Step::Line];
    steps.push(Step::Flood(b"250-flooding the client\r\n".repeat(64)));
    let server = Scripted::start(steps);
    let mut c = client(Kind::Smtp);
    c.connect("127.0.0.1", server.port).unwrap();
    let before = peak_rss_kib();
    let start = Instant::now();
    let e = c.ehlo("").unwrap_err();
    assert!(start.elapsed() < T / 2, "{:?}", start.elapsed());
    assert_eq!(e.status, Status::Response, "{e}");
    assert!(!c.is_connected());
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "peak RSS grew by {grown} KiB");
    assert_eq!(server.transcript(), "EHLO client.example\r\n");
}
