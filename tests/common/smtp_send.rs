//! examples-c/smtp-send, the C CLI, built once per test process against
//! the cdylib this `cargo test` built, and run with a message on its
//! standard input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// examples-c/smtp-send, built once per process with `make -C examples-c`.
pub fn smtp_send() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let lib = super::cdylib::lib_dir();
        let dir = super::repo_root().join("examples-c");
        let out = Command::new("make")
            .arg("-C")
            .arg(&dir)
            .arg(format!("LIBDIR={}", lib.display()))
            .output()
            .expect("make not found: install make and gcc");
        assert!(
            out.status.success(),
            "make -C examples-c failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir.join("smtp-send")
    })
}

/// What a run of smtp-send left behind.
pub struct Run {
    /// The exit status.
    pub status: i32,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Run {
    /// Standard error's lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// The Run of a finished program.
pub fn finish(out: Output) -> Run {
    Run {
        status: out.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `cmd` with `stdin` on its standard input.
pub fn run_program(mut cmd: Command, stdin: &[u8]) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // A writer thread: the child may fill its stderr before reading it all.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for smtp-send");
    writer.join().unwrap();
    finish(out)
}

/// smtp-send with `args`, the message on standard input.
pub fn smtp_send_with(args: &[String], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(smtp_send());
    cmd.args(args);
    run_program(cmd, stdin)
}
