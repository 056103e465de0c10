//! The C API in use, from C and C++: tests/c/api.c streams a body in
//! pieces, reads one through a callback, sends a batch, asks for DSN and
//! reads enhanced codes and the feature list against smtp-sink, plain and
//! under valgrind; tests/c/header.cpp includes the header from C++;
//! examples-c/raii.cpp holds its handle in a std::unique_ptr.

mod common;

use std::process::Command;

use common::sink::{as_dumped, Dump, SmtpSink};

/// Compiles the C or C++ program `source` (relative to the top folder) and
/// runs it with `args`, under valgrind when asked; its standard output.
fn compile_and_run(source: &str, args: &[&str], valgrind: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let exe = common::cdylib::compile(
        &common::repo_root().join(source),
        &dir.path().join("program"),
    );
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args(common::cdylib::VALGRIND).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let compiler = if source.ends_with(".cpp") {
        "g++"
    } else {
        "gcc"
    };
    let out = common::run_ok(
        cmd.args(args),
        source,
        if valgrind { "valgrind" } else { compiler },
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_api(valgrind: bool) -> Vec<Dump> {
    let sink = SmtpSink::start(&[]);
    let stdout = compile_and_run("tests/c/api.c", &[&sink.port.to_string()], valgrind);
    assert!(stdout.contains("all checks passed"), "{stdout}");
    sink.dumps(8)
}

fn by_subject<'a>(dumps: &'a [Dump], subject: &str) -> &'a Dump {
    let header = format!("Subject: {subject}\n");
    dumps
        .iter()
        .find(|d| d.body.starts_with(header.as_bytes()))
        .unwrap_or_else(|| panic!("no message with subject {subject:?}"))
}

#[test]
fn streamed_callback_batch_and_dsn_messages_arrive_as_sent() {
    let dumps = run_api(false);
    assert_eq!(dumps.len(), 8);
    // Pieces cut inside a CR LF and before a leading dot, as one body.
    assert_eq!(
        by_subject(&dumps, "streamed").body,
        as_dumped(b"Subject: streamed\r\n\r\nline one\r\n.dot line\nlast")
    );
    assert_eq!(
        by_subject(&dumps, "callback").body,
        as_dumped(b"Subject: callback\r\n\r\nfrom a callback\r\n")
    );
    for (i, word) in ["zero", "one", "two", "three", "four"].iter().enumerate() {
        let subject = format!("batch {i}");
        let want = format!("Subject: {subject}\r\n\r\n{word}\r\n");
        assert_eq!(
            by_subject(&dumps, &subject).body,
            as_dumped(want.as_bytes())
        );
    }
    // RFC 3461: RET and ENVID (xtext: "+" is "+2B") on MAIL, NOTIFY and
    // ORCPT on RCPT.
    let dsn = by_subject(&dumps, "dsn");
    assert_eq!(dsn.mail, "<a@example.org> RET=HDRS ENVID=env+2B1");
    assert_eq!(
        dsn.rcpts,
        ["<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.net"]
    );
}

#[test]
fn the_api_program_is_clean_under_valgrind() {
    assert_eq!(run_api(true).len(), 8);
}

#[test]
fn the_header_compiles_as_cpp_with_c_linkage() {
    let dir = tempfile::tempdir().unwrap();
    let exe = common::cdylib::compile(
        &common::repo_root().join("tests/c/header.cpp"),
        &dir.path().join("header"),
    );
    let out = common::run_ok(&mut Command::new(&exe), "tests/c/header.cpp", "g++");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

/// examples-c/raii.cpp: a std::unique_ptr with smtp_free as its deleter
/// sends a message, then an error thrown as a C++ exception leaves a
/// scope and the handle is still freed (valgrind: no leak).
fn run_raii(valgrind: bool) {
    let sink = SmtpSink::start(&[]);
    let port = sink.port.to_string();
    let stdout = compile_and_run(
        "examples-c/raii.cpp",
        &["127.0.0.1", &port, "alice@example.org", "bob@example.net"],
        valgrind,
    );
    assert!(stdout.contains("sent: 250 "), "{stdout}");
    assert!(
        stdout.contains("refused as expected: ValueError"),
        "{stdout}"
    );
    let dumps = sink.dumps(1);
    assert_eq!(dumps.len(), 1);
    assert_eq!(dumps[0].mail, "<alice@example.org>");
    assert_eq!(
        dumps[0].body,
        as_dumped(
            b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: RAII\r\n\r\nSent from C++.\r\n"
        )
    );
}

#[test]
fn the_raii_example_sends_and_frees_its_handle_when_an_exception_leaves_its_scope() {
    run_raii(false);
}

#[test]
fn the_raii_example_is_clean_under_valgrind() {
    run_raii(true);
}
