//! Mail transactions: MAIL, RCPT, then DATA or BDAT (RFC 3030), pipelined
//! when the server offers PIPELINING (RFC 2920), with the body streamed in
//! constant memory, one message or a batch over one connection.
//!
//! smtplib's sendmail() semantics are kept whatever the path: the same
//! errors, the same RSET after a refusal, the same close after a 421.

use crate::error::{Error, RecipientResult, Result, Status};
use crate::protocol::command;
use crate::protocol::data::DataEncoder;
use crate::protocol::reply::Reply;

use super::{rcpt_args, Kind, Session, FLUSH_AT};

/// NOTIFY=NEVER (RFC 3461 §4.1): no DSN at all.
pub const NOTIFY_NEVER: u8 = 1;
/// NOTIFY=SUCCESS.
pub const NOTIFY_SUCCESS: u8 = 2;
/// NOTIFY=FAILURE.
pub const NOTIFY_FAILURE: u8 = 4;
/// NOTIFY=DELAY.
pub const NOTIFY_DELAY: u8 = 8;

/// RET= of MAIL (RFC 3461 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnRet {
    /// The whole message in a DSN.
    Full,
    /// Only the headers.
    Hdrs,
}

/// Delivery status notification requests (RFC 3461), sent only to a server
/// that offers DSN; asking one that does not is `NotSupported`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dsn {
    /// RET= on MAIL.
    pub ret: Option<DsnRet>,
    /// ENVID= on MAIL (xtext-encoded on the wire).
    pub envid: Option<String>,
    /// NOTIFY= on every RCPT: `NOTIFY_*` flags; NEVER excludes the others.
    pub notify: u8,
    /// ORCPT=rfc822;<address> on every RCPT.
    pub orcpt: bool,
}

impl Dsn {
    fn is_requested(&self) -> bool {
        self.ret.is_some() || self.envid.is_some() || self.notify != 0 || self.orcpt
    }

    fn mail_params(&self) -> Result<Vec<String>> {
        let mut p = Vec::new();
        match self.ret {
            Some(DsnRet::Full) => p.push("RET=FULL".to_string()),
            Some(DsnRet::Hdrs) => p.push("RET=HDRS".to_string()),
            None => {}
        }
        if let Some(envid) = &self.envid {
            if envid.is_empty() || envid.len() > 100 || !envid.is_ascii() {
                return Err(Error::invalid(
                    "ENVID must be 1 to 100 ASCII characters (RFC 3461 §4.4)",
                ));
            }
            p.push(format!("ENVID={}", xtext(envid)));
        }
        Ok(p)
    }

    fn rcpt_params(&self, address: &str) -> Result<Vec<String>> {
        let mut p = Vec::new();
        if self.notify != 0 {
            if self.notify & NOTIFY_NEVER != 0 && self.notify != NOTIFY_NEVER {
                return Err(Error::invalid(
                    "NOTIFY=NEVER cannot be combined with other values (RFC 3461 §4.1)",
                ));
            }
            let names = [
                (NOTIFY_NEVER, "NEVER"),
                (NOTIFY_SUCCESS, "SUCCESS"),
                (NOTIFY_FAILURE, "FAILURE"),
                (NOTIFY_DELAY, "DELAY"),
            ];
            let list: Vec<&str> = names
                .iter()
                .filter(|(bit, _)| self.notify & bit != 0)
                .map(|(_, n)| *n)
                .collect();
            p.push(format!("NOTIFY={}", list.join(",")));
        }
        if self.orcpt {
            let addr = command::addr_only(address);
            p.push(format!("ORCPT=rfc822;{}", xtext(&addr)));
        }
        Ok(p)
    }
}

/// RFC 3461 §4: xtext: "+" and "=", controls, space and non-ASCII as "+XX".
pub fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// One message of a batch.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The envelope sender.
    pub from: &'a str,
    /// The envelope recipients.
    pub to: &'a [&'a str],
    /// The message.
    pub msg: &'a [u8],
}

/// A body being sent.
pub(crate) struct BodyState {
    enc: DataEncoder,
    /// BDAT instead of DATA.
    bdat: bool,
    /// BODY=BINARYMIME: bytes go as they are.
    binary: bool,
    /// The BDAT chunk being filled.
    chunk: Vec<u8>,
    /// BDAT commands whose replies are not read yet.
    unread: usize,
    /// The first failed BDAT reply: the transaction has failed.
    failed: Option<Reply>,
    /// Body bytes given by the caller.
    given: u64,
    /// When the last piece was sent: the caller's time from then to the
    /// next piece does not count against the body's deadline.
    idle_since: Option<std::time::Instant>,
}

/// A message whose end was sent and whose final reply(ies) will be read
/// after the next envelope is sent in the same write (batch pipelining).
pub(crate) struct Deferred {
    index: usize,
    body: BodyState,
    results: Vec<RecipientResult>,
}

/// A deferred message's index and outcome.
pub(crate) type DeferredOutcome = (usize, Result<Vec<RecipientResult>>);

/// BDAT replies left unread before reading one (bounded pipelining).
const MAX_UNREAD_BDAT: usize = 8;
/// The size of a BDAT chunk.
const BDAT_CHUNK: usize = 1 << 20;

impl Session {
    /// Uses PIPELINING when offered (on by default).
    pub fn set_pipelining(&mut self, on: bool) {
        self.pipelining = on;
    }

    /// Uses CHUNKING (BDAT) when offered (on by default).
    pub fn set_chunking(&mut self, on: bool) {
        self.chunking = on;
    }

    /// The DSN requests added to each transaction.
    pub fn dsn(&mut self) -> &mut Dsn {
        &mut self.dsn
    }

    /// smtplib's sendmail(). Returns the refused recipients (address, code,
    /// text) when at least one was accepted; `recipient_results()` then
    /// holds every recipient's outcome. Errors as smtplib raises them:
    /// `SenderRefused`, `RecipientsRefused` (all refused), `Data`, `Helo`,
    /// `NotSupported`; after a refusal RSET is sent (its failure ignored),
    /// except after a 421, which closes the connection.
    pub async fn sendmail(
        &mut self,
        from: &str,
        to: &[&str],
        msg: &[u8],
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<Vec<RecipientResult>> {
        let size = DataEncoder::normalized_len(msg) as u64;
        self.begin(from, to, Some(size), mail_options, rcpt_options)
            .await?;
        self.write_body(msg).await?;
        self.end().await
    }

    /// `sendmail` with the body read from `reader` until its end, in
    /// constant memory. `size` (the body's size, if known) is announced with
    /// SIZE= when the server offers SIZE.
    pub async fn sendmail_reader(
        &mut self,
        from: &str,
        to: &[&str],
        size: Option<u64>,
        reader: &mut dyn std::io::Read,
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<Vec<RecipientResult>> {
        self.begin(from, to, size, mail_options, rcpt_options)
            .await?;
        let mut buf = vec![0u8; FLUSH_AT];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.write_body(&buf[..n]).await?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // The body cannot be completed: the message must not be
                    // delivered truncated, so the connection is dropped.
                    self.close();
                    return Err(Error::from_io(&e, "reading the message body"));
                }
            }
        }
        self.end().await
    }

    /// Starts a message whose body follows in `write_body` calls and ends
    /// with `end`: EHLO/HELO if needed, MAIL (with SIZE= when `size` is
    /// known and SIZE offered), every RCPT, and DATA (or, with CHUNKING, the
    /// first BDAT comes with the body). Errors as `sendmail`.
    pub async fn begin(
        &mut self,
        from: &str,
        to: &[&str],
        size: Option<u64>,
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<()> {
        self.refuse_in_body("a new message")?;
        if to.is_empty() {
            return Err(Error::invalid("a message needs at least one recipient"));
        }
        // Every address is checked before anything is sent.
        crate::protocol::address::check_path(from, true)?;
        for addr in to {
            crate::protocol::address::check_forward_path(addr, true)?;
        }
        for o in mail_options.iter().chain(rcpt_options) {
            command::check_arg(o, false)?;
        }
        self.ehlo_or_helo_if_needed().await?;
        let result = self
            .begin_checked(from, to, size, mail_options, rcpt_options)
            .await;
        if result.is_err() {
            self.smtputf8 = false;
        }
        result
    }

    async fn begin_checked(
        &mut self,
        from: &str,
        to: &[&str],
        size: Option<u64>,
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<()> {
        let binary = mail_options
            .iter()
            .any(|o| o.eq_ignore_ascii_case("BODY=BINARYMIME"));
        let bdat = self.chunking && self.has_extn("chunking");
        if binary && !(bdat && self.has_extn("binarymime")) {
            return Err(Error::new(
                Status::NotSupported,
                "BODY=BINARYMIME needs the server's CHUNKING and BINARYMIME (RFC 3030)",
            ));
        }
        let mut mail_opts: Vec<String> = Vec::new();
        if self.does_esmtp {
            if let (true, Some(size)) = (self.has_extn("size"), size) {
                mail_opts.push(format!("SIZE={size}"));
            }
            mail_opts.extend(mail_options.iter().map(|o| o.to_string()));
        }
        if self.dsn.is_requested() {
            if !self.has_extn("dsn") {
                return Err(Error::new(
                    Status::NotSupported,
                    "DSN requested but not offered by the server (RFC 3461)",
                ));
            }
            mail_opts.extend(self.dsn.mail_params()?);
        }
        let mail_opts: Vec<&str> = mail_opts.iter().map(String::as_str).collect();
        let mail = self.mail_args(from, &mail_opts)?;
        let mut rcpts = Vec::with_capacity(to.len());
        for addr in to {
            let mut opts: Vec<String> = rcpt_options.iter().map(|o| o.to_string()).collect();
            opts.extend(self.dsn.rcpt_params(addr)?);
            let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
            rcpts.push(rcpt_args(addr, &opts)?);
        }
        self.results.clear();
        if self.pipelining && self.has_extn("pipelining") {
            self.envelope_pipelined(from, to, &mail, &rcpts, !bdat)
                .await?;
        } else {
            self.envelope_stepwise(from, to, &mail, &rcpts, !bdat)
                .await?;
        }
        self.begin_op("the message body");
        self.body = Some(BodyState {
            enc: if bdat {
                DataEncoder::for_bdat()
            } else {
                DataEncoder::new()
            },
            bdat,
            binary,
            chunk: Vec::new(),
            unread: 0,
            failed: None,
            given: 0,
            idle_since: Some(std::time::Instant::now()),
        });
        Ok(())
    }

    /// One command at a time, as smtplib does.
    async fn envelope_stepwise(
        &mut self,
        from: &str,
        to: &[&str],
        mail: &str,
        rcpts: &[String],
        data: bool,
    ) -> Result<()> {
        let reply = self.docmd("MAIL", mail).await?;
        if reply.code != 250 {
            return Err(self.sender_refused(from, &reply).await);
        }
        for (addr, args) in to.iter().zip(rcpts) {
            let reply = self.docmd("RCPT", args).await?;
            self.push_result(addr, &reply);
            if reply.code == 421 {
                self.close();
                return Err(recipients_refused(&self.results));
            }
        }
        if self.results.iter().all(|r| !r.accepted) {
            self.rset_quietly().await;
            return Err(recipients_refused(&self.results));
        }
        if data {
            let reply = self.docmd("DATA", "").await?;
            if reply.code != 354 {
                return Err(self.data_refused(&reply).await);
            }
        }
        Ok(())
    }

    /// RFC 2920 §3.1: MAIL, every RCPT and DATA in one write; then every
    /// reply is read, in order, before acting on any of them ("Client SMTP
    /// implementations that employ pipelining MUST check ALL statuses").
    async fn envelope_pipelined(
        &mut self,
        from: &str,
        to: &[&str],
        mail: &str,
        rcpts: &[String],
        data: bool,
    ) -> Result<()> {
        let mut lines = vec![command::build("MAIL", mail, self.smtputf8)?];
        for args in rcpts {
            lines.push(command::build("RCPT", args, self.smtputf8)?);
        }
        if data {
            lines.push(command::build("DATA", "", false)?);
        }
        if self.deferred.is_none() {
            self.refuse_unsolicited("before", "MAIL")?;
        }
        self.begin_op("the pipelined MAIL, RCPT and DATA");
        for line in &lines {
            self.debug.sent(line);
            self.out.extend_from_slice(line);
        }
        // The previous message's end of data travels in this write.
        let after_data = self.deferred.is_some();
        let flushed = self.flush().await;
        self.settle_deferred().await;
        flushed?;
        if after_data {
            // Reading the reply to the end of data began an operation of
            // its own: the envelope's replies get theirs again.
            self.begin_op("the pipelined MAIL, RCPT and DATA");
        }

        let mail_reply = self.getreply().await?;
        if mail_reply.code == 421 {
            return Err(self.sender_refused(from, &mail_reply).await);
        }
        for addr in to {
            let reply = self.getreply().await?;
            self.push_result(addr, &reply);
            if reply.code == 421 {
                self.close();
                return Err(recipients_refused(&self.results));
            }
        }
        let data_reply = if data {
            Some(self.getreply().await?)
        } else {
            None
        };
        let none_accepted = self.results.iter().all(|r| !r.accepted);
        if let Some(reply) = &data_reply {
            if reply.code == 421 {
                self.close();
            } else if reply.code == 354 && (mail_reply.code != 250 || none_accepted) {
                // The server took DATA with nothing to deliver to: end the
                // (empty) data so that the session stays in step.
                self.debug.line("send: '.\\r\\n' (no valid recipients)");
                self.begin_op("the end of data");
                self.send(b".\r\n").await?;
                self.getreply().await?;
            }
        }
        if after_data && out_of_sequence(&mail_reply) && self.is_connected() {
            // RFC 2920 §3.1 lets MAIL follow the end of data in one write,
            // but some servers refuse whatever arrives before their reply
            // to the end of data (Haraka: "503 Bad sequence of commands -
            // pipelined after end of DATA", a defence against SMTP
            // smuggling). That refusal is about the client's pipelining,
            // not this message: send the envelope again once the reply is
            // in, and keep each end of data apart from now on.
            self.pipeline_after_data = false;
            self.debug.line(
                "pipelining after the end of data refused: envelope sent again; \
                 each end of data waits for its reply from now on",
            );
            self.results.clear();
            return Box::pin(self.envelope_pipelined(from, to, mail, rcpts, data)).await;
        }
        if mail_reply.code != 250 {
            return Err(self.sender_refused(from, &mail_reply).await);
        }
        if none_accepted {
            if self.is_connected() {
                self.rset_quietly().await;
            }
            return Err(recipients_refused(&self.results));
        }
        if let Some(reply) = data_reply {
            if reply.code != 354 {
                return Err(self.data_refused(&reply).await);
            }
        }
        if self.conn.as_ref().is_some_and(|c| c.buffered() > 0) {
            self.close();
            return Err(Error::disconnected(
                "server sent more replies than commands (desynchronised); connection closed",
            ));
        }
        Ok(())
    }

    fn push_result(&mut self, address: &str, reply: &Reply) {
        self.results.push(RecipientResult {
            address: address.to_string(),
            code: reply.code,
            text: reply.text(),
            accepted: reply.code == 250 || reply.code == 251,
        });
    }

    async fn sender_refused(&mut self, from: &str, reply: &Reply) -> Error {
        if reply.code == 421 {
            self.close();
        } else {
            self.rset_quietly().await;
        }
        let mut e = Error::reply(Status::SenderRefused, reply.code, &reply.text());
        e.sender = Some(from.to_string());
        e
    }

    async fn data_refused(&mut self, reply: &Reply) -> Error {
        self.data_failed(reply, true).await
    }

    /// A refused message: close after 421, else RSET when `rset` (not while
    /// the next message's commands are already on their way: RFC 5321
    /// §4.1.1.4 ends the transaction at the end of data whatever the reply).
    async fn data_failed(&mut self, reply: &Reply, rset: bool) -> Error {
        if reply.code == 421 {
            self.close();
        } else if rset {
            self.rset_quietly().await;
        }
        Error::reply(Status::Data, reply.code, &reply.text())
    }

    /// Sends part of the body begun with `begin`, encoded on the way: every
    /// line ending made CRLF, lines starting with "." dot-stuffed (DATA), or
    /// cut into BDAT chunks (CHUNKING). Memory stays bounded whatever the
    /// total size.
    pub async fn write_body(&mut self, buf: &[u8]) -> Result<()> {
        let Some(mut body) = self.body.take() else {
            return Err(Error::new(
                Status::Exception,
                "no message in progress: call begin first",
            ));
        };
        body.given += buf.len() as u64;
        self.resume_body(&mut body);
        let result = self.write_body_to(&mut body, buf).await;
        body.idle_since = Some(std::time::Instant::now());
        if result.is_ok() && self.is_connected() {
            self.body = Some(body);
        }
        result
    }

    /// Pushes the body's deadline back by the time the caller took since
    /// the last piece (see `set_timeout`).
    fn resume_body(&mut self, body: &mut BodyState) {
        if let (Some(since), Some(conn)) = (body.idle_since.take(), self.conn.as_mut()) {
            conn.pause(since.elapsed());
        }
    }

    async fn write_body_to(&mut self, body: &mut BodyState, buf: &[u8]) -> Result<()> {
        for piece in buf.chunks(FLUSH_AT) {
            if !body.bdat {
                body.enc.encode(piece, &mut self.out);
                if self.out.len() >= FLUSH_AT {
                    self.flush().await?;
                }
                continue;
            }
            if body.binary {
                body.chunk.extend_from_slice(piece);
            } else {
                body.enc.encode(piece, &mut body.chunk);
            }
            if body.chunk.len() >= BDAT_CHUNK {
                self.send_bdat(body, false).await?;
            }
        }
        Ok(())
    }

    /// Sends the chunk as "BDAT n [LAST]" and its bytes in one write, then
    /// reads replies when too many are outstanding.
    async fn send_bdat(&mut self, body: &mut BodyState, last: bool) -> Result<()> {
        self.begin_op("BDAT");
        let verb = format!(
            "BDAT {}{}\r\n",
            body.chunk.len(),
            if last { " LAST" } else { "" }
        );
        self.debug.sent(verb.as_bytes());
        self.debug
            .line(&format!("send: <message data, {} bytes>", body.chunk.len()));
        self.out.extend_from_slice(verb.as_bytes());
        self.out.extend_from_slice(&body.chunk);
        body.chunk.clear();
        body.unread += 1;
        if last {
            return Ok(());
        }
        self.flush().await?;
        while body.unread > MAX_UNREAD_BDAT {
            self.read_bdat_reply(body).await?;
        }
        Ok(())
    }

    async fn read_bdat_reply(&mut self, body: &mut BodyState) -> Result<()> {
        let reply = self.getreply().await?;
        body.unread -= 1;
        if reply.code != 250 && body.failed.is_none() {
            body.failed = Some(reply);
        }
        Ok(())
    }

    /// Ends the body and reads the outcome: for SMTP one reply, for LMTP one
    /// per accepted recipient (RFC 2033 §4.2). Errors as `sendmail`.
    pub async fn end(&mut self) -> Result<Vec<RecipientResult>> {
        let Some(mut body) = self.body.take() else {
            return Err(Error::new(
                Status::Exception,
                "no message in progress: call begin first",
            ));
        };
        self.resume_body(&mut body);
        let result = self.end_body(&mut body).await;
        self.smtputf8 = false;
        result
    }

    async fn end_body(&mut self, body: &mut BodyState) -> Result<Vec<RecipientResult>> {
        self.send_end(body).await?;
        self.flush().await?;
        let mut results = std::mem::take(&mut self.results);
        let r = self.read_final(body, &mut results, true).await;
        self.results = results;
        let r = r?;
        self.refuse_unsolicited("after the reply to", "the end of data")?;
        Ok(r)
    }

    /// The transcript shows what goes on the wire in its order: with BDAT
    /// each chunk's size line, then its bytes; with DATA the body, whose
    /// end follows.
    async fn send_end(&mut self, body: &mut BodyState) -> Result<()> {
        if body.bdat {
            if !body.binary {
                body.enc.finish(&mut body.chunk);
            }
            self.send_bdat(body, true).await
        } else {
            self.debug
                .line(&format!("send: <message data, {} bytes>", body.given));
            body.enc.finish(&mut self.out);
            Ok(())
        }
    }

    async fn read_final(
        &mut self,
        body: &mut BodyState,
        results: &mut [RecipientResult],
        rset: bool,
    ) -> Result<Vec<RecipientResult>> {
        self.begin_op("the end of data");
        // The replies to every BDAT but the LAST one.
        while body.unread > 1 {
            self.read_bdat_reply(body).await?;
        }
        if self.kind == Kind::Lmtp {
            return self.lmtp_replies(body, results, rset).await;
        }
        let reply = self.getreply().await?;
        let failed = body.failed.take().unwrap_or(reply);
        if failed.code != 250 {
            return Err(self.data_failed(&failed, rset).await);
        }
        Ok(refused(results))
    }

    /// RFC 2033 §4.2: after the end of data, "the LMTP server returns one
    /// reply for each recipient that was successfully named in a RCPT
    /// command", in the order of those RCPT commands. Each becomes that
    /// recipient's result; when none was delivered the error is `Data`.
    async fn lmtp_replies(
        &mut self,
        body: &mut BodyState,
        results: &mut [RecipientResult],
        rset: bool,
    ) -> Result<Vec<RecipientResult>> {
        let mut last = None;
        for r in results.iter_mut().filter(|r| r.accepted) {
            let reply = self.getreply().await?;
            r.code = reply.code;
            r.text = reply.text();
            r.accepted = reply.code == 250;
            last = Some(reply);
        }
        if let Some(failed) = body.failed.take() {
            return Err(self.data_failed(&failed, rset).await);
        }
        if results.iter().all(|r| !r.accepted) {
            let reply = last.unwrap_or(Reply {
                code: -1,
                lines: Vec::new(),
            });
            let mut e = self.data_failed(&reply, rset).await;
            e.recipients = refused(results);
            return Err(e);
        }
        Ok(refused(results))
    }

    /// Sends several messages over the connection. With PIPELINING, the end
    /// of each body and the next message's MAIL, RCPT and DATA go in one
    /// write, so each message costs one round trip (unless the server
    /// refuses commands that follow the end of data: then each end of data
    /// waits for its reply, and no message is refused for it); without it,
    /// this is `sendmail` for each. Returns one outcome per message, in
    /// order; a refused message does not stop the others.
    ///
    /// When the session ends during the batch — a 421 at any point, a
    /// session limit at MAIL (see `ends_session`), a lost connection — the
    /// connection is closed, and every message the server had not judged
    /// is `NotAttempted`, carrying the reply that ended the session:
    /// these are the last ones, from `batch_attempted()` on.
    pub async fn sendmail_batch(
        &mut self,
        messages: &[Outgoing<'_>],
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Vec<Result<Vec<RecipientResult>>> {
        self.forget_batch();
        let mut outcomes: Vec<Option<Result<Vec<RecipientResult>>>> = vec![None; messages.len()];
        let ready = match self.refuse_in_body("a batch") {
            Ok(()) => self.ehlo_or_helo_if_needed().await,
            Err(e) => Err(e),
        };
        if let Err(e) = ready {
            return messages.iter().map(|_| Err(e.clone())).collect();
        }
        let pipelined = self.pipelining && self.has_extn("pipelining");
        // Why the session ended, once it has.
        let mut ended: Option<Error> = None;
        for (i, m) in messages.iter().enumerate() {
            if !self.is_connected() {
                break;
            }
            let size = DataEncoder::normalized_len(m.msg) as u64;
            let begun = self
                .begin(m.from, m.to, Some(size), mail_options, rcpt_options)
                .await;
            self.collect_deferred(&mut outcomes);
            if let Err(e) = begun {
                if ends_session(&e) && self.is_connected() {
                    // The server takes no more mail on this connection.
                    let _ = self.quit().await;
                }
                if !self.is_connected() && !is_verdict(&e) {
                    // Nothing of this message's data was sent: the server
                    // cannot have judged it.
                    ended = Some(e);
                    break;
                }
                outcomes[i] = Some(Err(e));
                continue;
            }
            if let Err(e) = self.write_body(m.msg).await {
                outcomes[i] = Some(Err(e));
                continue;
            }
            if pipelined && self.pipeline_after_data && i + 1 < messages.len() {
                self.end_deferred(i).await;
            } else {
                outcomes[i] = Some(self.end().await);
            }
        }
        if self.deferred.is_some() {
            let flushed = self.flush().await;
            self.settle_deferred().await;
            if let Err(e) = flushed {
                self.deferred_result(Err(e));
            }
        }
        self.collect_deferred(&mut outcomes);
        // A 421 to the end of data: the server closed the session instead
        // of judging that message.
        let mut attempted = messages.len();
        for (i, o) in outcomes.iter_mut().enumerate() {
            let session_over = match o {
                None => true,
                Some(Err(e)) if e.code == Some(421) => {
                    ended = Some(e.clone());
                    true
                }
                Some(_) => false,
            };
            if session_over {
                attempted = i;
                break;
            }
        }
        self.batch_attempted = attempted;
        if attempted < messages.len() {
            self.close();
            // The replies to a message not attempted say nothing about
            // its recipients.
            self.results.clear();
            if ended.is_none() {
                // The connection was lost with the last message judged:
                // by that message's error, unless it was the server's
                // verdict (a refusal followed by a lost connection).
                ended = outcomes[..attempted]
                    .iter()
                    .rev()
                    .find_map(|o| o.as_ref().and_then(|r| r.as_ref().err()).cloned())
                    .filter(|e| !is_verdict(e));
            }
        }
        let rest = not_attempted(ended.as_ref());
        outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| match o {
                Some(o) if i < attempted => o,
                _ => Err(rest.clone()),
            })
            .collect()
    }

    /// How many messages of the last `sendmail_batch`, from the first,
    /// the server judged (accepted or refused); the others were not
    /// attempted. All of them when the session lasted the whole batch.
    pub fn batch_attempted(&self) -> usize {
        self.batch_attempted
    }

    /// A batch call that sends nothing (its arguments refused): no
    /// message of it was judged.
    pub fn forget_batch(&mut self) {
        self.batch_attempted = 0;
    }

    /// Ends the body into the output buffer without sending it; the next
    /// envelope will travel in the same write.
    async fn end_deferred(&mut self, index: usize) {
        let Some(mut body) = self.body.take() else {
            return;
        };
        match self.send_end(&mut body).await {
            Ok(()) => {
                self.deferred = Some(Deferred {
                    index,
                    body,
                    results: std::mem::take(&mut self.results),
                });
            }
            Err(e) => self.deferred_result(Err(e)),
        }
        self.smtputf8 = false;
    }

    /// Reads the final reply of a deferred message, once its end has been
    /// sent.
    async fn settle_deferred(&mut self) {
        let Some(mut d) = self.deferred.take() else {
            return;
        };
        let outcome = self.read_final(&mut d.body, &mut d.results, false).await;
        self.deferred_outcome = Some((d.index, outcome));
    }

    fn deferred_result(&mut self, outcome: Result<Vec<RecipientResult>>) {
        if let Some(d) = self.deferred.take() {
            self.deferred_outcome = Some((d.index, outcome));
        }
    }

    fn collect_deferred(&mut self, outcomes: &mut [Option<Result<Vec<RecipientResult>>>]) {
        if let Some((index, outcome)) = self.deferred_outcome.take() {
            outcomes[index] = Some(outcome);
        }
    }
}

/// Whether a refusal says that this session carries no more mail, so that
/// the rest of a batch belongs on a new connection: a 421 at any point (RFC
/// 5321 §3.8: the server is closing the channel), or a 4xx to MAIL with the
/// enhanced code 4.5.3. At MAIL no recipient is named yet, so "too many
/// recipients" can only count the session's: OpenSMTPD's per-session limit
/// answers "452 4.5.3 Too many recipients: Too many messages sent". Other
/// 4xx replies to MAIL (a greylisted sender, a full queue) are that
/// message's verdict and do not end the session.
fn ends_session(e: &Error) -> bool {
    e.code == Some(421)
        || (e.status == Status::SenderRefused
            && matches!(e.code, Some(400..=499))
            && e.enhanced_code() == Some((4, 5, 3)))
}

/// Whether an error is the server's refusal of that message, which stands
/// even when the connection is lost right after it (at the RSET that
/// follows, say): a 4xx or 5xx reply that does not end the session.
fn is_verdict(e: &Error) -> bool {
    matches!(e.code, Some(400..=599)) && !ends_session(e)
}

/// The outcome of a message the server never judged.
fn not_attempted(cause: Option<&Error>) -> Error {
    let why = match cause {
        Some(e) if e.code.is_some() => "the server ended the session before this message",
        Some(_) => "the connection was lost before this message",
        None => "the connection was closed before this message",
    };
    let mut e = Error::new(Status::NotAttempted, why);
    if let Some(cause) = cause {
        e.code = cause.code;
        e.text = cause.text.clone();
        if cause.code.is_none() {
            e.message = format!("{why} ({})", cause.message);
        }
    }
    e
}

/// "Bad sequence of commands" (RFC 5321 §4.2.4: 503; RFC 3463: X.5.1 is
/// also "invalid command").
fn out_of_sequence(reply: &Reply) -> bool {
    reply.code == 503 || (reply.code / 100 == 5 && reply.enhanced_code() == Some((5, 5, 1)))
}

fn refused(results: &[RecipientResult]) -> Vec<RecipientResult> {
    results.iter().filter(|r| !r.accepted).cloned().collect()
}

fn recipients_refused(results: &[RecipientResult]) -> Error {
    let refused = refused(results);
    let mut e = Error::new(
        Status::RecipientsRefused,
        format!("all {} recipients were refused", refused.len()),
    );
    if let Some(last) = refused.last() {
        e.code = Some(last.code);
        e.text = last.text.clone();
    }
    e.recipients = refused;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext_encodes_plus_equals_and_controls() {
        // RFC 3461 §4: xchar is any ASCII from "!" to "~" except "+" and "=".
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(xtext("id-1@x"), "id-1@x");
    }

    #[test]
    fn dsn_parameters() {
        let dsn = Dsn {
            ret: Some(DsnRet::Hdrs),
            envid: Some("QQ314159".into()),
            notify: NOTIFY_SUCCESS | NOTIFY_FAILURE,
            orcpt: true,
        };
        assert_eq!(dsn.mail_params().unwrap(), ["RET=HDRS", "ENVID=QQ314159"]);
        assert_eq!(
            dsn.rcpt_params("Jo <jo+x@example.org>").unwrap(),
            ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;jo+2Bx@example.org"]
        );
        let never = Dsn {
            notify: NOTIFY_NEVER | NOTIFY_DELAY,
            ..Dsn::default()
        };
        assert_eq!(
            never.rcpt_params("a@b").unwrap_err().status,
            Status::Invalid
        );
    }
}
