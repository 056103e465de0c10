//! Commands: building the line that goes on the wire, and the address forms
//! smtplib puts in MAIL, RCPT, VRFY and EXPN.
//!
//! No argument containing CR, LF or NUL ever reaches the wire: a command
//! with one is refused before a byte is sent (it would let a caller's data
//! smuggle a second command into the session).

use crate::error::{Error, Result};

/// Builds "VERB args\r\n" (or "VERB\r\n" when `args` is empty), as smtplib's
/// putcmd() does. Refuses CR, LF and NUL anywhere, and non-ASCII unless
/// `utf8` (SMTPUTF8 was negotiated, RFC 6531 §3.2).
pub fn build(verb: &str, args: &str, utf8: bool) -> Result<Vec<u8>> {
    check_arg(verb, utf8)?;
    check_arg(args, utf8)?;
    let mut line = Vec::with_capacity(verb.len() + args.len() + 3);
    line.extend_from_slice(verb.as_bytes());
    if !args.is_empty() {
        line.push(b' ');
        line.extend_from_slice(args.as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    Ok(line)
}

/// Refuses a command argument that must never reach the wire.
pub fn check_arg(arg: &str, utf8: bool) -> Result<()> {
    if let Some(b) = arg.bytes().find(|b| matches!(b, b'\r' | b'\n' | 0)) {
        let what = match b {
            b'\r' => "CR",
            b'\n' => "LF",
            _ => "NUL",
        };
        return Err(Error::invalid(format!(
            "command argument contains {what}: {arg:?}"
        )));
    }
    if !utf8 && !arg.is_ascii() {
        return Err(Error::invalid(format!(
            "non-ASCII command argument without SMTPUTF8: {arg:?}"
        )));
    }
    Ok(())
}

/// smtplib's _addr_only(): the bare address for VRFY and EXPN.
pub fn addr_only(addr: &str) -> String {
    match parseaddr(addr) {
        Some(a) => a,
        None => addr.to_string(),
    }
}

/// The address part of an RFC 5322 mailbox ("Name <a@b>", "a@b (comment)",
/// "\"quoted, name\" <a@b>", "a@b"), or None when there is none.
pub fn parseaddr(input: &str) -> Option<String> {
    // Walk the text once, outside quoted strings and comments, looking for an
    // angle-addr; collect the rest (less comments) as a bare addr-spec.
    let mut bare = String::new();
    let mut chars = input.chars().peekable();
    let mut depth = 0usize;
    let mut in_quote = false;
    while let Some(c) = chars.next() {
        if in_quote {
            bare.push(c);
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        bare.push(n);
                    }
                }
                '"' => in_quote = false,
                _ => {}
            }
            continue;
        }
        if depth > 0 {
            match c {
                '\\' => {
                    chars.next();
                }
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_quote = true;
                bare.push(c);
            }
            '(' => depth = 1,
            '<' => {
                let mut inner = String::new();
                let mut quoted = false;
                for c in chars.by_ref() {
                    match c {
                        '"' => quoted = !quoted,
                        '>' if !quoted => break,
                        _ => {}
                    }
                    inner.push(c);
                }
                // An obsolete source route ("@a,@b:user@c") is dropped, as
                // email.utils.parseaddr does.
                let inner = inner.trim();
                let inner = match (inner.starts_with('@'), inner.find(':')) {
                    (true, Some(i)) => &inner[i + 1..],
                    _ => inner,
                };
                return if inner.is_empty() {
                    None
                } else {
                    Some(inner.trim().to_string())
                };
            }
            c if c.is_whitespace() => {}
            _ => bare.push(c),
        }
    }
    if bare.is_empty() {
        None
    } else {
        Some(bare)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_command_lines() {
        assert_eq!(build("NOOP", "", false).unwrap(), b"NOOP\r\n");
        assert_eq!(
            build("HELO", "me.example", false).unwrap(),
            b"HELO me.example\r\n"
        );
    }

    #[test]
    fn refuses_line_breaks_and_nul_everywhere() {
        for bad in ["a\rb", "a\nb", "a\0b", "\r\n"] {
            assert_eq!(
                build("VRFY", bad, false).unwrap_err().status,
                crate::Status::Invalid
            );
            assert_eq!(
                build(bad, "", false).unwrap_err().status,
                crate::Status::Invalid
            );
        }
    }

    #[test]
    fn refuses_non_ascii_without_smtputf8() {
        assert!(build("RCPT", "TO:<jörg@example>", false).is_err());
        assert!(build("RCPT", "TO:<jörg@example>", true).is_ok());
    }

    #[test]
    fn what_smtplibs_quoteaddr_makes_of_an_address_the_path_checker_makes_too() {
        // smtplib's quoteaddr() brackets an address; every form it parses
        // is accepted by the RFC 5321 path checker, with the same result.
        let quoteaddr = |a: &str| crate::protocol::address::check_path(a, false).unwrap();
        assert_eq!(quoteaddr("<>"), "<>");
        assert_eq!(quoteaddr(" <> "), "<>");
        assert_eq!(quoteaddr("user@example.com"), "<user@example.com>");
        assert_eq!(quoteaddr("<user@example.com>"), "<user@example.com>");
        assert_eq!(quoteaddr("Jo Doe <jo@example.com>"), "<jo@example.com>");
        assert_eq!(
            quoteaddr("\"Doe, Jo\" <jo@example.com>"),
            "<jo@example.com>"
        );
        assert_eq!(quoteaddr("jo@example.com (Jo Doe)"), "<jo@example.com>");
        assert_eq!(
            quoteaddr("<@relay.example:jo@example.com>"),
            "<jo@example.com>"
        );
        assert_eq!(
            quoteaddr("\"odd local\"@example.com"),
            "<\"odd local\"@example.com>"
        );
    }

    #[test]
    fn addr_only_for_vrfy() {
        assert_eq!(addr_only("Jo <jo@example.com>"), "jo@example.com");
        assert_eq!(addr_only("postmaster"), "postmaster");
    }
}
