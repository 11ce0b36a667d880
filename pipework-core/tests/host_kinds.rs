//! Macvlan, macvtap, physical move, host detection, the host shim, announcements and VXLAN,
//! against the real kernel. The "physical" parents are veths made inside the private host.

mod common;

use std::{
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    process::Command,
    sync::mpsc,
    time::{Duration, Instant},
};

use common::Sandbox;
use pipework_core::{
    AttachPlan, Handle, HostKind, IpNet, MacAddr, Veth, Vxlan, attach, attach::detect,
    link::MacvlanMode,
};

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

/// A "physical" device in the private host: a veth whose peer (the wire) is up there too.
fn physical(sandbox: &Sandbox, name: &str, wire: &str) -> Handle {
    let host = sandbox.host_handle();
    Veth::new(name, wire).unwrap().add(&host).unwrap();
    host.link_set_up(wire).unwrap();
    host.link_set_up(name).unwrap();
    host
}

fn run(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(status.success(), "{args:?}");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn macvlan_bridge_mode_guests_reach_each_other_and_private_ones_do_not() {
    let mut sandbox = Sandbox::new();
    let (a, b, c, d) = (
        sandbox.add_guest("a"),
        sandbox.add_guest("b"),
        sandbox.add_guest("c"),
        sandbox.add_guest("d"),
    );
    let host = physical(&sandbox, "phys0", "wire0");
    host.link_set_mtu("phys0", 1400).unwrap();
    let mac = MacAddr::parse("02:00:00:00:0a:02").unwrap();
    let plan = |address: &str, mode| AttachPlan::macvlan("phys0", mode).address(net(address));
    let att_a =
        attach(&host, &sandbox.guest(&a), &plan("10.1.0.2/24", MacvlanMode::Bridge).mac(mac))
            .unwrap();
    attach(&host, &sandbox.guest(&b), &plan("10.1.0.3/24", MacvlanMode::Bridge)).unwrap();
    let shown = &sandbox.ip_json(&a, &["link", "show", "eth1"])[0];
    assert_eq!(shown["linkinfo"]["info_kind"], "macvlan");
    assert_eq!(shown["linkinfo"]["info_data"]["mode"], "bridge");
    assert_eq!(shown["address"], "02:00:00:00:0a:02");
    assert_eq!(shown["mtu"], 1400, "inherits the parent's MTU");
    assert_eq!(att_a.host_ifname, "phys0");
    assert!(sandbox.ping(&a, "10.1.0.3"), "bridge mode: siblings reach each other");
    // Private mode on the same parent: siblings never reach each other.
    attach(&host, &sandbox.guest(&c), &plan("10.1.0.4/24", MacvlanMode::Private)).unwrap();
    attach(&host, &sandbox.guest(&d), &plan("10.1.0.5/24", MacvlanMode::Private)).unwrap();
    assert_eq!(
        sandbox.ip_json(&c, &["link", "show", "eth1"])[0]["linkinfo"]["info_data"]["mode"],
        "private"
    );
    assert!(!sandbox.ping(&c, "10.1.0.5"), "private mode isolates");
    // The same attach again changes nothing.
    let again =
        attach(&host, &sandbox.guest(&a), &plan("10.1.0.2/24", MacvlanMode::Bridge).mac(mac))
            .unwrap();
    assert_eq!(again.status, pipework_core::AttachStatus::AlreadyAttached);
    att_a.detach(&host, Some(&Handle::new(&sandbox.guest(&a).namespace).unwrap())).unwrap();
    assert_eq!(sandbox.link_names(&a), ["lo"]);
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn vepa_sends_everything_to_the_switch_which_must_hairpin() {
    let mut sandbox = Sandbox::new();
    let (a, b) = (sandbox.add_guest("a"), sandbox.add_guest("b"));
    let host = physical(&sandbox, "phys0", "wire0");
    for (guest, address) in [(&a, "10.3.0.2/24"), (&b, "10.3.0.3/24")] {
        attach(
            &host,
            &sandbox.guest(guest),
            &AttachPlan::macvlan("phys0", MacvlanMode::Vepa).address(net(address)),
        )
        .unwrap();
    }
    // The wire's far end is no switch: nothing comes back.
    assert!(!sandbox.ping(&a, "10.3.0.3"), "vepa without a hairpinning switch");
    // Make the far end a bridge port in hairpin mode (a VEPA-capable switch): now they meet.
    let switch = pipework_core::Bridge::new("sw0").unwrap().ensure(&host).unwrap().link;
    host.link_set_master("wire0", switch.index).unwrap();
    run(&["bridge", "-n", &sandbox.host_name(), "link", "set", "dev", "wire0", "hairpin", "on"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sandbox.ping(&a, "10.3.0.3") {
        assert!(Instant::now() < deadline, "vepa through a hairpinning switch");
    }
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn passthru_takes_the_whole_parent_and_source_and_macvtap_are_created() {
    let mut sandbox = Sandbox::new();
    let (a, b, c) = (sandbox.add_guest("a"), sandbox.add_guest("b"), sandbox.add_guest("c"));
    let host = physical(&sandbox, "phys0", "wire0");
    attach(&host, &sandbox.guest(&a), &AttachPlan::macvlan("phys0", MacvlanMode::Passthru))
        .unwrap();
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&b));
    let err = attach(&host, &sandbox.guest(&b), &AttachPlan::macvlan("phys0", MacvlanMode::Bridge))
        .unwrap_err();
    assert!(err.to_string().contains("create link macvlan eth1 on link"), "{err}");
    assert_eq!(
        before,
        (sandbox.state(&sandbox.host_name()), sandbox.state(&b)),
        "refused, nothing changed"
    );
    let host2 = physical(&sandbox, "phys1", "wire1");
    attach(&host2, &sandbox.guest(&b), &AttachPlan::macvlan("phys1", MacvlanMode::Source)).unwrap();
    assert_eq!(
        sandbox.ip_json(&b, &["link", "show", "eth1"])[0]["linkinfo"]["info_data"]["mode"],
        "source"
    );
    attach(
        &host2,
        &sandbox.guest(&c),
        &AttachPlan::macvtap("phys1", MacvlanMode::Bridge).guest_ifname("tap1"),
    )
    .unwrap();
    assert_eq!(
        sandbox.ip_json(&c, &["link", "show", "tap1"])[0]["linkinfo"]["info_kind"],
        "macvtap"
    );
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn the_host_reaches_a_macvlan_guest_only_through_the_shim() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = physical(&sandbox, "phys0", "wire0");
    let parent = host.link("phys0").unwrap();
    host.addr_add(parent.index, net("10.4.0.1/24")).unwrap();
    let hostname = sandbox.host_name();
    let plan = AttachPlan::macvlan("phys0", MacvlanMode::Bridge).address(net("10.4.0.2/24"));
    let plain = attach(&host, &sandbox.guest(&g), &plan).unwrap();
    assert!(!sandbox.ping(&hostname, "10.4.0.2"), "macvlan: the parent cannot reach its children");
    plain.detach(&host, Some(&Handle::new(&sandbox.guest(&g).namespace).unwrap())).unwrap();
    let with_shim =
        attach(&host, &sandbox.guest(&g), &plan.clone().host_shim(net("10.4.0.254/32"))).unwrap();
    let shim = with_shim.shim.clone().expect("shim recorded");
    assert_eq!(
        sandbox.ip_json(&hostname, &["link", "show", &shim.name])[0]["linkinfo"]["info_kind"],
        "macvlan"
    );
    assert_eq!(
        sandbox.ip_json(&hostname, &["route", "show", "10.4.0.2"])[0]["dev"],
        shim.name.as_str()
    );
    assert!(sandbox.ping(&hostname, "10.4.0.2"), "through the shim");
    let parent_addresses =
        sandbox.ip_json(&hostname, &["addr", "show", "phys0"])[0]["addr_info"].clone();
    with_shim.detach(&host, Some(&Handle::new(&sandbox.guest(&g).namespace).unwrap())).unwrap();
    assert!(!sandbox.link_names(&hostname).contains(&shim.name), "shim removed");
    assert_eq!(
        sandbox.ip_json(&hostname, &["addr", "show", "phys0"])[0]["addr_info"],
        parent_addresses,
        "parent untouched"
    );
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_physical_device_moves_in_renamed_and_comes_back_as_it_was() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = physical(&sandbox, "phys9", "wire9");
    host.link_set_mtu("phys9", 1450).unwrap();
    let wire = host.link("wire9").unwrap();
    host.addr_add(wire.index, net("10.5.0.1/24")).unwrap();
    let hostname = sandbox.host_name();
    let before = sandbox.ip_json(&hostname, &["link", "show", "phys9"])[0].clone();
    let plan = AttachPlan::physical("phys9").guest_ifname("data0").address(net("10.5.0.2/24"));
    let attachment = attach(&host, &sandbox.guest(&g), &plan).unwrap();
    assert!(!sandbox.link_names(&hostname).contains(&"phys9".to_string()), "moved out of the host");
    let inside = &sandbox.ip_json(&g, &["link", "show", "data0"])[0];
    assert_eq!(inside["mtu"], 1450);
    assert_eq!(inside["address"], before["address"]);
    assert!(sandbox.ping(&hostname, "10.5.0.2"), "reachable in the guest");
    attachment.detach(&host, Some(&Handle::new(&sandbox.guest(&g).namespace).unwrap())).unwrap();
    let back = &sandbox.ip_json(&hostname, &["link", "show", "phys9"])[0];
    assert_eq!(
        (back["mtu"].clone(), back["address"].clone()),
        (before["mtu"].clone(), before["address"].clone())
    );
    assert!(back["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "up again, as before");
    assert_eq!(sandbox.link_names(&g), ["lo"]);
    // Destroying the guest with a virtual device inside: the kernel deletes it (and its veth
    // peer) instead of returning it; a real NIC would return to the initial namespace.
    let gone = pipework_core::Namespace::create_named(&format!("{}-gone", sandbox.prefix)).unwrap();
    let guest = pipework_core::Guest::from_namespace(gone.try_clone().unwrap());
    attach(&host, &guest, &AttachPlan::physical("phys9")).unwrap();
    drop(guest);
    gone.delete().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sandbox.link_names(&hostname).contains(&"wire9".to_string()) {
        assert!(Instant::now() < deadline, "the pair goes with the namespace");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!sandbox.link_names(&hostname).contains(&"phys9".to_string()));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn addresses_are_announced_with_the_guest_mac() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    pipework_core::Bridge::new("br-arp").unwrap().ensure(&host).unwrap();
    // Listen on every interface of the private host (the announcement reaches the veth's host
    // end even while the new bridge port is not forwarding yet), from a thread that entered it.
    let host_ns = sandbox.host().try_clone().unwrap();
    let (ready_tx, ready) = mpsc::channel();
    let listener = std::thread::spawn(move || {
        nix::sched::setns(&host_ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        // SAFETY: a packet socket for all protocols, owned at once.
        let fd = unsafe {
            libc::socket(libc::AF_PACKET, libc::SOCK_RAW, (libc::ETH_P_ALL as u16).to_be() as i32)
        };
        assert!(fd >= 0);
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        address.sll_family = libc::AF_PACKET as u16;
        address.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        address.sll_ifindex = 0;
        assert_eq!(
            unsafe {
                libc::bind(
                    fd,
                    (&raw const address).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            },
            0
        );
        let timeout = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                16,
            )
        };
        ready_tx.send(()).unwrap();
        let mut frames = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let mut buffer = [0u8; 2048];
            let n = unsafe {
                libc::recv(socket.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len(), 0)
            };
            if n > 0 {
                frames.push(buffer[..n as usize].to_vec());
            }
        }
        frames
    });
    ready.recv().unwrap();
    let plan =
        AttachPlan::bridge("br-arp").address(net("10.6.0.2/24")).address(net("2001:db8:6::2/64"));
    let attachment = attach(&host, &sandbox.guest(&g), &plan).unwrap();
    assert!(attachment.warnings.is_empty(), "{:?}", attachment.warnings);
    let mac = attachment.mac.unwrap().octets();
    let frames = listener.join().unwrap();
    let arp = frames
        .iter()
        .find(|f| f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[28..32] == [10, 6, 0, 2]);
    let arp = arp.expect("a gratuitous ARP for 10.6.0.2");
    assert_eq!(&arp[22..28], &mac, "ARP sender MAC");
    assert_eq!(&arp[6..12], &mac, "Ethernet source");
    let target: std::net::Ipv6Addr = "2001:db8:6::2".parse().unwrap();
    let na = frames.iter().find(|f| {
        f.len() >= 86 && f[12..14] == [0x86, 0xdd] && f[54] == 136 && f[62..78] == target.octets()
    });
    let na = na.expect("an unsolicited neighbour advertisement");
    assert_eq!(&na[80..86], &mac, "target link-layer address option");
    // The switches that made the kernel announce: on here, off with .announce(false).
    let sysctl = |ns: &str, path: &str| {
        let out = Command::new("ip").args(["netns", "exec", ns, "cat", path]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(sysctl(&g, "/proc/sys/net/ipv4/conf/eth1/arp_notify"), "1");
    assert_eq!(sysctl(&g, "/proc/sys/net/ipv6/conf/eth1/ndisc_notify"), "1");
    let quiet = sandbox.add_guest("quiet");
    let plan = AttachPlan::bridge("br-arp")
        .address(net("10.6.0.3/24"))
        .address(net("2001:db8:6::3/64"))
        .announce(false);
    attach(&host, &sandbox.guest(&quiet), &plan).unwrap();
    assert_eq!(sysctl(&quiet, "/proc/sys/net/ipv4/conf/eth1/arp_notify"), "0");
    assert_eq!(sysctl(&quiet, "/proc/sys/net/ipv6/conf/eth1/ndisc_notify"), "0");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn detection_reads_each_kind_and_mac_selection_ignores_case() {
    let mut sandbox = Sandbox::new();
    let _g = sandbox.add_guest("g");
    let host = physical(&sandbox, "phys0", "wire0");
    pipework_core::Bridge::new("brdet").unwrap().ensure(&host).unwrap();
    host.link_set_mac("phys0", MacAddr::parse("02:ab:cd:00:00:01").unwrap()).unwrap();
    let kind = |arg: &str| detect(&host, arg).map(|d| d.kind);
    assert_eq!(kind("brdet").unwrap(), HostKind::LinuxBridge);
    assert_eq!(kind("phys0").unwrap(), HostKind::Physical);
    assert_eq!(kind("lo").unwrap(), HostKind::Loopback);
    assert_eq!(kind("br-new").unwrap(), HostKind::NewLinuxBridge);
    assert_eq!(kind("ovsbr9").unwrap(), HostKind::NewOvsBridge);
    assert_eq!(kind("dummy3").unwrap(), HostKind::NewDummy);
    let err = kind("eth9").unwrap_err().to_string();
    assert!(err.contains("host interface eth9") && err.contains("br*, ovs* and dummy*"), "{err}");
    let by_mac = detect(&host, "mac:02:AB:CD:00:00:01").unwrap();
    assert_eq!((by_mac.name.as_str(), by_mac.kind), ("phys0", HostKind::Physical));
    let err = detect(&host, "mac:02:ab:cd:00:00:99").unwrap_err().to_string();
    assert!(err.contains("MAC 02:ab:cd:00:00:99"), "{err}");
    let err = detect(&host, "mac:nonsense").unwrap_err().to_string();
    assert!(err.contains("mac: host interface"), "{err}");
    host.link_set_mac("wire0", MacAddr::parse("02:ab:cd:00:00:01").unwrap()).unwrap();
    let err = detect(&host, "mac:02:ab:cd:00:00:01").unwrap_err().to_string();
    assert!(
        err.contains("several host interfaces") && err.contains("phys0") && err.contains("wire0"),
        "{err}"
    );
    // What each kind becomes by default (the original's way), and with options.
    use pipework_core::{HostSide, attach::HostChoice};
    let side = |name: &str, choice: HostChoice| detect(&host, name).unwrap().host_side(&choice);
    let direct = HostChoice { direct_phys: true, ..Default::default() };
    let vepa_tap =
        HostChoice { macvlan_mode: Some(MacvlanMode::Vepa), macvtap: true, ..Default::default() };
    assert!(matches!(
        side("phys0", HostChoice::default()).unwrap(),
        HostSide::Macvlan { mode: MacvlanMode::Bridge, tap: false, .. }
    ));
    assert!(matches!(
        side("phys0", vepa_tap).unwrap(),
        HostSide::Macvlan { mode: MacvlanMode::Vepa, tap: true, .. }
    ));
    assert!(matches!(side("phys0", direct).unwrap(), HostSide::Physical { .. }));
    assert!(side("brdet", direct).is_err());
    let err = side("brdet", vepa_tap).unwrap_err().to_string();
    assert!(err.contains("needs a physical parent"), "{err}");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn vxlan_devices_carry_their_vni_remote_and_port() {
    let sandbox = Sandbox::new();
    let host = physical(&sandbox, "under0", "wire0");
    let under = host.link("under0").unwrap();
    Vxlan::new("vx42", 42)
        .unwrap()
        .remote("192.0.2.7".parse().unwrap())
        .port(4789)
        .parent(under.index)
        .add(&host)
        .unwrap();
    let shown = &sandbox.ip_json(&sandbox.host_name(), &["link", "show", "vx42"])[0]["linkinfo"];
    assert_eq!(shown["info_kind"], "vxlan");
    assert_eq!(shown["info_data"]["id"], 42);
    assert_eq!(shown["info_data"]["remote"], "192.0.2.7");
    assert_eq!(shown["info_data"]["port"], 4789);
    assert_eq!(shown["info_data"]["link"], "under0");
    let err = Vxlan::new("vx0", 1 << 24).unwrap_err().to_string();
    assert!(err.contains("invalid vni"), "{err}");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn bad_host_sides_are_refused_and_change_nothing() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = physical(&sandbox, "phys0", "wire0");
    pipework_core::Bridge::new("brbad").unwrap().ensure(&host).unwrap();
    // A device that lives in the guest already.
    Veth::new("away0h", "away0")
        .unwrap()
        .peer_namespace(&sandbox.guest(&g).namespace)
        .add(&host)
        .unwrap();
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let cases: Vec<(AttachPlan, &str)> = vec![
        (AttachPlan::macvlan("nope0", MacvlanMode::Bridge), "parent interface nope0"),
        (AttachPlan::macvlan("brbad", MacvlanMode::Bridge), "is a bridge"),
        (AttachPlan::macvlan("lo", MacvlanMode::Bridge), "loopback"),
        (AttachPlan::physical("away0"), "is it already in another namespace"),
        (AttachPlan::physical("brbad"), "cannot move"),
        (AttachPlan::bridge("brbad").host_shim(net("10.9.9.9/32")), "only a macvlan guest"),
        (
            AttachPlan::macvlan("phys0", MacvlanMode::Bridge).host_shim(net("10.9.9.9/32")),
            "no address",
        ),
        (AttachPlan::macvlan("phys0", MacvlanMode::Bridge).host_ifname("x0"), "(-l)"),
    ];
    for (plan, why) in cases {
        let err = attach(&host, &sandbox.guest(&g), &plan).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(why), "{why}: {text}");
        // What the device is on this system is a conflict (exit 1), not a malformed argument.
        let state_refusal = ["is a bridge", "loopback", "cannot move"].contains(&why);
        assert_eq!(matches!(err, pipework_core::Error::Conflict { .. }), state_refusal, "{text}");
    }
    let err = "hairpin".parse::<MacvlanMode>().unwrap_err().to_string();
    assert!(err.contains("macvlan mode"), "{err}");
    assert_eq!(before, (sandbox.state(&sandbox.host_name()), sandbox.state(&g)));
}
