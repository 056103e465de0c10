#!/usr/bin/env python3
"""aiosmtpd on a loopback port, for libsmtp's tests.

Each message received is written to OUTDIR as one JSON file (the envelope,
content in base64); each command the handler sees (EHLO/LHLO, MAIL, RCPT,
AUTH) is appended to OUTDIR/commands.log with whether TLS was on, so a test
can tell what went out in clear. Runs until killed.

With --auth-user, AUTH offers PLAIN and LOGIN (aiosmtpd's own) and CRAM-MD5
for that user and password; with --oauth-user and --oauth-token, XOAUTH2
and OAUTHBEARER for that bearer token. A refused token is answered as
RFC 7628 §3.2.2 says: a 334 challenge carrying the JSON error (OAUTH_ERROR),
then, once the client has acknowledged it, 535.
"""

import argparse
import base64
import hmac
import json
import os
import secrets
import ssl
import sys
import threading
import time

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.lmtp import LMTP
    from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
except ImportError:
    sys.stderr.write("aiosmtpd_server.py: the aiosmtpd module is missing: pip install aiosmtpd\n")
    sys.exit(3)


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--outdir", required=True)
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth-user")
    p.add_argument("--auth-password")
    p.add_argument("--oauth-user")
    p.add_argument("--oauth-token")
    p.add_argument("--lmtp", action="store_true")
    p.add_argument("--smtputf8", action="store_true")
    p.add_argument("--domain", help="refuse recipients outside this domain")
    p.add_argument("--data-size-limit", type=int)
    return p.parse_args()


# The error a refused bearer token gets (RFC 7628 §3.2.2).
OAUTH_ERROR = {"status": "invalid_token", "scope": "https://mail.example.com/"}


class Handler:
    def __init__(self, outdir, users=None, tokens=None, domain=None):
        self.outdir = outdir
        self.domain = domain
        self.lock = threading.Lock()
        self.count = 0
        self.ready = False
        # user (bytes) -> password (bytes), for CRAM-MD5.
        self.users = users or {}
        # user (bytes) -> bearer token (bytes), for XOAUTH2 and OAUTHBEARER.
        self.tokens = tokens or {}

    # AUTH mechanisms beyond aiosmtpd's PLAIN and LOGIN; main() excludes
    # those not configured. aiosmtpd names auth_CRAM__MD5 "CRAM-MD5".

    async def auth_CRAM__MD5(self, server, args):
        # RFC 2195: the challenge is a msg-id; the response is the user, a
        # space, and the hex HMAC-MD5 of the challenge keyed by the password.
        challenge = f"<{secrets.token_hex(8)}@aiosmtpd.test>".encode()
        resp = await server.challenge_auth(challenge)
        if resp is MISSING:
            return AuthResult(success=False, handled=True)
        user, _, digest = resp.partition(b" ")
        want = hmac.new(self.users.get(user, b""), challenge, "md5").hexdigest().encode()
        ok = user in self.users and hmac.compare_digest(digest, want)
        self.log(server, f"AUTH CRAM-MD5 {'ok' if ok else 'refused'}")
        return AuthResult(success=ok, handled=False)

    async def _bearer(self, server, mechanism, user, token, ack):
        if user is not None and self.tokens.get(user) == token:
            self.log(server, f"AUTH {mechanism} ok")
            return AuthResult(success=True, handled=False)
        self.log(server, f"AUTH {mechanism} refused")
        resp = await server.challenge_auth(json.dumps(OAUTH_ERROR))
        if resp is MISSING:
            return AuthResult(success=False, handled=True)
        if resp != ack:
            await server.push("501 5.5.2 bad acknowledgement")
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server, args):
        # "user=" USER ^A "auth=Bearer " TOKEN ^A ^A; the error is
        # acknowledged with an empty response.
        msg = base64.b64decode(args[1]) if len(args) > 1 else b""
        f = dict(x.split(b"=", 1) for x in msg.split(b"\x01") if b"=" in x)
        token = f.get(b"auth", b"").removeprefix(b"Bearer ")
        return await self._bearer(server, "XOAUTH2", f.get(b"user"), token, b"")

    async def auth_OAUTHBEARER(self, server, args):
        # RFC 7628 §3.1: gs2 header "n,a=USER," ^A "auth=Bearer " TOKEN
        # ^A ^A; the error is acknowledged with a single ^A (§3.2.3).
        msg = base64.b64decode(args[1]) if len(args) > 1 else b""
        gs2, _, rest = msg.partition(b"\x01")
        user = next((p[2:].replace(b"=2C", b",").replace(b"=3D", b"=")
                     for p in gs2.split(b",") if p.startswith(b"a=")), None)
        f = dict(x.split(b"=", 1) for x in rest.split(b"\x01") if b"=" in x)
        token = f.get(b"auth", b"").removeprefix(b"Bearer ")
        return await self._bearer(server, "OAUTHBEARER", user, token, b"\x01")

    def log(self, server, line):
        tls = "tls" if server._tls_protocol is not None or server.transport.get_extra_info(
            "sslcontext") is not None else "clear"
        self.log_line(f"{tls} {line}")

    def log_line(self, line):
        with self.lock:
            with open(os.path.join(self.outdir, "commands.log"), "a") as f:
                f.write(f"{line}\n")

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.log(server, f"EHLO {hostname}")
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.log(server, f"MAIL {address}")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.log(server, f"RCPT {address}")
        if self.domain is not None and address.rpartition("@")[2].lower() != self.domain:
            return "550 5.7.1 Relaying denied"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "content": base64.b64encode(content).decode("ascii"),
            "mail_options": list(envelope.mail_options),
        }
        with self.lock:
            self.count += 1
            n = self.count
        tmp = os.path.join(self.outdir, f".{n:06d}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.outdir, f"{n:06d}.json"))
        if server.__class__ is LMTP:
            return "\r\n".join("250 OK" for _ in envelope.rcpt_tos)
        return "250 OK"


def server_context(cert, key, handler):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def sni(sslobj, name, context):
        # The name the client sent as SNI ("-" when none): logged as
        # "tls SNI localhost" during the handshake.
        # (The controller's own readiness probe, before "ready", is not.)
        if handler.ready:
            handler.log_line(f"tls SNI {name or '-'}")

    ctx.sni_callback = sni
    return ctx


class LmtpController(Controller):
    def factory(self):
        return LMTP(self.handler, **self.SMTP_kwargs)


def main():
    args = parse_args()
    users = {}
    tokens = {}
    excluded = []
    if args.auth_user is not None:
        users[args.auth_user.encode()] = (args.auth_password or "").encode()
    else:
        excluded.append("CRAM-MD5")
    if args.oauth_user is not None:
        tokens[args.oauth_user.encode()] = (args.oauth_token or "").encode()
    else:
        excluded += ["XOAUTH2", "OAUTHBEARER"]
    handler = Handler(args.outdir, users, tokens, args.domain and args.domain.lower())
    kwargs = {"enable_SMTPUTF8": args.smtputf8, "auth_exclude_mechanism": excluded}
    if args.data_size_limit is not None:
        kwargs["data_size_limit"] = args.data_size_limit
    if args.auth_user is not None or args.oauth_user is not None:
        # PLAIN and LOGIN (aiosmtpd's own) come here.
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login in users and auth_data.password == users[auth_data.login])
            handler.log(server, f"AUTH {mechanism} {'ok' if ok else 'refused'}")
            # handled=False: aiosmtpd sends the 235 or 535 itself (with
            # its default handled=True a refusal would go unanswered).
            return AuthResult(success=ok, handled=False)

        kwargs["authenticator"] = authenticator
        # aiosmtpd's default; it knows only STARTTLS as TLS, so over
        # implicit TLS AUTH would never be offered: allow it there.
        kwargs["auth_require_tls"] = args.tls != "implicit"
    else:
        kwargs["auth_require_tls"] = True
    ssl_context = None
    if args.tls == "starttls":
        kwargs["tls_context"] = server_context(args.cert, args.key, handler)
        kwargs["require_starttls"] = args.require_starttls
    elif args.tls == "implicit":
        ssl_context = server_context(args.cert, args.key, handler)
    cls = LmtpController if args.lmtp else Controller
    controller = cls(handler, hostname="127.0.0.1", port=args.port,
                     ssl_context=ssl_context, server_hostname="aiosmtpd.test", **kwargs)
    controller.start()
    handler.ready = True
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
