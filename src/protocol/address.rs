//! Envelope addresses: what a sender or recipient string may be, and the
//! path it becomes in MAIL FROM and RCPT TO.
//!
//! An address is an address: nothing in it may become an ESMTP parameter
//! or a second path. smtplib's quoteaddr() accepts any string and sends
//! what it cannot parse as it is (`"<> RET=FULL"` goes out as a DSN
//! parameter) or with its spaces dropped (`"a@x.org SIZE=1"` becomes
//! `<a@x.orgSIZE=1>`); here such a string is refused before a byte is
//! sent. What smtplib legitimately accepts stays accepted: a plain
//! `a@b`, `<a@b>`, the display form `Name <a@b>` (and `"Doe, Jo" <a@b>`),
//! a trailing comment `a@b (Jo)`, the null sender `<>`, a quoted local
//! part, a source route (dropped, RFC 5321 §4.1.1.3).

use crate::error::{Error, Result};
use crate::protocol::command;

/// Checks a sender or recipient string and returns the RFC 5321 path that
/// goes on the wire: `<local@domain>`, or `<>` for the null path. The
/// mailbox inside must be an RFC 5321 Mailbox (§4.1.2: a Dot-string or a
/// Quoted-string, "@", a domain of letter-digit-hyphen labels or an
/// address literal) -- with `utf8` (SMTPUTF8), the RFC 6531 forms with
/// UTF-8 in atoms, quoted strings and labels. A local part alone (no
/// domain) is accepted as well: RFC 5321 names "Postmaster", and LMTP
/// servers and local MTAs take user names.
///
/// Refused (`Invalid`), never altered: CR, LF or NUL; non-ASCII without
/// `utf8`; a space, `<` or `>` outside a quoted local part; text after the
/// closing `>` other than a comment; anything that is not a mailbox.
pub fn check_path(input: &str, utf8: bool) -> Result<String> {
    // The common case, a bare `local@domain` of letters, digits and a few
    // marks, has nothing to split: checked as a mailbox at once (what it
    // refuses goes the long way, for the same verdict and message).
    if !input.is_empty()
        && input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'@'))
        && check_mailbox(input, utf8).is_ok()
    {
        return Ok(bracketed(input));
    }
    command::check_arg(input, utf8)?;
    let t = input.trim_matches(is_wsp);
    if t == "<>" {
        return Ok("<>".to_string());
    }
    let refuse = |why: &str| Err(Error::invalid(format!("not an address ({why}): {input:?}")));
    let parts = match split(t) {
        Ok(p) => p,
        Err(why) => return refuse(why),
    };
    let mailbox = match parts {
        Parts::Angle { inner, after } => {
            if !after.trim_matches(is_wsp).is_empty() {
                return refuse("text after the closing '>'");
            }
            if inner.is_empty() {
                return Ok("<>".to_string());
            }
            // An obsolete source route ("@a,@b:user@c") is dropped.
            match (inner.starts_with('@'), inner.find(':')) {
                (true, Some(i)) => inner[i + 1..].to_string(),
                _ => inner,
            }
        }
        Parts::Bare(bare) => bare,
    };
    if let Err(why) = check_mailbox(&mailbox, utf8) {
        return refuse(why);
    }
    Ok(bracketed(&mailbox))
}

/// `<mailbox>`, in one allocation.
fn bracketed(mailbox: &str) -> String {
    let mut path = String::with_capacity(mailbox.len() + 2);
    path.push('<');
    path.push_str(mailbox);
    path.push('>');
    path
}

/// `check_path` for a recipient: the null path `<>` is refused too
/// (RFC 5321 §4.1.1.3: it is a reverse-path only).
pub fn check_forward_path(input: &str, utf8: bool) -> Result<String> {
    let path = check_path(input, utf8)?;
    if path == "<>" {
        return Err(Error::invalid(
            "the null path <> is a sender, not a recipient (RFC 5321 §4.1.1.3)",
        ));
    }
    Ok(path)
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

enum Parts {
    /// `[display name] <inner> [after]`, `after` with comments removed.
    Angle { inner: String, after: String },
    /// An addr-spec with its comments removed.
    Bare(String),
}

/// Splits `t` at its top level (outside quoted strings and comments):
/// the angle-addr and what follows it, or the whole as a bare addr-spec.
/// Comments are dropped; a top-level space in a bare address, a second
/// '<', a lone '>' or an unterminated quote or comment is refused.
fn split(t: &str) -> std::result::Result<Parts, &'static str> {
    let mut chars = t.chars();
    let mut bare = String::new();
    let mut angle: Option<String> = None;
    let mut after = String::new();
    while let Some(c) = chars.next() {
        // Where the character goes: before '<' into `bare` (a display name
        // or the addr-spec), inside into `inner`, after into `after`.
        match c {
            '(' => skip_comment(&mut chars)?,
            '"' => {
                let q = quoted(&mut chars)?;
                if angle.is_some() {
                    after.push_str(&q);
                } else {
                    bare.push_str(&q);
                }
            }
            '<' => {
                if angle.is_some() {
                    return Err("a second '<'");
                }
                angle = Some(angle_inner(&mut chars)?);
            }
            '>' => return Err("a '>' without '<'"),
            c => {
                if angle.is_some() {
                    after.push(c);
                } else {
                    bare.push(c);
                }
            }
        }
    }
    match angle {
        Some(inner) => Ok(Parts::Angle { inner, after }),
        None => {
            let bare = bare.trim_matches(is_wsp).to_string();
            if bare.chars().any(is_wsp) && !only_quoted_spaces(&bare) {
                return Err("a space outside a quoted local part");
            }
            Ok(Parts::Bare(bare))
        }
    }
}

/// Whether every space in `s` is inside a quoted string.
fn only_quoted_spaces(s: &str) -> bool {
    let mut in_quote = false;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            c if is_wsp(c) && !in_quote => return false,
            _ => {}
        }
    }
    true
}

/// Skips a comment whose '(' was just read (nested, with quoted-pairs).
fn skip_comment(chars: &mut std::str::Chars<'_>) -> std::result::Result<(), &'static str> {
    let mut depth = 1usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(());
                }
            }
            _ => {}
        }
    }
    Err("an unterminated comment")
}

/// A quoted string whose '"' was just read, returned with its quotes.
fn quoted(chars: &mut std::str::Chars<'_>) -> std::result::Result<String, &'static str> {
    let mut q = String::from('"');
    while let Some(c) = chars.next() {
        q.push(c);
        match c {
            '\\' => match chars.next() {
                Some(n) => q.push(n),
                None => break,
            },
            '"' => return Ok(q),
            _ => {}
        }
    }
    Err("an unterminated quoted string")
}

/// What is between '<' (just read) and its '>', quoted strings kept.
fn angle_inner(chars: &mut std::str::Chars<'_>) -> std::result::Result<String, &'static str> {
    let mut inner = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => inner.push_str(&quoted(chars)?),
            '>' => return Ok(inner),
            '<' => return Err("a '<' inside the address"),
            c if is_wsp(c) => return Err("a space inside '<' and '>'"),
            c => inner.push(c),
        }
    }
    Err("no closing '>'")
}

/// RFC 5321 §4.1.2 Mailbox (RFC 6531 §3.3 with `utf8`), or a local part
/// alone.
fn check_mailbox(m: &str, utf8: bool) -> std::result::Result<(), &'static str> {
    let (local, domain) = match split_at_domain(m) {
        Some((l, d)) => (l, Some(d)),
        None => (m, None),
    };
    check_local(local, utf8)?;
    match domain {
        Some(d) => check_domain(d, utf8),
        None => Ok(()),
    }
}

/// Splits at the '@' that follows the local part (outside its quotes).
fn split_at_domain(m: &str) -> Option<(&str, &str)> {
    if m.starts_with('"') {
        let end = quoted_end(m)?;
        let rest = &m[end..];
        return rest.strip_prefix('@').map(|d| (&m[..end], d));
    }
    m.find('@').map(|i| (&m[..i], &m[i + 1..]))
}

/// The byte index just past the quoted string starting `m`.
fn quoted_end(m: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in m.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some(i + 1);
        }
    }
    None
}

/// RFC 5321 atext (RFC 5322 §3.2.3), with UTF-8 under RFC 6531.
fn is_atext(c: char, utf8: bool) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '#'
                | '$'
                | '%'
                | '&'
                | '\''
                | '*'
                | '+'
                | '-'
                | '/'
                | '='
                | '?'
                | '^'
                | '_'
                | '`'
                | '{'
                | '|'
                | '}'
                | '~'
        )
        || (utf8 && !c.is_ascii())
}

fn check_local(local: &str, utf8: bool) -> std::result::Result<(), &'static str> {
    if local.is_empty() {
        return Err("an empty local part");
    }
    if local.starts_with('"') {
        if quoted_end(local) != Some(local.len()) {
            return Err("text after a quoted local part");
        }
        // qtextSMTP (%d32-33 / %d35-91 / %d93-126) or quoted-pairSMTP
        // ("\" and %d32-126).
        let inner = &local[1..local.len() - 1];
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            let ok = match c {
                '\\' => chars.next().is_some_and(|n| (' '..='~').contains(&n)),
                ' '..='~' => c != '"',
                c => utf8 && !c.is_ascii(),
            };
            if !ok {
                return Err("a character not allowed in a quoted local part");
            }
        }
        return Ok(());
    }
    // Dot-string: atoms of atext separated by single dots.
    if local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(|c| is_atext(c, utf8)))
    {
        Ok(())
    } else {
        Err("a character not allowed in a local part")
    }
}

fn check_domain(d: &str, utf8: bool) -> std::result::Result<(), &'static str> {
    if let Some(lit) = d.strip_prefix('[') {
        // address-literal: IPv4, "IPv6:..." or a General-address-literal;
        // dcontent is %d33-90 / %d94-126.
        let Some(lit) = lit.strip_suffix(']') else {
            return Err("an unterminated address literal");
        };
        if !lit.is_empty()
            && lit
                .chars()
                .all(|c| ('!'..='~').contains(&c) && !"[]\\".contains(c))
        {
            return Ok(());
        }
        return Err("a bad address literal");
    }
    // sub-domain = Let-dig [Ldh-str]: no empty label, no hyphen at either
    // end; U-labels with SMTPUTF8.
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || (utf8 && !c.is_ascii()))
    };
    if d.split('.').all(label_ok) {
        Ok(())
    } else {
        Err("not a domain")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> String {
        check_path(s, false).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn refused(s: &str) {
        let e = check_path(s, true).unwrap_err();
        assert_eq!(e.status, crate::Status::Invalid, "{s:?}");
    }

    #[test]
    fn what_smtplib_quoteaddr_legitimately_accepts_is_kept() {
        assert_eq!(path("<>"), "<>");
        assert_eq!(path(" <> "), "<>");
        assert_eq!(path("user@example.com"), "<user@example.com>");
        assert_eq!(path("<user@example.com>"), "<user@example.com>");
        assert_eq!(path("Jo Doe <jo@example.com>"), "<jo@example.com>");
        assert_eq!(path("\"Doe, Jo\" <jo@example.com>"), "<jo@example.com>");
        assert_eq!(path("jo@example.com (Jo Doe)"), "<jo@example.com>");
        assert_eq!(path("<jo@example.com> (Jo)"), "<jo@example.com>");
        assert_eq!(path("<@relay.example:jo@example.com>"), "<jo@example.com>");
        assert_eq!(
            path("\"odd local\"@example.com"),
            "<\"odd local\"@example.com>"
        );
        assert_eq!(path("<\"a>b <c\"@example.com>"), "<\"a>b <c\"@example.com>");
        assert_eq!(path("postmaster"), "<postmaster>");
        assert_eq!(path("jo+tag@[192.0.2.1]"), "<jo+tag@[192.0.2.1]>");
        assert_eq!(path("jo@[IPv6:2001:db8::1]"), "<jo@[IPv6:2001:db8::1]>");
        assert_eq!(path("r@x"), "<r@x>");
    }

    #[test]
    fn utf8_addresses_need_smtputf8() {
        // RFC 6531 §3.3: atext and sub-domain extended with UTF8-non-ascii.
        assert_eq!(
            check_path("jörg@bücher.example", true).unwrap(),
            "<jörg@bücher.example>"
        );
        assert!(check_path("jörg@bücher.example", false).is_err());
    }

    #[test]
    fn nothing_can_become_a_parameter() {
        // The cases: each once reached the wire altered or as a
        // parameter.
        refused("<> RET=FULL");
        refused("<> NOTIFY=SUCCESS ORCPT=rfc822;x@y");
        refused("a@x.org SIZE=1");
        refused("<a@x.org> SIZE=1");
        refused("Name <a@x.org> BODY=8BITMIME");
        refused("a@x.org\tSIZE=1");
    }

    #[test]
    fn spaces_and_brackets_outside_quotes_are_refused() {
        refused("a b@example.org");
        refused("< a@example.org>");
        refused("<a@example.org");
        refused("a@example.org>");
        refused("<a@example.org><b@example.org>");
        refused("<a<b@example.org>");
        refused("a@b@example.org");
        refused("");
        refused("   ");
        refused("\"unterminated@example.org");
        refused("a@example.org (unterminated");
    }

    #[test]
    fn mailboxes_are_rfc_5321_mailboxes() {
        refused("a..b@example.org");
        refused(".a@example.org");
        refused("a@");
        refused("@example.org");
        refused("a@-example.org");
        refused("a@example-.org");
        refused("a@example..org");
        refused("a@example.org.");
        refused("a@exa_mple.org");
        refused("a@[]");
        refused("a@[1.2.3.4");
        refused("a,b@example.org");
        refused("a;b@example.org");
        refused("\"a\"b@example.org");
    }

    #[test]
    fn the_null_path_is_no_recipient() {
        assert_eq!(check_forward_path("a@b", false).unwrap(), "<a@b>");
        assert!(check_forward_path("<>", false).is_err());
        assert!(check_forward_path("Name <>", false).is_err());
    }

    #[test]
    fn line_breaks_and_nul_are_refused() {
        refused("a@example.org\r\nRSET");
        refused("a@example.org\0");
        refused("\"a\nb\"@example.org");
    }
}
