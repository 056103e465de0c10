//! A throwaway OpenSMTPD 6.8 (Debian's opensmtpd, unpacked by
//! tests/setup-deps, since the package conflicts with postfix) on a free
//! loopback port, in the foreground (`smtpd -d -f CONF`), delivering every
//! recipient of its domain to one maildir under a temporary folder as
//! `nobody`; any other recipient is refused ("550 Invalid recipient").
//!
//! Plaintext only: OpenSMTPD 6.8's TLS fails with OpenSSL 3 (its log says
//! "SSL routines::EVP lib", an upstream fault), so no `pki` is configured,
//! and with it neither STARTTLS nor AUTH (which OpenSMTPD offers over TLS
//! only). Its session limit stays the default (`smtp limit max-mails 100`).
//!
//! Some paths are compiled in: the spool /var/spool/smtpd, the control
//! socket /var/run/smtpd.sock, the delivery agents under
//! /usr/libexec/opensmtpd (tests/setup-deps links it) and the chroot
//! /var/lib/opensmtpd/empty. Hence one instance at a time on the machine:
//! a Unix socket bound in the abstract namespace serialises them (the
//! kernel frees it when its process ends, however it ends), and the spool is emptied before each start
//! (Debian's opensmtpd cannot be installed beside postfix, so the spool
//! holds only what these tests left).

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::daemon::{maildir_messages, open_tempdir, provisioned, Daemon};

/// The binary, relative to the servers folder.
pub const SMTPD: &str = "root-opensmtpd/usr/sbin/smtpd";
/// What brings it.
pub const PACKAGE: &str =
    "Debian's opensmtpd (unpacked), libevent-2.1-7 and the opensmtpd and opensmtpq users";
/// The spool compiled into smtpd.
pub const SPOOL: &str = "/var/spool/smtpd";

/// A running OpenSMTPD; stopped when dropped.
pub struct OpenSmtpd {
    /// SMTP on 127.0.0.1.
    pub port: u16,
    daemon: Daemon,
    dir: tempfile::TempDir,
    // Released after the daemon stopped (fields drop in this order).
    _lock: UnixListener,
}

impl OpenSmtpd {
    /// Starts OpenSMTPD accepting mail for `domain` and waits until it
    /// accepts connections (after any other instance of these tests
    /// stopped).
    pub fn start(domain: &str) -> OpenSmtpd {
        let smtpd = provisioned(SMTPD, PACKAGE);
        assert!(
            std::path::Path::new("/usr/libexec/opensmtpd/mail.maildir").exists(),
            "/usr/libexec/opensmtpd/mail.maildir not found: tests/setup-deps links it"
        );
        let lock = machine_lock();
        wait_no_other_smtpd();
        let _ = std::fs::remove_dir_all(SPOOL);
        let (uid, gid) = super::user_ids("nobody");
        let dir = open_tempdir("libsmtp-opensmtpd.");
        let root = dir.path();
        std::fs::create_dir(root.join("mail")).expect("mkdir");
        std::os::unix::fs::chown(root.join("mail"), Some(uid), Some(gid)).expect("chown");
        let port = super::free_port();
        let conf = root.join("smtpd.conf");
        std::fs::write(
            &conf,
            format!(
                "# libsmtp test instance\n\
                 smtp max-message-size 64M\n\
                 table vt {{ \"@{domain}\" = \"nobody\" }}\n\
                 listen on 127.0.0.1 port {port} hostname mx.test\n\
                 action \"store\" maildir \"{mail}\" user nobody virtual <vt>\n\
                 match from any for domain \"{domain}\" action \"store\"\n",
                mail = root.join("mail").display()
            ),
        )
        .expect("write smtpd.conf");
        let mut cmd = Command::new(&smtpd);
        cmd.arg("-d").arg("-f").arg(&conf);
        let mut daemon = Daemon::spawn(cmd, &root.join("smtpd.log"), PACKAGE);
        daemon.wait_listening(&[port], &[], 30, &String::new);
        OpenSmtpd {
            port,
            daemon,
            dir,
            _lock: lock,
        }
    }

    /// The files of the messages delivered so far.
    pub fn stored(&self) -> Vec<PathBuf> {
        maildir_messages(&self.dir.path().join("mail"))
    }

    /// What smtpd logged (it logs to standard error in the foreground).
    pub fn log(&self) -> String {
        self.daemon.output()
    }
}

/// Holds the machine's one OpenSMTPD slot: waits (10 minutes at most)
/// until no other process holds it.
fn machine_lock() -> UnixListener {
    const NAME: &[u8] = b"libsmtp-tests-opensmtpd";
    let addr = SocketAddr::from_abstract_name(NAME).expect("abstract socket name");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match UnixListener::bind_addr(&addr) {
            Ok(l) => return l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            Err(e) => panic!("no OpenSMTPD slot (another test process holds it?): {e}"),
        }
    }
}

/// Waits (10 minutes at most) until no OpenSMTPD started by other means
/// answers on the compiled-in control socket: its spool is the same.
fn wait_no_other_smtpd() {
    let deadline = Instant::now() + Duration::from_secs(600);
    while std::os::unix::net::UnixStream::connect("/var/run/smtpd.sock").is_ok() {
        assert!(
            Instant::now() < deadline,
            "another OpenSMTPD runs on this machine (/var/run/smtpd.sock answers): stop it"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
