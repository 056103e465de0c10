//! A throwaway Haraka 3 (npm `Haraka`, installed by tests/setup-deps under
//! the servers folder; run with the system's node) on two free loopback
//! ports: SMTP with STARTTLS and AUTH, and implicit TLS (its `smtps_port`).
//! Its instance folder (configuration, queue, plugin) is temporary. The
//! plugin tests/servers/haraka/interop_store.js accepts recipients of the
//! domain, refuses any other, and writes each message as Haraka queues it
//! (its Received field on top) to a folder read back with `stored`.
//! AUTH is Haraka's auth/flat_file: PLAIN, LOGIN, CRAM-MD5 for one user.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::daemon::{copy_readable, files_below, open_tempdir, provisioned, Daemon};

/// What brings it.
pub const PACKAGE: &str = "npm's Haraka and Node.js";

/// The plugin, relative to the repository.
pub const PLUGIN: &str = "tests/servers/haraka/interop_store.js";

/// A running Haraka; stopped when dropped.
pub struct Haraka {
    /// SMTP (STARTTLS offered) on 127.0.0.1.
    pub port: u16,
    /// SMTP over implicit TLS on 127.0.0.1.
    pub tls_port: u16,
    daemon: Daemon,
    dir: tempfile::TempDir,
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

impl Haraka {
    /// Starts Haraka accepting mail for `domain` with AUTH for `user` and
    /// `password`, and waits until both ports accept connections.
    pub fn start(domain: &str, user: &str, password: &str) -> Haraka {
        let haraka = provisioned("npm/node_modules/Haraka/bin/haraka", PACKAGE);
        let dir = open_tempdir("libsmtp-haraka.");
        let root = dir.path();
        for sub in ["config", "plugins", "out"] {
            std::fs::create_dir(root.join(sub)).expect("mkdir");
        }
        let config = root.join("config");
        std::fs::copy(
            super::repo_root().join(PLUGIN),
            root.join("plugins/interop_store.js"),
        )
        .expect("copy the plugin");
        let certs = super::certs::certs();
        copy_readable(&certs.good_cert, &config.join("tls_cert.pem"));
        copy_readable(&certs.good_key, &config.join("tls_key.pem"));
        let port = super::free_port();
        let tls_port = super::free_port();
        write(
            &config.join("smtp.ini"),
            &format!(
                "[main]\nlisten=127.0.0.1:{port},127.0.0.1:{tls_port}\nsmtps_port={tls_port}\n\
                 nodes=0\ndaemonize=false\n"
            ),
        );
        write(
            &config.join("plugins"),
            "tls\nauth/flat_file\ninterop_store\n",
        );
        // Haraka's defaults but for a 64 MiB size limit and SMTPUTF8 on.
        write(
            &config.join("connection.ini"),
            "[main]\nsmtputf8=true\n[headers]\nmax_lines=1000\nmax_received=100\n\
             [max]\nbytes=67108864\nmime_parts=1000\nline_length=512\ndata_line_length=992\n\
             [message]\nhelo=Haraka is at your service.\nclose=closing connection.\n\
             [uuid]\nbanner_chars=6\ndeny_chars=0\n",
        );
        write(
            &config.join("auth_flat_file.ini"),
            &format!("[core]\nmethods=PLAIN,LOGIN,CRAM-MD5\n[users]\n{user}={password}\n"),
        );
        write(&config.join("log.ini"), "[main]\nlevel=warn\n");
        write(&config.join("me"), "mx.test\n");
        let mut cmd = Command::new("node");
        cmd.arg(&haraka)
            .arg("-c")
            .arg(root)
            .env("INTEROP_OUTDIR", root.join("out"))
            .env("INTEROP_DOMAIN", domain);
        let mut daemon = Daemon::spawn(cmd, &root.join("haraka.log"), PACKAGE);
        // Haraka loads a good deal before it listens: slow on a busy machine.
        daemon.wait_listening(&[port, tls_port], &[], 90, &String::new);
        Haraka {
            port,
            tls_port,
            daemon,
            dir,
        }
    }

    /// The files of the messages stored so far.
    pub fn stored(&self) -> Vec<PathBuf> {
        files_below(&self.dir.path().join("out"), &|p| {
            p.extension().is_some_and(|e| e == "eml")
        })
    }

    /// Haraka's output.
    pub fn log(&self) -> String {
        self.daemon.output()
    }
}
