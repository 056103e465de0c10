//! Non-blocking handles through the C API: an operation that must wait
//! returns SMTP_AGAIN and says on what (descriptor, direction, time left);
//! resumed when that is ready it completes with exactly what the blocking
//! call gives; the deadline stays libsmtp's; the multi handle drives many
//! sessions from one thread. The server side is played by the test itself,
//! one step at a time, so that each wait is certain.
//!
//! (The scripted session tests run a second time in non-blocking mode,
//! through tests/run-all: `common::NONBLOCKING_ENV`.)

mod common;

use std::ffi::{c_char, CStr, CString};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ptr::null;
use std::time::{Duration, Instant};

use common::scripted::{accepted_message, esmtp_opening, reply, send, Scripted, Step};
use smtp::capi::*;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn text(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: a C string borrowed from a live handle.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Waits, as an event loop would, for what the pending operation of `h`
/// waits for: its descriptor in its direction, at most its time left.
fn wait_for(h: *mut smtp_handle) {
    let fd = smtp_fd(h);
    let want = smtp_want(h);
    let ms = smtp_wait_ms(h);
    assert!(ms >= 0, "an operation is pending");
    let mut events = 0;
    if want & SMTP_WANT_READ != 0 {
        events |= libc::POLLIN;
    }
    if want & SMTP_WANT_WRITE != 0 {
        events |= libc::POLLOUT;
    }
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, u64::from(fd >= 0), ms.min(i32::MAX as i64) as i32) };
}

/// Resumes until the operation completes; returns its status and how many
/// times it was SMTP_AGAIN.
fn finish(h: *mut smtp_handle, first: smtp_status) -> (smtp_status, usize) {
    let mut st = first;
    let mut waits = 0;
    while st == SMTP_AGAIN {
        waits += 1;
        wait_for(h);
        st = smtp_resume(h);
    }
    (st, waits)
}

/// A server the test plays by hand.
struct Peer {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Peer {
    fn accept(listener: &TcpListener) -> Peer {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Peer {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }
    fn say(&mut self, bytes: &str) {
        self.writer.write_all(bytes.as_bytes()).unwrap();
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).unwrap();
        l
    }
}

fn nonblocking_handle(timeout: f64) -> *mut smtp_handle {
    let h = smtp_new();
    assert_eq!(
        smtp_set_local_hostname(h, c("client.example").as_ptr()),
        SMTP_OK
    );
    assert_eq!(smtp_set_timeout(h, timeout), SMTP_OK);
    assert_eq!(smtp_set_nonblocking(h, 1), SMTP_OK);
    h
}

#[test]
fn a_call_that_must_wait_returns_again_says_on_what_and_resumes_to_the_blocking_result() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port() as u32;
    let h = nonblocking_handle(10.0);
    let host = c("127.0.0.1");

    // No greeting yet: the connect (or the greeting's read) must wait.
    let st = smtp_connect(h, host.as_ptr(), port);
    assert_eq!(st, SMTP_AGAIN);
    assert_eq!(smtp_pending(h), 1);
    assert_eq!(smtp_error_code(h), SMTP_AGAIN);
    assert!(smtp_fd(h) >= 0);
    assert_ne!(smtp_want(h), 0);
    let ms = smtp_wait_ms(h);
    assert!((9_000..=10_000).contains(&ms), "the deadline: {ms} ms left");
    let mut peer = Peer::accept(&listener);
    // Resumed before anything arrived: still waiting, now for the greeting.
    let mut st = smtp_resume(h);
    while st == SMTP_AGAIN && smtp_want(h) != SMTP_WANT_READ {
        wait_for(h);
        st = smtp_resume(h);
    }
    assert_eq!(st, SMTP_AGAIN);
    assert_eq!(smtp_want(h), SMTP_WANT_READ);
    // A greeting in two pieces: the first is not a reply yet.
    peer.say("220 mx.example ");
    wait_for(h);
    assert_eq!(smtp_resume(h), SMTP_AGAIN, "half a greeting is no reply");
    peer.say("ESMTP ready\r\n");
    let (st, _) = finish(h, SMTP_AGAIN);
    assert_eq!(st, SMTP_OK);
    assert_eq!(smtp_pending(h), 0);
    assert_eq!(smtp_reply_code(h), 220);
    assert_eq!(text(smtp_reply_text(h)), "mx.example ESMTP ready");
    assert_eq!(smtp_fd(h), -1, "nothing pending: no descriptor");
    assert_eq!(smtp_wait_ms(h), -1);

    // EHLO: sent at once, then the reply must be waited for.
    assert_eq!(smtp_ehlo(h, null()), SMTP_AGAIN);
    assert_eq!(smtp_want(h), SMTP_WANT_READ);
    assert_eq!(peer.line(), "EHLO client.example\r\n");
    peer.say("250-mx.example\r\n250-PIPELINING\r\n");
    wait_for(h);
    assert_eq!(smtp_resume(h), SMTP_AGAIN, "a multiline reply, half sent");
    peer.say("250 8BITMIME\r\n");
    assert_eq!(finish(h, SMTP_AGAIN).0, SMTP_OK);
    assert_eq!(smtp_does_esmtp(h), 1);
    assert_eq!(smtp_has_extn(h, c("pipelining").as_ptr()), 1);

    // A refused sender: the same status and error the blocking call gives.
    let from = c("a@example.org");
    let to = c("b@example.org");
    let to_list = [to.as_ptr()];
    let msg = b"Subject: x\r\n\r\nhello\r\n";
    let st = smtp_sendmail(
        h,
        from.as_ptr(),
        to_list.as_ptr(),
        1,
        msg.as_ptr(),
        msg.len(),
        null(),
        0,
        null(),
        0,
    );
    assert_eq!(st, SMTP_AGAIN);
    // RFC 2920: MAIL, RCPT and DATA in one write.
    assert_eq!(peer.line(), "MAIL FROM:<a@example.org>\r\n");
    assert_eq!(peer.line(), "RCPT TO:<b@example.org>\r\n");
    assert_eq!(peer.line(), "DATA\r\n");
    peer.say("550 5.7.1 no relay for you\r\n250 ok\r\n554 no valid recipients\r\n");
    // smtplib: RSET after a refused sender, its reply read in turn.
    let rset = std::thread::spawn(move || {
        let line = peer.line();
        peer.say("250 flushed\r\n");
        (line, peer)
    });
    let (st, _) = finish(h, SMTP_AGAIN);
    let (line, mut peer) = rset.join().unwrap();
    assert_eq!(line, "RSET\r\n");
    assert_eq!(smtp_reply_code(h), 250, "the reply to RSET was read");
    assert_eq!(st, SMTP_ERR_SENDER_REFUSED);
    assert_eq!(smtp_error_reply_code(h), 550);
    assert_eq!(text(smtp_error_sender(h)), "a@example.org");
    assert_eq!(text(smtp_error_reply_enhanced(h)), "5.7.1");

    // QUIT.
    assert_eq!(smtp_quit(h), SMTP_AGAIN);
    assert_eq!(peer.line(), "QUIT\r\n");
    peer.say("221 bye\r\n");
    assert_eq!(finish(h, SMTP_AGAIN).0, SMTP_OK);
    assert_eq!(smtp_is_connected(h), 0);
    smtp_free(h);
}

#[test]
fn a_server_that_trickles_cannot_stretch_the_deadline() {
    // The deadline is the operation's, not each byte's: a reply sent one
    // byte every 100 ms, against a 1 s timeout, ends in a timeout at about
    // 1 s, when the caller resumes at the time smtp_wait_ms gave.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port() as u32;
    let h = nonblocking_handle(1.0);
    let st = smtp_connect(h, c("127.0.0.1").as_ptr(), port);
    let mut peer = Peer::accept(&listener);
    peer.say("220 hi\r\n");
    assert_eq!(finish(h, st).0, SMTP_OK);
    let started = Instant::now();
    let st = smtp_noop(h);
    assert_eq!(st, SMTP_AGAIN);
    assert_eq!(peer.line(), "NOOP\r\n");
    let dripper = std::thread::spawn(move || {
        for b in b"250 this reply never ends ".iter().cycle().take(100) {
            if peer.writer.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let (st, waits) = finish(h, st);
    let took = started.elapsed();
    assert_eq!(st, SMTP_ERR_TIMEOUT);
    assert!(waits > 3, "the bytes came one by one: {waits} waits");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "ended at the deadline: {took:?}"
    );
    assert_eq!(
        text(smtp_error_message(h)),
        "reading the reply to NOOP timed out after 1.0 s"
    );
    assert_eq!(smtp_is_connected(h), 0, "a timeout closes the connection");
    smtp_free(h);
    dripper.join().unwrap();
}

#[test]
fn a_streamed_body_is_fed_piece_by_piece_when_the_socket_takes_more() {
    // The server reads nothing of the body until the client has filled the
    // socket buffers: smtp_send_write must then return SMTP_AGAIN, wanting
    // to write, and the caller resumes before giving the next piece. The
    // server gets every byte, in order, dot-stuffed.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port() as u32;
    let h = nonblocking_handle(20.0);
    assert_eq!(smtp_set_pipelining(h, 0), SMTP_OK);
    let st = smtp_connect(h, c("127.0.0.1").as_ptr(), port);
    let mut peer = Peer::accept(&listener);
    peer.say("220 hi\r\n");
    assert_eq!(finish(h, st).0, SMTP_OK);
    let from = c("a@example.org");
    let to = c("b@example.org");
    let to_list = [to.as_ptr()];
    let server = std::thread::spawn(move || {
        let mut got = Vec::new();
        for answer in ["250 hi\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"] {
            got.extend_from_slice(peer.line().as_bytes());
            peer.say(answer);
        }
        // Let the client fill the socket before reading the body.
        std::thread::sleep(Duration::from_millis(500));
        let mut body = Vec::new();
        let mut buf = [0u8; 65536];
        while !body.ends_with(b"\r\n.\r\n") {
            let n = peer.reader.read(&mut buf).unwrap();
            assert!(n > 0, "the client closed mid-body");
            body.extend_from_slice(&buf[..n]);
        }
        peer.say("250 2.0.0 queued\r\n");
        (got, body)
    });
    let st = smtp_send_begin(
        h,
        from.as_ptr(),
        to_list.as_ptr(),
        1,
        0,
        null(),
        0,
        null(),
        0,
    );
    assert_eq!(finish(h, st).0, SMTP_OK);
    // 256 pieces of 64 KiB (16 MiB), each line starting with a dot to be stuffed.
    let line = {
        let mut l = vec![b'x'; 1022];
        l[0] = b'.';
        l.extend_from_slice(b"\r\n");
        l
    };
    let piece: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
    let mut again = 0;
    for _ in 0..256 {
        let st = smtp_send_write(h, piece.as_ptr(), piece.len());
        if st == SMTP_AGAIN {
            again += 1;
            assert_eq!(smtp_want(h), SMTP_WANT_WRITE, "the socket is full");
        }
        assert_eq!(finish(h, st).0, SMTP_OK);
    }
    assert!(
        again > 0,
        "16 MiB cannot all fit in the socket buffers at once"
    );
    assert_eq!(finish(h, smtp_send_end(h)).0, SMTP_OK);
    assert_eq!(smtp_reply_code(h), 250);
    let (commands, body) = server.join().unwrap();
    assert_eq!(
        String::from_utf8(commands).unwrap(),
        "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    );
    // RFC 5321 §4.5.2: "If the first character is a period ..., one
    // additional period is inserted at the beginning of the line."
    let stuffed_line = [b".".as_slice(), &line].concat();
    let expected: Vec<u8> = std::iter::repeat(stuffed_line.as_slice())
        .take(256 * 64)
        .flatten()
        .copied()
        .chain(b".\r\n".iter().copied())
        .collect();
    assert_eq!(body.len(), expected.len());
    assert!(body == expected, "every byte, in order, dot-stuffed");
    smtp_free(h);
}

#[test]
fn a_multi_handle_drives_several_sessions_to_the_same_bytes_from_one_thread() {
    // Each session: the scripted dialog of a sendmail, byte for byte as in
    // blocking mode (tests/session.rs), all from this one thread.
    const N: usize = 8;
    let servers: Vec<Scripted> = (0..N)
        .map(|_| {
            Scripted::start(
                [
                    esmtp_opening(&["PIPELINING", "8BITMIME"]),
                    accepted_message(),
                    reply("221 bye"),
                ]
                .concat(),
            )
        })
        .collect();
    let m = smtp_multi_new();
    let host = c("127.0.0.1");
    let handles: Vec<*mut smtp_handle> = servers
        .iter()
        .map(|_| {
            let h = smtp_new();
            assert_eq!(
                smtp_set_local_hostname(h, c("client.example").as_ptr()),
                SMTP_OK
            );
            assert_eq!(smtp_set_timeout(h, 10.0), SMTP_OK);
            assert_eq!(smtp_multi_add(m, h), SMTP_OK);
            assert_eq!(smtp_multi_add(m, h), SMTP_ERR_INVALID, "in one multi only");
            h
        })
        .collect();
    assert_eq!(smtp_multi_count(m), N);
    let from = c("a@example.org");
    let to = c("b@example.org");
    let to_list = [to.as_ptr()];
    let msg = b"Subject: hi\r\n\r\nhello\r\n";
    // Each session's step: 0 connect, 1 sendmail, 2 quit, 3 done.
    let mut step = vec![0usize; N];
    let start = |i: usize, step: usize| -> smtp_status {
        let h = handles[i];
        match step {
            0 => smtp_connect(h, host.as_ptr(), u32::from(servers[i].port)),
            1 => smtp_sendmail(
                h,
                from.as_ptr(),
                to_list.as_ptr(),
                1,
                msg.as_ptr(),
                msg.len(),
                null(),
                0,
                null(),
                0,
            ),
            _ => smtp_quit(h),
        }
    };
    let advance = |i: usize, mut st: smtp_status, step: &mut Vec<usize>| loop {
        assert_eq!(st, SMTP_OK, "session {i} step {}", step[i]);
        step[i] += 1;
        if step[i] == 3 {
            return;
        }
        st = start(i, step[i]);
        if st == SMTP_AGAIN {
            return;
        }
    };
    for i in 0..N {
        let st = start(i, 0);
        if st != SMTP_AGAIN {
            advance(i, st, &mut step);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp_multi_pending(m) > 0 {
        assert!(Instant::now() < deadline, "sessions stuck: {step:?}");
        assert!(smtp_multi_run(m, 1000) >= 0);
        let mut st = SMTP_OK;
        loop {
            let h = smtp_multi_next(m, &mut st);
            if h.is_null() {
                break;
            }
            let i = handles.iter().position(|x| *x == h).unwrap();
            advance(i, st, &mut step);
        }
    }
    assert_eq!(step, vec![3; N]);
    assert_eq!(
        smtp_multi_run(m, 1000),
        0,
        "nothing pending: returns at once"
    );
    for (h, server) in handles.iter().zip(servers) {
        assert_eq!(
            server.transcript(),
            "EHLO client.example\r\n\
             MAIL FROM:<a@example.org>\r\n\
             RCPT TO:<b@example.org>\r\n\
             DATA\r\n\
             Subject: hi\r\n\r\nhello\r\n.\r\n\
             QUIT\r\n"
        );
        smtp_free(*h);
    }
    assert_eq!(smtp_multi_count(m), 0, "smtp_free takes a handle out");
    smtp_multi_free(m);
}

/// Server lines sent one after another, without reading.
fn reply_lines(lines: &[&str]) -> Vec<Step> {
    lines.iter().map(|l| send(l)).collect()
}

/// Runs one call on a non-blocking handle to completion, as an event loop
/// would.
fn complete(h: *mut smtp_handle, st: smtp_status) -> smtp_status {
    finish(h, st).0
}

#[test]
fn a_batch_completes_later_with_each_messages_status_written_then() {
    // The dialog of pipelining.rs's blocking batch test: the first message
    // refused at its end (552), the second delivered, the second envelope
    // travelling with the first end of data (RFC 2920), so no RSET between
    // them. The test plays the server, after the call has returned.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port() as u32;
    let h = nonblocking_handle(10.0);
    let st = smtp_connect(h, c("127.0.0.1").as_ptr(), port);
    let mut peer = Peer::accept(&listener);
    peer.say("220 hi\r\n");
    assert_eq!(complete(h, st), SMTP_OK);
    let from = c("a@x");
    let to = c("b@y");
    let to_list = [to.as_ptr()];
    let bodies: [&[u8]; 2] = [b"big", b"small"];
    let messages: Vec<smtp_message> = bodies
        .iter()
        .map(|b| smtp_message {
            from: from.as_ptr(),
            to: to_list.as_ptr(),
            n_to: 1,
            data: b.as_ptr(),
            len: b.len(),
        })
        .collect();
    // Written when the operation completes, not before.
    let mut statuses = [-1 as smtp_status; 2];
    let st = smtp_sendmail_batch(
        h,
        messages.as_ptr(),
        2,
        null(),
        0,
        null(),
        0,
        statuses.as_mut_ptr(),
    );
    assert_eq!(st, SMTP_AGAIN, "EHLO is not answered yet");
    assert_eq!(statuses, [-1, -1], "nothing written while pending");
    let server = std::thread::spawn(move || {
        let mut got = String::new();
        let mut lines = |peer: &mut Peer, n: usize| {
            for _ in 0..n {
                got.push_str(&peer.line());
            }
        };
        lines(&mut peer, 1);
        peer.say("250-mx.example\r\n250 PIPELINING\r\n");
        lines(&mut peer, 3);
        peer.say("250 ok\r\n250 ok\r\n354 go\r\n");
        // The first body and its end, then the next envelope in the same
        // write, before any reply.
        lines(&mut peer, 5);
        peer.say("552 5.3.4 too big\r\n250 ok\r\n250 ok\r\n354 go\r\n");
        lines(&mut peer, 2);
        peer.say("250 queued\r\n");
        got
    });
    assert_eq!(
        complete(h, st),
        SMTP_ERR_DATA,
        "the first error, as blocking"
    );
    assert_eq!(statuses, [SMTP_ERR_DATA, SMTP_OK]);
    assert_eq!(smtp_batch_attempted(h), 2);
    assert_eq!(
        server.join().unwrap(),
        "EHLO client.example\r\n\
         MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n\
         big\r\n.\r\n\
         MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n\
         small\r\n.\r\n"
    );
    smtp_free(h);
}

#[test]
fn lmtp_reads_one_reply_per_recipient_after_resumes() {
    // RFC 2033 §4.2: "after the final ".", the server returns one reply
    // for each recipient that was successfully named in a RCPT command".
    // The two replies come apart: the operation waits between them.
    let server = Scripted::start(
        [
            vec![send("220 lmtp.example LMTP"), Step::Line],
            reply_lines(&["250-lmtp.example", "250 PIPELINING"]),
            vec![Step::Burst(5)],
            reply_lines(&[
                "250 ok",
                "250 ok",
                "550 5.1.1 no such user",
                "250 ok",
                "354 go",
            ]),
            vec![Step::Data, send("250 2.0.0 delivered to b")],
            vec![Step::Sleep(Duration::from_millis(300))],
            vec![send("452 4.2.2 mailbox of d full")],
            vec![Step::Sleep(Duration::from_millis(10))],
        ]
        .concat(),
    );
    let h = smtp_new_lmtp();
    assert_eq!(
        smtp_set_local_hostname(h, c("client.example").as_ptr()),
        SMTP_OK
    );
    assert_eq!(smtp_set_nonblocking(h, 1), SMTP_OK);
    let st = smtp_connect(h, c("127.0.0.1").as_ptr(), u32::from(server.port));
    assert_eq!(complete(h, st), SMTP_OK);
    let from = c("a@example.org");
    let to: Vec<CString> = ["b@example.org", "c@example.org", "d@example.org"]
        .iter()
        .map(|a| c(a))
        .collect();
    let to_list: Vec<*const c_char> = to.iter().map(|a| a.as_ptr()).collect();
    let msg = b"Subject: lmtp\r\n\r\nhi\r\n";
    let st = smtp_sendmail(
        h,
        from.as_ptr(),
        to_list.as_ptr(),
        3,
        msg.as_ptr(),
        msg.len(),
        null(),
        0,
        null(),
        0,
    );
    let (st, waits) = finish(h, st);
    assert!(waits >= 1, "the second reply came 300 ms after the first");
    assert_eq!(st, SMTP_OK, "one recipient delivered");
    assert_eq!(smtp_recipient_count(h), 3);
    let codes: Vec<i32> = (0..3)
        .map(|i| {
            let mut code = 0;
            assert_eq!(
                smtp_recipient_get(
                    h,
                    i,
                    std::ptr::null_mut(),
                    &mut code,
                    std::ptr::null_mut(),
                    std::ptr::null_mut()
                ),
                SMTP_OK
            );
            code
        })
        .collect();
    assert_eq!(codes, [250, 550, 452]);
    smtp_free(h);
    assert!(server.transcript().starts_with("LHLO client.example\r\n"));
}

#[test]
fn a_connected_blocking_handle_switches_to_non_blocking_and_back() {
    // smtp_set_nonblocking applies to the connection already open: the
    // next call suspends instead of waiting, and after switching back the
    // calls wait again.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port() as u32;
    let server = std::thread::spawn(move || {
        let mut peer = Peer::accept(&listener);
        peer.say("220 hi\r\n");
        assert_eq!(peer.line(), "NOOP\r\n");
        // The client is non-blocking now: it must not wait for this reply.
        std::thread::sleep(Duration::from_millis(300));
        peer.say("250 first\r\n");
        assert_eq!(peer.line(), "NOOP\r\n");
        std::thread::sleep(Duration::from_millis(100));
        peer.say("250 second\r\n");
    });
    let h = smtp_new();
    assert_eq!(smtp_set_timeout(h, 10.0), SMTP_OK);
    assert_eq!(smtp_connect(h, c("127.0.0.1").as_ptr(), port), SMTP_OK);
    assert_eq!(smtp_set_nonblocking(h, 1), SMTP_OK);
    let st = smtp_noop(h);
    assert_eq!(st, SMTP_AGAIN, "the reply is 300 ms away: it did not wait");
    assert_eq!(smtp_want(h), SMTP_WANT_READ);
    assert_eq!(complete(h, st), SMTP_OK);
    assert_eq!(text(smtp_reply_text(h)), "first");
    assert_eq!(smtp_set_nonblocking(h, 0), SMTP_OK);
    assert_eq!(smtp_noop(h), SMTP_OK, "blocking again: the call waits");
    assert_eq!(text(smtp_reply_text(h)), "second");
    server.join().unwrap();
    smtp_free(h);
}
