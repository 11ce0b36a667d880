//! Criterion benchmark of obtaining and releasing a DHCP lease against dnsmasq in a private
//! LAN: pipework's own client, and busybox udhcpc run once inside the guest for reference
//! (its lease is not given back: the once-run client is gone; detach removes the address).
//! Run as root with dnsmasq and udhcpc installed (scripts/tier-dhcp.sh installs them):
//! `cargo bench --bench dhcp`.

#[path = "../examples/support/dhcp_lan.rs"]
mod dhcp_lan;
#[path = "../examples/support/sandbox.rs"]
mod sandbox;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use dhcp_lan::DhcpLan;
use pipework_core::{
    AttachPlan, DhcpLease, attach,
    dhcp::{DhcpSpec, obtain},
};

fn lease(c: &mut Criterion) {
    let mut lan = DhcpLan::start(&format!("pwbench{}", std::process::id())).expect("the LAN");
    let guest = lan.guest("g").expect("a guest");
    // One interface on the LAN, addressed by each client in turn.
    let attachment = attach(&lan.host, &guest, &AttachPlan::bridge("br-lan")).expect("attach");
    let ifname = attachment.plan.guest_ifname.clone();
    let config = DhcpSpec::native().config;
    let mut group = c.benchmark_group("dhcp_lease");
    group.sample_size(20).measurement_time(Duration::from_secs(15));
    group.bench_function("native_acquire_release", |b| {
        b.iter(|| DhcpLease::acquire(&guest, &ifname, &config).unwrap().release().unwrap())
    });
    // Every measured native lease was given back: the server holds none.
    assert_eq!(lan.leases().trim(), "", "leases left on the server");
    let udhcpc = DhcpSpec::parse("udhcpc").unwrap().unwrap();
    group.bench_function("udhcpc_once_release", |b| {
        b.iter(|| obtain(&guest, &ifname, &udhcpc).unwrap().release(Some(&guest)).unwrap())
    });
    group.finish();
    attachment.detach(&lan.host, None).expect("detach");
}

criterion_group!(benches, lease);
criterion_main!(benches);
