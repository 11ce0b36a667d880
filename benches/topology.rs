//! Same-run comparison of a 50-node, 100-link lab (a ring and its chords, a /30 on every link):
//! `topology::apply` and `destroy`, the same requests made directly with the core's building
//! blocks (no plan, record or lock: the floor), and iproute2 with the fewest processes (one
//! batch for the namespaces and veth pairs, one per namespace for addresses and links up, one
//! batch to delete the namespaces), interleaved round by round.
//!
//! Run as root: `cargo bench --bench topology` (PW_ROUNDS=5 by default). Prints a Markdown table
//! with medians, p10/p90 and the ratios the design targets.

mod support;

use std::{io::Write, process::Command};

use pipework_core::{Handle, Namespace, StateStore, Veth, topology};

const NODES: usize = 50;

/// Link `k` of the lab: its two nodes, interface names and addresses. Links 0..50 are the ring
/// (node k to k+1, `r` interfaces), 50..100 the chords (node k to k+2, `c` interfaces).
fn link(k: usize) -> ((usize, String, String), (usize, String, String)) {
    let (a, b, kind) = if k < NODES {
        (k, (k + 1) % NODES, 'r')
    } else {
        (k - NODES, (k - NODES + 2) % NODES, 'c')
    };
    let base = k * 4;
    let address = |host: usize| {
        format!("10.{}.{}.{}/30", 100 + base / 65536, (base / 256) % 256, base % 256 + host)
    };
    ((a, format!("{kind}o"), address(1)), (b, format!("{kind}i"), address(2)))
}

fn lab_file(lab: &str) -> String {
    let mut text = format!("name: {lab}\ntopology:\n  nodes:\n");
    for n in 0..NODES {
        text += &format!("    n{n}: {{kind: linux}}\n");
    }
    text += "  links:\n";
    for k in 0..2 * NODES {
        let ((a, ai, aa), (b, bi, ba)) = link(k);
        text += &format!(
            "    - endpoints: [\"n{a}:{ai}\", \"n{b}:{bi}\"]\n      pipework: {{endpoints: [{{addresses: [{aa}]}}, {{addresses: [{ba}]}}]}}\n"
        );
    }
    text
}

/// The floor: the namespaces, then each veth pair born in its two namespaces, addressed, up.
fn floor_apply(lab: &str) -> Vec<Namespace> {
    let namespaces: Vec<Namespace> =
        (0..NODES).map(|n| Namespace::create_named(&format!("{lab}-n{n}")).unwrap()).collect();
    let handles: Vec<Handle> = namespaces.iter().map(|ns| Handle::new(ns).unwrap()).collect();
    for k in 0..2 * NODES {
        let ((a, ai, aa), (b, bi, ba)) = link(k);
        let made = Veth::new(&ai, &bi)
            .unwrap()
            .peer_namespace(&namespaces[b])
            .up()
            .add(&handles[a])
            .unwrap();
        handles[a].addr_add(made.index, aa.parse().unwrap()).unwrap();
        let peer = handles[b].link(bi.as_str()).unwrap();
        handles[b].addr_add(peer.index, ba.parse().unwrap()).unwrap();
        handles[b].link_set_up(peer.index).unwrap();
    }
    namespaces
}

/// iproute2 with the fewest processes.
fn iproute2_apply(lab: &str) {
    let mut batch = String::new();
    for n in 0..NODES {
        batch += &format!("netns add {lab}-n{n}\n");
    }
    let mut per_namespace = vec![String::new(); NODES];
    for k in 0..2 * NODES {
        let ((a, ai, aa), (b, bi, ba)) = link(k);
        batch +=
            &format!("link add {ai} netns {lab}-n{a} type veth peer name {bi} netns {lab}-n{b}\n");
        per_namespace[a] += &format!("addr add {aa} dev {ai}\nlink set {ai} up\n");
        per_namespace[b] += &format!("addr add {ba} dev {bi}\nlink set {bi} up\n");
    }
    ip_batch(None, &batch);
    for (n, lines) in per_namespace.iter().enumerate() {
        ip_batch(Some(&format!("{lab}-n{n}")), lines);
    }
}

fn iproute2_destroy(lab: &str) {
    let batch: String = (0..NODES).map(|n| format!("netns del {lab}-n{n}\n")).collect();
    ip_batch(None, &batch);
}

fn ip_batch(netns: Option<&str>, lines: &str) {
    let mut command = Command::new("ip");
    if let Some(netns) = netns {
        command.args(["-n", netns]);
    }
    let mut child =
        command.args(["-b", "-"]).stdin(std::process::Stdio::piped()).spawn().expect("run ip");
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "ip -b failed");
}

/// A pause before each teardown, so that the kernel's own work after an apply (IPv6 address
/// configuration of 200 interfaces, on its workqueues) is not counted in the teardown.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(500));
}

fn main() {
    if support::probed() {
        return;
    }
    let rounds: usize = std::env::var("PW_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let prefix = format!("pwtb{}", std::process::id());
    let host_namespace = Namespace::create_anonymous().unwrap();
    let host = Handle::new(&host_namespace).unwrap();
    let store = StateStore::new(std::env::temp_dir().join(format!("{prefix}-state")));
    let (mut apply, mut destroy, mut floor, mut teardown, mut ip, mut ip_del) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let lab = format!("{prefix}r{round}");
        let file = topology::Topology::parse(&lab_file(&lab), "bench.clab.yml").unwrap();
        apply.push(support::timed(|| drop(topology::apply(&host, &file, &store).unwrap())));
        settle();
        destroy.push(support::timed(|| drop(topology::destroy(&host, &lab, &store).unwrap())));
        let namespaces = std::cell::RefCell::new(Vec::new());
        floor.push(support::timed(|| *namespaces.borrow_mut() = floor_apply(&format!("{lab}f"))));
        settle();
        teardown.push(support::timed(|| {
            namespaces.take().into_iter().for_each(|ns| ns.delete().unwrap())
        }));
        ip.push(support::timed(|| iproute2_apply(&format!("{lab}i"))));
        settle();
        ip_del.push(support::timed(|| iproute2_destroy(&format!("{lab}i"))));
    }
    let _ = std::fs::remove_dir_all(store.dir());
    let rows = [
        ("`topology::apply`", &mut apply),
        ("floor: the same requests, no plan or record", &mut floor),
        ("iproute2, 52 processes", &mut ip),
        ("`topology::destroy`", &mut destroy),
        ("floor: the 50 namespaces deleted", &mut teardown),
        ("iproute2 `netns del` batch, 1 process", &mut ip_del),
    ];
    println!("\n## A 50-node, 100-link lab ({rounds} rounds, interleaved)\n");
    println!("| what | median ms | p10 | p90 |\n|---|---:|---:|---:|");
    let mut medians = Vec::new();
    for (what, samples) in rows {
        let (median, p10, p90) = support::summary(samples);
        println!("| {what} | {median:.1} | {p10:.1} | {p90:.1} |");
        medians.push(median);
    }
    println!(
        "\napply / floor = {:.2} (target < 1.5); destroy / namespace teardown = {:.2} (target < 2); apply / iproute2 = {:.2}",
        medians[0] / medians[1],
        medians[3] / medians[4],
        medians[0] / medians[2]
    );
}
