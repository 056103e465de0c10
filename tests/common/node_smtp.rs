//! nodemailer's smtp-server (npm `smtp-server`, installed by
//! tests/setup-deps under the servers folder; run with the system's node)
//! driven by tests/servers/smtp_server.js: SMTP with STARTTLS and AUTH
//! (PLAIN, LOGIN, CRAM-MD5 for one user, after TLS), SMTP over implicit
//! TLS, and LMTP over TCP and over a Unix socket, each on its own
//! listener. Recipients of the domain are accepted, any other refused;
//! each message is written as received to a folder read with `stored`.

use std::path::PathBuf;
use std::process::Command;

use super::daemon::{copy_readable, files_below, open_tempdir, provisioned, Daemon};

/// What brings it.
pub const PACKAGE: &str = "npm's smtp-server and Node.js";

/// The script, relative to the repository.
pub const SCRIPT: &str = "tests/servers/smtp_server.js";

/// A running smtp-server; stopped when dropped.
pub struct NodeSmtp {
    /// SMTP (STARTTLS offered) on 127.0.0.1.
    pub port: u16,
    /// SMTP over implicit TLS on 127.0.0.1.
    pub tls_port: u16,
    /// LMTP on 127.0.0.1.
    pub lmtp_port: u16,
    daemon: Daemon,
    dir: tempfile::TempDir,
}

impl NodeSmtp {
    /// Starts the script accepting mail for `domain` with AUTH for `user`
    /// and `password`, and waits until every listener accepts.
    pub fn start(domain: &str, user: &str, password: &str) -> NodeSmtp {
        let modules = provisioned("npm/node_modules/smtp-server", PACKAGE)
            .parent()
            .expect("node_modules")
            .to_path_buf();
        let dir = open_tempdir("libsmtp-smtp-server.");
        let root = dir.path();
        std::fs::create_dir(root.join("out")).expect("mkdir");
        let certs = super::certs::certs();
        copy_readable(&certs.good_cert, &root.join("cert.pem"));
        copy_readable(&certs.good_key, &root.join("key.pem"));
        let (port, tls_port, lmtp_port) =
            (super::free_port(), super::free_port(), super::free_port());
        let mut cmd = Command::new("node");
        cmd.arg(super::repo_root().join(SCRIPT))
            .env("NODE_PATH", &modules)
            .arg("--port")
            .arg(port.to_string())
            .arg("--tls-port")
            .arg(tls_port.to_string())
            .arg("--lmtp-port")
            .arg(lmtp_port.to_string())
            .arg("--lmtp-socket")
            .arg(root.join("lmtp.sock"))
            .arg("--outdir")
            .arg(root.join("out"))
            .arg("--cert")
            .arg(root.join("cert.pem"))
            .arg("--key")
            .arg(root.join("key.pem"))
            .args(["--user", user, "--password", password, "--domain", domain]);
        let mut daemon = Daemon::spawn(cmd, &root.join("server.log"), PACKAGE);
        daemon.wait_listening(
            &[port, tls_port, lmtp_port],
            &[root.join("lmtp.sock")],
            30,
            &String::new,
        );
        NodeSmtp {
            port,
            tls_port,
            lmtp_port,
            daemon,
            dir,
        }
    }

    /// The LMTP Unix socket.
    pub fn lmtp_socket(&self) -> PathBuf {
        self.dir.path().join("lmtp.sock")
    }

    /// The files of the messages stored so far.
    pub fn stored(&self) -> Vec<PathBuf> {
        files_below(&self.dir.path().join("out"), &|p| {
            p.extension().is_some_and(|e| e == "eml")
        })
    }

    /// The script's output.
    pub fn log(&self) -> String {
        self.daemon.output()
    }
}
