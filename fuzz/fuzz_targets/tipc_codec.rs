//! A TIPCv2 generic-netlink message from the kernel: first byte the command, then attributes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pipework_core::fuzzing::tipc_message(data));
