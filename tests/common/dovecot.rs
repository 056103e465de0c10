//! A throwaway Dovecot speaking LMTP, the production LMTP server: started
//! in the foreground (`dovecot -F -c CONF`) with everything under a
//! temporary folder (configuration, base_dir, state_dir, log, users,
//! maildirs), listening on a Unix socket and on a free loopback port. It
//! never reads or touches /etc/dovecot or a system Dovecot's sockets.
//!
//! Users (the domain of an address is ignored, `auth_username_format = %Ln`):
//! `alice` and `bob` without limits, and `tiny` with a 1 KiB quota that is
//! checked only when a message is saved (`lmtp_rcpt_check_quota = no`), so
//! RCPT accepts it and the reply after the end of data refuses. Any other
//! user does not exist ("550 5.1.1 ... User doesn't exist").

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Debian packages that bring Dovecot with its LMTP server.
pub const PACKAGES: &str = "dovecot-core and dovecot-lmtpd";

/// The user with the tiny quota.
pub const TINY: &str = "tiny";

/// A running Dovecot; stopped when dropped.
pub struct Dovecot {
    /// Its LMTP port on 127.0.0.1.
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

/// Who the processes run as: Dovecot refuses mail access as root, so as
/// root mail belongs to `nobody` and the internal and login processes run
/// as the `dovecot` and `dovenull` users Debian creates; otherwise
/// everything runs as the current user.
struct Accounts {
    internal_user: String,
    internal_group: String,
    login_user: String,
    mail_uid: u32,
    mail_gid: u32,
}

fn id(args: &[&str]) -> String {
    let out = super::run_ok(Command::new("id").args(args), "id", "coreutils");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn accounts() -> Accounts {
    if id(&["-u"]) == "0" {
        Accounts {
            internal_user: "dovecot".into(),
            internal_group: "dovecot".into(),
            login_user: "dovenull".into(),
            mail_uid: id(&["-u", "nobody"]).parse().expect("uid of nobody"),
            mail_gid: id(&["-g", "nobody"]).parse().expect("gid of nobody"),
        }
    } else {
        let me = id(&["-un"]);
        Accounts {
            internal_user: me.clone(),
            internal_group: id(&["-gn"]),
            login_user: me,
            mail_uid: id(&["-u"]).parse().expect("own uid"),
            mail_gid: id(&["-g"]).parse().expect("own gid"),
        }
    }
}

impl Dovecot {
    /// Starts Dovecot and waits until both listeners accept (15 s at
    /// most). A missing Dovecot is a test failure naming the packages.
    pub fn start() -> Dovecot {
        Dovecot::start_inner(None)
    }

    /// `start`, and Dovecot's SASL server for Postfix's smtpd
    /// (`smtpd_sasl_type = dovecot`) on the socket `auth_socket`: PLAIN,
    /// LOGIN and CRAM-MD5 for one more user, `user` with `password`.
    pub fn start_with_sasl(user: &str, password: &str) -> Dovecot {
        Dovecot::start_inner(Some((user, password)))
    }

    /// The SASL socket of `start_with_sasl`.
    pub fn auth_socket(&self) -> PathBuf {
        self.dir.path().join("run").join("auth-client")
    }

    fn start_inner(sasl: Option<(&str, &str)>) -> Dovecot {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        // The auth process (internal user) reads the users file and the
        // mail user creates its maildir below this folder.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
            .expect("chmod temp dir");
        let acc = accounts();
        for sub in ["run", "state", "mail", "home"] {
            std::fs::create_dir(root.join(sub)).expect("create folder");
        }
        for sub in ["mail", "home"] {
            std::os::unix::fs::chown(root.join(sub), Some(acc.mail_uid), Some(acc.mail_gid))
                .expect("chown mail folder");
        }
        let users = root.join("users");
        let mut lines =
            format!("alice:::::::\nbob:::::::\n{TINY}::::::: userdb_quota_rule=*:storage=1K\n");
        let mut conf_text = String::new();
        if let Some((user, password)) = sasl {
            // {PLAIN}: CRAM-MD5 needs the password itself.
            lines.push_str(&format!("{user}:{{PLAIN}}{password}::::::\n"));
            conf_text.push_str(SASL_CONFIG);
        }
        std::fs::write(&users, lines).expect("write users");
        let port = super::free_port();
        let conf = root.join("dovecot.conf");
        conf_text.insert_str(0, &config(root, &users, port, &acc));
        std::fs::write(&conf, conf_text).expect("write dovecot.conf");
        let log = std::fs::File::create(root.join("stderr.log")).expect("create stderr.log");
        let child = match Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("dovecot not found: install Debian's {PACKAGES}")
            }
            Err(e) => panic!("cannot run dovecot: {e}"),
        };
        let mut server = Dovecot { port, child, dir };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let unix = UnixStream::connect(self.socket()).is_ok();
            let tcp = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            if unix && tcp {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "dovecot exited ({status}) (Debian's {PACKAGES} are needed):\n{}",
                    self.log()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "dovecot did not accept LMTP within 15 s (unix: {unix}, tcp: {tcp}):\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The LMTP Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run").join("lmtp")
    }

    /// Dovecot's log and its standard error so far.
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        format!(
            "--- dovecot.log\n{}\n--- stderr\n{}",
            read("dovecot.log").unwrap_or_default(),
            read("stderr.log").unwrap_or_default()
        )
    }

    /// Every message file delivered so far, to any user.
    pub fn stored(&self) -> Vec<PathBuf> {
        super::daemon::maildir_messages(&self.dir.path().join("mail"))
    }

    /// Every message in `user`'s INBOX (new/ and cur/), as stored (with the
    /// trace headers Dovecot adds on top), oldest file name first.
    pub fn inbox(&self, user: &str) -> Vec<Vec<u8>> {
        let maildir = self.dir.path().join("mail").join(user);
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
            .flatten()
            .map(|e| e.expect("maildir entry").path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read(f).expect("read delivered message"))
            .collect()
    }
}

/// The stored message from the line `msg` starts with, that is without
/// the Return-Path, Delivered-To and Received headers Dovecot put above it.
pub fn without_trace<'a>(stored: &'a [u8], msg: &[u8]) -> &'a [u8] {
    let first = &msg[..msg
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("message has a line end")
        + 2];
    let mut needle = b"\r\n".to_vec();
    needle.extend_from_slice(first);
    let at = stored
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap_or_else(|| {
            panic!(
                "first line {:?} not in stored message:\n{}",
                String::from_utf8_lossy(first),
                String::from_utf8_lossy(&stored[..stored.len().min(2000)])
            )
        });
    &stored[at + 2..]
}

/// What `start_with_sasl` adds: the mechanisms, and the socket Postfix's
/// smtpd (running as the postfix user) connects to.
const SASL_CONFIG: &str = "auth_mechanisms = plain login cram-md5
service auth {
  unix_listener auth-client {
    mode = 0666
  }
}
";

fn config(root: &Path, users: &Path, port: u16, acc: &Accounts) -> String {
    let root = root.display();
    let users = users.display();
    format!(
        r#"# libsmtp test instance; nothing outside {root} is used.
base_dir = {root}/run
state_dir = {root}/state
instance_name = libsmtp-test-{port}
protocols = lmtp
listen = 127.0.0.1
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
auth_mechanisms = plain
auth_username_format = %Ln
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
postmaster_address = postmaster@example.org
first_valid_uid = 1
mail_location = maildir:{root}/mail/%n
# Stored with CRLF line ends, as sent: the bodies compare byte for byte.
mail_save_crlf = yes
lmtp_save_to_detail_mailbox = no
lmtp_rcpt_check_quota = no
mail_plugins = quota
plugin {{
  quota = maildir:User quota
}}
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
  default_fields = uid={uid} gid={gid} home={root}/home/%n
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
}}
"#,
        internal = acc.internal_user,
        internal_group = acc.internal_group,
        login = acc.login_user,
        uid = acc.mail_uid,
        gid = acc.mail_gid,
    )
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        super::daemon::terminate(&mut self.child);
    }
}
