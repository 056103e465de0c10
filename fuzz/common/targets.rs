//! The fuzz targets' bodies, in one place: compiled into each cargo-fuzz
//! binary (fuzz/fuzz_targets/*.rs) and into the corpus replay test
//! (tests/fuzz_replay.rs), so that what the fuzzer found is replayed by
//! `cargo test` through exactly the same code.
//!
//! Each target takes arbitrary bytes and panics only when libsmtp breaks a
//! property it promises: no panic anywhere, results within the stated
//! bounds, chunking that changes nothing, encoders that round-trip, and a
//! session that returns within its deadline whatever the server sends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use smtp::message;
use smtp::protocol::data::DataEncoder;
use smtp::protocol::ehlo::EhloFeatures;
use smtp::protocol::reply::{
    parse_enhanced, Parsed, Reply, ReplyParser, MAX_LINE, MAX_REPLY_BYTES, MAX_REPLY_LINES,
};
use smtp::protocol::sasl;
use smtp::protocol::{address, command};
use smtp::session::{xtext, Outgoing};
use smtp::{Client, Kind, Status};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name: the directory names under fuzz/corpus and
/// fuzz/regressions.
pub const TARGETS: &[(&str, Target)] = &[
    ("reply", reply),
    ("ehlo", ehlo),
    ("message", message),
    ("address", address),
    ("data", data),
    ("sasl", sasl),
    ("session", session),
];

/// The fuzzer's bytes, taken from the front.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }
}

/// Splits the fuzzer's bytes into a payload and the chunks it is fed in: a
/// count byte, that many chunk lengths (used in turn, again and again), then
/// the payload. The chunks always cover the whole payload.
fn chunked(data: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let mut input = Input(data);
    let n = usize::from(input.byte() % 8);
    let lengths: Vec<usize> = input.take(n).iter().map(|b| usize::from(*b)).collect();
    let payload = input.rest();
    let mut chunks = Vec::new();
    let mut rest = payload;
    let mut i = 0;
    while !rest.is_empty() {
        let len = match lengths.get(i % lengths.len().max(1)) {
            Some(l) => (*l).clamp(1, rest.len()),
            None => rest.len(),
        };
        let (head, tail) = rest.split_at(len);
        chunks.push(head);
        rest = tail;
        i += 1;
    }
    (payload, chunks)
}

// ----- replies ----------------------------------------------------------

/// What a parser made of a byte stream: the replies, then the error that
/// stopped it, if any.
#[derive(Debug, PartialEq, Eq)]
struct Replies {
    replies: Vec<Reply>,
    error: Option<String>,
}

fn parse_stream(chunks: &[&[u8]]) -> Replies {
    let mut parser = ReplyParser::new();
    let mut out = Replies {
        replies: Vec::new(),
        error: None,
    };
    for chunk in chunks {
        let mut rest = *chunk;
        loop {
            match parser.feed(rest) {
                Parsed::NeedMore => break,
                Parsed::Reply(reply, used) => {
                    assert!(
                        used > 0 && used <= rest.len(),
                        "used {used} of {}",
                        rest.len()
                    );
                    check_reply(&reply);
                    out.replies.push(reply);
                    rest = &rest[used..];
                    if rest.is_empty() {
                        break;
                    }
                }
                Parsed::Error(e) => {
                    // The message of every error is printable.
                    let _ = e.to_string();
                    out.error = Some(format!("{e:?}"));
                    return out;
                }
            }
        }
    }
    out
}

/// The bounds the reply parser promises.
fn check_reply(reply: &Reply) {
    assert!((0..=999).contains(&reply.code), "code {}", reply.code);
    assert!(!reply.lines.is_empty() && reply.lines.len() <= MAX_REPLY_LINES);
    let total: usize = reply.lines.iter().map(Vec::len).sum();
    assert!(total <= MAX_REPLY_BYTES);
    for line in &reply.lines {
        assert!(line.len() <= MAX_LINE);
        assert!(
            !line.contains(&b'\n'),
            "a line break inside a line: {line:?}"
        );
    }
    assert_eq!(reply.text(), reply.lines.join(&b'\n'));
    if let Some((class, subject, detail)) = reply.enhanced_code() {
        assert!(matches!(class, 2 | 4 | 5));
        assert!(subject <= 999 && detail <= 999);
    }
}

/// The reply parser: the same replies (and the same error) whatever the
/// chunking, each within the bounds, each taking the bytes of its own lines.
pub fn reply(data: &[u8]) {
    let (payload, chunks) = chunked(data);
    let whole = parse_stream(&[payload]);
    let pieces = parse_stream(&chunks);
    assert_eq!(whole, pieces, "chunking changed the replies");
    let bytewise: Vec<&[u8]> = payload.chunks(1).collect();
    if payload.len() <= 4096 {
        assert_eq!(
            whole,
            parse_stream(&bytewise),
            "byte-by-byte feeding differs"
        );
    }
    for line in payload.split(|b| *b == b'\n') {
        if let Some((class, _, _)) = parse_enhanced(line) {
            assert!(matches!(class, 2 | 4 | 5));
        }
    }
}

// ----- EHLO -------------------------------------------------------------

/// The EHLO parser, on the lines of a reply: every keyword is stored
/// lower-cased, once, and found again ignoring case; the AUTH mechanisms are
/// upper-cased words.
pub fn ehlo(data: &[u8]) {
    let lines: Vec<Vec<u8>> = data.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    check_features(&EhloFeatures::parse(&lines));
    // And on what the reply parser makes of the same bytes.
    if let Parsed::Reply(reply, _) = ReplyParser::new().feed(data) {
        check_features(&EhloFeatures::parse(&reply.lines));
    }
}

fn check_features(features: &EhloFeatures) {
    let keywords: Vec<&str> = features.iter().map(|(k, _)| k).collect();
    assert_eq!(keywords.len(), features.len());
    assert_eq!(features.is_empty(), keywords.is_empty());
    for (i, (keyword, params)) in features.iter().enumerate() {
        assert!(!keyword.is_empty());
        assert!(
            keyword
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "keyword {keyword:?}"
        );
        assert!(!keyword.starts_with('-'));
        assert!(!keywords[..i].contains(&keyword), "{keyword:?} twice");
        assert_eq!(features.get(&keyword.to_ascii_uppercase()), Some(params));
        assert!(features.has(keyword));
    }
    for mechanism in features.auth_mechanisms() {
        assert!(!mechanism.is_empty());
        assert!(!mechanism.chars().any(char::is_whitespace));
        assert_eq!(mechanism, mechanism.to_ascii_uppercase());
    }
}

// ----- the header section and the envelope -------------------------------

/// The header reader, the envelope send_message derives, and the Bcc
/// removal: fields lie in order inside the message, the message sent is the
/// message less exactly its Bcc fields, and refusals are `Invalid`.
pub fn message(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let msg = input.rest();
    let fields = message::headers(msg);
    let mut end = 0;
    let mut bcc = Vec::new();
    for f in &fields {
        assert!(f.span.start >= end && f.span.start < f.span.end && f.span.end <= msg.len());
        end = f.span.end;
        assert!(!f.name.is_empty() && f.name.bytes().all(|b| (33..=126).contains(&b) && b != b':'));
        assert!(msg[f.span.clone()].starts_with(f.name.as_bytes()));
        for a in message::mailbox_addresses(&f.value) {
            assert!(!a.is_empty());
        }
        if f.is("Bcc") || f.is("Resent-Bcc") {
            bcc.push(f.span.clone());
        }
    }
    // What is sent: everything but the Bcc spans, in order.
    let mut expected = Vec::new();
    let mut pos = 0;
    for span in &bcc {
        expected.extend_from_slice(&msg[pos..span.start]);
        pos = span.end;
    }
    expected.extend_from_slice(&msg[pos..]);
    let parts = message::kept_parts(msg);
    assert!(!parts.is_empty());
    assert_eq!(parts.concat(), expected, "kept parts");

    let from = (flags & 1 != 0).then_some("given@example.org");
    let given_to: &[&str] = if flags & 4 != 0 {
        &[]
    } else {
        &["to@example.org"]
    };
    let to = (flags & 2 != 0).then_some(given_to);
    match message::envelope(msg, from, to) {
        Ok(env) => {
            if let Some(f) = from {
                assert_eq!(env.from, f);
            }
            if let Some(t) = to {
                assert_eq!(env.to, t);
            }
            assert!(!env.to.is_empty());
        }
        Err(e) => assert_eq!(e.status, Status::Invalid, "{e:?}"),
    }
}

// ----- addresses ----------------------------------------------------------

/// The addresses that go into MAIL, RCPT, VRFY and EXPN: whatever the
/// caller gives, the command line built from it is one line, with no CR, LF
/// or NUL before its end, and ASCII unless SMTPUTF8 is on.
///
/// The RFC 5321 path checker (`protocol::address`) first: an address is an
/// address. What it accepts becomes one `<...>` path that carries no ESMTP
/// parameter (no space, `<` or `>` outside a quoted local part), is ASCII
/// unless SMTPUTF8 is on, and is accepted again as itself; what it refuses
/// is `Invalid`. Then the command builder's argument checks as
/// `Client::verify` composes them.
pub fn address(data: &[u8]) {
    let mut input = Input(data);
    let utf8 = input.byte() & 1 != 0;
    let text = String::from_utf8_lossy(input.rest());
    let addr: &str = &text;
    match address::check_path(addr, utf8) {
        Ok(path) => {
            assert_path_is_one_path(&path, utf8, addr);
            let again = address::check_path(&path, utf8).expect("a checked path checks again");
            assert_eq!(again, path, "{addr:?}");
            let line = command::build("MAIL", &format!("FROM:{path}"), utf8).expect("MAIL line");
            assert!(line.ends_with(b"\r\n"));
            match address::check_forward_path(addr, utf8) {
                Ok(forward) => {
                    assert_eq!(forward, path);
                    assert_ne!(forward, "<>");
                }
                Err(e) => {
                    assert_eq!(e.status, Status::Invalid);
                    assert_eq!(path, "<>", "only the null path is no forward path");
                }
            }
        }
        Err(e) => {
            assert_eq!(e.status, Status::Invalid, "{e:?}");
            assert!(address::check_forward_path(addr, utf8).is_err());
        }
    }
    let _ = command::parseaddr(addr);
    {
        let (verb, args) = ("VRFY", command::addr_only(addr));
        // The session checks the address before parsing it.
        let checked = command::check_arg(addr, true);
        let line = checked.and_then(|()| command::build(verb, &args, utf8));
        match line {
            Ok(line) => {
                assert!(line.starts_with(verb.as_bytes()));
                assert!(line.ends_with(b"\r\n"));
                let body = &line[..line.len() - 2];
                assert!(
                    !body.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)),
                    "{line:?}"
                );
                assert!(utf8 || line.is_ascii());
            }
            Err(e) => {
                assert_eq!(e.status, Status::Invalid);
                assert!(
                    addr.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
                        || (!utf8 && !args.is_ascii()),
                    "refused {addr:?}: {}",
                    e.message
                );
            }
        }
    }
}

/// `path` is `<...>` with nothing inside that could end it or start a
/// parameter: outside a quoted string no space, tab, `<` or `>`.
fn assert_path_is_one_path(path: &str, utf8: bool, from: &str) {
    assert!(utf8 || path.is_ascii(), "{from:?} -> {path:?}");
    let inner = path
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or_else(|| panic!("{from:?} -> {path:?} is not <...>"));
    let (mut quoted, mut escaped) = (false, false);
    for c in inner.chars() {
        assert!(!matches!(c, '\r' | '\n' | '\0'), "{from:?} -> {path:?}");
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted {
            assert!(
                !matches!(c, ' ' | '\t' | '<' | '>'),
                "{from:?} -> {path:?} carries more than a path"
            );
        }
    }
    assert!(!quoted, "{from:?} -> {path:?}: an open quoted string");
}

// ----- DATA ---------------------------------------------------------------

/// The body with every line ending CRLF (bare CR and bare LF each become
/// CRLF).
fn crlf_lines(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if body.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// What the server takes from the wire after DATA, stated plainly: lines
/// up to "." alone; a leading "." removed from every other line (RFC 5321
/// §4.5.2).
fn undo_data(wire: &[u8]) -> Vec<u8> {
    assert!(wire.ends_with(b"\r\n.\r\n"), "no end of data: {wire:?}");
    let body = &wire[..wire.len() - 3];
    let mut out = Vec::with_capacity(body.len());
    let mut lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
    assert_eq!(lines.pop(), Some(&b""[..]));
    for line in lines {
        let line = line.strip_suffix(b"\r").expect("every LF follows a CR");
        assert!(!line.contains(&b'\r'), "a bare CR on the wire");
        let line = match line.strip_prefix(b".") {
            Some(unstuffed) => {
                assert!(unstuffed.starts_with(b"."), "an unstuffed dot line");
                unstuffed
            }
            None => line,
        };
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The DATA (and BDAT) encoder as a round trip: whatever the body and
/// however it is split, the wire bytes are the same, decoding them gives the
/// body with CRLF line endings (and a last CRLF) back, and the end-of-data
/// sequence appears only at the end.
pub fn data(data: &[u8]) {
    let mut input = Input(data);
    let bdat = input.byte() & 1 != 0;
    let (body, chunks) = chunked(input.rest());
    let new = || {
        if bdat {
            DataEncoder::for_bdat()
        } else {
            DataEncoder::new()
        }
    };
    let mut whole = Vec::new();
    let mut enc = new();
    enc.encode(body, &mut whole);
    enc.finish(&mut whole);

    let mut pieces = Vec::new();
    let mut enc2 = new();
    for c in &chunks {
        enc2.encode(c, &mut pieces);
    }
    enc2.finish(&mut pieces);
    assert_eq!(whole, pieces, "chunking changed the wire bytes");

    // An encoder is ready for the next body once finished.
    let mut again = Vec::new();
    enc.encode(body, &mut again);
    enc.finish(&mut again);
    assert_eq!(whole, again, "a reused encoder differs");

    let mut normal = crlf_lines(body);
    assert_eq!(DataEncoder::normalized_len(body), normal.len());
    if !normal.ends_with(b"\r\n") {
        normal.extend_from_slice(b"\r\n");
    }
    if bdat {
        // RFC 3030: the bytes as they are, with CRLF line endings.
        assert_eq!(whole, normal);
    } else {
        let end = whole.len() - 3;
        assert!(
            !whole[..end].windows(5).any(|w| w == b"\r\n.\r\n"),
            "end of data before the end"
        );
        assert!(!whole.starts_with(b".\r\n"), "end of data at the start");
        assert_eq!(undo_data(&whole), normal, "round trip");
    }
}

// ----- SASL, xtext, base64 --------------------------------------------------

/// RFC 3461 §4 xtext, decoded: "+XX" is the byte XX; every other character
/// must be printable ASCII other than "+" and "=".
fn undo_xtext(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        assert!(
            (b'!'..=b'~').contains(&b[i]) && b[i] != b'=',
            "not xchar: {text:?}"
        );
        if b[i] == b'+' {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("two hex digits");
            assert!(hex
                .bytes()
                .all(|h| h.is_ascii_hexdigit() && !h.is_ascii_lowercase()));
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The SASL messages, base64 both ways, xtext and the buffer that holds
/// secrets: round trips, the exact layouts of each mechanism, no panic on
/// any challenge.
pub fn sasl(data: &[u8]) {
    let mut input = Input(data);
    let split = usize::from(input.byte());
    let rest = input.rest();
    let (a, b) = rest.split_at(split.min(rest.len()));
    let user = String::from_utf8_lossy(a);
    let pass = String::from_utf8_lossy(b);

    // base64: what is encoded decodes back; any challenge decodes or is
    // refused, and what decodes re-encodes to the same bytes.
    let encoded = sasl::encode(rest);
    assert!(encoded.as_bytes().is_ascii());
    assert_eq!(sasl::decode(encoded.as_bytes()).as_deref(), Ok(rest));
    if let Ok(decoded) = sasl::decode(rest) {
        let again = sasl::encode(&decoded);
        assert_eq!(sasl::decode(again.as_bytes()), Ok(decoded));
    }

    // xtext (ENVID=, ORCPT=) round-trips and is printable ASCII.
    assert_eq!(undo_xtext(&xtext(&user)), user.as_bytes());

    // The mechanisms' messages.
    assert_eq!(
        sasl::plain(&user, &pass).as_bytes(),
        [b"\0", user.as_bytes(), b"\0", pass.as_bytes()].concat()
    );
    let cram = sasl::cram_md5(&user, &pass, b);
    let (name, digest) = cram.as_bytes().split_at(user.len());
    assert_eq!(name, user.as_bytes());
    assert_eq!(digest.len(), 33);
    assert!(digest[0] == b' ' && digest[1..].iter().all(|h| h.is_ascii_hexdigit()));
    assert_eq!(
        sasl::login(&user, &pass, true, 9).as_bytes(),
        user.as_bytes()
    );
    assert_eq!(
        sasl::login(&user, &pass, false, 2).as_bytes(),
        pass.as_bytes()
    );
    assert_eq!(
        sasl::xoauth2(&user, &pass).as_bytes(),
        [
            b"user=",
            user.as_bytes(),
            b"\x01auth=Bearer ",
            pass.as_bytes(),
            b"\x01\x01"
        ]
        .concat()
    );
    let bearer = sasl::oauthbearer(&user, &pass);
    let gs2 = bearer.as_bytes().strip_prefix(b"n,a=").expect("GS2 header");
    let comma = gs2
        .iter()
        .position(|c| *c == b',')
        .expect("end of saslname");
    let saslname = String::from_utf8_lossy(&gs2[..comma]);
    assert_eq!(saslname.replace("=2C", ",").replace("=3D", "="), *user);
    let _ = sasl::is_mechanism_name(&user);
    let _ = sasl::protects_secret(&user);
    let _ = sasl::oauth_error_ack(&user);

    // A secret grows without losing a byte.
    let mut secret = sasl::Secret::with_capacity(split % 7);
    for piece in rest.chunks(split.max(1)) {
        secret.extend(piece);
    }
    assert_eq!(secret.as_bytes(), rest);
    assert_eq!(
        format!("{secret:?}"),
        format!("Secret(<{} bytes>)", rest.len())
    );
}

// ----- the session against a fuzzed server ------------------------------------

/// The deadline range of the session target (milliseconds): short, so that
/// a silent server costs little, yet above scheduling noise.
const MIN_TIMEOUT_MS: u64 = 5;
const TIMEOUT_SPAN_MS: u64 = 50;
/// The most the fuzzed server pauses in all (milliseconds).
const MAX_SERVER_PAUSES_MS: u64 = 40;
/// Slack for a loaded machine on top of what a call may take.
const MARGIN: Duration = Duration::from_millis(500);
/// More for a call that builds a TLS context: that is work, not a wait on
/// the server (and slow under AddressSanitizer on a loaded machine).
const TLS_SETUP: Duration = Duration::from_secs(1);

/// One piece of what the fuzzed server sends.
struct Chunk {
    /// Wait for one more command line from the client first.
    after_line: bool,
    pause: Duration,
    bytes: Vec<u8>,
}

/// The server's script: each chunk is a header byte (bit 7: wait for a
/// client line; bits 5-6: pause; bits 0-4: length, 31 meaning one more
/// length byte) and its bytes.
fn script(input: &mut Input<'_>) -> (Vec<Chunk>, Duration) {
    let mut chunks = Vec::new();
    let mut paused = 0;
    while !input.0.is_empty() {
        let h = input.byte();
        let mut len = usize::from(h & 0x1f);
        if len == 31 {
            len += usize::from(input.byte()) * 4;
        }
        let mut pause = [0, 0, 1, 3][usize::from((h >> 5) & 3)];
        if paused + pause > MAX_SERVER_PAUSES_MS {
            pause = 0;
        }
        paused += pause;
        chunks.push(Chunk {
            after_line: h & 0x80 != 0,
            pause: Duration::from_millis(pause),
            bytes: input.take(len).to_vec(),
        });
    }
    (chunks, Duration::from_millis(paused))
}

/// The server side: sends the script, pacing it on the client's command
/// lines, records what the client sent, and then closes or waits for the
/// client to close.
fn serve<S: Read + Write + std::os::fd::AsRawFd>(
    mut sock: S,
    chunks: Vec<Chunk>,
    hold: bool,
    sent: Arc<Mutex<Vec<u8>>>,
) {
    let mut lines_seen = 0usize;
    let mut lines_used = 0usize;
    let mut buf = [0u8; 4096];
    let mut read_more = |sock: &mut S, lines_seen: &mut usize| -> bool {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                *lines_seen += buf[..n].iter().filter(|b| **b == b'\n').count();
                if let Ok(mut s) = sent.lock() {
                    if s.len() < 1 << 20 {
                        s.extend_from_slice(&buf[..n]);
                    }
                }
                true
            }
        }
    };
    for chunk in chunks {
        if chunk.after_line {
            while lines_seen <= lines_used {
                if !read_more(&mut sock, &mut lines_seen) {
                    return;
                }
            }
            lines_used += 1;
        }
        std::thread::sleep(chunk.pause);
        // MSG_NOSIGNAL: a client that went away must not raise SIGPIPE here.
        let fd = sock.as_raw_fd();
        let mut rest = &chunk.bytes[..];
        while !rest.is_empty() {
            // SAFETY: `fd` is the open socket `sock` owns; `rest` is valid
            // for `rest.len()` bytes.
            let n = unsafe { libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
            if n <= 0 {
                return;
            }
            rest = &rest[n as usize..];
        }
    }
    if hold {
        while read_more(&mut sock, &mut lines_seen) {}
    }
}

static SIGPIPE_RAISED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigpipe(_: libc::c_int) {
    SIGPIPE_RAISED.store(true, Ordering::SeqCst);
}

/// Prepares the process for the session target, once:
/// - SIGPIPE is recorded instead of killing the process (a C host that does
///   not ignore it would die) or being ignored (Rust's runtime ignores it),
///   so that the target can assert the library never raises it;
/// - the TLS trust store is empty: no fuzzed handshake gets as far as
///   verifying, and loading the system store takes most of a second under
///   AddressSanitizer, which would be counted against the deadlines.
fn session_setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("SSL_CERT_FILE", "/nonexistent/libsmtp-fuzz");
        std::env::set_var("SSL_CERT_DIR", "/nonexistent/libsmtp-fuzz");
        // SAFETY: installs a handler that only stores to an atomic, which
        // is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGPIPE, on_sigpipe as *const () as libc::sighandler_t);
        }
    });
}

const MSG: &[u8] = b"From: a@example.org\r\nTo: b@example.org\r\nBcc: c@example.org\r\n\
Subject: x\r\n\r\nbody\r\n.dot\r\n\xc3\xa9\n";

/// With LIBSMTP_FUZZ_TRACE set, the session target prints each call and
/// its outcome (to read what a crashing input does).
fn trace(what: &str, outcome: &dyn std::fmt::Debug) {
    if std::env::var_os("LIBSMTP_FUZZ_TRACE").is_some() {
        eprintln!("{what}: {outcome:?}");
    }
}

/// Runs one client call picked by `op`.
fn run_op(c: &mut Client, op: u8, timeout: &mut Duration) {
    let variant = op / 24;
    let check = |r: smtp::Result<Reply>| {
        trace(&format!("call {}", op % 24), &r);
        if let Ok(reply) = r {
            check_reply(&reply);
        }
    };
    match op % 24 {
        0 => check(c.ehlo("")),
        1 => check(c.helo("")),
        2 => {
            trace("ehlo_or_helo_if_needed", &c.ehlo_or_helo_if_needed());
        }
        3 => check(c.noop()),
        4 => check(c.rset()),
        5 => check(c.verify("Jo <jo@example.org>")),
        6 => check(c.expn("list")),
        7 => check(c.help(if variant & 1 != 0 { "MAIL" } else { "" })),
        8 => {
            let opts: &[&str] = match variant % 3 {
                0 => &[],
                1 => &["SMTPUTF8"],
                _ => &["BODY=8BITMIME", "SIZE=10"],
            };
            check(c.mail("a@example.org", opts));
        }
        9 => check(c.rcpt("b@example.org", &[])),
        10 => check(c.data(MSG)),
        11 => {
            let r = c.sendmail(
                "a@example.org",
                &["b@example.org", "c@example.org"],
                MSG,
                &[],
                &[],
            );
            trace("sendmail", &r);
        }
        12 => {
            let to = ["b@example.org"];
            let batch = [
                Outgoing {
                    from: "a@example.org",
                    to: &to,
                    msg: MSG,
                },
                Outgoing {
                    from: "",
                    to: &to,
                    msg: b"x",
                },
            ];
            let outcomes = c.sendmail_batch(&batch, &[], &[]);
            trace("sendmail_batch", &outcomes);
            assert_eq!(outcomes.len(), batch.len());
        }
        13 => {
            trace("send_message", &c.send_message(MSG, None, None, &[], &[]));
        }
        14 => check(c.login("user", "secret")),
        15 => check(c.login_oauth2("user", "token", None)),
        16 => check(c.starttls()),
        17 => check(c.quit()),
        18 => {
            if c.begin("a@example.org", &["b@example.org"], None, &[], &[])
                .is_ok()
            {
                trace("write_body", &c.write_body(b"Subject: s\r\n\r\n.line\r"));
                trace("write_body", &c.write_body(b"\n.\r\nmore"));
                trace("end", &c.end());
            }
        }
        19 => check(c.docmd("XFUZZ", "arg")),
        20 => {
            let dsn = c.dsn();
            dsn.ret = Some(smtp::session::DsnRet::Hdrs);
            dsn.envid = Some("id+1=x".to_string());
            dsn.notify = smtp::session::NOTIFY_SUCCESS | smtp::session::NOTIFY_FAILURE;
            dsn.orcpt = true;
        }
        21 => {
            let t = Duration::from_millis(MIN_TIMEOUT_MS + u64::from(variant) * 4);
            if c.set_timeout(t).is_ok() {
                *timeout = t;
            }
        }
        22 => check(c.getreply()),
        _ => {
            c.set_pipelining(variant & 1 != 0);
            c.set_chunking(variant & 2 != 0);
        }
    }
    assert!(c.recipient_results().len() <= 2);
}

static SOCKETS: AtomicU64 = AtomicU64::new(0);

/// The session driven by a fuzzed server: a configuration byte (transport,
/// pipelining, chunking, whether the server holds the connection open, a
/// transcript, blocking or non-blocking), a deadline, up to eight client calls, and the server's
/// script. Whatever the server sends, split wherever it is, every call
/// returns within its deadline (one wait for a silent server, plus the
/// server's own pauses), nothing panics, SIGPIPE is never raised, and what
/// the client wrote, when no TLS was tried, is CRLF lines only.
pub fn session(data: &[u8]) {
    session_setup();
    let mut input = Input(data);
    let config = input.byte();
    let mut timeout =
        Duration::from_millis(MIN_TIMEOUT_MS + u64::from(input.byte()) % TIMEOUT_SPAN_MS);
    let nops = usize::from(input.byte() % 8) + 1;
    let ops = input.take(nops).to_vec();
    let (chunks, pauses) = script(&mut input);
    let hold = config & 0x10 != 0;

    let kind = match (config & 3, config & 0x40 != 0) {
        (2 | 3, _) => Kind::Lmtp,
        (_, true) => Kind::SmtpSsl,
        _ => Kind::Smtp,
    };
    let mut client = Client::new(kind);
    client
        .set_local_hostname("client.example")
        .expect("a valid name");
    client.set_timeout(timeout).expect("a valid timeout");
    client.set_pipelining(config & 4 != 0);
    client.set_chunking(config & 8 != 0);
    if config & 0x80 != 0 {
        // The same calls as suspending operations, resumed from poll(2).
        client.set_nonblocking(true).expect("non-blocking mode");
    }
    if config & 0x20 != 0 {
        client.debug().set_level(2);
        client.debug().set_sink(Some(Box::new(|_: &str| {})));
    }

    let sent = Arc::new(Mutex::new(Vec::new()));
    let sent2 = Arc::clone(&sent);
    let unix = config & 3 == 2;
    let (server, target, unblock): (_, String, Box<dyn Fn()>) = if unix {
        let n = SOCKETS.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("libsmtp-fuzz-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("a Unix socket in the temp directory");
        let server = std::thread::spawn(move || {
            if let Ok((sock, _)) = listener.accept() {
                let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
                serve(sock, chunks, hold, sent2);
            }
        });
        let p = path.to_string_lossy().into_owned();
        let p2 = path.clone();
        (
            server,
            p,
            Box::new(move || {
                let _ = UnixStream::connect(&p2);
                let _ = std::fs::remove_file(&p2);
            }),
        )
    } else {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let server = std::thread::spawn(move || {
            if let Ok((sock, _)) = listener.accept() {
                let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
                // Each chunk leaves at once (no Nagle delay against the
                // client's delayed ACK).
                let _ = sock.set_nodelay(true);
                serve(sock, chunks, hold, sent2);
            }
        });
        (
            server,
            addr.to_string(),
            Box::new(move || {
                let _ = TcpStream::connect(addr);
            }),
        )
    };

    // Connecting is the first call; the calls go on even if it failed.
    let bound = |t: Duration| 2 * t + pauses + MARGIN;
    let t0 = Instant::now();
    let connected = client.connect(&target, 0);
    trace("connect", &connected);
    let tls_setup = if kind == Kind::SmtpSsl {
        TLS_SETUP
    } else {
        Duration::ZERO
    };
    assert!(
        t0.elapsed() <= bound(timeout) + tls_setup,
        "connect took {:?}",
        t0.elapsed()
    );
    if let Ok(reply) = &connected {
        check_reply(reply);
    }
    let mut tls_tried = kind == Kind::SmtpSsl;
    for op in ops {
        tls_tried |= op % 24 == 16;
        let before = timeout;
        let t0 = Instant::now();
        run_op(&mut client, op, &mut timeout);
        let took = t0.elapsed();
        let mut limit = bound(before.max(timeout));
        if op % 24 == 16 {
            limit += TLS_SETUP;
        }
        assert!(
            took <= limit,
            "call {} took {took:?}, more than {limit:?}",
            op % 24
        );
    }
    drop(client);
    unblock();
    let _ = server.join();
    assert!(
        !SIGPIPE_RAISED.swap(false, Ordering::SeqCst),
        "a write raised SIGPIPE: a C host that does not ignore it would die"
    );
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    trace("the client sent", &String::from_utf8_lossy(&sent));
    if !tls_tried {
        for (i, b) in sent.iter().enumerate() {
            match b {
                b'\r' => assert!(
                    i + 1 == sent.len() || sent[i + 1] == b'\n',
                    "a bare CR from the client"
                ),
                b'\n' => assert!(i > 0 && sent[i - 1] == b'\r', "a bare LF from the client"),
                _ => {}
            }
        }
    }
}
