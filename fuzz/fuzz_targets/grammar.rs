//! The `pipework` command line: any words, split on NUL bytes, parse or fail with a usage error.
#![no_main]

use std::ffi::OsString;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let args: Vec<OsString> =
        std::iter::once("pipework").chain(text.split('\0')).map(OsString::from).collect();
    let _ = pipework_cli::grammar::parse(&args);
});
