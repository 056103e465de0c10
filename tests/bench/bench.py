#!/usr/bin/env python3
"""libsmtp's benchmark: smtp-send against Python's smtplib, a raw
hand-pipelined client and Postfix smtp-source, side by side, all sending to
one Postfix smtp-sink on loopback over one connection each.

Prints msgs/s and MB/s (medians), peak RSS, and each client's speed-up over
smtplib: the median of its per-round ratios, the clients taking turns within
each round so that a drift in the machine's speed touches them alike. Run by hand (it is not
part of the test suite):  python3 tests/bench/bench.py [--small N] [--large MiB]

With --haraka DIR (an installed npm Haraka package, the directory holding
its bin/haraka) it also sends --haraka-count messages to Haraka, which
leaves Nagle's algorithm on and refuses commands pipelined after the end of
data: smtplib against smtp-send, each message counted in Haraka's storage.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SEND = os.path.join(ROOT, "examples-c", "smtp-send")

SMTPLIB_LOOP = r"""
import smtplib, sys
port, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
msg = open(path, "rb").read()
s = smtplib.SMTP("127.0.0.1", port, local_hostname="bench.example")
for _ in range(count):
    s.sendmail("from@example.org", ["to@example.org"], msg)
s.quit()
"""

# The fastest plain client we could write by hand: every message's MAIL,
# RCPT and DATA in one write, the body and the next envelope together, the
# replies counted rather than parsed. It assumes the body needs no
# dot-stuffing and already ends in CRLF (true for the benchmark's message).
RAW_PIPELINED = r"""
import socket, sys
port, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
body = open(path, "rb").read() + b".\r\n"
env = b"MAIL FROM:<from@example.org>\r\nRCPT TO:<to@example.org>\r\nDATA\r\n"
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
def replies(n):
    for _ in range(n):
        while True:
            line = f.readline()
            if not line:
                sys.exit("connection closed")
            if line[3:4] != b"-":
                break
        if line[:1] not in (b"2", b"3"):
            sys.exit("refused: %r" % line)
replies(1)
s.sendall(b"EHLO bench.example\r\n"); replies(1)
s.sendall(env); replies(3)
for i in range(count):
    tail = env if i + 1 < count else b"QUIT\r\n"
    s.sendall(body + tail)
    replies(4 if i + 1 < count else 2)
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink():
    port = free_port()
    proc = subprocess.Popen(
        [SMTP_SINK, "-u", "root", "127.0.0.1:%d" % port, "256"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.02)
    sys.exit("smtp-sink did not start")


# Haraka's queue plugin for the benchmark: accept every recipient, store one
# line per message.
HARAKA_PLUGIN = r"""
const fs = require('fs')
exports.hook_rcpt = function (next) { next(OK) }
exports.hook_queue = function (next, connection) {
    fs.appendFileSync(process.env.HARAKA_STORE, `${connection.transaction.data_bytes}\n`)
    next(OK)
}
"""


def start_haraka(haraka, tmp):
    """Haraka from the package directory `haraka`, with its default
    configuration but for the port, the log level and one plugin. Returns
    (process, port, path of the storage file)."""
    port = free_port()
    root = os.path.join(tmp, "haraka")
    shutil.copytree(os.path.join(haraka, "config"), os.path.join(root, "config"))
    os.makedirs(os.path.join(root, "plugins"))
    with open(os.path.join(root, "plugins", "bench_store.js"), "w") as f:
        f.write(HARAKA_PLUGIN)
    with open(os.path.join(root, "config", "plugins"), "w") as f:
        f.write("bench_store\n")
    with open(os.path.join(root, "config", "smtp.ini"), "w") as f:
        f.write("listen=127.0.0.1:%d\n" % port)
    with open(os.path.join(root, "config", "log.ini"), "w") as f:
        f.write("[main]\nlevel=warn\n")
    store = os.path.join(tmp, "haraka-stored")
    env = dict(os.environ, HARAKA_STORE=store)
    proc = subprocess.Popen(["node", os.path.join(haraka, "bin", "haraka"), "-c", root], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port, store
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("Haraka did not start")


def run(cmd):
    """Runs cmd, returns (wall seconds, peak RSS in KiB of that process).
    GNU time reports the peak RSS: measured from Python, a forked child's
    figure would include the Python parent's pages it shared before exec."""
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name] + cmd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit("failed: %s\n%s" % (" ".join(cmd), proc.stderr.decode(errors="replace")))
        return wall, int(rss.read().split()[-1])


def write_message(path, size):
    """A message of about `size` bytes: headers, then 76-character lines."""
    line = b"x" * 76 + b"\r\n"
    with open(path, "wb") as f:
        f.write(b"From: from@example.org\r\nTo: to@example.org\r\nSubject: bench\r\n\r\n")
        left = size - f.tell()
        block = line * 8192
        while left >= len(block):
            f.write(block)
            left -= len(block)
        while left >= len(line):
            f.write(line)
            left -= len(line)


def side_by_side(clients, rounds):
    """Runs every client once per round, in turn, so that a drift in the
    machine's speed touches them all alike. Per client: the median wall
    time, the largest peak RSS, and the median of its per-round speed-up
    over the first client."""
    walls = {name: [] for name, _ in clients}
    rss = {name: 0 for name, _ in clients}
    for _ in range(rounds):
        for name, cmd in clients:
            wall, peak = run(cmd)
            walls[name].append(wall)
            rss[name] = max(rss[name], peak)
    base = clients[0][0]
    rows = []
    for name, _ in clients:
        ratios = sorted(b / w for b, w in zip(walls[base], walls[name]))
        rows.append((name, statistics.median(walls[name]), rss[name], statistics.median(ratios)))
    return rows


def table(title, rows, per):
    print("\n" + title)
    print("%-34s %12s %10s %12s %10s" % ("client", "msgs/s", "MB/s", "peak RSS", "vs smtplib"))
    for name, wall, rss, ratio in rows:
        print("%-34s %12.0f %10.1f %9.1f MiB %9.2fx" % (
            name, per / wall, per * SIZE[title] / wall / 1e6, rss / 1024, ratio))


SIZE = {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=20000, help="1 KiB messages (default 20000)")
    ap.add_argument("--large", type=int, default=100, help="large message MiB (default 100)")
    ap.add_argument("--huge", type=int, default=1024, help="peak-RSS message MiB (default 1024; 0 skips)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, each client once a round (default 5)")
    ap.add_argument("--haraka", help="an installed Haraka package directory (npm Haraka)")
    ap.add_argument("--haraka-count", type=int, default=1000, help="messages to Haraka (default 1000)")
    a = ap.parse_args()

    for tool in (SMTP_SINK, SMTP_SOURCE):
        if not os.path.exists(tool):
            sys.exit("%s missing: install Debian's postfix" % tool)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "examples-c")], check=True)

    sink, port = start_sink()
    tmp = tempfile.mkdtemp(prefix="libsmtp-bench.")
    try:
        small = os.path.join(tmp, "small.eml")
        write_message(small, 1024)
        n = a.small
        title = "%d messages of 1 KiB, one connection" % n
        SIZE[title] = os.path.getsize(small)
        clients = [
            ("Python smtplib sendmail loop", [sys.executable, "-c", SMTPLIB_LOOP, str(port), str(n), small]),
            ("raw hand-pipelined client (Python)", [sys.executable, "-c", RAW_PIPELINED, str(port), str(n), small]),
            ("Postfix smtp-source -d", [SMTP_SOURCE, "-d", "-m", str(n), "-l", str(SIZE[title]), "-f", "from@example.org", "-t", "to@example.org", "127.0.0.1:%d" % port]),
            ("libsmtp smtp-send --count", [SMTP_SEND, "--host", "127.0.0.1", "--port", str(port), "--from", "from@example.org", "--to", "to@example.org", "--count", str(n), small]),
        ]
        table(title, side_by_side(clients, a.rounds), n)

        large = os.path.join(tmp, "large.eml")
        write_message(large, a.large << 20)
        title = "one message of %d MiB" % a.large
        SIZE[title] = os.path.getsize(large)
        clients = [
            ("Python smtplib sendmail", [sys.executable, "-c", SMTPLIB_LOOP, str(port), "1", large]),
            ("Postfix smtp-source -d", [SMTP_SOURCE, "-d", "-m", "1", "-l", str(SIZE[title]), "-f", "from@example.org", "-t", "to@example.org", "127.0.0.1:%d" % port]),
            ("libsmtp smtp-send (streamed)", [SMTP_SEND, "--host", "127.0.0.1", "--port", str(port), "--from", "from@example.org", "--to", "to@example.org", large]),
        ]
        table(title, side_by_side(clients, a.rounds), 1)
        os.unlink(large)

        if a.haraka:
            haraka, hport, store = start_haraka(a.haraka, tmp)
            try:
                n = a.haraka_count
                title = "%d messages of 1 KiB to Haraka, one connection" % n
                SIZE[title] = os.path.getsize(small)
                clients = [
                    ("Python smtplib sendmail loop", [sys.executable, "-c", SMTPLIB_LOOP, str(hport), str(n), small]),
                    ("libsmtp smtp-send --count", [SMTP_SEND, "--host", "127.0.0.1", "--port", str(hport), "--from", "from@example.org", "--to", "to@example.org", "--count", str(n), small]),
                ]
                table(title, side_by_side(clients, a.rounds), n)
                with open(store) as f:
                    stored = sum(1 for _ in f)
                print("Haraka stored %d messages of the %d sent" % (stored, n * len(clients) * a.rounds))
            finally:
                haraka.kill()
                haraka.wait()

        if a.huge:
            huge = os.path.join(tmp, "huge.eml")
            write_message(huge, a.huge << 20)
            wall, rss = run([SMTP_SEND, "--host", "127.0.0.1", "--port", str(port), "--from", "from@example.org", "--to", "to@example.org", huge])
            print("\nlibsmtp smtp-send, one %d MiB message: %.1f MB/s, peak RSS %.1f MiB (target < 16 MiB)"
                  % (a.huge, os.path.getsize(huge) / wall / 1e6, rss / 1024))
    finally:
        sink.kill()
        sink.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
