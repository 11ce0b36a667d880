//! What the attach benchmarks share: sandboxes, the raw-netlink floor and the iproute2 sequence.
#![allow(dead_code)]

use std::{
    fs::File,
    io::Write,
    os::fd::{AsFd, AsRawFd},
    process::{Command, Stdio},
};

use pipework_core::{AttachPlan, Bridge, Guest, Handle, Namespace, attach};
use rtnetlink::{
    AddressMessageBuilder, LinkUnspec, LinkVeth,
    packet_core::{
        NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
    },
    packet_route::{
        AddressFamily, RouteNetlinkMessage,
        address::AddressMessage,
        link::{InfoData, InfoVeth, LinkAttribute, LinkMessage},
        route::{
            RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
            RouteType,
        },
    },
    sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE},
};

/// The address and gateway of the `i`-th guest on a bridge (up to 64k guests).
pub fn addressing(i: usize) -> (String, String) {
    let (hi, lo) = (i / 250, i % 250 + 2);
    (format!("10.{}.{hi}.{lo}/24", 100 + hi / 256), format!("10.{}.{hi}.1", 100 + hi / 256))
}

/// The plan every tool carries out: veth on the bridge, eth1 in the guest, address, up, default route.
pub fn plan(bridge: &str, i: usize) -> AttachPlan {
    let (address, gateway) = addressing(i);
    AttachPlan::bridge(bridge).address(address.parse().unwrap()).gateway(gateway.parse().unwrap())
}

/// A private host namespace with a bridge, for one benchmark run.
pub struct Host {
    pub namespace: Namespace,
    pub handle: Handle,
    pub bridge_index: u32,
    pub name: Option<String>,
}

impl Host {
    /// An anonymous private host with bridge `br-bench`.
    pub fn anonymous() -> Self {
        Self::with(Namespace::create_anonymous().expect("host namespace"), None)
    }

    /// A named private host (for iproute2, which needs names) with bridge `br-bench`.
    pub fn named(name: &str) -> Self {
        Self::with(Namespace::create_named(name).expect("host namespace"), Some(name.to_string()))
    }

    fn with(namespace: Namespace, name: Option<String>) -> Self {
        let handle = Handle::new(&namespace).expect("host handle");
        let bridge = Bridge::new("br-bench").unwrap().ensure(&handle).expect("bridge").link;
        Host { namespace, handle, bridge_index: bridge.index, name }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.name.is_some() {
            let _ = self.namespace.try_clone().map(Namespace::delete);
        }
    }
}

/// pipework-core's attach of guest `i` (with the default announcement of its address).
pub fn pipework_attach(host: &Host, guest: &Guest, i: usize) {
    attach(&host.handle, guest, &plan("br-bench", i)).expect("pipework attach");
}

/// pipework-core's attach of guest `i` without the gratuitous ARP: the floor's exact work.
pub fn pipework_attach_quiet(host: &Host, guest: &Guest, i: usize) {
    attach(&host.handle, guest, &plan("br-bench", i).announce(false)).expect("pipework attach");
}

/// The floor: the same attach with the fewest raw netlink requests, no library in between.
///
/// One RTM_NEWLINK (veth, master, up, peer born in the guest as eth1), then in the guest a
/// lookup of eth1, the address, link up and the default route, each waiting for its ACK.
pub struct Floor {
    host: Socket,
    sequence: u32,
}

impl Floor {
    pub fn new(host: &Host) -> Self {
        Floor { host: socket_in(&host.namespace), sequence: 0 }
    }

    pub fn attach(&mut self, host: &Host, guest: &Namespace, i: usize) {
        let mut guest_socket = socket_in(guest);
        let peer = LinkUnspec::new_with_name("eth1").setns_by_fd(guest.as_fd().as_raw_fd()).build();
        let veth = LinkVeth::new(&format!("fl{i}"), "eth1")
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .controller(host.bridge_index)
            .up()
            .build();
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        self.request(None, RouteNetlinkMessage::NewLink(veth), flags);
        let mut lookup = LinkMessage::default();
        lookup.attributes.push(LinkAttribute::IfName("eth1".into()));
        let answer = self.request(
            Some(&mut guest_socket),
            RouteNetlinkMessage::GetLink(lookup),
            NLM_F_REQUEST,
        );
        let index = match answer {
            Some(RouteNetlinkMessage::NewLink(link)) => link.header.index,
            other => panic!("no eth1: {other:?}"),
        };
        let (address, gateway) = addressing(i);
        let net: ipnet::Ipv4Net = address.parse().unwrap();
        let address: AddressMessage = AddressMessageBuilder::<std::net::Ipv4Addr>::new()
            .index(index)
            .address(net.addr(), net.prefix_len())
            .build();
        self.request(Some(&mut guest_socket), RouteNetlinkMessage::NewAddress(address), flags);
        let up = LinkUnspec::new_with_index(index).up().build();
        self.request(
            Some(&mut guest_socket),
            RouteNetlinkMessage::SetLink(up),
            NLM_F_REQUEST | NLM_F_ACK,
        );
        let mut route = RouteMessage::default();
        route.header.address_family = AddressFamily::Inet;
        route.header.table = RouteHeader::RT_TABLE_MAIN;
        route.header.protocol = RouteProtocol::Boot;
        route.header.scope = RouteScope::Universe;
        route.header.kind = RouteType::Unicast;
        let gateway: std::net::Ipv4Addr = gateway.parse().unwrap();
        route.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        route.attributes.push(RouteAttribute::Oif(index));
        self.request(Some(&mut guest_socket), RouteNetlinkMessage::NewRoute(route), flags);
    }

    fn request(
        &mut self,
        guest: Option<&mut Socket>,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Option<RouteNetlinkMessage> {
        self.sequence += 1;
        let mut packet = NetlinkMessage::from(message);
        packet.header.flags = flags;
        packet.header.sequence_number = self.sequence;
        packet.finalize();
        let mut bytes = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut bytes);
        let socket = guest.unwrap_or(&mut self.host);
        socket.send(&bytes, 0).expect("send");
        let mut buffer = vec![0u8; 16384];
        let len = socket.recv(&mut &mut buffer[..], 0).expect("recv");
        let answer =
            NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buffer[..len]).expect("parse");
        match answer.payload {
            NetlinkPayload::Error(err) if err.code.is_some() => {
                panic!("floor request failed: {err:?}")
            }
            NetlinkPayload::InnerMessage(inner) => Some(inner),
            _ => None,
        }
    }
}

/// A netlink socket opened inside `namespace` (setns, socket, setns back).
fn socket_in(namespace: &Namespace) -> Socket {
    let original = File::open("/proc/thread-self/ns/net").unwrap();
    nix::sched::setns(namespace, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
    let mut socket = Socket::new(NETLINK_ROUTE).expect("socket");
    nix::sched::setns(&original, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns back");
    socket.bind_auto().unwrap();
    socket.connect(&SocketAddr::new(0, 0)).unwrap();
    socket
}

/// The fewest-requests iproute2 sequence (2 processes, 4 change requests) for guest `i`.
///
/// `ip -n HOST link add NAME master BR up type veth peer name eth1 netns GUEST`, then
/// `ip -n GUEST -batch -` with the address, link up and default route.
pub fn iproute2_attach(host: &str, guest: &str, i: usize) {
    let (address, gateway) = addressing(i);
    let status = Command::new("ip")
        .args([
            "-n",
            host,
            "link",
            "add",
            &format!("ip{i}"),
            "master",
            "br-bench",
            "up",
            "type",
            "veth",
            "peer",
            "name",
            "eth1",
            "netns",
            guest,
        ])
        .status()
        .expect("run ip");
    assert!(status.success(), "ip link add failed");
    let mut batch = Command::new("ip")
        .args(["-n", guest, "-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run ip -batch");
    let script = format!(
        "addr add {address} dev eth1\nlink set eth1 up\nroute add default via {gateway} dev eth1\n"
    );
    batch.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    assert!(batch.wait().unwrap().success(), "ip -batch failed");
}

/// The `pipework` binary next to the bench executable (target/release/pipework), if built.
pub fn pipework_binary() -> Option<std::path::PathBuf> {
    let deps = std::env::current_exe().ok()?.parent()?.to_path_buf();
    let binary = deps.parent()?.join("pipework");
    binary.exists().then_some(binary)
}

/// The `pipework` command (a whole process, run inside the host namespace) attaching guest `i`.
pub fn command_attach(
    binary: &std::path::Path,
    host: &Namespace,
    guest: &str,
    i: usize,
    state: &std::path::Path,
) {
    let (address, gateway) = addressing(i);
    let status = host
        .command(binary)
        .expect("command in host namespace")
        .args(["br-bench", guest, &format!("{address}@{gateway}")])
        .env("PIPEWORK_STATE_DIR", state)
        .stdout(Stdio::null())
        .status()
        .expect("run pipework");
    assert!(status.success(), "pipework command failed");
}

/// How long `f` takes, in milliseconds.
pub fn timed(f: impl FnOnce()) -> f64 {
    let start = std::time::Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1e3
}

/// Whether `cargo test --benches` is only probing the bench target (`--list`, `--test`).
pub fn probed() -> bool {
    std::env::args().any(|a| a == "--list" || a == "--test")
}

/// Median, 10th and 90th percentile of samples in milliseconds.
pub fn summary(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.1), at(0.9))
}
