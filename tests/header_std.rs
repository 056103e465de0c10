//! include/smtp.h is a header for every C and C++ a distribution's users
//! compile with: tests/c/header_std.c is compiled with gcc as C89, C99,
//! C11, C17 and C23 (gcc 12's -std=c2x) and with g++ as C++98 through C++23
//! (-std=c++2b), each with -Wall -Wextra -pedantic-errors -Werror, then
//! linked against the built libsmtp.so and run: the C++ builds link only
//! when the functions are declared extern "C".

mod common;

use std::path::Path;
use std::process::Command;

const C_STANDARDS: &[&str] = &["c89", "c99", "c11", "c17", "c2x"];
const CXX_STANDARDS: &[&str] = &["c++98", "c++11", "c++14", "c++17", "c++20", "c++2b"];

/// Compiles the program in one standard, links and runs it.
fn build_and_run(std: &str, cxx: bool, dir: &Path) {
    let lib = common::cdylib::lib_dir();
    let root = common::repo_root();
    let (compiler, package) = if cxx { ("g++", "g++") } else { ("gcc", "gcc") };
    let exe = dir.join(format!("header_{}", std.replace('+', "x")));
    let mut cmd = Command::new(compiler);
    if cxx {
        // The same source, read as C++.
        cmd.args(["-x", "c++"]);
    }
    cmd.arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-pedantic-errors", "-Werror"])
        .arg(format!("-I{}", root.join("include").display()))
        .arg(root.join("tests/c/header_std.c"))
        .args(["-x", "none"])
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg("-lsmtp")
        .arg(format!("-Wl,-rpath,{}", lib.display()));
    common::run_ok(&mut cmd, &format!("{compiler} -std={std}"), package);
    let out = common::run_ok(
        &mut Command::new(&exe),
        &format!("the -std={std} build"),
        package,
    );
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(version),
        "-std={std}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn header_compiles_as_c89_through_c23_with_pedantic_errors() {
    let dir = tempfile::tempdir().unwrap();
    for std in C_STANDARDS {
        build_and_run(std, false, dir.path());
    }
}

#[test]
fn header_compiles_as_cxx98_through_cxx23_with_pedantic_errors() {
    let dir = tempfile::tempdir().unwrap();
    for std in CXX_STANDARDS {
        build_and_run(std, true, dir.path());
    }
}

#[test]
fn header_has_no_line_comments() {
    // C89 has only /* */ comments; a "//" outside one is an error there.
    let header = std::fs::read_to_string(common::repo_root().join("include/smtp.h")).unwrap();
    let mut in_block = false;
    for (n, line) in header.lines().enumerate() {
        let mut rest = line;
        loop {
            if in_block {
                match rest.find("*/") {
                    Some(i) => {
                        in_block = false;
                        rest = &rest[i + 2..];
                    }
                    None => break,
                }
            } else {
                let block = rest.find("/*");
                let slash = rest.find("//");
                match (block, slash) {
                    (_, Some(s)) if block.is_none_or(|b| s < b) => {
                        panic!("include/smtp.h:{}: line comment: {line}", n + 1)
                    }
                    (Some(b), _) => {
                        in_block = true;
                        rest = &rest[b + 2..];
                    }
                    _ => break,
                }
            }
        }
    }
}
