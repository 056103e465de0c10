//! EHLO features, parsed exactly as smtplib's ehlo() does.
//!
//! The first line of the reply is the server's name and is skipped. Each
//! other line is a keyword (case-insensitive, stored lowercased) and its
//! parameters. Old-style "AUTH=MECH ..." lines are merged into "auth", and
//! every "auth" value is appended with a leading space, as smtplib does.

/// The extensions a server announced, in the order it announced them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EhloFeatures {
    entries: Vec<(String, String)>,
}

impl EhloFeatures {
    /// Parses the lines of a 250 reply to EHLO (or LHLO).
    pub fn parse(lines: &[Vec<u8>]) -> EhloFeatures {
        let mut features = EhloFeatures::default();
        for raw in lines.iter().skip(1) {
            // smtplib decodes each line as latin-1: every byte is one char.
            let line: String = raw.iter().map(|&b| b as char).collect();
            // Compared on the raw bytes: a non-ASCII byte is two bytes in
            // `line`, so a byte offset into it could split a character.
            if raw.len() >= 5 && raw[..5].eq_ignore_ascii_case(b"auth=") {
                features.append_auth(&line[5..]);
                continue;
            }
            let keyword_len = line
                .char_indices()
                .take_while(|(i, c)| c.is_ascii_alphanumeric() || (*i > 0 && *c == '-'))
                .count();
            if keyword_len == 0 {
                continue;
            }
            let keyword = line[..keyword_len].to_ascii_lowercase();
            let params = line[keyword_len..].trim();
            if keyword == "auth" {
                features.append_auth(params);
            } else {
                features.set(&keyword, params);
            }
        }
        features
    }

    fn append_auth(&mut self, params: &str) {
        let current = self.get("auth").unwrap_or("").to_string();
        self.set("auth", &format!("{current} {params}"));
    }

    fn set(&mut self, keyword: &str, params: &str) {
        match self.entries.iter_mut().find(|(k, _)| k == keyword) {
            Some(entry) => entry.1 = params.to_string(),
            None => self.entries.push((keyword.to_string(), params.to_string())),
        }
    }

    /// The parameters of an extension (case-insensitive), if announced.
    pub fn get(&self, keyword: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, v)| v.as_str())
    }

    /// smtplib's has_extn().
    pub fn has(&self, keyword: &str) -> bool {
        self.get(keyword).is_some()
    }

    /// All (keyword, parameters) pairs in announcement order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many extensions were announced.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The SASL mechanisms announced in AUTH, upper-cased.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        self.get("auth")
            .unwrap_or("")
            .split_whitespace()
            .map(|m| m.to_ascii_uppercase())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<Vec<u8>> {
        text.split('\n').map(|l| l.as_bytes().to_vec()).collect()
    }

    #[test]
    fn keywords_lowercased_with_parameters() {
        let f = EhloFeatures::parse(&lines(
            "mx.example greets you\nPIPELINING\nSIZE 10240000\n8BITMIME\nSTARTTLS\nX-EXPS=LOGIN",
        ));
        assert_eq!(f.get("size"), Some("10240000"));
        assert_eq!(f.get("SIZE"), Some("10240000"));
        assert!(f.has("PipeLining"));
        assert_eq!(f.get("8bitmime"), Some(""));
        assert_eq!(f.get("x-exps"), Some("=LOGIN"));
        assert!(!f.has("mx"));
        assert_eq!(f.len(), 5);
    }

    #[test]
    fn old_style_auth_is_merged_like_smtplib() {
        // smtplib: esmtp_features["auth"] = get("auth", "") + " " + params
        let f = EhloFeatures::parse(&lines("mx\nAUTH=LOGIN\nAUTH PLAIN CRAM-MD5"));
        assert_eq!(f.get("auth"), Some(" LOGIN PLAIN CRAM-MD5"));
        assert_eq!(f.auth_mechanisms(), vec!["LOGIN", "PLAIN", "CRAM-MD5"]);
    }

    #[test]
    fn non_ascii_bytes_are_taken_as_latin1_without_panicking() {
        let raw = vec![
            b"mx".to_vec(),
            b"AU\xe9\xe9x".to_vec(),
            b"X-\xffY 1".to_vec(),
        ];
        let f = EhloFeatures::parse(&raw);
        assert_eq!(f.get("au"), Some("\u{e9}\u{e9}x"));
        assert_eq!(f.get("x-"), Some("\u{ff}Y 1"));
    }

    #[test]
    fn lines_without_a_keyword_are_skipped() {
        let f = EhloFeatures::parse(&lines("mx\n-bogus\n\nDSN"));
        assert_eq!(f.iter().collect::<Vec<_>>(), vec![("dsn", "")]);
    }
}
