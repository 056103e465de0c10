#!/usr/bin/env python3
"""aiosmtpd on a loopback port, for libsmtp's tests.

Each message received is written to OUTDIR as one JSON file (the envelope,
content in base64); each command the handler sees (EHLO/LHLO, MAIL, RCPT,
AUTH) is appended to OUTDIR/commands.log with whether TLS was on, so a test
can tell what went out in clear. Runs until killed.
"""

import argparse
import base64
import json
import os
import ssl
import sys
import threading
import time

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.lmtp import LMTP
    from aiosmtpd.smtp import AuthResult, LoginPassword
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
    p.add_argument("--lmtp", action="store_true")
    p.add_argument("--smtputf8", action="store_true")
    return p.parse_args()


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.lock = threading.Lock()
        self.count = 0
        self.ready = False

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
    handler = Handler(args.outdir)
    kwargs = {"enable_SMTPUTF8": args.smtputf8}
    if args.auth_user is not None:
        user = args.auth_user.encode()
        password = (args.auth_password or "").encode()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login == user and auth_data.password == password)
            handler.log(server, f"AUTH {mechanism} {'ok' if ok else 'refused'}")
            return AuthResult(success=ok)

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
