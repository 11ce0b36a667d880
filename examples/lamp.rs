//! The pipework README's first scenario, in a private sandbox: two "containers" on bridge br1,
//! 192.168.1.1/24 and 192.168.1.2/24, reaching each other.
//!
//! Run as root: `cargo run --example lamp`. It creates a private "host" namespace and two
//! "container" namespaces, attaches both to br1 inside the private host, pings across,
//! prints what it did and removes everything, even when a step fails.

use std::{process::ExitCode, time::Duration};

use pipework_core::{AttachPlan, Guest, Handle, attach, ping};

#[path = "support/sandbox.rs"]
mod sandbox;

use sandbox::Sandbox;

fn run() -> pipework_core::Result<()> {
    let prefix = format!("pwdemo{}", std::process::id());
    let mut sandbox = Sandbox(Vec::new());
    let host_ns = sandbox.create(&format!("{prefix}-host"))?;
    let web = Guest::from_namespace(sandbox.create(&format!("{prefix}-web"))?);
    let db = Guest::from_namespace(sandbox.create(&format!("{prefix}-db"))?);
    println!("private host {host_ns}\ncontainers {web} and {db}");

    let host = Handle::new(&host_ns)?;
    for (guest, address) in [(&web, "192.168.1.1/24"), (&db, "192.168.1.2/24")] {
        let plan = AttachPlan::bridge("br1").address(address.parse().expect("literal CIDR"));
        let attachment = attach(&host, guest, &plan)?;
        println!(
            "pipework br1 {} {address}: {} on br1 <-> eth1 (mac {}, mtu {})",
            guest.name.as_deref().unwrap_or("?"),
            attachment.host_ifname,
            attachment.mac.map(|m| m.to_string()).unwrap_or_default(),
            attachment.mtu
        );
    }
    for (from, to) in [(&web, "192.168.1.2"), (&db, "192.168.1.1")] {
        let rtt = ping(&from.namespace, to.parse().expect("literal IP"), Duration::from_secs(5))?;
        println!(
            "{} -> {to}: ICMP echo reply in {:.3} ms",
            from.name.as_deref().unwrap_or("?"),
            rtt.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("lamp demo: OK");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("lamp demo failed: {err}");
            ExitCode::FAILURE
        }
    }
}
