#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each fuzz target into fuzz/corpus/
(run once; the fuzzer grows the corpus from them). The input layouts are
those of fuzz/common/targets.rs."""
import hashlib, os, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")

def put(target, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

def chunked(payload, lengths=()):
    return bytes([len(lengths)]) + bytes(lengths) + payload

for p in [b"220 mx ready\r\n", b"250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n",
          b"550-5.1.1 no\n550 such user\r\n", b"354\n", b"250-a\r\n550 b\r\n", b"hello\r\n"]:
    put("reply", chunked(p))
    put("reply", chunked(p, [1, 3, 7]))
for p in [b"mx\nPIPELINING\nSIZE 1000\nAUTH=LOGIN\nAUTH PLAIN CRAM-MD5\n8BITMIME",
          b"250-mx\r\n250-STARTTLS\r\n250 DSN\r\n"]:
    put("ehlo", p)
for flags, m in [(0, b"From: Jo <jo@x>\r\nTo: a@y, \"B, C\" <b@y>\r\nBcc: c@y,\r\n d@y\r\n\r\nbody\r\n"),
                 (3, b"Resent-Date: x\nResent-From: r@x\nResent-To: t:;, u@y\nFrom: f@x\nTo: (c) g@y\n\n"),
                 (0, b"From x Mon\nSender: <s@x>\nCc: Team: a@x, <@r:b@y>;\nBCC : z@z")]:
    put("message", bytes([flags]) + m)
for a in [b"\x00a@example.org", b"\x01J\xc3\xb6rg <j@b\xc3\xbccher.example>", b"\x00<> RET=FULL",
          b"\x00\"a b\"@x (c)", b"\x00a@x\r\nRCPT TO:<b@y>"]:
    put("address", a)
for flags, body in [(0, b"Subject: x\r\n\r\n.hi\n.\r\nbye\r"), (1, b".a\r\n.\rb\n"), (0, b"")]:
    put("data", bytes([flags]) + chunked(body, [2, 1]))
for s in [b"\x03timpass", b"\x04tim,=\xff\x00PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"]:
    put("sasl", s)

# The session: config, timeout, op count, ops, then the server's chunks
# (header: bit 7 after a client line, bits 5-6 pause, bits 0-4 length).
def script(*steps):
    out = b""
    for after, data in steps:
        first = True
        while True:
            piece, data = data[:30], data[30:]
            out += bytes([(0x80 if (after and first) else 0) | len(piece)]) + piece
            first = False
            if not data:
                break
    return out

def session(config, timeout, ops, *steps):
    return bytes([config, timeout, len(ops) - 1]) + bytes(ops) + script(*steps)

EHLO = b"250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 100000\r\n250-DSN\r\n250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2\r\n250-STARTTLS\r\n250 CHUNKING\r\n"
G = (False, b"220 mx ESMTP ready\r\n")
OK = b"250 2.0.0 ok\r\n"
# sendmail, pipelined: MAIL, RCPT, RCPT, DATA then the body.
put("session", session(0x04, 20, [11, 17], G, (True, EHLO), (True, OK), (True, OK),
                       (True, b"550 5.1.1 no such user\r\n"), (True, b"354 go\r\n"), (True, OK), (True, b"221 bye\r\n")))
# without pipelining, BDAT with chunking, login, batch.
put("session", session(0x0c, 30, [14, 12, 17], G, (True, EHLO), (True, b"334 \r\n"), (True, b"235 ok\r\n"),
                       (True, OK), (True, OK), (True, OK), (True, OK), (True, OK), (True, OK), (True, b"221 bye\r\n")))
# LMTP over a Unix socket: per-recipient replies after the data.
put("session", session(0x02, 20, [11, 13], G, (True, EHLO), (True, OK), (True, OK), (True, OK), (True, b"354 go\r\n"),
                       (True, OK), (False, b"452 4.2.2 full\r\n"), (True, OK)))
# a server that stops mid-reply and holds the connection.
put("session", session(0x10, 10, [3, 16], G, (True, b"250-mx\r\n250-STARTTLS\r\n250 SIZE"), (True, b" 1\r\n")))
# STARTTLS with garbage instead of a handshake; an AUTH dialog with challenges.
put("session", session(0x24, 15, [16, 15, 14], G, (True, EHLO), (True, b"220 go ahead\r\n"), (False, b"\x16\x03\x01\x00\x05hello"),
                       (True, b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"), (True, b"535 no\r\n")))
# send_message, streamed begin/write/end, DSN, timeouts changed.
put("session", session(0x0c, 25, [20, 21 + 24 * 3, 13, 18, 22], G, (True, EHLO), (True, OK), (True, OK), (True, OK), (True, b"354 go\r\n"),
                       (True, OK), (True, OK), (True, OK), (True, OK), (True, OK), (False, b"250 unsolicited\r\n")))
