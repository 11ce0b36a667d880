//! The `pipework` command: the original script's grammar over pipework-core.

use clap::Parser;

/// Connect containers and network namespaces to networks.
#[derive(Debug, Parser)]
#[command(name = "pipework", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
