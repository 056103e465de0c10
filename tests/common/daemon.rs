//! What the harnesses of the servers run from tests/setup-deps' folder
//! share: where that folder is, a server process that is stopped when
//! dropped, waiting for its listeners, and the files it stored.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The folder tests/setup-deps unpacks Exim and OpenSMTPD into and
/// installs the npm packages under: `$LIBSMTP_SERVERS`, else
/// /var/cache/libsmtp-test-servers.
pub fn servers_dir() -> PathBuf {
    std::env::var_os("LIBSMTP_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/libsmtp-test-servers"))
}

/// `rel` under the servers folder; fails, naming what brings it, when
/// tests/setup-deps has not put it there.
pub fn provisioned(rel: &str, what: &str) -> PathBuf {
    let path = servers_dir().join(rel);
    assert!(
        path.exists(),
        "{} not found: it needs {what}, which tests/setup-deps provides",
        path.display()
    );
    path
}

/// A temporary folder under /tmp that the users a server drops to can
/// enter (mode 0755).
pub fn open_tempdir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    dir
}

/// Copies `from` to `to`, readable by everyone (a throwaway key read by
/// a server that dropped privileges).
pub fn copy_readable(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o644)).expect("chmod");
}

/// A server process, its standard output and error in `log`; terminated
/// (SIGTERM, then SIGKILL after 5 s) when dropped.
pub struct Daemon {
    child: Child,
    what: String,
    log: PathBuf,
}

impl Daemon {
    /// Starts `cmd` with its output going to `log`; `what` names the server
    /// and the package that brings it, for failures.
    pub fn spawn(mut cmd: Command, log: &Path, what: &str) -> Daemon {
        let out = std::fs::File::create(log).expect("create log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {:?} ({e}): {what}", cmd.get_program()));
        Daemon {
            child,
            what: what.to_string(),
            log: log.to_path_buf(),
        }
    }

    /// What the process printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until every loopback port of `ports` and every Unix socket of
    /// `sockets` accepts a connection, `secs` seconds at most; fails with
    /// the output (and `extra_log`) if the process exits or time runs out.
    pub fn wait_listening(
        &mut self,
        ports: &[u16],
        sockets: &[PathBuf],
        secs: u64,
        extra_log: &dyn Fn() -> String,
    ) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let tcp = ports
                .iter()
                .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok());
            let unix = sockets.iter().all(|s| UnixStream::connect(s).is_ok());
            if tcp && unix {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before listening:\n{}\n{}",
                    self.what,
                    self.output(),
                    extra_log()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} did not listen on {ports:?} {sockets:?} within {secs} s:\n{}\n{}",
                    self.what,
                    self.output(),
                    extra_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Stops a server: SIGTERM lets it stop its children; SIGKILL if it
/// lingers past five seconds.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Every file below `dir` (any depth) whose path passes `keep`, sorted.
pub fn files_below(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(p),
                Ok(t) if t.is_file() && keep(&p) => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// The delivered messages of the maildirs below `dir`: files in a `new`
/// or `cur` folder (a maildir's `tmp` holds deliveries under way).
pub fn maildir_messages(dir: &Path) -> Vec<PathBuf> {
    files_below(dir, &|p| {
        p.parent()
            .and_then(|d| d.file_name())
            .is_some_and(|n| n == "new" || n == "cur")
    })
}
