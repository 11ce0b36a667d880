//! Same-run comparison of one CNI ADD + DEL: `pipework-cni` against the reference `bridge`
//! plugin (Debian's containernetworking-plugins), both whole processes doing the same work (a
//! veth on a bridge, an address from host-local), interleaved round by round.
//!
//! Run as root: `cargo bench --bench cni` (PW_ROUNDS=100 by default). Prints a Markdown table
//! with medians, p10/p90 and the ratio the design targets (at most 0.5).

mod support;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use pipework_core::Namespace;

/// Where Debian installs the reference plugins.
const PLUGINS: &str = "/usr/lib/cni";

/// One plugin run: `command` with `config` on stdin for the container in `netns`.
fn plugin(binary: &Path, command: &str, config: &str, netns: &str, id: &str) {
    let mut child = Command::new(binary)
        .env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", id)
        .env("CNI_NETNS", format!("/run/netns/{netns}"))
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", PLUGINS)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        // pipework's records, in the bench's own directory (the rest of the environment is cleared).
        .env("PIPEWORK_STATE_DIR", std::env::var_os("PIPEWORK_STATE_DIR").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("start {}: {err}", binary.display()));
    child.stdin.take().unwrap().write_all(config.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{} {command}: {}",
        binary.display(),
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Waits until no `pw-reclaim` process (pipework's detached wait for the kernel's reclamation
/// of a deleted link) is alive, so that every command starts on a kernel at rest: the kernel
/// runs one RCU barrier at a time, and a deletion started during the reclaimer's would wait for
/// both. The time it took, in ms.
fn settle() -> f64 {
    support::timed(|| {
        while reclaimer_alive() {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    })
}

/// Whether a `pw-reclaim` process is running (a zombie has ended).
fn reclaimer_alive() -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else { return false };
    entries.flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // PID (COMM) STATE ...
        stat.split_once(" (pw-reclaim) ").is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// The network configuration of `plugin` on bridge `bridge`, host-local in its own subnet.
fn config(
    name: &str,
    plugin: &str,
    bridge_key: &str,
    bridge: &str,
    subnet: &str,
    dir: &Path,
) -> String {
    format!(
        r#"{{"cniVersion": "1.0.0", "name": "{name}", "type": "{plugin}", "{bridge_key}": "{bridge}",
            "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "{subnet}"}}]],
                      "dataDir": "{}"}}}}"#,
        dir.display()
    )
}

fn main() {
    if support::probed() {
        return;
    }
    let rounds: usize = std::env::var("PW_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    // The bench runs from target/release/deps; the plugin is built beside it.
    let ours = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("pipework-cni")))
        .filter(|binary| binary.exists())
        .expect("build it first: cargo build --release -p pipework-cni");
    let reference = PathBuf::from(PLUGINS).join("bridge");
    assert!(reference.exists(), "install containernetworking-plugins (its bridge plugin)");
    // Plugins work in the namespace of the process that runs them: this thread's, private.
    let prefix = format!("pwcnib{}", std::process::id());
    let host = Namespace::create_named(&format!("{prefix}-host")).unwrap();
    nix::sched::setns(&host, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    let dir = std::env::temp_dir().join(&prefix);
    let state = dir.join("state");
    // SAFETY: set before any other thread of this process exists.
    unsafe { std::env::set_var("PIPEWORK_STATE_DIR", &state) };
    let ours_config =
        config(&format!("{prefix}p"), "pipework", "host", "brpw0", "10.231.0.0/16", &dir.join("p"));
    let reference_config = config(
        &format!("{prefix}r"),
        "bridge",
        "bridge",
        "brref0",
        "10.232.0.0/16",
        &dir.join("r"),
    );
    // Both bridges exist already, as on a host in use: neither plugin creates or deletes one.
    for bridge in ["brpw0", "brref0"] {
        let made =
            Command::new("ip").args(["link", "add", bridge, "up", "type", "bridge"]).status();
        assert!(made.unwrap().success(), "ip link add {bridge} type bridge");
    }
    // Per plugin: the ADD and the DEL of each round, in ms.
    let (mut pipework, mut bridge, mut ipam) = (Vec::new(), Vec::new(), Vec::new());
    // The IPAM plugin alone, which both run once per command: the part neither can shed.
    let host_local = PathBuf::from(PLUGINS).join("host-local");
    let ipam_config =
        config(&format!("{prefix}i"), "host-local", "bridge", "-", "10.233.0.0/16", &dir.join("i"));
    // The first round warms the caches; it is kept out of the figures.
    for round in 0..=rounds {
        let guest = Namespace::create_named(&format!("{prefix}-g")).unwrap();
        let id = format!("c{round}");
        let netns = guest.name().unwrap();
        // ADD, DEL, and the DEL until the kernel has reclaimed what it deleted.
        let add_del = |binary: &Path, config: &str| {
            let add = support::timed(|| plugin(binary, "ADD", config, netns, &id));
            settle();
            let del = support::timed(|| plugin(binary, "DEL", config, netns, &id));
            (add, del, del + settle())
        };
        let a = add_del(&ours, &ours_config);
        let b = add_del(&reference, &reference_config);
        let c = add_del(&host_local, &ipam_config);
        guest.delete().unwrap();
        if round > 0 {
            pipework.push(a);
            bridge.push(b);
            ipam.push(c);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    host.delete().unwrap();
    type Round = (f64, f64, f64);
    let total = |rounds: &[Round]| -> Vec<f64> { rounds.iter().map(|(a, d, _)| a + d).collect() };
    let median_of = |rounds: &[Round], pick: fn(&Round) -> f64| {
        support::summary(&mut rounds.iter().map(pick).collect::<Vec<f64>>()).0
    };
    let (p, p10, p90) = support::summary(&mut total(&pipework));
    let (r, r10, r90) = support::summary(&mut total(&bridge));
    let (i, i10, i90) = support::summary(&mut total(&ipam));
    println!("\n| one ADD + DEL, {rounds} rounds interleaved | median ms | p10 | p90 |");
    println!("|---|---|---|---|");
    println!("| pipework-cni (host-local IPAM) | {p:.2} | {p10:.2} | {p90:.2} |");
    println!("| reference bridge plugin (host-local IPAM) | {r:.2} | {r10:.2} | {r90:.2} |");
    println!("| host-local alone (the IPAM both delegate to) | {i:.2} | {i10:.2} | {i90:.2} |");
    println!("\n**pipework-cni vs the bridge plugin: {:.2}** (target at most 0.5)", p / r);
    println!(
        "beyond the IPAM plugin: {:.2} ms against {:.2} ms, {:.2}",
        p - i,
        r - i,
        (p - i) / (r - i)
    );
    println!("\n| median ms | ADD | DEL | DEL until the kernel has reclaimed the links |");
    println!("|---|---|---|---|");
    for (name, rounds) in [("pipework-cni", &pipework), ("bridge", &bridge), ("host-local", &ipam)]
    {
        let add = median_of(rounds, |round| round.0);
        let (del, reclaimed) =
            (median_of(rounds, |round| round.1), median_of(rounds, |round| round.2));
        println!("| {name} | {add:.2} | {del:.2} | {reclaimed:.2} |");
    }
}
