//! Generates the C header from the crate's source and gives the shared library its SONAME.
//!
//! The header lands in `$OUT_DIR/pipework.h`; `scripts/ffi-header.sh` copies it to the
//! committed `include/pipework.h`, or with `--check` fails when the two differ.

use std::{env, path::PathBuf};

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let version = env::var("CARGO_PKG_VERSION").expect("set by cargo");
    let part = |name: &str| env::var(format!("CARGO_PKG_VERSION_{name}")).expect("set by cargo");

    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    config.after_includes = Some(format!(
        "\n#define PIPEWORK_VERSION \"{version}\"\n#define PIPEWORK_VERSION_MAJOR {}\n\
         #define PIPEWORK_VERSION_MINOR {}\n#define PIPEWORK_VERSION_PATCH {}",
        part("MAJOR"),
        part("MINOR"),
        part("PATCH"),
    ));
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("generate the C header from src/")
        .write_to_file(out_dir.join("pipework.h"));

    // No ABI stability is promised before 1.0, so the SONAME carries the exact version.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpipework.so.{version}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
}
