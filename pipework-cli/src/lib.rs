//! The grammar of the `pipework` command as a library, so the fuzz targets (`fuzz/`) parse
//! exactly what the binary parses; the binary itself lives in `main.rs`.

pub mod grammar;
