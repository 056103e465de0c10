#!/usr/bin/env python3
"""libsmtp's concurrency benchmark: the same work -- SESSIONS sessions, each
sending MESSAGES messages of 1 KiB to Postfix smtp-sink on loopback -- done
by every session at once from one thread with the non-blocking API
(smtp_multi), then by 8 and by 64 threads on the blocking API, each thread
running one session after another; and, to tell the cost of the servers'
SESSIONS open connections from the client's, from one thread with
smtp_multi again but 64 sessions at a time (each handle running one
session after another, as a thread does); and with as many blocking
threads as sessions, all open at once as with the multi.

Prints, per way: msgs/s (median over the rounds, the ways taking turns
within each round so that a drift in the machine's speed touches them
alike; the ratio to 8 threads is the median of the per-round ratios),
peak RSS (the largest), the resident memory per session open at
once while idle (medians; all SESSIONS connected and greeted for the
multi, one connected session and its thread for the threads), CPU time per
message (user + system, median) of the client and of the smtp-sink
processes, and the ratios to 8 threads.

Each client and each smtp-sink runs in a session of its own (setsid): with
autogroup scheduling on (/proc/sys/kernel/sched_autogroup_enabled) each
session gets an equal share of a busy machine's CPU whatever its number of
threads, so that other load on a shared machine does not favour 64 threads
over one. The figures are for comparing the ways side by side; on a busy
machine the rates move from run to run.

Run by hand (it is not part of the test suite):
    python3 tests/bench/concurrency.py [--sessions 1000] [--messages 10]
        [--rounds 5] [--sinks 2]
"""

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIBDIR = os.path.join(ROOT, "target", "release")
SMTP_SINK = "/usr/sbin/smtp-sink"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink(max_sessions):
    """smtp-sink serving up to max_sessions connections at once (-m), with
    a listen backlog to match."""
    port = free_port()
    proc = subprocess.Popen(
        [SMTP_SINK, "-u", "root", "-m", str(max_sessions), "127.0.0.1:%d" % port,
         str(min(max_sessions, 4096))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.02)
    sys.exit("smtp-sink did not start")


def write_message(path, size):
    """A message of `size` bytes: headers, then lines of x."""
    head = b"From: from@example.org\r\nTo: to@example.org\r\nSubject: bench\r\n\r\n"
    line = b"x" * 76 + b"\r\n"
    body = head
    while len(body) + len(line) <= size:
        body += line
    body += b"x" * (size - len(body) - 2) + b"\r\n"
    with open(path, "wb") as f:
        f.write(body)


def build(tmp):
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    link = os.path.join(LIBDIR, "libsmtp.so.0")
    if not os.path.lexists(link):
        os.symlink("libsmtp.so", link)
    exe = os.path.join(tmp, "concurrency")
    subprocess.run(["gcc", "-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                    "-I" + os.path.join(ROOT, "include"), os.path.join(HERE, "concurrency.c"),
                    "-o", exe, "-pthread", "-L" + LIBDIR, "-lsmtp", "-Wl,-rpath," + LIBDIR],
                   check=True)
    return exe


def cpu_of(pids):
    """The CPU seconds (user + system) the processes `pids` used so far."""
    ticks = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run(cmd, servers):
    """Runs the client `cmd`: its report, with the CPU seconds the server
    processes `servers` used meanwhile as server_cpu_seconds."""
    before = cpu_of(servers)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True)
    if proc.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), proc.stderr.decode(errors="replace")))
    line = proc.stdout.decode().strip().splitlines()[-1]
    out = dict(kv.split("=", 1) for kv in line.split())
    out["server_cpu_seconds"] = cpu_of(servers) - before
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=1000, help="sessions (default 1000)")
    ap.add_argument("--messages", type=int, default=10, help="messages per session (default 10)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, each way once a round (default 5)")
    ap.add_argument("--sinks", type=int, default=2, help="smtp-sink instances, sessions spread over them in turn (default 2)")
    ap.add_argument("--size", type=int, default=1024, help="message size in bytes (default 1024)")
    a = ap.parse_args()
    if not os.path.exists(SMTP_SINK):
        sys.exit("%s missing: install Debian's postfix" % SMTP_SINK)

    # A descriptor per open session, for the servers and the client alike.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    with tempfile.TemporaryDirectory(prefix="libsmtp-concurrency.") as tmp:
        exe = build(tmp)
        msgfile = os.path.join(tmp, "message.eml")
        write_message(msgfile, a.size)
        per_sink = -(-a.sessions // a.sinks) + 16
        sinks = [start_sink(per_sink) for _ in range(a.sinks)]
        ports = [str(port) for _, port in sinks]
        common = [str(a.sessions), str(a.messages), msgfile] + ports
        ways = [
            ("one thread, non-blocking (smtp_multi), all %s sessions at once"
             % "{:,}".format(a.sessions), [exe, "multi", str(a.sessions)] + common),
            ("8 threads, blocking", [exe, "threads", "8"] + common),
            ("64 threads, blocking", [exe, "threads", "64"] + common),
            ("one thread, non-blocking (smtp_multi), %d sessions at a time" % min(64, a.sessions),
             [exe, "multi", str(min(64, a.sessions))] + common),
            ("%s threads, blocking (all sessions at once)" % "{:,}".format(a.sessions),
             [exe, "threads", str(a.sessions)] + common),
        ]
        results = {name: [] for name, _ in ways}
        try:
            for r in range(a.rounds):
                for name, cmd in ways:
                    out = run(cmd, [proc.pid for proc, _ in sinks])
                    want = a.sessions * a.messages
                    if int(out["messages"]) != want:
                        sys.exit("%s: %s messages sent of %d" % (name, out["messages"], want))
                    results[name].append(out)
                print("round %d of %d done" % (r + 1, a.rounds), file=sys.stderr)
        finally:
            for proc, _ in sinks:
                proc.kill()
                proc.wait()

    def med(name, f):
        return statistics.median(f(o) for o in results[name])

    def rate_of(o):
        return int(o["messages"]) / float(o["seconds"])

    base_name = ways[1][0]
    rows = []
    for name, _ in ways:
        o = results[name]
        rate = med(name, rate_of)
        # The speed-up: the median of the per-round ratios, as a drift in
        # the machine's speed between rounds touches both sides alike.
        ratio = statistics.median(
            rate_of(x) / rate_of(b) for x, b in zip(o, results[base_name]))
        peak = max(int(x["peak_rss_kib"]) for x in o) / 1024
        idle = med(name, lambda o: (int(o["idle_rss_kib"]) - int(o["base_rss_kib"]))
                   / int(o["open_at_once"]))
        cpu = med(name, lambda o: float(o["cpu_seconds"]) / int(o["messages"]) * 1e6)
        server = med(name, lambda o: o["server_cpu_seconds"] / int(o["messages"]) * 1e6)
        rows.append((name, rate, ratio, peak, idle, cpu, int(o[0]["open_at_once"]), server))
    base_peak = rows[1][3]
    total = a.sessions * a.messages
    print("\n| %s sessions x %d messages of %s bytes, %d smtp-sink | msgs/s | vs 8 threads "
          "| peak RSS | vs 8 threads | memory per open idle session | CPU per message "
          "| smtp-sink CPU per message |"
          % ("{:,}".format(a.sessions), a.messages, "{:,}".format(a.size), a.sinks))
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, rate, ratio, peak, idle, cpu, open_, server in rows:
        print("| %s | %s | %.2f× | %.1f MiB | %.2f× | %.1f KiB (%d open) | %.1f µs | %.1f µs |" % (
            name, "{:,.0f}".format(rate), ratio, peak, peak / base_peak, idle, open_,
            cpu, server))
    print("\n%d messages per run, %d rounds; rates and per-message figures are medians, "
          "msgs/s vs 8 threads the median of the per-round ratios, peak RSS the largest."
          % (total, a.rounds))


if __name__ == "__main__":
    main()
