//! The C API in use, from C and C++: tests/c/api.c streams a body in
//! pieces, reads one through a callback, sends a batch, asks for DSN and
//! reads enhanced codes and the feature list against smtp-sink, plain and
//! under valgrind; tests/c/header.cpp includes the header from C++.

mod common;

use std::process::Command;

use common::sink::{as_dumped, Dump, SmtpSink};

fn run_api(valgrind: bool) -> Vec<Dump> {
    let sink = SmtpSink::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let exe = common::cdylib::compile(
        &common::repo_root().join("tests/c/api.c"),
        &dir.path().join("api"),
    );
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args(common::cdylib::VALGRIND).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let out = common::run_ok(
        cmd.arg(sink.port.to_string()),
        "tests/c/api.c",
        if valgrind { "valgrind" } else { "gcc" },
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("all checks passed"));
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
