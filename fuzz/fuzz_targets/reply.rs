#![no_main]
//! Fuzz target `reply`: the body is `targets::reply` in fuzz/common/targets.rs,
//! which tests/fuzz_replay.rs replays over the committed corpus.

#[allow(dead_code)]
#[path = "../common/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::reply(data));
