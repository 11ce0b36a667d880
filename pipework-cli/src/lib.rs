//! The grammar of the `pipework` command and its conversion to the core's plans as a library,
//! so the fuzz targets (`fuzz/`) parse exactly what the binary parses and the Python module's
//! watcher plans a container's asks as the command does; the binary itself lives in `main.rs`.

pub mod grammar;
pub mod plan;
