//! The lease keeper daemon of `--daemon` DHCP: started by pipework, not by hand.
//!
//! It takes the lease to keep as its last argument and the guest's namespace and a
//! readiness pipe as descriptors 3 and 4 (see `pipework_core::dhcp::serve_keeper`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(pipework_core::dhcp::serve_keeper(&args));
}
