//! One builder shape for every link kind: the birth settings (namespace, MTU, MAC, up, master),
//! parents and masters by index or name, `add` returning the created link, and `GenericLink`
//! for kinds the library does not model; checked against `ip -j -d`.

mod common;

use common::Sandbox;
use pipework_core::{
    Bridge, GenericLink, Handle, MacAddr, Macvlan, MacvlanMode, Namespace, Veth, Vxlan,
};

fn mac(text: &str) -> MacAddr {
    text.parse().unwrap()
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn every_add_returns_the_link_the_kernel_made_with_its_birth_settings() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let guest = Namespace::from_name(&g).unwrap();
    let host = sandbox.host_handle();
    let hostname = sandbox.host_name();

    let bridge = Bridge::new("br-b")
        .unwrap()
        .mtu(1400)
        .mac(mac("02:00:00:00:b0:01"))
        .up()
        .add(&host)
        .unwrap();
    assert_eq!((bridge.name.as_str(), bridge.mtu), ("br-b", 1400));
    assert_eq!(bridge.mac, Some(mac("02:00:00:00:b0:01")));
    assert!(bridge.is_bridge() && bridge.is_up());
    assert_eq!(sandbox.ip_json(&hostname, &["link", "show", "br-b"])[0]["ifindex"], bridge.index);

    // The master by name, this end's MAC, the MTU of both ends.
    let veth = Veth::new("vb0", "vb0p")
        .unwrap()
        .master("br-b")
        .mac(mac("02:00:00:00:b0:02"))
        .mtu(1400)
        .up()
        .add(&host)
        .unwrap();
    assert_eq!(veth.master, Some(bridge.index));
    assert_eq!(veth.mac, Some(mac("02:00:00:00:b0:02")));
    let peer = &sandbox.ip_json(&hostname, &["link", "show", "vb0p"])[0];
    assert_eq!(
        (peer["mtu"].as_u64(), peer["ifindex"].as_u64()),
        (Some(1400), veth.parent.map(u64::from))
    );
    assert_eq!(sandbox.ip_json(&hostname, &["link", "show", "vb0"])[0]["master"], "br-b");

    // The parent by name; born in the guest and read back there.
    Veth::new("phys0", "wire0").unwrap().add(&host).unwrap();
    let child = Macvlan::new("mv0", "phys0", MacvlanMode::Private)
        .unwrap()
        .namespace(&guest)
        .mac(mac("02:00:00:00:b0:03"))
        .mtu(1300)
        .add(&host)
        .unwrap();
    let shown = &sandbox.ip_json(&g, &["link", "show", "mv0"])[0];
    assert_eq!(shown["ifindex"], child.index, "the guest's index, not the host's");
    assert_eq!((child.kind.as_deref(), child.mtu), (Some("macvlan"), 1300));
    assert_eq!(shown["address"], "02:00:00:00:b0:03");
    assert_eq!(shown["linkinfo"]["info_data"]["mode"], "private");

    // The same, read back through a handle the caller already has.
    let guest_handle = Handle::new(&guest).unwrap();
    let tap = Macvlan::new("mvt0", "phys0", MacvlanMode::Bridge)
        .unwrap()
        .tap()
        .namespace_of(&guest_handle)
        .add(&host)
        .unwrap();
    assert_eq!(tap.kind.as_deref(), Some("macvtap"));
    assert_eq!(guest_handle.link("mvt0").unwrap(), tap);

    let vxlan = Vxlan::new("vxb", 7)
        .unwrap()
        .remote("192.0.2.9".parse().unwrap())
        .parent("phys0")
        .mac(mac("02:00:00:00:b0:04"))
        .mtu(1450)
        .up()
        .add(&host)
        .unwrap();
    assert_eq!((vxlan.mtu, vxlan.mac), (1450, Some(mac("02:00:00:00:b0:04"))));
    let shown = &sandbox.ip_json(&hostname, &["link", "show", "vxb"])[0]["linkinfo"];
    assert_eq!(
        (shown["info_data"]["id"].as_u64(), shown["info_data"]["link"].as_str()),
        (Some(7), Some("phys0"))
    );
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_generic_link_carries_its_kind_settings_and_extra_attributes() {
    let sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    // A bridge the generic way: IFLA_BR_AGEING_TIME (4) in the kind's data, IFLA_TXQLEN (13).
    let link = GenericLink::new("gbr0", "bridge")
        .unwrap()
        .info_attribute(4, &30000u32.to_ne_bytes())
        .attribute(13, &42u32.to_ne_bytes())
        .mtu(1234)
        .up()
        .add(&host)
        .unwrap();
    assert!(link.is_bridge() && link.is_up());
    let shown = &sandbox.ip_json(&sandbox.host_name(), &["link", "show", "gbr0"])[0];
    assert_eq!(shown["linkinfo"]["info_data"]["ageing_time"], 30000);
    assert_eq!((shown["txqlen"].as_u64(), shown["mtu"].as_u64()), (Some(42), Some(1234)));
    // A kind the kernel does not know is its refusal, named.
    let err = GenericLink::new("x0", "nosuchkind").unwrap().add(&host).unwrap_err();
    assert!(err.to_string().contains("create link nosuchkind x0"), "{err}");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn ensure_looks_in_the_handles_namespace_and_refuses_another() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let guest = Namespace::from_name(&g).unwrap();
    let host = sandbox.host_handle();
    let err = Bridge::new("br-x").unwrap().namespace(&guest).ensure(&host).unwrap_err();
    assert!(err.to_string().contains("ensure looks for br-x in the handle's namespace"), "{err}");
    assert_eq!(sandbox.link_names(&g), ["lo"]);
    assert_eq!(sandbox.link_names(&sandbox.host_name()), ["lo"]);
}

/// The kinds this machine's kernel lacks, in the VM tier: the same shape, the same answers.
mod tier_vm {
    use pipework_core::{Bridge, Dummy, Handle, Ipvlan, IpvlanMode, Namespace, Veth, Vlan};

    use super::{common::Sandbox, mac};

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn dummy_vlan_and_ipvlan_return_the_links_they_made() {
        let mut sandbox = Sandbox::new();
        let g = sandbox.add_guest("g");
        let guest = Handle::new(&Namespace::from_name(&g).unwrap()).unwrap();
        let host = sandbox.host_handle();
        let hostname = sandbox.host_name();
        let bridge = Bridge::new("br-d").unwrap().up().add(&host).unwrap();
        let dummy = Dummy::new("d0")
            .unwrap()
            .mac(mac("02:00:00:00:d1:01"))
            .master("br-d")
            .add(&host)
            .unwrap();
        assert_eq!((dummy.master, dummy.mac), (Some(bridge.index), Some(mac("02:00:00:00:d1:01"))));
        assert_eq!(sandbox.ip_json(&hostname, &["link", "show", "d0"])[0]["master"], "br-d");
        Veth::new("trunk0", "trunk0p").unwrap().up().add(&host).unwrap();
        let vlan = Vlan::new("trunk0.5", "trunk0", 5)
            .unwrap()
            .mac(mac("02:00:00:00:d1:02"))
            .mtu(1400)
            .add(&host)
            .unwrap();
        let shown = &sandbox.ip_json(&hostname, &["link", "show", "trunk0.5"])[0];
        assert_eq!(
            (shown["ifindex"].as_u64(), shown["mtu"].as_u64()),
            (Some(vlan.index.into()), Some(1400))
        );
        assert_eq!(shown["address"], "02:00:00:00:d1:02");
        assert_eq!(shown["linkinfo"]["info_data"]["id"], 5);
        let ipvlan = Ipvlan::new("eth1", "trunk0", IpvlanMode::L3)
            .unwrap()
            .namespace_of(&guest)
            .add(&host)
            .unwrap();
        assert_eq!(sandbox.ip_json(&g, &["link", "show", "eth1"])[0]["ifindex"], ipvlan.index);
        assert_eq!(ipvlan.kind.as_deref(), Some("ipvlan"));
    }
}
