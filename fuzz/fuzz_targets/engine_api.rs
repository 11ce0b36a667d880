//! An answer on the Docker/Podman Engine API socket: HTTP head, body, JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pipework_core::fuzzing::engine_answer(data));
