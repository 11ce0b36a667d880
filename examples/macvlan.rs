//! The pipework README's "two web servers on physical interfaces" scenario, in a private sandbox:
//! `pipework eth2 web1 198.51.100.10/24` and `pipework eth3 web2 203.0.113.10/24`.
//!
//! Run as root: `cargo run --example macvlan`. The private "host" has two "physical" NICs,
//! eth2 and eth3: veths whose other ends are in an "upstream" namespace standing for the two
//! networks. Each web server gets a macvlan on its NIC; upstream reaches both; the host reaches
//! web1 through a shim; everything is removed at the end, even when a step fails.

use std::{process::ExitCode, time::Duration};

use pipework_core::{AttachPlan, Guest, Handle, MacvlanMode, Veth, attach, ping};

#[path = "support/sandbox.rs"]
mod sandbox;

use sandbox::Sandbox;

fn run() -> pipework_core::Result<()> {
    let prefix = format!("pwmv{}", std::process::id());
    let mut sandbox = Sandbox(Vec::new());
    let host_ns = sandbox.create(&format!("{prefix}-host"))?;
    let upstream_ns = sandbox.create(&format!("{prefix}-up"))?;
    let host = Handle::new(&host_ns)?;
    let upstream = Handle::new(&upstream_ns)?;
    // The two "physical" NICs of the host, cabled to the two upstream networks.
    for (nic, cable, gateway) in
        [("eth2", "net2", "198.51.100.1/24"), ("eth3", "net3", "203.0.113.1/24")]
    {
        Veth::new(nic, cable)?.peer_namespace(&upstream_ns).up().add(&host)?;
        let cable = upstream.link(cable)?;
        upstream.addr_add(cable.index, gateway.parse().expect("literal CIDR"))?;
        upstream.link_set_up(cable.index)?;
        println!("host NIC {nic} is cabled to upstream network {gateway}");
    }
    let web1 = Guest::from_namespace(sandbox.create(&format!("{prefix}-web1"))?);
    let web2 = Guest::from_namespace(sandbox.create(&format!("{prefix}-web2"))?);
    let plan1 = AttachPlan::macvlan("eth2", MacvlanMode::Bridge)
        .address("198.51.100.10/24".parse().expect("literal CIDR"))
        .gateway("198.51.100.1".parse().expect("literal IP"))
        .host_shim("198.51.100.250/32".parse().expect("literal CIDR"));
    let plan2 = AttachPlan::macvlan("eth3", MacvlanMode::Bridge)
        .address("203.0.113.10/24".parse().expect("literal CIDR"))
        .gateway("203.0.113.1".parse().expect("literal IP"));
    for (guest, plan) in [(&web1, &plan1), (&web2, &plan2)] {
        let attachment = attach(&host, guest, plan)?;
        println!(
            "pipework {} {} {}: macvlan eth1 (mac {}) on {}{}",
            attachment.host_ifname,
            guest.name.as_deref().unwrap_or("?"),
            plan.addresses[0],
            attachment.mac.map(|m| m.to_string()).unwrap_or_default(),
            attachment.host_ifname,
            attachment
                .shim
                .as_ref()
                .map(|s| format!(", host shim {} {}", s.name, s.address))
                .unwrap_or_default(),
        );
    }
    for (from, to) in [
        (&upstream_ns, "198.51.100.10"),
        (&upstream_ns, "203.0.113.10"),
        (&host_ns, "198.51.100.10"),
    ] {
        let rtt = ping(from, to.parse().expect("literal IP"), Duration::from_secs(5))?;
        println!("{from} -> {to}: ICMP echo reply in {:.3} ms", rtt.as_secs_f64() * 1e3);
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("macvlan demo: OK");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("macvlan demo failed: {err}");
            ExitCode::FAILURE
        }
    }
}
