//! Replays the fuzzing corpus and every crash the fuzzer ever found
//! (fuzz/corpus/<target>/ and fuzz/regressions/<target>/) through the same
//! target bodies the fuzzer runs (fuzz/common/targets.rs): reply, EHLO,
//! header/envelope, address, DATA encoder, SASL/xtext/base64, and the
//! session against a fuzzed server. fuzz/run refreshes both directories.

#[allow(dead_code)]
#[path = "../fuzz/common/targets.rs"]
mod targets;

use std::path::Path;

/// The files of fuzz/<kind>/<target>/, sorted so that a failure names the
/// same file on every run.
fn inputs(kind: &str, target: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, body) = targets::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a target of that name");
    let corpus = inputs("corpus", target);
    // The corpus is committed for every target: an empty one means it was
    // lost, not that there is nothing to check.
    assert!(!corpus.is_empty(), "fuzz/corpus/{target}/ is empty");
    let files: Vec<_> = corpus
        .into_iter()
        .chain(inputs("regressions", target))
        .collect();
    // In a few threads: the session target mostly waits on its deadlines.
    let threads = 8;
    let failed: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let files = &files;
                scope.spawn(move || {
                    let mut failed = Vec::new();
                    for path in files.iter().skip(i).step_by(threads) {
                        let data = std::fs::read(path).expect("a readable corpus file");
                        if std::panic::catch_unwind(|| body(&data)).is_err() {
                            failed.push(path.display().to_string());
                        }
                    }
                    failed
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker that catches panics"))
            .collect()
    });
    assert!(failed.is_empty(), "{target} fails on {failed:?}");
}

#[test]
fn every_target_has_a_test_here() {
    let names: Vec<&str> = targets::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["reply", "ehlo", "message", "address", "data", "sasl", "session"]
    );
}

#[test]
fn reply_parser_corpus() {
    replay("reply");
}

#[test]
fn ehlo_parser_corpus() {
    replay("ehlo");
}

#[test]
fn header_and_envelope_corpus() {
    replay("message");
}

#[test]
fn address_corpus() {
    replay("address");
}

#[test]
fn data_encoder_round_trip_corpus() {
    replay("data");
}

#[test]
fn sasl_xtext_base64_corpus() {
    replay("sasl");
}

#[test]
fn session_against_a_fuzzed_server_corpus() {
    replay("session");
}
