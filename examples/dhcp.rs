//! The pipework README's DHCP scenario, in a private sandbox: `pipework br-lan web dhcp U:web`
//! against a real DHCP server, the lease kept and renewed, then given back by detach.
//!
//! Run as root with dnsmasq installed (`apt-get install dnsmasq-base`):
//! `cargo run --example dhcp`. It builds a private "host" namespace with bridge br-lan, a
//! "lan" namespace on it where dnsmasq serves 10.88.0.0/24, and a "web" container; attaches
//! web with pipework's own DHCP client; pings the router; releases; and removes everything
//! (dnsmasq is stopped by its PID), even when a step fails.

#[path = "support/dhcp_lan.rs"]
mod dhcp_lan;
#[path = "support/sandbox.rs"]
mod sandbox;

use std::{process::ExitCode, time::Duration};

use dhcp_lan::DhcpLan;
use pipework_core::{AttachPlan, DhcpLease, Handle, MacAddr, attach, dhcp::DhcpSpec, ping};

fn run() -> Result<(), String> {
    let error = |e: pipework_core::Error| e.to_string();
    let mut lan = DhcpLan::start(&format!("pwdhcp{}", std::process::id()))?;
    let web = lan.guest("web")?;
    println!("LAN 10.88.0.0/24 on br-lan, dnsmasq at 10.88.0.1");

    // pipework br-lan web dhcp U:web
    let spec = DhcpSpec::parse("dhcp").map_err(error)?.expect("a DHCP word");
    let mac = MacAddr::parse_pipework("U:web").map_err(error)?;
    let plan = AttachPlan::bridge("br-lan").mac(mac).dhcp(spec.clone());
    let attachment = attach(&lan.host, &web, &plan).map_err(error)?;
    let lease = &attachment.dhcp.as_ref().expect("a DHCP attach records its lease").lease;
    println!(
        "pipework br-lan web dhcp U:web: eth1 {mac} got {} via {} for {}s (DNS {:?}, host name {:?})",
        lease.address,
        lease.router.map(|r| r.to_string()).unwrap_or_default(),
        lease.lease_secs.unwrap_or_default(),
        lease.dns_servers,
        lease.hostname.as_deref().unwrap_or("-"),
    );
    let router = "10.88.0.1".parse().expect("literal IP");
    let rtt = ping(&web.namespace, router, Duration::from_secs(5)).map_err(error)?;
    println!("web -> router 10.88.0.1: ICMP echo reply in {:.3} ms", rtt.as_secs_f64() * 1e3);

    // The command's --foreground: the lease is kept (renewed at T1) while this value lives.
    let kept = DhcpLease::adopt(&web, lease, &spec.config).map_err(error)?;
    println!(
        "kept in the foreground: renewing in {}s ({:?} left of the lease)",
        kept.record().renew_secs.unwrap_or_default(),
        kept.record().remaining().unwrap_or_default()
    );
    drop(kept);

    // Detach gives the lease back (DHCPRELEASE) and removes the interface.
    println!("server's leases before detach: {}", lan.leases().trim());
    let web_handle = Handle::new(&web.namespace).map_err(error)?;
    attachment.detach(&lan.host, Some(&web_handle)).map_err(error)?;
    let after = lan.leases();
    println!(
        "server's leases after detach: {}",
        if after.trim().is_empty() { "none" } else { after.trim() }
    );
    if !after.trim().is_empty() {
        return Err("the server still holds the lease".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("dhcp demo: OK");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("dhcp demo failed: {err}");
            ExitCode::FAILURE
        }
    }
}
