//! `Client`: a session whose calls return when their operation is over,
//! smtplib's way. Each call runs the session's operation (a future) to
//! completion on the calling thread; every getter and setter of `Session`
//! is reached through `Deref`.
//!
//! A blocking client's operations complete in their first poll (the socket
//! calls wait). A client switched to non-blocking mode runs the very same
//! operations suspending at every wait and resumed from a poll(2) here:
//! the way the C API's non-blocking handles run them, on one thread.

use std::ops::{Deref, DerefMut};

use super::auth::AuthObject;
use super::{Kind, Outgoing, Session};
use crate::error::{RecipientResult, Result};
use crate::protocol::reply::Reply;
use crate::wait::block_on;

/// An SMTP/LMTP client session with smtplib's calls (see `Session` for the
/// settings and what each operation does).
pub struct Client {
    session: Session,
}

/// Runs `self.session.$op(...)` to completion.
macro_rules! run {
    ($self:ident . $op:ident ( $($arg:expr),* )) => {{
        let waiter = $self.session.waiter().clone();
        block_on(&waiter, $self.session.$op($($arg),*))
    }};
}

impl Client {
    /// An unconnected client of the given kind.
    pub fn new(kind: Kind) -> Client {
        Client {
            session: Session::new(kind),
        }
    }

    /// The session underneath, whose operations are futures.
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// smtplib's connect(); see `Session::connect`.
    pub fn connect(&mut self, host: &str, port: u16) -> Result<Reply> {
        run!(self.connect(host, port))
    }

    /// smtplib's putcmd().
    pub fn putcmd(&mut self, verb: &str, args: &str) -> Result<()> {
        run!(self.putcmd(verb, args))
    }

    /// smtplib's getreply().
    pub fn getreply(&mut self) -> Result<Reply> {
        run!(self.getreply())
    }

    /// smtplib's docmd().
    pub fn docmd(&mut self, verb: &str, args: &str) -> Result<Reply> {
        run!(self.docmd(verb, args))
    }

    /// smtplib's helo().
    pub fn helo(&mut self, name: &str) -> Result<Reply> {
        run!(self.helo(name))
    }

    /// smtplib's ehlo() (LHLO for LMTP).
    pub fn ehlo(&mut self, name: &str) -> Result<Reply> {
        run!(self.ehlo(name))
    }

    /// smtplib's ehlo_or_helo_if_needed().
    pub fn ehlo_or_helo_if_needed(&mut self) -> Result<()> {
        run!(self.ehlo_or_helo_if_needed())
    }

    /// smtplib's rset().
    pub fn rset(&mut self) -> Result<Reply> {
        run!(self.rset())
    }

    /// smtplib's noop().
    pub fn noop(&mut self) -> Result<Reply> {
        run!(self.noop())
    }

    /// smtplib's verify().
    pub fn verify(&mut self, address: &str) -> Result<Reply> {
        run!(self.verify(address))
    }

    /// smtplib's expn().
    pub fn expn(&mut self, address: &str) -> Result<Reply> {
        run!(self.expn(address))
    }

    /// smtplib's help().
    pub fn help(&mut self, args: &str) -> Result<Reply> {
        run!(self.help(args))
    }

    /// smtplib's quit().
    pub fn quit(&mut self) -> Result<Reply> {
        run!(self.quit())
    }

    /// smtplib's mail().
    pub fn mail(&mut self, sender: &str, options: &[&str]) -> Result<Reply> {
        run!(self.mail(sender, options))
    }

    /// smtplib's rcpt().
    pub fn rcpt(&mut self, recipient: &str, options: &[&str]) -> Result<Reply> {
        run!(self.rcpt(recipient, options))
    }

    /// smtplib's data().
    pub fn data(&mut self, msg: &[u8]) -> Result<Reply> {
        run!(self.data(msg))
    }

    /// smtplib's starttls(), hardened; see `Session::starttls`.
    pub fn starttls(&mut self) -> Result<Reply> {
        run!(self.starttls())
    }

    /// smtplib's login(user, password).
    pub fn login(&mut self, user: &str, password: &str) -> Result<Reply> {
        run!(self.login(user, password))
    }

    /// smtplib's login() with `initial_response_ok`.
    pub fn login_with(
        &mut self,
        user: &str,
        password: &str,
        initial_response_ok: bool,
    ) -> Result<Reply> {
        run!(self.login_with(user, password, initial_response_ok))
    }

    /// OAUTHBEARER or XOAUTH2; see `Session::login_oauth2`.
    pub fn login_oauth2(
        &mut self,
        user: &str,
        token: &str,
        mechanism: Option<&str>,
    ) -> Result<Reply> {
        run!(self.login_oauth2(user, token, mechanism))
    }

    /// smtplib's auth(); see `Session::auth`.
    pub fn auth(
        &mut self,
        mechanism: &str,
        authobject: &mut AuthObject<'_>,
        initial_response_ok: bool,
    ) -> Result<Reply> {
        run!(self.auth(mechanism, authobject, initial_response_ok))
    }

    /// smtplib's send_message(); see `Session::send_message`.
    pub fn send_message(
        &mut self,
        msg: &[u8],
        from: Option<&str>,
        to: Option<&[&str]>,
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<Vec<RecipientResult>> {
        run!(self.send_message(msg, from, to, mail_options, rcpt_options))
    }

    /// smtplib's sendmail(); see `Session::sendmail`.
    pub fn sendmail(
        &mut self,
        from: &str,
        to: &[&str],
        msg: &[u8],
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<Vec<RecipientResult>> {
        run!(self.sendmail(from, to, msg, mail_options, rcpt_options))
    }

    /// `sendmail` with the body read from `reader`, in constant memory.
    pub fn sendmail_reader(
        &mut self,
        from: &str,
        to: &[&str],
        size: Option<u64>,
        reader: &mut dyn std::io::Read,
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<Vec<RecipientResult>> {
        run!(self.sendmail_reader(from, to, size, reader, mail_options, rcpt_options))
    }

    /// Starts a streamed message; see `Session::begin`.
    pub fn begin(
        &mut self,
        from: &str,
        to: &[&str],
        size: Option<u64>,
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<()> {
        run!(self.begin(from, to, size, mail_options, rcpt_options))
    }

    /// Sends part of the body begun with `begin`.
    pub fn write_body(&mut self, buf: &[u8]) -> Result<()> {
        run!(self.write_body(buf))
    }

    /// Ends the body and reads the outcome.
    pub fn end(&mut self) -> Result<Vec<RecipientResult>> {
        run!(self.end())
    }

    /// Several messages over the connection; see `Session::sendmail_batch`.
    pub fn sendmail_batch(
        &mut self,
        messages: &[Outgoing<'_>],
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Vec<Result<Vec<RecipientResult>>> {
        run!(self.sendmail_batch(messages, mail_options, rcpt_options))
    }
}

impl Deref for Client {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl DerefMut for Client {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}
