//! The built C library, for tests that link or load it from C, Go and Ruby.

use std::path::{Path, PathBuf};

/// The folder holding the libsmtp.so that `cargo test` built (the target
/// profile folder, e.g. target/debug), with the soname link
/// libsmtp.so.0 -> libsmtp.so that programs linked against it look for
/// (build.rs gives the library the soname libsmtp.so.0).
pub fn lib_dir() -> PathBuf {
    // A test binary lives in target/<profile>/deps.
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile> folder")
        .to_path_buf();
    let lib = dir.join("libsmtp.so");
    assert!(
        lib.exists(),
        "{} not found: cargo test builds it; run cargo build",
        lib.display()
    );
    let link = dir.join("libsmtp.so.0");
    if std::fs::read_link(&link).is_err() {
        let _ = std::fs::remove_file(&link);
        // Another test binary may create it at the same moment.
        if let Err(e) = std::os::unix::fs::symlink("libsmtp.so", &link) {
            assert!(
                e.kind() == std::io::ErrorKind::AlreadyExists,
                "cannot link {}: {e}",
                link.display()
            );
        }
    }
    dir
}

/// Compiles `source` (C11 with gcc, or C++17 with g++ for a .cpp file)
/// strictly — every warning an error — against include/smtp.h and the
/// built libsmtp.so, into `exe`.
pub fn compile(source: &Path, exe: &Path) -> PathBuf {
    let lib = lib_dir();
    let root = super::repo_root();
    let cpp = source.extension().is_some_and(|e| e == "cpp");
    let (compiler, std, package) = if cpp {
        ("g++", "-std=c++17", "g++")
    } else {
        ("gcc", "-std=c11", "gcc")
    };
    super::run_ok(
        std::process::Command::new(compiler)
            .args([std, "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-g"])
            .arg(format!("-I{}", root.join("include").display()))
            .arg(source)
            .arg("-o")
            .arg(exe)
            .arg("-pthread")
            .arg(format!("-L{}", lib.display()))
            .arg("-lsmtp")
            .arg(format!("-Wl,-rpath,{}", lib.display())),
        &format!("{compiler} {}", source.display()),
        package,
    );
    exe.to_path_buf()
}

/// valgrind's flags for the C tests: any error, or a leak of ours
/// (definite or indirect), fails the run with exit status 99.
pub const VALGRIND: &[&str] = &[
    "-q",
    "--error-exitcode=99",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite,indirect",
];
