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
