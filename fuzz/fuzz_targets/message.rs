#![no_main]
//! Fuzz target `message`: the body is `targets::message` in fuzz/common/targets.rs,
//! which tests/fuzz_replay.rs replays over the committed corpus.

#[allow(dead_code)]
#[path = "../common/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::message(data));
