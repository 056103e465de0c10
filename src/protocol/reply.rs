//! Server replies: a bounded, incremental parser (RFC 5321 §4.2).
//!
//! Bytes go in as they arrive; a complete `Reply` comes out once its last
//! line ("NNN " or "NNN" alone) has been read. Every line is capped at
//! `MAX_LINE` bytes (smtplib's `_MAXLINE`), and a reply at `MAX_REPLY_LINES`
//! lines and `MAX_REPLY_BYTES` bytes, so a hostile server cannot make the
//! client buffer without bound.

/// The longest reply line accepted, terminator included (smtplib's _MAXLINE).
pub const MAX_LINE: usize = 8192;
/// The most lines one reply may have.
pub const MAX_REPLY_LINES: usize = 512;
/// The most bytes one reply may have.
pub const MAX_REPLY_BYTES: usize = 256 * 1024;

/// One complete server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: i32,
    /// The text of each line, without code, separator and line ending
    /// (stripped of surrounding blanks as smtplib does).
    pub lines: Vec<Vec<u8>>,
}

impl Reply {
    /// The lines joined by "\n", as smtplib's getreply() returns them.
    pub fn text(&self) -> Vec<u8> {
        self.lines.join(&b'\n')
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The enhanced status code (RFC 3463 "class.subject.detail") that
    /// starts the first line, if any.
    pub fn enhanced_code(&self) -> Option<(u8, u16, u16)> {
        parse_enhanced(self.lines.first()?)
    }
}

/// Parses "x.y.z" at the start of `text` (RFC 3463 §2: class 2, 4 or 5;
/// subject and detail of one to three digits), followed by a space or the end.
pub fn parse_enhanced(text: &[u8]) -> Option<(u8, u16, u16)> {
    let end = text.iter().position(|b| *b == b' ').unwrap_or(text.len());
    let word = std::str::from_utf8(&text[..end]).ok()?;
    let mut parts = word.split('.');
    let class: u8 = parts.next()?.parse().ok()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    if parts.next().is_some() || !matches!(class, 2 | 4 | 5) {
        return None;
    }
    let digits = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(subject) || !digits(detail) {
        return None;
    }
    Some((class, subject.parse().ok()?, detail.parse().ok()?))
}

/// Why a reply could not be parsed. Each of these leaves the connection out
/// of step with the server, so the session closes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// A line longer than `MAX_LINE`.
    LineTooLong,
    /// More than `MAX_REPLY_LINES` lines or `MAX_REPLY_BYTES` bytes.
    TooLarge,
    /// A line that does not start with three digits.
    BadCode(Vec<u8>),
    /// A continuation line whose code differs from the first line's.
    CodeMismatch {
        /// The first line's code.
        first: i32,
        /// The offending line's code.
        found: i32,
    },
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::LineTooLong => write!(f, "Line too long."),
            ReplyError::TooLarge => write!(f, "reply too large"),
            ReplyError::BadCode(line) => write!(
                f,
                "reply line without a three-digit code: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(64)])
            ),
            ReplyError::CodeMismatch { first, found } => write!(
                f,
                "multi-line reply changed its code from {first} to {found}"
            ),
        }
    }
}

/// The incremental parser.
#[derive(Debug, Default)]
pub struct ReplyParser {
    line: Vec<u8>,
    lines: Vec<Vec<u8>>,
    code: Option<i32>,
    total: usize,
}

/// What one call to `ReplyParser::feed` produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// All input consumed; the reply is not complete yet.
    NeedMore,
    /// A complete reply, and how many input bytes it took.
    Reply(Reply, usize),
    /// The input is not a valid reply.
    Error(ReplyError),
}

impl ReplyParser {
    /// A parser waiting for the first byte of a reply.
    pub fn new() -> ReplyParser {
        ReplyParser::default()
    }

    /// Whether part of a reply has been read.
    pub fn in_progress(&self) -> bool {
        !self.line.is_empty() || !self.lines.is_empty()
    }

    /// Feeds bytes. Stops at the end of the first complete reply, so bytes
    /// after it (a pipelined reply, or injected data) are left to the caller.
    pub fn feed(&mut self, input: &[u8]) -> Parsed {
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            let (chunk, complete) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            pos += chunk.len();
            if self.line.len() + chunk.len() > MAX_LINE {
                return Parsed::Error(ReplyError::LineTooLong);
            }
            self.line.extend_from_slice(chunk);
            if !complete {
                break;
            }
            let line = std::mem::take(&mut self.line);
            match self.take_line(&line) {
                Ok(true) => {
                    let reply = Reply {
                        code: self.code.take().unwrap_or(-1),
                        lines: std::mem::take(&mut self.lines),
                    };
                    self.total = 0;
                    return Parsed::Reply(reply, pos);
                }
                Ok(false) => {}
                Err(e) => return Parsed::Error(e),
            }
        }
        Parsed::NeedMore
    }

    /// Takes one whole line (with its LF); true when it was the last one.
    fn take_line(&mut self, line: &[u8]) -> Result<bool, ReplyError> {
        self.total += line.len();
        if self.total > MAX_REPLY_BYTES || self.lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooLarge);
        }
        let body = strip_eol(line);
        if body.len() < 3 || !body[..3].iter().all(u8::is_ascii_digit) {
            return Err(ReplyError::BadCode(body.to_vec()));
        }
        let code = i32::from(body[0] - b'0') * 100
            + i32::from(body[1] - b'0') * 10
            + i32::from(body[2] - b'0');
        match self.code {
            None => self.code = Some(code),
            Some(first) if first != code => {
                return Err(ReplyError::CodeMismatch { first, found: code })
            }
            Some(_) => {}
        }
        let more = body.get(3) == Some(&b'-');
        let text = body.get(4..).unwrap_or(&[]);
        self.lines.push(trim(text).to_vec());
        Ok(!more)
    }
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// smtplib strips b' \t\r\n' from both ends of each line's text.
fn trim(text: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = text.iter().position(|b| !blank(b)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Parsed {
        ReplyParser::new().feed(input)
    }

    #[test]
    fn single_line() {
        assert_eq!(
            parse_all(b"250 OK\r\n"),
            Parsed::Reply(
                Reply {
                    code: 250,
                    lines: vec![b"OK".to_vec()]
                },
                8
            )
        );
    }

    #[test]
    fn multi_line_joined_with_newline() {
        // RFC 5321 §4.2.1: "Every line but the last has a hyphen between
        // the code and the text; the last has a space (or nothing)."
        let input = b"250-mail.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\nEXTRA";
        match parse_all(input) {
            Parsed::Reply(r, used) => {
                assert_eq!(r.code, 250);
                assert_eq!(r.text(), b"mail.example\nPIPELINING\nSIZE 1000");
                assert_eq!(used, input.len() - 5);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn code_alone_and_bare_lf() {
        match parse_all(b"354\n") {
            Parsed::Reply(r, 4) => assert_eq!((r.code, r.text()), (354, vec![])),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn any_chunking_gives_the_same_reply() {
        let input = b"220-hello\r\n220-there\r\n220 ready\r\n";
        for split in 1..input.len() {
            let mut p = ReplyParser::new();
            let mut got = None;
            for chunk in input.chunks(split) {
                if let Parsed::Reply(r, _) = p.feed(chunk) {
                    got = Some(r);
                }
            }
            assert_eq!(got.unwrap().text(), b"hello\nthere\nready", "split {split}");
        }
    }

    #[test]
    fn line_of_max_length_is_accepted_and_longer_refused() {
        let mut ok = b"250 ".to_vec();
        ok.resize(MAX_LINE - 2, b'x');
        ok.extend_from_slice(b"\r\n");
        assert!(matches!(parse_all(&ok), Parsed::Reply(..)));
        let mut long = b"250 ".to_vec();
        long.resize(MAX_LINE + 1, b'x');
        assert_eq!(parse_all(&long), Parsed::Error(ReplyError::LineTooLong));
    }

    #[test]
    fn endless_continuation_is_refused() {
        let mut p = ReplyParser::new();
        let mut result = Parsed::NeedMore;
        for _ in 0..=MAX_REPLY_LINES {
            result = p.feed(b"250-more\r\n");
            if result != Parsed::NeedMore {
                break;
            }
        }
        assert_eq!(result, Parsed::Error(ReplyError::TooLarge));
    }

    #[test]
    fn mismatched_codes_and_garbage_are_errors() {
        assert_eq!(
            parse_all(b"250-a\r\n550 b\r\n"),
            Parsed::Error(ReplyError::CodeMismatch {
                first: 250,
                found: 550
            })
        );
        assert!(matches!(
            parse_all(b"hello\r\n"),
            Parsed::Error(ReplyError::BadCode(_))
        ));
    }

    #[test]
    fn random_bytes_never_panic_and_stay_bounded() {
        // Whatever a hostile server sends, the parser answers with a reply,
        // an error, or a request for more, within its bounds.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let alphabet = b"0125 -\r\n\xffx";
        for _ in 0..2000 {
            let mut p = ReplyParser::new();
            for _ in 0..64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let chunk: Vec<u8> = (0..(x % 32))
                    .map(|i| alphabet[((x >> (i % 56)) as usize) % alphabet.len()])
                    .collect();
                match p.feed(&chunk) {
                    Parsed::Reply(r, used) => {
                        assert!(used <= chunk.len());
                        assert!((0..=999).contains(&r.code));
                        p = ReplyParser::new();
                    }
                    Parsed::Error(_) => p = ReplyParser::new(),
                    Parsed::NeedMore => assert!(p.line.len() <= MAX_LINE),
                }
            }
        }
    }

    #[test]
    fn enhanced_codes() {
        let r = Reply {
            code: 550,
            lines: vec![b"5.1.1 no such user".to_vec()],
        };
        assert_eq!(r.enhanced_code(), Some((5, 1, 1)));
        assert_eq!(parse_enhanced(b"2.0.0"), Some((2, 0, 0)));
        assert_eq!(parse_enhanced(b"3.0.0 x"), None);
        assert_eq!(parse_enhanced(b"5.1 x"), None);
        assert_eq!(parse_enhanced(b"5.1.1000 x"), None);
        assert_eq!(parse_enhanced(b"Ok"), None);
    }
}
