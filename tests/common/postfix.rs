//! A throwaway Postfix (the production MTA) on a free loopback port, run
//! entirely under a temporary folder: its own main.cf and master.cf, queue,
//! data folder and log. Every recipient in `DOMAIN` is delivered by
//! Postfix's virtual(8) agent to a maildir in the same folder, where a test
//! reads the delivered bytes back; anything else that would leave the box
//! (bounces to other domains) is discarded. Only smtpd listens on the
//! network; the other daemons talk over sockets in the queue folder, so
//! instances run side by side and never touch the system's Postfix.
//!
//! Started with `postfix -c DIR start`, stopped with `postfix -c DIR stop`
//! when dropped (and the master's process group killed if it lingers).

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The mail domain this Postfix accepts mail for.
pub const DOMAIN: &str = "example.test";

/// Where Debian's postfix package puts the postfix command.
pub const POSTFIX: &str = "/usr/sbin/postfix";

/// The mailboxes: address (as lowercase Postfix looks it up) and the
/// maildir under the mail folder. Any other address of `DOMAIN` goes to
/// `OTHER`.
pub const MAILBOXES: &[(&str, &str)] = &[
    ("jo@example.test", "jo"),
    ("al@example.test", "al"),
    ("jürgen@example.test", "juergen"),
];

/// The maildir of every other address of `DOMAIN` (DSNs sent to a sender
/// of `DOMAIN` arrive there too).
pub const OTHER: &str = "other";

/// A running Postfix; stopped when dropped.
pub struct Postfix {
    /// Its smtpd's port on 127.0.0.1.
    pub port: u16,
    /// A second smtpd on 127.0.0.1, speaking TLS from the first byte
    /// (`smtpd_tls_wrappermode`, RFC 8314 implicit TLS).
    pub tls_port: u16,
    dir: tempfile::TempDir,
}

impl Postfix {
    /// Starts Postfix with the settings of the module documentation and a
    /// 64 MiB message size limit, and waits until smtpd accepts
    /// connections. Missing Postfix is a test failure, never a skip.
    pub fn start() -> Postfix {
        Postfix::start_with(&[])
    }

    /// `start`, with `extra` main.cf settings (name, value) written after
    /// the defaults, which they override.
    pub fn start_with(extra: &[(&str, &str)]) -> Postfix {
        assert!(
            Path::new(POSTFIX).exists(),
            "{POSTFIX} not found: install Debian's postfix package (tests/setup-deps does)"
        );
        let (uid, gid) = postfix_ids();
        // Under /tmp, whatever TMPDIR says: the daemons, running as the
        // postfix user, must be able to reach the folder.
        let dir = tempfile::Builder::new()
            .prefix("libsmtp-postfix.")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let root = dir.path();
        // The daemons drop to the postfix user: they must reach the folders.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["conf", "queue", "data", "mail"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        for sub in ["data", "mail"] {
            std::os::unix::fs::chown(root.join(sub), Some(uid), Some(gid)).unwrap();
        }
        let port = super::free_port();
        let tls_port = super::free_port();
        let certs = super::certs::certs();
        let mut maps = String::new();
        for (addr, mailbox) in MAILBOXES {
            maps.push_str(&format!("{addr} {mailbox}/\n"));
        }
        maps.push_str(&format!("@{DOMAIN} {OTHER}/\n"));
        std::fs::write(root.join("conf/mailboxes"), maps).unwrap();

        let r = root.display();
        let mut main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {r}/queue\n\
             data_directory = {r}/data\n\
             maillog_file = {r}/maillog\n\
             maillog_file_prefixes = {r}\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             myhostname = mx.test\n\
             mydomain = mx.test\n\
             myorigin = mx.test\n\
             mydestination =\n\
             mynetworks =\n\
             alias_maps =\n\
             alias_database =\n\
             local_header_rewrite_clients =\n\
             smtpd_relay_restrictions = reject_unauth_destination\n\
             smtpd_peername_lookup = no\n\
             smtputf8_enable = yes\n\
             default_transport = discard\n\
             relay_transport = discard\n\
             local_transport = discard\n\
             virtual_transport = virtual\n\
             virtual_mailbox_domains = {DOMAIN}\n\
             virtual_mailbox_base = {r}/mail\n\
             virtual_mailbox_maps = texthash:{r}/conf/mailboxes\n\
             virtual_uid_maps = static:{uid}\n\
             virtual_gid_maps = static:{gid}\n\
             virtual_minimum_uid = 1\n\
             virtual_mailbox_limit = 0\n\
             message_size_limit = 67108864\n\
             smtpd_tls_cert_file = {cert}\n\
             smtpd_tls_key_file = {key}\n\
             smtpd_tls_security_level = may\n\
             smtpd_tls_received_header = yes\n\
             biff = no\n",
            cert = certs.good_cert.display(),
            key = certs.good_key.display(),
        );
        for (name, value) in extra {
            main.push_str(&format!("{name} = {value}\n"));
        }
        std::fs::write(root.join("conf/main.cf"), main).unwrap();
        std::fs::write(
            root.join("conf/master.cf"),
            format!(
                "127.0.0.1:{port} inet n - n - - smtpd\n\
                 127.0.0.1:{tls_port} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n\
                 {MASTER_CF}"
            ),
        )
        .unwrap();

        // Postfix waits while a configuration file is younger than a
        // second (it may still be being written): date them in the past.
        let past = std::time::SystemTime::now() - Duration::from_secs(60);
        for name in ["main.cf", "master.cf", "mailboxes"] {
            std::fs::File::options()
                .write(true)
                .open(root.join("conf").join(name))
                .and_then(|f| f.set_modified(past))
                .unwrap();
        }

        let pf = Postfix {
            port,
            tls_port,
            dir,
        };
        let out = pf.postfix("start");
        if !out.status.success() {
            panic!(
                "postfix start failed ({}):\n{}{}\n--- maillog\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                pf.log()
            );
        }
        pf.wait_ready();
        pf
    }

    /// Runs `postfix -c DIR <verb>`.
    fn postfix(&self, verb: &str) -> std::process::Output {
        Command::new(POSTFIX)
            .arg("-c")
            .arg(self.dir.path().join("conf"))
            .arg(verb)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {POSTFIX} ({e}): install Debian's postfix"))
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "Postfix did not listen on port {}:\n--- maillog\n{}",
            self.port,
            self.log()
        );
    }

    /// Every message file delivered so far, to any mailbox.
    pub fn stored(&self) -> Vec<PathBuf> {
        super::daemon::maildir_messages(&self.dir.path().join("mail"))
    }

    /// The instance's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The raw files delivered to `mailbox` (a name of `MAILBOXES` or
    /// `OTHER`), oldest first; waits up to 15 s for `expected` of them, and
    /// fails with the log if fewer arrive.
    pub fn delivered(&self, mailbox: &str, expected: usize) -> Vec<Vec<u8>> {
        let new = self.dir.path().join("mail").join(mailbox).join("new");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
                .map(|d| d.map(|e| e.unwrap().path()).collect())
                .unwrap_or_default();
            if files.len() >= expected {
                // Maildir names start with the delivery time, then a
                // sequence: sorting by modification time keeps the order.
                files.sort_by_key(|p| {
                    (
                        std::fs::metadata(p).and_then(|m| m.modified()).ok(),
                        p.clone(),
                    )
                });
                return files.iter().map(|f| std::fs::read(f).unwrap()).collect();
            }
            if Instant::now() > deadline {
                panic!(
                    "{} of {expected} messages delivered to {mailbox}:\n--- maillog\n{}",
                    files.len(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir.path().join("queue/pid/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let _ = self.postfix("stop");
        // The master leads its own process group: anything left goes.
        if let Some(pid) = pid {
            if Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .output();
            }
        }
    }
}

/// The uid and gid of the `postfix` user, which Debian's package creates.
fn postfix_ids() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == "postfix").then(|| (f[2].parse().ok(), f[3].parse().ok()))
        })
        .and_then(|(u, g)| Some((u?, g?)))
        .expect("no postfix user: install Debian's postfix package")
}

/// Every service but smtpd, none chrooted, none on the network.
const MASTER_CF: &str = "\
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -     - proxymap
proxywrite unix  - - n -     1 proxymap
retry      unix  - - n -     - error
error      unix  - - n -     - error
discard    unix  - - n -     - discard
virtual    unix  - n n -     - virtual
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
";

/// The message as the sender wrote it, out of a delivered maildir file:
/// what follows the Return-Path, X-Original-To and Delivered-To fields
/// that virtual(8) adds and the Received field that smtpd adds. Line
/// endings are LF, as Postfix stores them.
pub fn sent_part(delivered: &[u8]) -> &[u8] {
    let mut rest = delivered;
    let mut seen_received = false;
    loop {
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |e| e + 1);
        let line = &rest[..end];
        let added = line.starts_with(b"Return-Path: ")
            || line.starts_with(b"X-Original-To: ")
            || line.starts_with(b"Delivered-To: ");
        if added && !seen_received {
            rest = &rest[end..];
        } else if line.starts_with(b"Received: ") && !seen_received {
            seen_received = true;
            rest = &rest[end..];
        } else if seen_received && (line.starts_with(b"\t") || line.starts_with(b" ")) {
            rest = &rest[end..];
        } else {
            assert!(seen_received, "no Received field from Postfix");
            return rest;
        }
    }
}

/// The Received field Postfix's smtpd added, unfolded.
pub fn received(delivered: &[u8]) -> String {
    let text = String::from_utf8_lossy(delivered);
    let start = text.find("\nReceived: ").expect("a Received field") + 1;
    let mut out = String::new();
    for (i, line) in text[start..].lines().enumerate() {
        if i > 0 && !line.starts_with(['\t', ' ']) {
            break;
        }
        out.push_str(line.trim_start());
        out.push(' ');
    }
    out
}
