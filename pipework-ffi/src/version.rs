//! The library's version, to compare with the header's `PIPEWORK_VERSION`.

use std::ffi::c_char;

use crate::panic::value_boundary;

/// The version of the library, as a static NUL-terminated string such as "0.1.0".
///
/// It equals the header's `PIPEWORK_VERSION` when header and library match.
#[unsafe(no_mangle)]
pub extern "C" fn pipework_version() -> *const c_char {
    value_boundary(std::ptr::null(), || {
        Ok(concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_crate_version_and_matches_the_committed_header() {
        let version = unsafe { std::ffi::CStr::from_ptr(pipework_version()) }.to_str().unwrap();
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
        let header = include_str!("../include/pipework.h");
        assert!(header.contains(&format!("#define PIPEWORK_VERSION \"{version}\"")));
    }
}
