//! The DATA encoder (RFC 5321 §4.5.2), incremental across chunk boundaries.
//!
//! Unlike smtplib, which leaves a bytes message's line endings alone, every
//! bare CR and bare LF becomes CRLF. A lone LF or CR followed by "." is what
//! SMTP smuggling relies on; normalising closes that door whatever the body.
//! Every line starting with "." gets another "."; the body always ends with
//! CRLF before the final ".".

/// Encodes a message body for DATA, chunk by chunk, in constant memory.
#[derive(Debug, Clone)]
pub struct DataEncoder {
    /// The last input byte was CR, not yet known to be part of CRLF.
    pending_cr: bool,
    /// The output is at the start of a line.
    at_line_start: bool,
    /// Anything has been written.
    started: bool,
    /// DATA needs dot-stuffing and the final "."; BDAT (RFC 3030) needs
    /// neither, only the CRLF line endings.
    stuff_dots: bool,
}

impl Default for DataEncoder {
    fn default() -> Self {
        DataEncoder::new()
    }
}

impl DataEncoder {
    /// An encoder at the start of a body.
    pub fn new() -> DataEncoder {
        DataEncoder {
            pending_cr: false,
            at_line_start: true,
            started: false,
            stuff_dots: true,
        }
    }

    /// An encoder for BDAT chunks: line endings made CRLF, no dot-stuffing,
    /// no final ".".
    pub fn for_bdat() -> DataEncoder {
        DataEncoder {
            stuff_dots: false,
            ..DataEncoder::new()
        }
    }

    /// Encodes `input`, appending the wire bytes to `out`.
    pub fn encode(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        if input.is_empty() {
            return;
        }
        self.started = true;
        out.reserve(input.len() + input.len() / 64 + 4);
        while !input.is_empty() {
            if self.pending_cr {
                self.pending_cr = false;
                self.newline(out);
                if input[0] == b'\n' {
                    input = &input[1..];
                }
                continue;
            }
            if self.stuff_dots && self.at_line_start && input[0] == b'.' {
                out.push(b'.');
            }
            // Copy the run up to the next line break in one go.
            let run = memchr::memchr2(b'\r', b'\n', input).unwrap_or(input.len());
            if run > 0 {
                out.extend_from_slice(&input[..run]);
                self.at_line_start = false;
                input = &input[run..];
                continue;
            }
            match input[0] {
                b'\r' => self.pending_cr = true,
                _ => self.newline(out),
            }
            input = &input[1..];
        }
    }

    fn newline(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        self.at_line_start = true;
    }

    /// Ends the body: the last CRLF if missing, then ".\r\n". An empty body
    /// is sent as one empty line, as smtplib sends it.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            self.pending_cr = false;
            self.newline(out);
        }
        if !self.started || !self.at_line_start {
            self.newline(out);
        }
        if self.stuff_dots {
            out.extend_from_slice(b".\r\n");
        }
        *self = DataEncoder {
            stuff_dots: self.stuff_dots,
            ..DataEncoder::new()
        };
    }

    /// The number of bytes of `body` once its line endings are CRLF (what
    /// SIZE= announces; dot-stuffing is transparency, not message content).
    pub fn normalized_len(body: &[u8]) -> usize {
        let mut len = body.len();
        let mut prev_cr = false;
        for &b in body {
            if (prev_cr && b != b'\n') || (!prev_cr && b == b'\n') {
                len += 1;
            }
            prev_cr = b == b'\r';
        }
        if prev_cr {
            len += 1;
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a whole body at once (DATA payload including the final ".").
    fn encode_all(body: &[u8]) -> Vec<u8> {
        let mut enc = DataEncoder::new();
        let mut out = Vec::new();
        enc.encode(body, &mut out);
        enc.finish(&mut out);
        out
    }

    #[test]
    fn crlf_body_is_kept_and_terminated() {
        assert_eq!(
            encode_all(b"Subject: x\r\n\r\nhi\r\n"),
            b"Subject: x\r\n\r\nhi\r\n.\r\n"
        );
    }

    #[test]
    fn missing_final_crlf_is_added() {
        assert_eq!(encode_all(b"hi"), b"hi\r\n.\r\n");
    }

    #[test]
    fn empty_body_is_one_empty_line() {
        assert_eq!(encode_all(b""), b"\r\n.\r\n");
    }

    #[test]
    fn bare_lf_and_bare_cr_become_crlf() {
        assert_eq!(encode_all(b"a\nb\rc\r\n"), b"a\r\nb\r\nc\r\n.\r\n");
        assert_eq!(encode_all(b"a\r"), b"a\r\n.\r\n");
        assert_eq!(encode_all(b"a\r\r\n"), b"a\r\n\r\n.\r\n");
    }

    #[test]
    fn smuggling_sequences_cannot_end_the_data() {
        // "\n.\n" and "\r.\r" would end DATA on lenient servers.
        assert_eq!(
            encode_all(b"x\n.\nMAIL FROM:<a>\n"),
            b"x\r\n..\r\nMAIL FROM:<a>\r\n.\r\n"
        );
        assert_eq!(encode_all(b"x\r.\ry"), b"x\r\n..\r\ny\r\n.\r\n");
    }

    #[test]
    fn dot_stuffing() {
        // RFC 5321 §4.5.2: "Before sending a line of mail text, the SMTP
        // client checks the first character of the line. If it is a period,
        // one additional period is inserted at the beginning of the line."
        assert_eq!(
            encode_all(b".\r\n..x\r\na.b\r\n"),
            b"..\r\n...x\r\na.b\r\n.\r\n"
        );
        assert_eq!(encode_all(b".hidden"), b"..hidden\r\n.\r\n");
    }

    #[test]
    fn every_split_point_gives_the_same_bytes() {
        let body = b".a\r\n.\rb\n\r\n..c\r\r\nd.\n.";
        let whole = encode_all(body);
        for split in 0..=body.len() {
            for split2 in split..=body.len() {
                let mut enc = DataEncoder::new();
                let mut out = Vec::new();
                enc.encode(&body[..split], &mut out);
                enc.encode(&body[split..split2], &mut out);
                enc.encode(&body[split2..], &mut out);
                enc.finish(&mut out);
                assert_eq!(out, whole, "splits {split} {split2}");
            }
        }
    }

    #[test]
    fn bdat_encoding_keeps_dots_and_has_no_terminator() {
        // RFC 3030 §2: BDAT data is sent as is: no dot-stuffing, no ".".
        let mut enc = DataEncoder::for_bdat();
        let mut out = Vec::new();
        enc.encode(b".a\n.\r\nb", &mut out);
        enc.finish(&mut out);
        assert_eq!(out, b".a\r\n.\r\nb\r\n");
    }

    /// A deterministic xorshift generator: random-looking inputs without a
    /// dependency, the same on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// The rules stated plainly, on a whole body: line endings to CRLF,
    /// dot-stuffing, a final CRLF, ".".
    fn reference(body: &[u8]) -> Vec<u8> {
        let text = body.to_vec();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut cur = Vec::new();
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b'\r' => {
                    lines.push(std::mem::take(&mut cur));
                    if text.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                }
                b'\n' => lines.push(std::mem::take(&mut cur)),
                b => cur.push(b),
            }
            i += 1;
        }
        if !cur.is_empty() || lines.is_empty() {
            lines.push(cur);
        }
        let mut out = Vec::new();
        for line in lines {
            if line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(&line);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    #[test]
    fn random_bodies_in_random_pieces_match_the_plain_rules() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"ab.\r\n";
        for _ in 0..3000 {
            let len = rng.below(40);
            let body: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let mut enc = DataEncoder::new();
            let mut out = Vec::new();
            let mut rest = &body[..];
            while !rest.is_empty() {
                let n = 1 + rng.below(rest.len());
                enc.encode(&rest[..n], &mut out);
                rest = &rest[n..];
            }
            enc.finish(&mut out);
            assert_eq!(out, reference(&body), "{body:?}");
            // The wire form never ends the data early.
            let end = out.len() - 3;
            assert!(
                !out[..end].windows(5).any(|w| w == b"\r\n.\r\n"),
                "{body:?}"
            );
        }
    }

    #[test]
    fn normalized_len_counts_crlf() {
        for body in [&b"a\nb"[..], b"a\r\nb", b"a\rb\r", b"", b"\n\n", b"\r\r\n"] {
            let mut enc = DataEncoder::new();
            let mut out = Vec::new();
            enc.encode(body, &mut out);
            if enc.pending_cr {
                out.extend_from_slice(b"\r\n");
            }
            assert_eq!(DataEncoder::normalized_len(body), out.len(), "{body:?}");
        }
    }
}
