//! smtplib's send_message(): the envelope read from the message's headers
//! (see `crate::message`), Bcc fields removed, and the mail options the
//! addresses and the body call for.

use super::Session;
use crate::error::{Error, RecipientResult, Result, Status};
use crate::message;
use crate::protocol::data::DataEncoder;

impl Session {
    /// smtplib's send_message() over the message's bytes: EHLO/HELO if
    /// needed; then `from` and `to`, when not given, are read from the
    /// headers (Sender or From; To, Bcc and Cc; or the Resent- ones when
    /// exactly one Resent-Date field is present); the message is sent as
    /// `sendmail` sends it, without its Bcc and Resent-Bcc fields, otherwise
    /// byte for byte as given, in parts and never copied whole.
    ///
    /// Mail options, after the caller's (and after SIZE=, which `sendmail`
    /// puts first): when an envelope address is not ASCII, "SMTPUTF8" and
    /// "BODY=8BITMIME", in smtplib's order, or `NotSupported` with nothing
    /// more sent when the server does not offer SMTPUTF8. Beyond smtplib:
    /// when the message has a byte above 0x7F and the server offers
    /// 8BITMIME, "BODY=8BITMIME" (RFC 6152). An option the caller already
    /// gave (SMTPUTF8, or any BODY=) is not added again: RFC 5321 §4.1.2
    /// allows each parameter once.
    ///
    /// `Invalid` with nothing sent after the greeting exchange when the
    /// message has more than one Resent- block, or no sender or no recipient
    /// is found.
    pub async fn send_message(
        &mut self,
        msg: &[u8],
        from: Option<&str>,
        to: Option<&[&str]>,
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<Vec<RecipientResult>> {
        self.ehlo_or_helo_if_needed().await?;
        let envelope = message::envelope(msg, from, to)?;
        // Sent part by part around the Bcc fields: never copied whole.
        let parts = message::kept_parts(msg);
        let international = !envelope.from.is_ascii() || envelope.to.iter().any(|a| !a.is_ascii());
        let has_body_option = mail_options.iter().any(|o| {
            o.as_bytes()
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"BODY="))
        });
        let mut options: Vec<&str> = mail_options.to_vec();
        if international {
            if !self.has_extn("smtputf8") {
                return Err(Error::new(
                    Status::NotSupported,
                    "One or more source or delivery addresses require internationalized \
                     email support, but the server does not advertise the required SMTPUTF8 \
                     capability",
                ));
            }
            if !mail_options
                .iter()
                .any(|o| o.eq_ignore_ascii_case("SMTPUTF8"))
            {
                options.push("SMTPUTF8");
            }
            if !has_body_option {
                options.push("BODY=8BITMIME");
            }
        } else if !has_body_option
            && self.has_extn("8bitmime")
            && parts.iter().any(|p| p.iter().any(|b| *b >= 0x80))
        {
            options.push("BODY=8BITMIME");
        }
        let to: Vec<&str> = envelope.to.iter().map(String::as_str).collect();
        let size: usize = parts.iter().map(|p| DataEncoder::normalized_len(p)).sum();
        self.begin(
            &envelope.from,
            &to,
            Some(size as u64),
            &options,
            rcpt_options,
        )
        .await?;
        for part in parts {
            self.write_body(part).await?;
        }
        self.end().await
    }
}
