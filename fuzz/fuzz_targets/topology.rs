//! Topology files: any text reads as a lab or fails with an error naming what is wrong.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = pipework_core::topology::Topology::parse(text, "fuzz.clab.yml");
});
