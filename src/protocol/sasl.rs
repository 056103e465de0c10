//! SASL for SMTP AUTH (RFC 4954): the mechanisms' messages as pure byte
//! functions, base64 both ways, the cleartext policy, and `Secret`, the
//! buffer that holds credentials and wipes them when dropped.
//!
//! The messages are those smtplib's authobjects produce (`auth_plain`,
//! `auth_login`, `auth_cram_md5`), plus XOAUTH2 and OAUTHBEARER (RFC 7628).

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::Md5;
use zeroize::Zeroize;

/// smtplib's preference order for `login()`.
pub const DEFAULT_MECHANISMS: [&str; 3] = ["CRAM-MD5", "PLAIN", "LOGIN"];

/// The OAuth 2.0 mechanisms, preferred first (RFC 7628 is the standard one).
pub const OAUTH_MECHANISMS: [&str; 2] = ["OAUTHBEARER", "XOAUTH2"];

/// smtplib's _MAXCHALLENGE: how many 334 challenges one AUTH may answer.
pub const MAX_CHALLENGES: usize = 5;

/// Bytes that must not outlive their use (passwords, tokens, and anything
/// derived from them): overwritten with zeros when dropped. Its `Debug`
/// shows no content.
#[derive(Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    /// An empty buffer able to hold `n` bytes without reallocating (a
    /// reallocation would leave a copy behind in freed memory).
    pub fn with_capacity(n: usize) -> Secret {
        Secret(Vec::with_capacity(n))
    }

    /// Appends bytes; callers reserve enough capacity first.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.0.len() + bytes.len() > self.0.capacity() {
            // Move to a larger buffer ourselves so the old one is wiped.
            let mut bigger = Vec::with_capacity((self.0.len() + bytes.len()) * 2);
            bigger.extend_from_slice(&self.0);
            wipe(&mut self.0);
            self.0 = bigger;
        }
        self.0.extend_from_slice(bytes);
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&[u8]> for Secret {
    fn from(bytes: &[u8]) -> Secret {
        Secret(bytes.to_vec())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

/// Overwrites every byte of `buf`, spare capacity included, with zeros
/// (the `zeroize` crate's volatile writes, which the optimiser keeps), then
/// empties it.
pub fn wipe(buf: &mut Vec<u8>) {
    buf.zeroize();
}

fn concat(parts: &[&[u8]]) -> Secret {
    let mut s = Secret::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.extend(p);
    }
    s
}

/// PLAIN (RFC 4616), as smtplib's auth_plain: "\0user\0password" (empty
/// authorization identity).
pub fn plain(user: &str, password: &str) -> Secret {
    concat(&[b"\0", user.as_bytes(), b"\0", password.as_bytes()])
}

/// LOGIN, as smtplib's auth_login: the user name as the initial response
/// and for the first challenge, the password for every later one.
/// `challenge_count` is smtplib's `_auth_challenge_count` when the response
/// is made: 1 for the initial response, then +1 per challenge, where a
/// dialog without initial response starts at 0.
pub fn login(user: &str, password: &str, initial: bool, challenge_count: usize) -> Secret {
    // smtplib: "if challenge is None or self._auth_challenge_count < 2:
    //           return self.user"
    if initial || challenge_count < 2 {
        Secret::from(user.as_bytes())
    } else {
        Secret::from(password.as_bytes())
    }
}

/// CRAM-MD5 (RFC 2195), as smtplib's auth_cram_md5: "user " and the hex
/// HMAC-MD5 of the challenge keyed with the password. It has no initial
/// response.
pub fn cram_md5(user: &str, password: &str, challenge: &[u8]) -> Secret {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let Ok(mut mac) = Hmac::<Md5>::new_from_slice(password.as_bytes()) else {
        return Secret::default();
    };
    mac.update(challenge);
    let digest = mac.finalize().into_bytes();
    let mut hex = Secret::with_capacity(digest.len() * 2);
    for b in digest.iter() {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        hex.extend(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    }
    concat(&[user.as_bytes(), b" ", hex.as_bytes()])
}

/// XOAUTH2 (Google's and Microsoft's): "user=" user "\x01auth=Bearer "
/// token "\x01\x01".
pub fn xoauth2(user: &str, token: &str) -> Secret {
    concat(&[
        b"user=",
        user.as_bytes(),
        b"\x01auth=Bearer ",
        token.as_bytes(),
        b"\x01\x01",
    ])
}

/// OAUTHBEARER (RFC 7628 §3.1): the GS2 header "n,a=" user "," then
/// "\x01auth=Bearer " token "\x01\x01". In the user, ',' and '=' are
/// written "=2C" and "=3D" (RFC 5801 §4, saslname).
pub fn oauthbearer(user: &str, token: &str) -> Secret {
    let mut escaped = Secret::with_capacity(user.len() * 3);
    for &b in user.as_bytes() {
        match b {
            b',' => escaped.extend(b"=2C"),
            b'=' => escaped.extend(b"=3D"),
            _ => escaped.extend(&[b]),
        }
    }
    concat(&[
        b"n,a=",
        escaped.as_bytes(),
        b",\x01auth=Bearer ",
        token.as_bytes(),
        b"\x01\x01",
    ])
}

/// RFC 7628 §3.2.3: after an error challenge, the client "MUST then send
/// either an additional client response consisting of a single %x01
/// (control A) character to the server in order to allow the server to
/// finish the exchange or a SASL abort message". XOAUTH2 servers expect an
/// empty line instead.
pub fn oauth_error_ack(mechanism: &str) -> &'static [u8] {
    if mechanism.eq_ignore_ascii_case("OAUTHBEARER") {
        b"\x01"
    } else {
        b""
    }
}

/// Base64 (RFC 4648, with padding) of a response, wiped after use.
pub fn encode(bytes: &[u8]) -> Secret {
    let n = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    let mut out = vec![0u8; n];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out)
        .unwrap_or(0);
    out.truncate(written);
    Secret::new(out)
}

/// Decodes a challenge: the text of a 334 reply. Surrounding white space is
/// ignored and padding may be omitted; anything else that is not base64 is
/// an error (the caller then cancels the exchange, RFC 4954 §4).
pub fn decode(text: &[u8]) -> Result<Vec<u8>, String> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    LENIENT
        .decode(&text[start..end])
        .map_err(|e| format!("invalid base64 in the server's challenge: {e}"))
}

/// Whether `name` is a SASL mechanism name (RFC 4422 §3.1: 1 to 20
/// characters among upper-case letters, digits, "-" and "_"; lower case is
/// accepted here and upper-cased by callers).
pub fn is_mechanism_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a mechanism keeps the secret off the wire (the server sees a
/// proof, never the password or a bearer token): these may run over an
/// unprotected connection. Every other mechanism, known or not, is
/// treated as revealing.
pub fn protects_secret(mechanism: &str) -> bool {
    let m = mechanism.to_ascii_uppercase();
    matches!(
        m.as_str(),
        "CRAM-MD5" | "DIGEST-MD5" | "GSSAPI" | "EXTERNAL" | "ANONYMOUS"
    ) || m.starts_with("SCRAM-")
}

/// The cleartext policy: may `mechanism` run on this connection? Yes when
/// it does not reveal the secret, or the connection is encrypted, or the
/// server is on this machine (loopback or Unix socket), or the caller
/// opted in to cleartext credentials.
pub fn cleartext_allowed(mechanism: &str, is_tls: bool, is_local: bool, opted_in: bool) -> bool {
    protects_secret(mechanism) || is_tls || is_local || opted_in
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cram_md5_matches_rfc_2195_example() {
        // RFC 2195 §2: challenge <1896.697170952@postoffice.reston.mci.net>,
        // secret "tanstaaftanstaaf", response
        // "tim b913a602c7eda7a495b4e6e7334d3890".
        let r = cram_md5(
            "tim",
            "tanstaaftanstaaf",
            b"<1896.697170952@postoffice.reston.mci.net>",
        );
        assert_eq!(r.as_bytes(), b"tim b913a602c7eda7a495b4e6e7334d3890");
        // And its base64 as the RFC shows it on the wire.
        assert_eq!(
            encode(r.as_bytes()).as_bytes(),
            b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
    }

    #[test]
    fn rfc_2195_challenge_decodes() {
        assert_eq!(
            decode(b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+").unwrap(),
            b"<1896.697170952@postoffice.reston.mci.net>"
        );
    }

    #[test]
    fn plain_is_nul_user_nul_password() {
        // smtplib auth_plain: "\0%s\0%s" % (self.user, self.password)
        assert_eq!(plain("tim", "tanstaaf").as_bytes(), b"\0tim\0tanstaaf");
        // RFC 4616 §4 example, without authorization identity.
        assert_eq!(
            encode(plain("tim", "tanstaaf").as_bytes()).as_bytes(),
            b"AHRpbQB0YW5zdGFhZg=="
        );
    }

    #[test]
    fn login_sends_user_then_password() {
        assert_eq!(login("u", "p", true, 1).as_bytes(), b"u");
        assert_eq!(login("u", "p", false, 1).as_bytes(), b"u");
        assert_eq!(login("u", "p", false, 2).as_bytes(), b"p");
        assert_eq!(login("u", "p", false, 3).as_bytes(), b"p");
    }

    #[test]
    fn xoauth2_format() {
        assert_eq!(
            xoauth2(
                "someuser@example.com",
                "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
            )
            .as_bytes(),
            b"user=someuser@example.com\x01auth=Bearer \
              ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
    }

    #[test]
    fn oauthbearer_matches_rfc_7628_example() {
        // RFC 7628 §4.1 (without host and port, which are optional):
        // "n,a=user@example.com,^Aauth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==^A^A"
        assert_eq!(
            oauthbearer(
                "user@example.com",
                "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
            )
            .as_bytes(),
            b"n,a=user@example.com,\x01auth=Bearer \
              vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
    }

    #[test]
    fn oauthbearer_escapes_comma_and_equals_in_user() {
        // RFC 5801 §4: "The server MUST replace any "," (comma) in the
        // string with "=2C". ... "=" with "=3D"."
        assert_eq!(
            oauthbearer("a,b=c", "t").as_bytes(),
            b"n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01"
        );
    }

    #[test]
    fn oauth_error_acknowledgements() {
        assert_eq!(oauth_error_ack("OAUTHBEARER"), b"\x01");
        assert_eq!(oauth_error_ack("XOAUTH2"), b"");
    }

    #[test]
    fn decode_refuses_non_base64_and_tolerates_padding() {
        assert!(decode(b"not base64!").is_err());
        assert_eq!(decode(b"dXNlcg").unwrap(), b"user");
        assert_eq!(decode(b" dXNlcg== ").unwrap(), b"user");
        assert_eq!(decode(b"").unwrap(), b"");
    }

    #[test]
    fn mechanism_names() {
        assert!(is_mechanism_name("CRAM-MD5"));
        assert!(is_mechanism_name("SCRAM-SHA-256-PLUS"));
        assert!(!is_mechanism_name(""));
        assert!(!is_mechanism_name("PLAIN LOGIN"));
        assert!(!is_mechanism_name("A23456789012345678901"));
    }

    #[test]
    fn cleartext_policy_on_every_combination() {
        // Mechanisms that reveal the secret need TLS, a local peer or the
        // caller's opt-in; CRAM-MD5 never needs them.
        let revealing = ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER", "X-UNKNOWN"];
        for tls in [false, true] {
            for local in [false, true] {
                for opted in [false, true] {
                    for m in revealing {
                        assert_eq!(
                            cleartext_allowed(m, tls, local, opted),
                            tls || local || opted,
                            "{m} tls={tls} local={local} opted_in={opted}"
                        );
                    }
                    assert!(cleartext_allowed("CRAM-MD5", tls, local, opted));
                    assert!(cleartext_allowed("cram-md5", tls, local, opted));
                }
            }
        }
        assert!(!cleartext_allowed("plain", false, false, false));
    }

    #[test]
    fn secret_wipes_and_hides_its_bytes() {
        let mut v = b"hunter2".to_vec();
        wipe(&mut v);
        assert!(v.is_empty());
        assert_eq!(
            format!("{:?}", Secret::from(&b"pw"[..])),
            "Secret(<2 bytes>)"
        );
    }

    #[test]
    fn secret_grows_without_losing_bytes() {
        let mut s = Secret::with_capacity(1);
        s.extend(b"abc");
        s.extend(b"def");
        assert_eq!(s.as_bytes(), b"abcdef");
    }
}
