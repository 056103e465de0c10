//! A throwaway Exim 4 (Debian's exim4-daemon-heavy, unpacked by
//! tests/setup-deps, since the package conflicts with postfix) on two free
//! loopback ports: SMTP with STARTTLS and AUTH, and implicit TLS. Its
//! configuration, spool, log and maildir are under a temporary folder; the
//! daemon runs in the foreground (`exim4 -C CONF -bdf`) and delivers each
//! message at once, as the `Debian-exim` user, to one maildir.
//!
//! Recipients of `DOMAIN` are accepted, any other refused ("550 relay not
//! permitted"). AUTH (PLAIN, LOGIN, CRAM-MD5 for `USER`/`PASSWORD`) is
//! offered over TLS only; STARTTLS, CHUNKING, DSN, SMTPUTF8 and 8BITMIME
//! to everyone.

use std::path::PathBuf;
use std::process::Command;

use super::daemon::{copy_readable, maildir_messages, open_tempdir, provisioned, Daemon};

/// The binary, relative to the servers folder.
pub const EXIM: &str = "root-exim4-daemon-heavy/usr/sbin/exim4";
/// What brings it.
pub const PACKAGE: &str = "Debian's exim4-daemon-heavy (unpacked), libmariadb3, libspf2-2, libidn12 and the Debian-exim user";

/// A running Exim; stopped when dropped.
pub struct Exim {
    /// SMTP (STARTTLS offered) on 127.0.0.1.
    pub port: u16,
    /// SMTP over implicit TLS on 127.0.0.1.
    pub tls_port: u16,
    daemon: Daemon,
    dir: tempfile::TempDir,
}

impl Exim {
    /// Starts Exim accepting mail for `domain`, with AUTH for `user` and
    /// `password`, and waits until both ports accept connections.
    pub fn start(domain: &str, user: &str, password: &str) -> Exim {
        let exim = provisioned(EXIM, PACKAGE);
        let (uid, gid) = super::user_ids("Debian-exim");
        let dir = open_tempdir("libsmtp-exim.");
        let root = dir.path();
        for sub in ["spool", "log", "mail"] {
            std::fs::create_dir(root.join(sub)).expect("mkdir");
            std::os::unix::fs::chown(root.join(sub), Some(uid), Some(gid)).expect("chown");
        }
        let certs = super::certs::certs();
        copy_readable(&certs.good_cert, &root.join("cert.pem"));
        copy_readable(&certs.good_key, &root.join("key.pem"));
        let port = super::free_port();
        let tls_port = super::free_port();
        let conf = root.join("exim.conf");
        std::fs::write(
            &conf,
            config(&exim, root, port, tls_port, domain, user, password),
        )
        .expect("write exim.conf");
        let mut cmd = Command::new(&exim);
        cmd.arg("-C").arg(&conf).arg("-bdf");
        let mut daemon = Daemon::spawn(cmd, &root.join("stderr.log"), PACKAGE);
        let log = root.join("log/mainlog");
        daemon.wait_listening(&[port, tls_port], &[], 30, &|| {
            std::fs::read_to_string(&log).unwrap_or_default()
        });
        Exim {
            port,
            tls_port,
            daemon,
            dir,
        }
    }

    /// The files of the messages delivered so far.
    pub fn stored(&self) -> Vec<PathBuf> {
        maildir_messages(&self.dir.path().join("mail"))
    }

    /// Exim's main log, panic log and standard error.
    pub fn log(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!(
            "--- mainlog\n{}--- paniclog\n{}--- stderr\n{}",
            read("log/mainlog"),
            read("log/paniclog"),
            self.daemon.output()
        )
    }
}

fn config(
    exim: &std::path::Path,
    root: &std::path::Path,
    port: u16,
    tls_port: u16,
    domain: &str,
    user: &str,
    password: &str,
) -> String {
    CONFIG
        .replace("@ROOT@", &root.display().to_string())
        .replace("@EXIM@", &exim.display().to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@TLS_PORT@", &tls_port.to_string())
        .replace("@DOMAIN@", domain)
        .replace("@USER@", user)
        .replace("@PASSWORD@", password)
}

/// The configuration, with @NAME@ for what `config` fills in.
const CONFIG: &str = r#"# libsmtp test instance: nothing outside @ROOT@ is used.
keep_environment =
exim_path = @EXIM@
primary_hostname = mx.test
spool_directory = @ROOT@/spool
log_file_path = @ROOT@/log/%slog
pid_file_path = @ROOT@/exim.pid
local_interfaces = 127.0.0.1
daemon_smtp_ports = @PORT@ : @TLS_PORT@
tls_on_connect_ports = @TLS_PORT@
exim_user = Debian-exim
exim_group = Debian-exim
trusted_users = root
domainlist local_domains = @DOMAIN@
host_lookup =
rfc1413_hosts =
tls_advertise_hosts = *
tls_certificate = @ROOT@/cert.pem
tls_privatekey = @ROOT@/key.pem
auth_advertise_hosts = ${if def:tls_in_cipher {*}{}}
smtputf8_advertise_hosts = *
chunking_advertise_hosts = *
dsn_advertise_hosts = *
pipelining_advertise_hosts = *
accept_8bitmime = true
message_size_limit = 64M
smtp_accept_max = 50
# Every message delivered at once, however many a connection brings.
smtp_accept_queue_per_connection = 0
smtp_accept_max_per_connection = 1000
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  accept domains = +local_domains
  deny message = relay not permitted

begin routers
store:
  driver = accept
  domains = +local_domains
  transport = store

begin transports
store:
  driver = appendfile
  directory = @ROOT@/mail
  maildir_format
  create_directory
  user = Debian-exim
  group = Debian-exim
  envelope_to_add = false
  return_path_add = false
  delivery_date_add = false

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_condition = ${if and {{eq{$auth2}{@USER@}}{eq{$auth3}{@PASSWORD@}}}}
  server_set_id = $auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = ${if and {{eq{$auth1}{@USER@}}{eq{$auth2}{@PASSWORD@}}}}
  server_set_id = $auth1
cram:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = ${if eq{$auth1}{@USER@}{@PASSWORD@}fail}
  server_set_id = $auth1
"#;
