//! The protocol transcript (smtplib's set_debuglevel): level 1 shows each
//! connection, command and reply; level 2 adds a timestamp to each line.
//! Credentials never appear: AUTH arguments and the 334 exchanges are shown
//! as "<redacted>" at every level.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::protocol::reply::Reply;

/// A function receiving transcript lines. `Send`, so that a `Client` can
/// move between threads.
pub type LineFn = Box<dyn FnMut(&str) + Send>;

/// Where transcript lines go: a caller's function, or standard error.
#[derive(Default)]
pub struct DebugSink {
    level: u8,
    sink: Option<LineFn>,
    redact: bool,
}

impl DebugSink {
    /// 0: silent (default); 1: transcript; 2: transcript with timestamps.
    pub fn set_level(&mut self, level: u8) {
        self.level = level.min(2);
    }

    /// The current level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Sends lines to `sink` instead of standard error; None restores stderr.
    pub fn set_sink(&mut self, sink: Option<LineFn>) {
        self.sink = sink;
    }

    /// Turns redaction of replies on or off; returns the previous setting.
    pub(crate) fn redacting(&mut self, on: bool) -> bool {
        std::mem::replace(&mut self.redact, on)
    }

    /// Emits one transcript line.
    pub fn line(&mut self, text: &str) {
        if self.level == 0 {
            return;
        }
        let line = if self.level >= 2 {
            format!("{} {}", timestamp(), text)
        } else {
            text.to_string()
        };
        match &mut self.sink {
            Some(f) => f(&line),
            // eprintln! panics when the write fails (a closed pipe); a
            // transcript line is never worth failing the command for.
            None => {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }

    pub(crate) fn sent(&mut self, bytes: &[u8]) {
        if self.level > 0 {
            self.line(&format!("send: '{}'", escape(bytes)));
        }
    }

    pub(crate) fn sent_redacted(&mut self, verb: &str) {
        if self.level > 0 {
            self.line(&format!("send: '{verb} <redacted>\\r\\n'"));
        }
    }

    /// A line of secret data (a response to an AUTH challenge).
    pub(crate) fn sent_secret(&mut self) {
        if self.level > 0 {
            self.line("send: '<redacted>\\r\\n'");
        }
    }

    pub(crate) fn reply(&mut self, reply: &Reply) {
        if self.level == 0 {
            return;
        }
        if self.redact && reply.code == 334 {
            self.line("reply: retcode (334); Msg: <redacted>");
        } else {
            let text = escape(&reply.text());
            self.line(&format!("reply: retcode ({}); Msg: '{}'", reply.code, text));
        }
    }
}

/// Printable ASCII as is, CR/LF/TAB as escapes, other bytes as \xNN.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// "HH:MM:SS.ffffff" in UTC, as smtplib's level-2 prefix (which uses local
/// time; UTC avoids reading the time zone database).
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::Mutex;

    fn capture(level: u8) -> (DebugSink, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l2 = lines.clone();
        let mut d = DebugSink::default();
        d.set_level(level);
        d.set_sink(Some(Box::new(move |s: &str| {
            l2.lock().unwrap().push(s.to_string())
        })));
        (d, lines)
    }

    #[test]
    fn level_one_is_plain_level_two_timestamped() {
        let (mut d, lines) = capture(1);
        d.sent(b"NOOP\r\n");
        assert_eq!(lines.lock().unwrap()[0], "send: 'NOOP\\r\\n'");
        let (mut d, lines) = capture(2);
        d.sent(b"NOOP\r\n");
        let l = &lines.lock().unwrap()[0];
        assert_eq!(&l[2..3], ":");
        assert!(l.ends_with(" send: 'NOOP\\r\\n'"), "{l}");
    }

    #[test]
    fn level_zero_is_silent() {
        let (mut d, lines) = capture(0);
        d.sent(b"NOOP\r\n");
        d.line("x");
        assert!(lines.lock().unwrap().is_empty());
    }

    #[test]
    fn secrets_are_redacted() {
        let (mut d, lines) = capture(2);
        d.sent_redacted("AUTH");
        d.redacting(true);
        d.reply(&Reply {
            code: 334,
            lines: vec![b"c2VjcmV0".to_vec()],
        });
        let all = lines.lock().unwrap().join("\n");
        assert!(!all.contains("c2VjcmV0"));
        assert!(all.contains("<redacted>"));
    }
}
