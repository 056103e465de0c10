//! Reading an RFC 5322 message's header section for `send_message`: the
//! header fields, the envelope smtplib derives from them, and the message
//! without its Bcc fields. Pure functions over the caller's bytes; no I/O.
//!
//! The message is taken as it is (the caller has bytes, not a parsed
//! object): nothing is re-encoded or re-folded, and the only change ever
//! made is the removal of Bcc and Resent-Bcc fields.
//!
//! Where this follows smtplib's `send_message` and where it deliberately
//! differs:
//! - The resent block is chosen as smtplib chooses it: by counting
//!   Resent-Date fields. None: the regular fields are used; one: the
//!   Resent-* fields are used; more: `Invalid` ("message has more than one
//!   'Resent-' header block"), even when the caller gave the whole envelope.
//!   A message with Resent-From but no Resent-Date is therefore read from
//!   its regular fields, as smtplib reads it.
//! - The sender is the first mailbox of Sender when that field yields an
//!   address, else the first mailbox of From. (smtplib uses an empty
//!   Sender field as it is, which becomes the null reverse-path "<>".)
//! - The recipients are To, then Bcc, then Cc: smtplib's order. Every field
//!   of each name counts, where smtplib reads only the first one of each
//!   name; since every Bcc field is removed from what is sent, reading only
//!   the first would silently drop the recipients of the others.
//! - Duplicate addresses are kept, as smtplib keeps them (each gets its own
//!   RCPT TO).

use std::ops::Range;

use crate::error::{Error, Result};
use crate::protocol::command::parseaddr;

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field name as written (compare it ignoring ASCII case).
    pub name: &'a str,
    /// The unfolded value (RFC 5322 §2.2.3: each line break followed by
    /// white space removed), without the white space around it. Bytes that
    /// are not UTF-8 become U+FFFD.
    pub value: String,
    /// Where the field lies in the message: its first byte up to and
    /// including the line break of its last continuation line.
    pub span: Range<usize>,
}

impl Field<'_> {
    /// Whether the field is called `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// The envelope of a message: MAIL FROM and RCPT TO addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path.
    pub from: String,
    /// The forward-paths, in order, duplicates kept.
    pub to: Vec<String>,
}

/// The header fields of `msg`, in order.
///
/// The header section ends at the first empty line, or at the end of the
/// message when there is none. Lines end in CRLF or bare LF. A line starting
/// with space or tab continues the field before it. A line that is neither
/// a field nor a continuation starts the body (a message without its empty
/// separator line, read as Python's email parser reads it), except for an
/// mbox "From " line at the very start, which is skipped. RFC 5322's
/// obsolete syntax with white space before the colon ("Bcc : x") is read as
/// a field.
pub fn headers(msg: &[u8]) -> Vec<Field<'_>> {
    let mut fields: Vec<Field<'_>> = Vec::new();
    // The current field's name, value bytes and span start.
    let mut current: Option<(&str, Vec<u8>, usize)> = None;
    let mut pos = 0;
    while pos < msg.len() {
        let end = msg[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(msg.len(), |i| pos + i + 1);
        let line = &msg[pos..end];
        let content = line
            .strip_suffix(b"\n")
            .map_or(line, |l| l.strip_suffix(b"\r").unwrap_or(l));
        if content.is_empty() {
            break;
        }
        if matches!(content[0], b' ' | b'\t') {
            // A continuation before any field is ignored (Python's parser
            // records it as a defect and goes on).
            if let Some((_, value, _)) = &mut current {
                value.extend_from_slice(content);
            }
        } else if let Some((name, rest)) = split_field(content) {
            if let Some(done) = current.take() {
                fields.push(finish(done, pos));
            }
            current = Some((name, rest.to_vec(), pos));
        } else if !(pos == 0 && content.starts_with(b"From ")) {
            break;
        }
        pos = end;
    }
    if let Some(done) = current.take() {
        fields.push(finish(done, pos));
    }
    fields
}

fn finish<'a>((name, value, start): (&'a str, Vec<u8>, usize), end: usize) -> Field<'a> {
    Field {
        name,
        value: String::from_utf8_lossy(&value)
            .trim_matches(|c| c == ' ' || c == '\t')
            .to_string(),
        span: start..end,
    }
}

/// "name: value" → (name, value), for a name of printable ASCII other than
/// colon (RFC 5322 §3.6.8 ftext), optionally followed by white space.
fn split_field(line: &[u8]) -> Option<(&str, &[u8])> {
    let colon = line.iter().position(|b| *b == b':')?;
    let name = &line[..colon];
    let trimmed_len = name.len()
        - name
            .iter()
            .rev()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
    let name = &name[..trimmed_len];
    if name.is_empty() || !name.iter().all(|b| (33..=126).contains(b)) {
        return None;
    }
    // ftext is ASCII, so this cannot fail.
    let name = std::str::from_utf8(name).ok()?;
    Some((name, &line[colon + 1..]))
}

/// The addresses of an RFC 5322 §3.4 address-list (or mailbox-list), in
/// order: "Name <a@x>", "a@x (comment)", "\"Doe, Jo\" <a@x>" and groups
/// ("Team: a@x, b@y;"), whose members count and whose name does not. An
/// empty group ("undisclosed-recipients:;") contributes nothing. Each
/// mailbox is read by `protocol::command::parseaddr`; this function only
/// finds where one mailbox ends and the next begins.
pub fn mailbox_addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut mailbox = String::new();
    let mut in_group = false;
    let mut chars = value.chars();
    let flush = |mailbox: &mut String, out: &mut Vec<String>| {
        if let Some(a) = parseaddr(mailbox) {
            out.push(a);
        }
        mailbox.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            // Quoted strings, comments, domain literals and angle-addrs are
            // copied whole: the commas, colons and semicolons inside them
            // separate nothing.
            '"' => copy_until(&mut chars, &mut mailbox, c, '"'),
            '[' => copy_until(&mut chars, &mut mailbox, c, ']'),
            '<' => copy_until(&mut chars, &mut mailbox, c, '>'),
            '(' => copy_comment(&mut chars, &mut mailbox),
            ',' => flush(&mut mailbox, &mut out),
            // The display name of a group is no address.
            ':' if !in_group => {
                mailbox.clear();
                in_group = true;
            }
            ';' if in_group => {
                flush(&mut mailbox, &mut out);
                in_group = false;
            }
            _ => mailbox.push(c),
        }
    }
    flush(&mut mailbox, &mut out);
    out
}

/// Copies `open`, then everything up to and including `close`, honouring
/// backslash escapes and, inside an angle-addr, quoted strings.
fn copy_until(chars: &mut std::str::Chars<'_>, out: &mut String, open: char, close: char) {
    out.push(open);
    let mut quoted = false;
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '"' if open == '<' => quoted = !quoted,
            c if c == close && !quoted => return,
            _ => {}
        }
    }
}

/// Copies a comment, nested ones included, up to its closing parenthesis.
fn copy_comment(chars: &mut std::str::Chars<'_>, out: &mut String) {
    out.push('(');
    let mut depth = 1usize;
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

/// Which set of fields gives the envelope: "" (the regular ones) or
/// "Resent-", decided as smtplib decides, by the number of Resent-Date
/// fields. More than one is `Invalid`: there is no way to tell which block
/// is the most recent.
pub fn resent_prefix(fields: &[Field<'_>]) -> Result<&'static str> {
    match fields.iter().filter(|f| f.is("Resent-Date")).count() {
        0 => Ok(""),
        1 => Ok("Resent-"),
        _ => Err(Error::invalid(
            "message has more than one 'Resent-' header block",
        )),
    }
}

/// The addresses of every field called `prefix` + `name`, in order.
fn addresses_of(fields: &[Field<'_>], prefix: &str, name: &str) -> Vec<String> {
    fields
        .iter()
        .filter(|f| {
            f.name.len() == prefix.len() + name.len()
                && f.name[..prefix.len()].eq_ignore_ascii_case(prefix)
                && f.name[prefix.len()..].eq_ignore_ascii_case(name)
        })
        .flat_map(|f| mailbox_addresses(&f.value))
        .collect()
}

/// The sender the headers name: the first mailbox of `prefix`Sender, else
/// of `prefix`From (RFC 5322 §3.6.2: Sender, when present, is the agent
/// responsible for the transmission).
pub fn sender(fields: &[Field<'_>], prefix: &str) -> Option<String> {
    addresses_of(fields, prefix, "Sender")
        .into_iter()
        .next()
        .or_else(|| addresses_of(fields, prefix, "From").into_iter().next())
}

/// The recipients the headers name: `prefix`To, `prefix`Bcc, `prefix`Cc,
/// in smtplib's order, every field of each name, duplicates kept.
pub fn recipients(fields: &[Field<'_>], prefix: &str) -> Vec<String> {
    ["To", "Bcc", "Cc"]
        .iter()
        .flat_map(|name| addresses_of(fields, prefix, name))
        .collect()
}

/// The envelope smtplib's `send_message` uses: `from` and `to` as given,
/// and what is not given read from the headers (see the module comment).
/// `Invalid` when the message has more than one Resent- block (whether or
/// not anything is read from the headers, as in smtplib), or when no
/// sender or no recipient results.
pub fn envelope(msg: &[u8], from: Option<&str>, to: Option<&[&str]>) -> Result<Envelope> {
    let fields = headers(msg);
    let prefix = resent_prefix(&fields)?;
    let from = match from {
        Some(f) => f.to_string(),
        None => sender(&fields, prefix).ok_or_else(|| {
            Error::invalid(format!(
                "no sender: the message has no {prefix}Sender or {prefix}From address"
            ))
        })?,
    };
    let to = match to {
        Some([]) => return Err(Error::invalid("no recipients given")),
        Some(to) => to.iter().map(|a| a.to_string()).collect(),
        None => {
            let to = recipients(&fields, prefix);
            if to.is_empty() {
                return Err(Error::invalid(format!(
                    "no recipients: the message has no {prefix}To, {prefix}Cc or {prefix}Bcc \
                     address"
                )));
            }
            to
        }
    };
    Ok(Envelope { from, to })
}

/// The parts of `msg` that are transmitted: everything but its Bcc and
/// Resent-Bcc fields (continuation lines included). Each part ends at a line
/// boundary, so the parts can be encoded one after another.
pub fn kept_parts(msg: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut pos = 0;
    for f in headers(msg) {
        if f.is("Bcc") || f.is("Resent-Bcc") {
            if f.span.start > pos {
                parts.push(&msg[pos..f.span.start]);
            }
            pos = f.span.end;
        }
    }
    if pos < msg.len() || parts.is_empty() {
        parts.push(&msg[pos..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    #[test]
    fn kept_parts_skip_bcc_fields_at_line_boundaries() {
        let msg = b"From: a@x\r\nBcc: b@y,\r\n c@y\r\nTo: d@y\r\n\r\nbody\r\n";
        let parts = kept_parts(msg);
        assert_eq!(
            parts,
            [&b"From: a@x\r\n"[..], &b"To: d@y\r\n\r\nbody\r\n"[..]]
        );
        assert_eq!(kept_parts(b"x"), [&b"x"[..]]);
        assert_eq!(kept_parts(b""), [&b""[..]]);
    }

    /// The message as sent: its kept parts, joined.
    fn without_bcc(msg: &[u8]) -> Vec<u8> {
        kept_parts(msg).concat()
    }

    fn env(msg: &str) -> Envelope {
        envelope(msg.as_bytes(), None, None).unwrap()
    }

    fn err(msg: &str) -> Error {
        envelope(msg.as_bytes(), None, None).unwrap_err()
    }

    // ----- header section ---------------------------------------------------

    #[test]
    fn fields_are_read_in_order_with_their_spans() {
        let msg = b"From: a@x\r\nTo: b@y\r\n\r\nbody\r\n";
        let f = headers(msg);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].name, f[0].value.as_str()), ("From", "a@x"));
        assert_eq!((f[1].name, f[1].value.as_str()), ("To", "b@y"));
        assert_eq!(&msg[f[1].span.clone()], b"To: b@y\r\n");
    }

    #[test]
    fn folded_fields_are_unfolded() {
        // RFC 5322 §2.2.3: "Unfolding is accomplished by simply removing any
        // CRLF that is immediately followed by WSP."
        let msg = b"To: a@x,\r\n b@y,\r\n\tc@z\r\nSubject: s\r\n\r\n";
        let f = headers(msg);
        assert_eq!(f[0].value, "a@x, b@y,\tc@z");
        assert_eq!(&msg[f[0].span.clone()], b"To: a@x,\r\n b@y,\r\n\tc@z\r\n");
        assert_eq!(f[1].name, "Subject");
    }

    #[test]
    fn bare_lf_line_endings_are_read() {
        let msg = b"From: a@x\nTo: b@y,\n c@z\n\nbody\n";
        let f = headers(msg);
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].value, "b@y, c@z");
        assert_eq!(
            env("From: a@x\nTo: b@y,\n c@z\n\nTo: not@header\n").to,
            ["b@y", "c@z"]
        );
    }

    #[test]
    fn the_header_section_ends_at_the_first_empty_line() {
        let f = headers(b"To: a@x\r\n\r\nCc: not@header\r\n");
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn without_a_separator_the_headers_run_to_the_end() {
        let msg = b"From: a@x\r\nTo: b@y";
        let f = headers(msg);
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].value, "b@y");
        assert_eq!(f[1].span, 11..msg.len());
    }

    #[test]
    fn a_line_that_is_not_a_field_starts_the_body() {
        let f = headers(b"To: a@x\r\nHello there\r\nCc: b@y\r\n");
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn a_leading_mbox_from_line_is_skipped() {
        let f = headers(b"From someone@x Mon Jan  1 00:00:00 2024\nTo: a@x\n\n");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].name, "To");
    }

    #[test]
    fn white_space_before_the_colon_is_obsolete_but_read() {
        let f = headers(b"Bcc : a@x\r\n\r\n");
        assert!(f[0].is("bcc"));
        assert_eq!(f[0].value, "a@x");
    }

    #[test]
    fn field_names_are_case_insensitive() {
        assert_eq!(
            env("FROM: a@x\r\ntO: b@y\r\ncc: c@z\r\n\r\n").to,
            ["b@y", "c@z"]
        );
        assert_eq!(env("FROM: a@x\r\ntO: b@y\r\n\r\n").from, "a@x");
    }

    // ----- addresses ----------------------------------------------------------

    #[test]
    fn plain_addr_specs() {
        assert_eq!(mailbox_addresses("a@x, b@y"), ["a@x", "b@y"]);
    }

    #[test]
    fn display_names_and_angle_addresses() {
        assert_eq!(
            mailbox_addresses("Jo Doe <jo@x>, Ann <ann@y>"),
            ["jo@x", "ann@y"]
        );
    }

    #[test]
    fn quoted_display_names_with_commas_and_escaped_quotes() {
        assert_eq!(
            mailbox_addresses(r#""Doe, Jo \"JD\"" <jo@x>, "a,b" <ab@y>"#),
            ["jo@x", "ab@y"]
        );
    }

    #[test]
    fn comments_nested_and_with_commas_are_ignored() {
        assert_eq!(
            mailbox_addresses("jo@x (Jo, (the (real) one)), ann@y (Ann: \\) ok)"),
            ["jo@x", "ann@y"]
        );
    }

    #[test]
    fn an_empty_group_contributes_nothing() {
        assert!(mailbox_addresses("undisclosed-recipients:;").is_empty());
        assert_eq!(mailbox_addresses("undisclosed-recipients:;, a@x"), ["a@x"]);
    }

    #[test]
    fn group_members_count_and_the_group_name_does_not() {
        assert_eq!(
            mailbox_addresses("Team: a@x, Bo <b@y>;, c@z"),
            ["a@x", "b@y", "c@z"]
        );
        assert_eq!(mailbox_addresses("\"The: Team\" (x;y): a@x;"), ["a@x"]);
    }

    #[test]
    fn angle_addresses_with_quoted_local_parts_and_routes() {
        assert_eq!(
            mailbox_addresses(r#"<"a,b>c"@x>, <@r1,@r2:d@y>"#),
            [r#""a,b>c"@x"#, "d@y"]
        );
    }

    #[test]
    fn non_ascii_addresses_are_kept() {
        assert_eq!(
            mailbox_addresses("Jörg <jörg@bücher.example>"),
            ["jörg@bücher.example"]
        );
    }

    // ----- envelope -----------------------------------------------------------

    #[test]
    fn sender_is_preferred_to_from() {
        // smtplib: "from_addr is set to the Sender field if it is present,
        // and otherwise to the From field."
        let e = env("From: Jo <jo@x>\r\nSender: Sec <sec@x>\r\nTo: a@y\r\n\r\n");
        assert_eq!(e.from, "sec@x");
        assert_eq!(env("From: Jo <jo@x>\r\nTo: a@y\r\n\r\n").from, "jo@x");
    }

    #[test]
    fn the_sender_is_the_first_mailbox_of_from() {
        assert_eq!(env("From: a@x, b@x\r\nTo: c@y\r\n\r\n").from, "a@x");
    }

    #[test]
    fn an_empty_sender_field_falls_back_to_from() {
        assert_eq!(env("Sender:\r\nFrom: a@x\r\nTo: c@y\r\n\r\n").from, "a@x");
    }

    #[test]
    fn recipients_are_to_bcc_cc_in_smtplib_order() {
        // smtplib: "to_addrs combines the values (if any) of the To, Cc, and
        // Bcc fields" — read in its code's order: To, Bcc, Cc.
        let e = env("From: f@x\r\nCc: c@y\r\nBcc: b@y\r\nTo: t@y, u@y\r\n\r\n");
        assert_eq!(e.to, ["t@y", "u@y", "b@y", "c@y"]);
    }

    #[test]
    fn every_field_of_a_name_counts() {
        let e = env("From: f@x\r\nTo: a@y\r\nTo: b@y\r\nBcc: c@y\r\nBcc: d@y\r\n\r\n");
        assert_eq!(e.to, ["a@y", "b@y", "c@y", "d@y"]);
    }

    #[test]
    fn duplicates_are_kept_as_smtplib_keeps_them() {
        let e = env("From: f@x\r\nTo: a@y\r\nCc: a@y\r\n\r\n");
        assert_eq!(e.to, ["a@y", "a@y"]);
    }

    #[test]
    fn one_resent_block_replaces_the_regular_fields() {
        // smtplib: "If exactly one set of Resent-* headers appear in the
        // message, the regular headers are ignored and the Resent-* headers
        // are used instead."
        let e = env("Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
             Resent-From: r@x\r\nResent-To: rt@y\r\nResent-Cc: rc@y\r\n\
             Resent-Bcc: rb@y\r\nFrom: f@x\r\nTo: t@y\r\n\r\n");
        assert_eq!(e.from, "r@x");
        assert_eq!(e.to, ["rt@y", "rb@y", "rc@y"]);
    }

    #[test]
    fn resent_sender_is_preferred_to_resent_from() {
        let e = env(
            "Resent-Date: x\r\nResent-From: r@x\r\nResent-Sender: s@x\r\n\
             Resent-To: rt@y\r\n\r\n",
        );
        assert_eq!(e.from, "s@x");
    }

    #[test]
    fn resent_fields_without_resent_date_are_not_a_block() {
        // smtplib counts Resent-Date fields: len(msg.get_all('Resent-Date')).
        let e = env("Resent-From: r@x\r\nResent-To: rt@y\r\nFrom: f@x\r\nTo: t@y\r\n\r\n");
        assert_eq!(
            (e.from.as_str(), e.to.as_slice()),
            ("f@x", &["t@y".to_string()][..])
        );
    }

    #[test]
    fn two_resent_blocks_are_invalid() {
        // smtplib raises ValueError: "there is no way to unambiguously detect
        // the most recent set of Resent- headers".
        let msg = "Resent-Date: a\r\nResent-To: a@y\r\nResent-Date: b\r\nResent-To: b@y\r\n\
                   From: f@x\r\nTo: t@y\r\n\r\n";
        let e = err(msg);
        assert_eq!(e.status, Status::Invalid);
        assert_eq!(
            e.message,
            "message has more than one 'Resent-' header block"
        );
        // Even with the whole envelope given, as in smtplib.
        let e = envelope(msg.as_bytes(), Some("f@x"), Some(&["t@y"])).unwrap_err();
        assert_eq!(e.status, Status::Invalid);
    }

    #[test]
    fn a_given_envelope_is_used_as_it_is() {
        let msg = b"From: f@x\r\nTo: t@y\r\n\r\n";
        let e = envelope(msg, Some("g@x"), None).unwrap();
        assert_eq!(
            (e.from.as_str(), e.to.as_slice()),
            ("g@x", &["t@y".to_string()][..])
        );
        let e = envelope(msg, None, Some(&["u@y", "u@y"])).unwrap();
        assert_eq!(
            (e.from.as_str(), e.to.as_slice()),
            ("f@x", &["u@y".to_string(), "u@y".to_string()][..])
        );
    }

    #[test]
    fn no_sender_is_invalid() {
        let e = err("To: t@y\r\n\r\n");
        assert_eq!(e.status, Status::Invalid);
        assert!(e.message.contains("no sender"), "{}", e.message);
        assert_eq!(
            err("From: undisclosed:;\r\nTo: t@y\r\n\r\n").status,
            Status::Invalid
        );
    }

    #[test]
    fn no_recipient_is_invalid() {
        let e = err("From: f@x\r\nTo: undisclosed-recipients:;\r\n\r\n");
        assert_eq!(e.status, Status::Invalid);
        assert!(e.message.contains("no recipients"), "{}", e.message);
        let e = envelope(b"From: f@x\r\nTo: t@y\r\n\r\n", None, Some(&[])).unwrap_err();
        assert_eq!(e.status, Status::Invalid);
    }

    // ----- Bcc removal --------------------------------------------------------

    #[test]
    fn nothing_to_strip_is_one_part() {
        let msg = b"From: f@x\r\nTo: t@y\r\n\r\nBcc: body line\r\n";
        assert_eq!(kept_parts(msg), [&msg[..]]);
    }

    #[test]
    fn bcc_fields_are_removed_with_their_continuation_lines() {
        let msg = b"From: f@x\r\nBcc: a@y,\r\n  b@y,\r\n\tc@y\r\nTo: t@y\r\n\r\nbody\r\n";
        assert_eq!(&without_bcc(msg), b"From: f@x\r\nTo: t@y\r\n\r\nbody\r\n");
    }

    #[test]
    fn bcc_is_removed_whatever_its_case() {
        let msg = b"BCC: a@y\r\nFrom: f@x\r\nbcc: b@y\r\nresent-BCC: c@y\r\n\r\n";
        assert_eq!(&without_bcc(msg), b"From: f@x\r\n\r\n");
    }

    #[test]
    fn a_body_line_starting_with_bcc_is_untouched() {
        let msg = b"From: f@x\r\nBcc: a@y\r\n\r\nBcc: this is body\r\n";
        assert_eq!(&without_bcc(msg), b"From: f@x\r\n\r\nBcc: this is body\r\n");
    }

    #[test]
    fn bcc_is_removed_from_bare_lf_messages() {
        let msg = b"From: f@x\nBcc: a@y,\n b@y\nTo: t@y\n\nbody\n";
        assert_eq!(&without_bcc(msg), b"From: f@x\nTo: t@y\n\nbody\n");
    }

    #[test]
    fn a_last_bcc_field_without_separator_is_removed() {
        let msg = b"From: f@x\r\nBcc: a@y";
        assert_eq!(&without_bcc(msg), b"From: f@x\r\n");
    }
}
