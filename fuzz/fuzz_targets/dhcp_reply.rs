//! A packet heard on a guest's DHCP client port (IPv4 + UDP + BOOTP with options).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pipework_core::fuzzing::dhcp_reply(data));
