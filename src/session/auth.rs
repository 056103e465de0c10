//! SMTP AUTH (RFC 4954) with smtplib's semantics: `login()` tries the
//! advertised mechanisms in smtplib's order, `auth()` runs one mechanism's
//! challenge-response dialog, `login_oauth2()` sends a bearer token.
//!
//! Safe by default: a mechanism that reveals the secret (PLAIN, LOGIN,
//! XOAUTH2, OAUTHBEARER, any unknown one) is refused, with nothing sent, on
//! a connection that is neither encrypted nor to this machine, unless the
//! caller opted in with `allow_cleartext_auth(true)`. AUTH arguments and the
//! 334 exchanges never reach the transcript; every buffer holding a
//! credential is wiped when dropped.

use super::Session;
use crate::error::{Error, Result, Status};
use crate::protocol::reply::Reply;
use crate::protocol::sasl::{self, Secret};

/// The authobject of `Client::auth`: called with None for the initial
/// response, then with each decoded challenge. It returns the response
/// (None: "no initial response", or an empty line to a challenge), or an
/// error to cancel the exchange.
pub type AuthObject<'a> = dyn FnMut(Option<&[u8]>) -> Result<Option<Secret>> + 'a;

impl Session {
    // ----- settings -------------------------------------------------------

    /// Pins the mechanisms `login()` and `login_oauth2()` may use; an empty
    /// list restores smtplib's default. The pin restricts, it does not
    /// reorder: candidates are still tried in the library's preference
    /// order. Names are case-insensitive SASL names (RFC 4422 §3.1); an
    /// invalid one is `Invalid` and nothing changes.
    pub fn set_auth_mechanisms(&mut self, mechanisms: &[&str]) -> Result<()> {
        let mut list = Vec::with_capacity(mechanisms.len());
        for m in mechanisms {
            if !sasl::is_mechanism_name(m) {
                return Err(Error::invalid(format!("not a SASL mechanism name: {m:?}")));
            }
            list.push(m.to_ascii_uppercase());
        }
        self.auth_mechanisms = list;
        Ok(())
    }

    /// The pinned mechanisms (empty: smtplib's default).
    pub fn auth_mechanisms(&self) -> &[String] {
        &self.auth_mechanisms
    }

    /// Allows mechanisms that reveal the password or token (PLAIN, LOGIN,
    /// XOAUTH2, OAUTHBEARER) over a connection that is neither TLS nor to a
    /// loopback address or Unix socket. Off by default.
    pub fn allow_cleartext_auth(&mut self, allow: bool) {
        self.allow_cleartext_auth = allow;
    }

    /// For tests only: makes the cleartext policy treat a loopback peer as
    /// remote, so that a test server on 127.0.0.1 can stand for a distant
    /// one. The policy itself (`sasl::cleartext_allowed`) runs unchanged.
    #[doc(hidden)]
    pub fn treat_peer_as_remote_for_tests(&mut self, remote: bool) {
        self.peer_treated_as_remote = remote;
    }

    /// Refuses, before anything is sent, a mechanism that would reveal the
    /// secret on an unprotected connection.
    fn check_cleartext(&self, mechanism: &str) -> Result<()> {
        if self.cleartext_permits(mechanism) {
            return Ok(());
        }
        Err(Error::new(
            Status::Exception,
            format!(
                "refusing AUTH {mechanism}: it would send the credentials in clear to a \
                 remote server; use STARTTLS or implicit TLS first, or opt in with \
                 allow_cleartext_auth (smtp_set_allow_cleartext_auth)"
            ),
        ))
    }

    fn cleartext_permits(&self, mechanism: &str) -> bool {
        let local = self.is_local_peer() && !self.peer_treated_as_remote;
        sasl::cleartext_allowed(mechanism, self.is_tls(), local, self.allow_cleartext_auth)
    }

    /// The advertised mechanisms among `preferred`, in that order, within
    /// the pinned list when there is one. `NotSupported` when AUTH is not
    /// advertised, as smtplib's login().
    fn candidates(&self, preferred: &[&str]) -> Result<Vec<String>> {
        if !self.has_extn("auth") {
            return Err(Error::new(
                Status::NotSupported,
                "SMTP AUTH extension not supported by server.",
            ));
        }
        let advertised = self.features().auth_mechanisms();
        Ok(preferred
            .iter()
            .filter(|m| advertised.iter().any(|a| a == *m))
            .filter(|m| {
                self.auth_mechanisms.is_empty() || self.auth_mechanisms.iter().any(|p| p == *m)
            })
            .map(|m| m.to_string())
            .collect())
    }

    /// Drops the candidates the cleartext policy refuses; when that leaves
    /// none, the policy's error (nothing has been sent).
    fn permitted(&self, candidates: Vec<String>) -> Result<Vec<String>> {
        if candidates.is_empty() {
            return Err(Error::new(
                Status::Exception,
                "No suitable authentication method found.",
            ));
        }
        let allowed: Vec<String> = candidates
            .iter()
            .filter(|m| self.cleartext_permits(m))
            .cloned()
            .collect();
        if allowed.is_empty() {
            self.check_cleartext(&candidates[0])?;
        }
        Ok(allowed)
    }

    // ----- login ----------------------------------------------------------

    /// smtplib's login(user, password) with initial responses allowed.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<Reply> {
        self.login_with(user, password, true).await
    }

    /// smtplib's login(): EHLO if needed; `NotSupported` when AUTH is not
    /// advertised; then CRAM-MD5, PLAIN and LOGIN, those advertised (and
    /// pinned), in that order, until one gives 235 or 503 ("already
    /// authenticated"). `Exception` when none is in common; otherwise the
    /// last failure as `Authentication` with its reply code and text.
    pub async fn login_with(
        &mut self,
        user: &str,
        password: &str,
        initial_response_ok: bool,
    ) -> Result<Reply> {
        self.ehlo_or_helo_if_needed().await?;
        let candidates = self.candidates(&sasl::DEFAULT_MECHANISMS)?;
        let authlist = self.permitted(candidates)?;
        let mut last = None;
        for mechanism in authlist {
            let mut calls = 0usize;
            let mut authobject = |challenge: Option<&[u8]>| -> Result<Option<Secret>> {
                Ok(match (mechanism.as_str(), challenge) {
                    // smtplib: "CRAM-MD5 does not support initial-response."
                    ("CRAM-MD5", None) => None,
                    ("CRAM-MD5", Some(c)) => Some(sasl::cram_md5(user, password, c)),
                    ("PLAIN", _) => Some(sasl::plain(user, password)),
                    (_, c) => {
                        // smtplib's _auth_challenge_count: every response
                        // sent so far, this one included.
                        calls += 1;
                        Some(sasl::login(user, password, c.is_none(), calls))
                    }
                })
            };
            match self
                .auth(&mechanism, &mut authobject, initial_response_ok)
                .await
            {
                Ok(reply) => return Ok(reply),
                Err(e) if e.status == Status::Authentication && self.is_connected() => {
                    last = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::new(
                Status::Exception,
                "No suitable authentication method found.",
            )
        }))
    }

    /// Authenticates with an OAuth 2.0 bearer token: OAUTHBEARER (RFC 7628)
    /// when advertised, else XOAUTH2; `mechanism` names one of them instead.
    /// The pinned list is honoured. When the server answers with an error
    /// challenge (base64 JSON), the exchange is finished as the mechanism
    /// requires ("\x01" for OAUTHBEARER, an empty line for XOAUTH2) and the
    /// final reply is returned as `Authentication`, with the server's JSON
    /// in the message.
    pub async fn login_oauth2(
        &mut self,
        user: &str,
        token: &str,
        mechanism: Option<&str>,
    ) -> Result<Reply> {
        let preferred: Vec<&str> = match mechanism {
            None => sasl::OAUTH_MECHANISMS.to_vec(),
            Some(m) => match sasl::OAUTH_MECHANISMS
                .iter()
                .find(|o| o.eq_ignore_ascii_case(m))
            {
                Some(o) => vec![*o],
                None => {
                    return Err(Error::invalid(format!(
                        "not an OAuth 2.0 mechanism: {m:?} (OAUTHBEARER or XOAUTH2)"
                    )))
                }
            },
        };
        self.ehlo_or_helo_if_needed().await?;
        let candidates = self.candidates(&preferred)?;
        let Some(mechanism) = self.permitted(candidates)?.into_iter().next() else {
            return Err(Error::new(
                Status::Exception,
                "No suitable authentication method found.",
            ));
        };
        let mut server_error: Option<String> = None;
        let mut authobject = |challenge: Option<&[u8]>| -> Result<Option<Secret>> {
            match challenge {
                None if mechanism == "OAUTHBEARER" => Ok(Some(sasl::oauthbearer(user, token))),
                None => Ok(Some(sasl::xoauth2(user, token))),
                Some(json) if server_error.is_none() => {
                    server_error = Some(String::from_utf8_lossy(json).into_owned());
                    Ok(Some(Secret::from(sasl::oauth_error_ack(&mechanism))))
                }
                Some(_) => Err(Error::new(
                    Status::Exception,
                    "the server sent a second challenge after its OAuth error",
                )),
            }
        };
        let result = self.auth(&mechanism, &mut authobject, true).await;
        match (result, server_error) {
            (Err(mut e), Some(json)) => {
                e.message = format!("OAuth server error: {json}");
                Err(e)
            }
            (result, _) => result,
        }
    }

    // ----- auth -----------------------------------------------------------

    /// smtplib's auth(mechanism, authobject, initial_response_ok): sends
    /// "AUTH MECH" (with the base64 initial response when allowed and the
    /// authobject gives one; "=" for an empty one, RFC 4954 §4), answers
    /// each 334 challenge with the authobject's response in base64, and
    /// returns the final reply when it is 235 or 503.
    ///
    /// Unlike smtplib: EHLO is sent first if needed (a 503 "send EHLO
    /// first" would otherwise pass for success); a mechanism that reveals
    /// the secret is refused on an unprotected connection; and an exchange
    /// that goes wrong is cancelled with "*" (RFC 4954 §4) before the error
    /// is returned: a challenge that is not base64, more than
    /// `sasl::MAX_CHALLENGES` challenges, or an authobject error. Other
    /// final replies are `Authentication` with their code and text.
    pub async fn auth(
        &mut self,
        mechanism: &str,
        authobject: &mut AuthObject<'_>,
        initial_response_ok: bool,
    ) -> Result<Reply> {
        if !sasl::is_mechanism_name(mechanism) {
            return Err(Error::invalid(format!(
                "not a SASL mechanism name: {mechanism:?}"
            )));
        }
        let mechanism = mechanism.to_ascii_uppercase();
        self.ehlo_or_helo_if_needed().await?;
        self.check_cleartext(&mechanism)?;
        let initial = if initial_response_ok {
            authobject(None)?
        } else {
            None
        };
        let mut reply = match initial {
            Some(response) => {
                let encoded = sasl::encode(response.as_bytes());
                drop(response);
                let arg: &[u8] = if encoded.is_empty() {
                    b"="
                } else {
                    encoded.as_bytes()
                };
                // base64 is ASCII, so this never fails.
                let arg = std::str::from_utf8(arg).unwrap_or("=");
                self.putcmd_secret(&format!("AUTH {mechanism}"), arg)
                    .await?;
                self.getreply_secret().await?
            }
            None => {
                self.putcmd("AUTH", &mechanism).await?;
                self.getreply_secret().await?
            }
        };
        let mut answered = 0usize;
        while reply.code == 334 {
            if answered == sasl::MAX_CHALLENGES {
                return Err(self
                    .cancel(Error::new(
                        Status::Exception,
                        format!(
                            "Server AUTH mechanism infinite loop: more than {} challenges; \
                         AUTH cancelled",
                            sasl::MAX_CHALLENGES
                        ),
                    ))
                    .await);
            }
            answered += 1;
            let challenge = match sasl::decode(&reply.text()) {
                Ok(c) => c,
                Err(why) => {
                    return Err(self
                        .cancel(Error::new(
                            Status::Exception,
                            format!("{why}; AUTH cancelled"),
                        ))
                        .await)
                }
            };
            let response = match authobject(Some(&challenge)) {
                Ok(r) => r.unwrap_or_default(),
                Err(e) => return Err(self.cancel(e).await),
            };
            self.send_secret_line(&sasl::encode(response.as_bytes()))
                .await?;
            drop(response);
            reply = self.getreply_secret().await?;
        }
        if reply.code == 235 || reply.code == 503 {
            return Ok(reply);
        }
        self.close_on_421(&reply);
        Err(Error::reply(
            Status::Authentication,
            reply.code,
            &reply.text(),
        ))
    }

    /// Sends one line of base64 (a response to a challenge), out of the
    /// transcript, and wipes it.
    async fn send_secret_line(&mut self, encoded: &Secret) -> Result<()> {
        let mut line = Secret::with_capacity(encoded.len() + 2);
        line.extend(encoded.as_bytes());
        line.extend(b"\r\n");
        self.conn()?;
        // Each response and the reply to it is one operation; a reply sent
        // ahead of the response is refused, as before any command.
        self.refuse_unsolicited("before", "the AUTH response")?;
        self.begin_op("the AUTH response");
        self.debug.sent_secret();
        self.send(line.as_bytes()).await
    }

    /// Cancels the exchange with "*" (RFC 4954 §4: "If the client wishes
    /// to cancel the authentication exchange, it issues a line with a
    /// single "*"") and reads the server's reply, which is attached to
    /// `err` when `err` carries none. A failure to send or read is returned
    /// instead.
    async fn cancel(&mut self, mut err: Error) -> Error {
        if let Err(e) = self.putcmd("*", "").await {
            return e;
        }
        match self.getreply_secret().await {
            Ok(reply) => {
                if err.code.is_none() {
                    err.code = Some(reply.code);
                    err.text = reply.text();
                }
                self.close_on_421(&reply);
                err
            }
            Err(e) => e,
        }
    }
}
