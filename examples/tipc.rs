//! A four-node TIPC bus: four "containers" on one bridge, configured as one TIPC network by
//! `TipcBus`, then a message sent by service name from one to another.
//!
//! Run as root on a kernel with TIPC: `cargo run --example tipc`. Where the host kernel has
//! no TIPC, run it in the project's VM: `cargo build --example tipc && scripts/vm-test.sh
//! target/debug/examples/tipc`. Every namespace is anonymous, so nothing outlives the demo.

use std::{process::ExitCode, time::Duration};

use pipework_core::{
    AttachPlan, Error, Guest, Handle, Namespace, attach,
    tipc::{TipcBus, TipcService},
};

const CONTAINERS: [&str; 4] = ["web", "db", "cache", "queue"];

fn run() -> pipework_core::Result<()> {
    let host_ns = Namespace::create_anonymous()?;
    let host = Handle::new(&host_ns)?;
    let mut guests = Vec::new();
    for name in CONTAINERS {
        let mut guest = Guest::from_namespace(Namespace::create_anonymous()?);
        guest.name = Some(name.to_string());
        attach(&host, &guest, &AttachPlan::bridge("br0").guest_ifname("eth0"))?;
        println!("pipework br0 -i eth0 {name}");
        guests.push(guest);
    }

    let bus = TipcBus::new().net_id(4242);
    let report = bus.configure(&guests)?;
    println!("\nTIPC bus, network id 4242:\n{report}");

    let service = TipcService::new(18888, 1)?;
    let listener = service.bind(&guests[3].namespace)?;
    service.send(&guests[0].namespace, b"hello from web", Duration::from_secs(10))?;
    let datagram = listener.recv(Duration::from_secs(10))?;
    println!(
        "queue received {:?} from node {:08x} (web) on service {service}",
        String::from_utf8_lossy(&datagram.data),
        datagram.node
    );

    let again = bus.configure(&guests)?;
    println!("configured again: changed = {}", again.changed());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err @ Error::Unsupported { .. }) => {
            eprintln!("{err}");
            eprintln!("run it in the VM: scripts/vm-test.sh target/debug/examples/tipc");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("tipc demo failed: {err}");
            ExitCode::FAILURE
        }
    }
}
