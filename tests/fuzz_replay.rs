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
    for path in corpus.iter().chain(inputs("regressions", target).iter()) {
        let data = std::fs::read(path).expect("a readable corpus file");
        let outcome = std::panic::catch_unwind(|| body(&data));
        assert!(outcome.is_ok(), "{} fails {target}", path.display());
    }
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
