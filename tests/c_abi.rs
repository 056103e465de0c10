//! The C ABI under abuse, from C: tests/c/abi.c passes NULL for every
//! pointer argument of every function in include/smtp.h, bad UTF-8 and
//! CR/LF, reads a failed open's error, keeps borrowed strings across
//! getters, calls back into libsmtp from a debug callback, and sends from
//! eight threads at once. It runs plain, then under valgrind with no
//! errors and no leaks allowed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::sink::SmtpSink;

/// Compiles tests/c/abi.c strictly against include/smtp.h and the built
/// libsmtp.so.
fn build_abi(out_dir: &Path) -> PathBuf {
    common::cdylib::compile(
        &common::repo_root().join("tests/c/abi.c"),
        &out_dir.join("abi"),
    )
}

/// The names of the functions include/smtp.h declares.
fn header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(common::repo_root().join("include/smtp.h")).unwrap();
    let mut names = Vec::new();
    for line in header.lines() {
        let line = line.trim_start();
        if line.starts_with("/*") || line.starts_with('*') || line.starts_with('#') {
            continue;
        }
        if line.starts_with("typedef") {
            continue;
        }
        // A declaration: "type smtp_name(args);": the name is the word
        // just before the first parenthesis.
        let Some(paren) = line.find('(') else {
            continue;
        };
        let before = &line[..paren];
        let name = before
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if name.starts_with("smtp_") {
            names.push(name.to_string());
        }
    }
    names
}

#[test]
fn abi_c_exercises_every_function_the_header_declares() {
    let names = header_functions();
    assert!(names.len() > 40, "header parsed badly: {names:?}");
    let abi = std::fs::read_to_string(common::repo_root().join("tests/c/abi.c")).unwrap();
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !abi.contains(&format!("{n}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "tests/c/abi.c does not call {missing:?}: add their NULL cases"
    );
}

#[test]
fn abi_checks_pass() {
    let sink = SmtpSink::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let exe = build_abi(dir.path());
    let dead = common::free_port();
    let out = common::run_ok(
        Command::new(&exe).args([sink.port.to_string(), dead.to_string()]),
        "abi",
        "gcc",
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("all checks passed"));
    // Eight messages, one per thread.
    assert_eq!(sink.dumps(8).len(), 8);
}

#[test]
fn abi_checks_pass_under_valgrind_without_errors_or_leaks() {
    let sink = SmtpSink::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let exe = build_abi(dir.path());
    let dead = common::free_port();
    let out = common::run_ok(
        Command::new("valgrind")
            .args(common::cdylib::VALGRIND)
            .arg(&exe)
            .args([sink.port.to_string(), dead.to_string()]),
        "abi under valgrind",
        "valgrind",
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("all checks passed"));
    assert_eq!(sink.dumps(8).len(), 8);
}
