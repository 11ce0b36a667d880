//! The `pipework` binary end to end, run inside a private host namespace against private
//! guest namespaces, checked with `ip -j`, `tc -j` and real pings.

#[path = "../../pipework-core/tests/common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "../../examples/support/dhcp_lan.rs"]
mod dhcp_lan;
#[path = "../../examples/support/sandbox.rs"]
mod sandbox;

use std::{
    path::PathBuf,
    process::{Command, Output},
    time::{Duration, Instant},
};

use common::Sandbox;
use serde_json::Value;

/// Runs the binary in the sandbox's private host, with a private state directory.
struct Cli {
    host: String,
    state: PathBuf,
}

impl Cli {
    fn new(sandbox: &Sandbox) -> Self {
        let state = std::env::temp_dir().join(format!("{}-state", sandbox.prefix));
        Cli { host: sandbox.host_name(), state }
    }

    fn run_in(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_pipework")])
            .args(args)
            .env("PIPEWORK_STATE_DIR", &self.state)
            .output()
            .expect("run pipework")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_in(&self.host.clone(), args)
    }

    /// Runs the command in the host namespace through nsenter, not `ip netns exec`: the
    /// namespaces a lab names are bind mounts, which must be made in the machine's mount
    /// namespace, as a real `pipework apply` makes them.
    fn run_lab(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.host))
            .arg(env!("CARGO_BIN_EXE_pipework"))
            .args(args)
            .env("PIPEWORK_STATE_DIR", &self.state)
            .output()
            .expect("run pipework")
    }

    /// [`Cli::run_lab`], which must succeed; its standard output.
    fn lab_ok(&self, args: &[&str]) -> String {
        let output = self.run_lab(args);
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "pipework {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// The exit status and stderr of a failing run.
    fn fails(&self, args: &[&str]) -> (i32, String) {
        let output = self.run(args);
        assert!(!output.status.success(), "pipework {args:?} should fail");
        (output.status.code().unwrap(), String::from_utf8(output.stderr).unwrap())
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn lamp_pair_show_json_and_detach() {
    let mut sandbox = Sandbox::new();
    let (web, db) = (sandbox.add_guest("web"), sandbox.add_guest("db"));
    let cli = Cli::new(&sandbox);
    let out = cli.ok(&["br1", &web, "192.168.1.1/24"]);
    assert!(out.contains("eth1 on br1 (bridge)") && out.contains("192.168.1.1/24"), "{out}");
    cli.ok(&["br1", &db, "192.168.1.2/24"]);
    assert_eq!(sandbox.global_addresses(&web, "eth1"), ["192.168.1.1/24"]);
    assert!(sandbox.ping(&web, "192.168.1.2") && sandbox.ping(&db, "192.168.1.1"));
    // Again: a no-op that says so.
    let again = cli.ok(&["br1", &web, "192.168.1.1/24"]);
    assert!(again.contains("(already attached)"), "{again}");
    let shown: Value = serde_json::from_str(&cli.ok(&["show", "--json"])).unwrap();
    assert_eq!(shown.as_array().unwrap().len(), 2, "{shown}");
    let one: Value = serde_json::from_str(&cli.ok(&["show", &web, "--json"])).unwrap();
    assert_eq!(one[0]["plan"]["addresses"][0], "192.168.1.1/24");
    assert_eq!(one[0]["plan"]["host"]["name"], "br1");
    let detached = cli.ok(&["detach", &web]);
    assert!(detached.contains("detached eth1 from br1"), "{detached}");
    assert_eq!(sandbox.link_names(&web), ["lo"]);
    let (code, err) = cli.fails(&["detach", &web]);
    assert_eq!(code, 1);
    assert!(err.contains("an attachment of") && err.contains("does not exist"), "{err}");
    cli.ok(&["detach", &db, "-i", "eth1"]);
    assert_eq!(
        sandbox.link_names(&sandbox.host_name()),
        ["lo"],
        "bridge removed with its last port"
    );
    assert!(cli.ok(&["show"]).contains("nothing attached"));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn detach_goes_on_past_a_record_that_fails_and_keeps_that_one() {
    let mut sandbox = Sandbox::new();
    let web = sandbox.add_guest("web");
    let cli = Cli::new(&sandbox);
    cli.ok(&["br1", &web, "-i", "eth1", "-l", "pwkept0", "10.9.1.1/24"]);
    cli.ok(&["br1", &web, "-i", "eth2", "10.9.2.1/24"]);
    // Someone renames the host end of eth1: pipework must not delete what it no longer knows.
    let ip = |args: &[&str]| {
        let status = Command::new("ip").args(["-n", &sandbox.host_name()]).args(args).status();
        assert!(status.unwrap().success(), "ip {args:?}");
    };
    ip(&["link", "set", "pwkept0", "down"]);
    ip(&["link", "set", "pwkept0", "name", "renamed0"]);
    let (code, err) = cli.fails(&["detach", &web]);
    assert_eq!(code, 1);
    assert!(err.contains("not the one pipework created"), "{err}");
    assert_eq!(sandbox.link_names(&web), ["lo", "eth1"], "eth2 was detached all the same");
    let left: Value = serde_json::from_str(&cli.ok(&["show", &web, "--json"])).unwrap();
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left[0]["plan"]["guest_ifname"], "eth1", "the failed record is kept");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn an_attach_that_cannot_be_recorded_is_undone() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let mut cli = Cli::new(&sandbox);
    // The state directory would be under a regular file: no record can be written there.
    std::fs::write(&cli.state, "not a directory").unwrap();
    let blocker = cli.state.clone();
    cli.state = blocker.join("records");
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let output = cli.run(&["br1", &g, "10.1.0.2/24"]);
    std::fs::remove_file(&blocker).unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&blocker.display().to_string()) && err.contains("Not a directory"),
        "{err}"
    );
    assert_eq!(
        before,
        (sandbox.state(&sandbox.host_name()), sandbox.state(&g)),
        "the unrecorded attachment (bridge, veth, address) is gone"
    );
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn custom_names_netmask_gateway_unique_mac_and_any_flag_order() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let cli = Cli::new(&sandbox);
    cli.ok(&[
        "-l",
        "pwhost0",
        "br1",
        &g,
        "-i",
        "eth2",
        "192.168.4.25/20@192.168.4.1",
        "U:myhost.foo.com",
    ]);
    let link = &sandbox.ip_json(&g, &["link", "show", "eth2"])[0];
    assert_eq!(link["address"], "02:72:6c:cd:9b:8d");
    assert_eq!(sandbox.global_addresses(&g, "eth2"), ["192.168.4.25/20"]);
    assert_eq!(sandbox.ip_json(&g, &["route", "show", "default"])[0]["gateway"], "192.168.4.1");
    assert_eq!(
        sandbox.ip_json(&sandbox.host_name(), &["link", "show", "pwhost0"])[0]["master"],
        "br1"
    );
    // 0/0, IPv6 without -a 6, several addresses, JSON output.
    let h = sandbox.add_guest("h");
    cli.ok(&["br1", &h, "0/0", "-i", "bare0"]);
    assert!(sandbox.global_addresses(&h, "bare0").is_empty());
    assert_eq!(sandbox.ip_json(&h, &["link", "show", "bare0"])[0]["operstate"], "UP");
    let out = cli.ok(&["br1", &h, "2001:db8:1::5/64,10.7.0.5/24", "--ip", "10.8.0.5/24", "--json"]);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["status"], "created");
    let mut have = sandbox.global_addresses(&h, "eth1");
    have.sort();
    assert_eq!(have, ["10.7.0.5/24", "10.8.0.5/24", "2001:db8:1::5/64"]);
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn macvlan_modes_and_direct_phys_from_the_command_line() {
    let mut sandbox = Sandbox::new();
    let (a, b) = (sandbox.add_guest("a"), sandbox.add_guest("b"));
    let host = sandbox.host_handle();
    for (nic, wire) in [("eth2", "wire2"), ("eth4", "wire4")] {
        pipework_core::Veth::new(nic, wire).unwrap().up().add(&host).unwrap();
        host.link_set_up(wire).unwrap();
    }
    let cli = Cli::new(&sandbox);
    cli.ok(&["eth2", &a, "10.3.0.2/24", "--mode", "private"]);
    let link = &sandbox.ip_json(&a, &["link", "show", "eth1"])[0]["linkinfo"];
    assert_eq!(
        (link["info_kind"].as_str(), link["info_data"]["mode"].as_str()),
        (Some("macvlan"), Some("private"))
    );
    cli.ok(&["--direct-phys", "eth4", &b, "-i", "data0", "10.4.0.2/24"]);
    assert!(sandbox.link_names(&b).contains(&"data0".to_string()));
    assert!(!sandbox.link_names(&sandbox.host_name()).contains(&"eth4".to_string()));
    cli.ok(&["detach", &b]);
    assert!(sandbox.link_names(&sandbox.host_name()).contains(&"eth4".to_string()), "given back");
    // mac: selects by MAC, in any case.
    let shown = sandbox.ip_json(&sandbox.host_name(), &["link", "show", "eth2"]);
    let mac = shown[0]["address"].as_str().unwrap().to_uppercase();
    cli.ok(&[&format!("mac:{mac}"), &b, "10.3.0.3/24"]);
    let link = &sandbox.ip_json(&b, &["link", "show", "eth1"])[0];
    assert_eq!(link["linkinfo"]["info_kind"], "macvlan");
    assert!(!sandbox.ping(&b, "10.3.0.2"), "a is private");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn dotted_netmasks_passthrough_flags_and_l_on_a_macvlan_like_the_original() {
    let mut sandbox = Sandbox::new();
    let (g, m) = (sandbox.add_guest("g"), sandbox.add_guest("m"));
    let cli = Cli::new(&sandbox);
    cli.ok(&["br1", &g, "192.168.4.25/255.255.240.0@192.168.4.1"]);
    assert_eq!(sandbox.global_addresses(&g, "eth1"), ["192.168.4.25/20"]);
    assert_eq!(sandbox.ip_json(&g, &["route", "show", "default"])[0]["gateway"], "192.168.4.1");
    let (code, err) = cli.fails(&["br1", &g, "-i", "eth2", "10.0.0.2/255.0.255.0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"10.0.0.2/255.0.255.0\"") && err.contains("not contiguous"), "{err}");
    // route -i IF -a 6 GUEST ...: -a 6 is ip -6, -i is ignored as the original did, with a note.
    cli.ok(&["br1", &g, "-i", "eth3", "2001:db8:4::2/64"]);
    let output =
        cli.run(&["route", "-i", "eth3", "-a", "6", &g, "add", "2001:db8:9::/64", "dev", "eth3"]);
    assert!(output.status.success(), "{output:?}");
    let note = String::from_utf8_lossy(&output.stderr);
    assert!(note.contains("note: -i eth3 is ignored by the route form"), "{note}");
    let route = sandbox.ip_json(&g, &["-6", "route", "show", "2001:db8:9::/64"]);
    assert_eq!(route[0]["dev"], "eth3", "{route}");
    let shown = cli.ok(&["route", "-a", "6", &g, "show", "dev", "eth3"]);
    assert!(shown.contains("2001:db8:9::/64") && !shown.contains("192.168"), "{shown}");
    cli.ok(&["rule", "-a", "6", &g, "add", "from", "2001:db8:4::2", "table", "7"]);
    let rules = sandbox.ip_json(&g, &["-6", "rule", "show"]);
    assert!(rules.as_array().unwrap().iter().any(|r| r["table"] == "7"), "{rules}");
    // -l on a macvlan: ignored, as by the original, with a note.
    let host = sandbox.host_handle();
    pipework_core::Veth::new("eth2", "wire2").unwrap().up().add(&host).unwrap();
    let output = cli.run(&["eth2", "-l", "pwignored0", &m, "10.3.0.2/24"]);
    let note = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{note}");
    assert!(note.contains("note: -l pwignored0 is ignored"), "{note}");
    assert_eq!(
        sandbox.ip_json(&m, &["link", "show", "eth1"])[0]["linkinfo"]["info_kind"],
        "macvlan"
    );
    assert!(!sandbox.link_names(&sandbox.host_name()).contains(&"pwignored0".to_string()));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn mac_matching_a_nic_and_devices_on_it_chooses_the_nic_and_says_so() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_name();
    let ip = |args: &[&str]| {
        let status = Command::new("ip").args(["-n", &host]).args(args).status().unwrap();
        assert!(status.success(), "ip {args:?}");
    };
    ip(&["link", "add", "eth2", "type", "veth", "peer", "name", "wire2"]);
    ip(&["link", "set", "eth2", "up"]);
    let mac = sandbox.ip_json(&host, &["link", "show", "eth2"])[0]["address"]
        .as_str()
        .unwrap()
        .to_string();
    // A bridge and a macvlan (down: up it would clash with its parent) with the NIC's MAC.
    ip(&["link", "add", "brx", "address", &mac, "type", "bridge"]);
    ip(&["link", "add", "link", "eth2", "name", "mv0", "address", &mac, "type", "macvlan"]);
    let cli = Cli::new(&sandbox);
    let output = cli.run(&[&format!("mac:{mac}"), &g, "10.3.0.2/24", "--json"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains(&format!("note: mac:{mac} matches"))
            && err.contains("chose eth2, the device the others (brx, mv0) are stacked on"),
        "{err}"
    );
    let attached = json_of(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(attached["plan"]["host"]["parent"], "eth2", "{attached}");
    assert_eq!(
        sandbox.ip_json(&g, &["link", "show", "eth1"])[0]["linkinfo"]["info_kind"],
        "macvlan"
    );
    // Two devices that are not stacked share it: no guess, both named.
    ip(&["link", "add", "eth4", "address", &mac, "type", "veth", "peer", "name", "wire4"]);
    let (code, err) = cli.fails(&[&format!("mac:{mac}"), &g, "-i", "eth5", "10.3.0.3/24"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("none is stacked on another (eth2, eth4)"), "{err}");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn route_rule_and_tc_inside_the_guest() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let cli = Cli::new(&sandbox);
    cli.ok(&["br1", &g, "10.1.0.2/24"]);
    cli.ok(&["route", &g, "add", "10.9.0.0/24", "via", "10.1.0.1"]);
    let route = &sandbox.ip_json(&g, &["route", "show", "10.9.0.0/24"])[0];
    assert_eq!(
        (route["gateway"].as_str(), route["dev"].as_str()),
        (Some("10.1.0.1"), Some("eth1"))
    );
    cli.ok(&["route", &g, "add", "default", "via", "10.1.0.1", "table", "100"]);
    assert_eq!(sandbox.ip_json(&g, &["route", "show", "table", "100"])[0]["gateway"], "10.1.0.1");
    // Forms the typed parser does not take go to `ip route` inside the guest.
    cli.ok(&["route", &g, "add", "10.10.0.0/16", "via", "10.1.0.1", "proto", "static"]);
    assert_eq!(sandbox.ip_json(&g, &["route", "show", "10.10.0.0/16"])[0]["protocol"], "static");
    cli.ok(&["rule", &g, "add", "from", "10.1.0.2", "table", "100"]);
    let rules = sandbox.ip_json(&g, &["rule", "show"]);
    assert!(
        rules.as_array().unwrap().iter().any(|r| r["src"] == "10.1.0.2" && r["table"] == "100"),
        "{rules}"
    );
    // (This kernel has no sch_netem, so the original README's netem example becomes tbf.)
    cli.ok(&[
        "tc", &g, "qdisc", "add", "dev", "eth1", "root", "tbf", "rate", "1mbit", "burst", "32kbit",
        "latency", "400ms",
    ]);
    let qdisc =
        Command::new("tc").args(["-n", &g, "-j", "qdisc", "show", "dev", "eth1"]).output().unwrap();
    let qdisc: Value = serde_json::from_slice(&qdisc.stdout).unwrap();
    assert_eq!(qdisc[0]["kind"], "tbf", "{qdisc}");
    // The tool's own failure is passed through.
    let (code, err) = cli.fails(&["route", &g, "add", "nonsense"]);
    assert_ne!(code, 0);
    assert!(!err.is_empty());
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn wait_returns_when_the_interface_comes_up() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let cli = Cli::new(&sandbox);
    let started = Instant::now();
    let waiter = Command::new("ip")
        .args([
            "netns",
            "exec",
            &g,
            env!("CARGO_BIN_EXE_pipework"),
            "--wait",
            "-i",
            "eth5",
            "--timeout",
            "20",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    cli.ok(&["br1", &g, "-i", "eth5", "10.5.0.2/24"]);
    let status = waiter.wait_with_output().unwrap().status;
    assert!(status.success(), "the wait ended with the interface up");
    assert!(started.elapsed() >= Duration::from_secs(1));
    let output = cli.run_in(&g, &["--wait", "-i", "nope0", "--timeout", "0.3"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("wait for link nope0"), "{output:?}");
    // --addressed waits for an address too; eth5 has one.
    assert!(
        cli.run_in(&g, &["--wait", "-i", "eth5", "--addressed", "--timeout", "5"]).status.success()
    );
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn dry_run_and_verbose() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let cli = Cli::new(&sandbox);
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let out = cli.ok(&["br1", &g, "10.1.0.2/24@10.1.0.1", "--dry-run"]);
    assert!(
        out.contains("dry run")
            && out.contains("host interface br1: a new Linux bridge")
            && out.contains("host side: bridge br1")
            && out.contains("10.1.0.2/24"),
        "{out}"
    );
    let out = cli.ok(&["br1", &g, "10.1.0.2/24", "--dry-run", "--json"]);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["host_interface"]["kind"], "new_linux_bridge");
    assert_eq!(
        before,
        (sandbox.state(&sandbox.host_name()), sandbox.state(&g)),
        "dry run changes nothing"
    );
    let output = cli.run(&["-v", "br1", &g, "10.1.0.2/24"]);
    let steps = String::from_utf8_lossy(&output.stderr);
    assert!(steps.contains("creating veth") && steps.contains("adding"), "{steps}");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn bad_input_exits_with_the_reason_and_changes_nothing() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let cli = Cli::new(&sandbox);
    let made = Command::new("ip")
        .args(["-n", &sandbox.host_name(), "link", "add", "brkept", "type", "bridge"])
        .status();
    assert!(made.unwrap().success(), "ip link add brkept type bridge");
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    // 2 for arguments wrong in themselves, 1 for a refusal caused by what the system has.
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["br1"], 2, "missing arguments"),
        (vec!["br1", &g, "10.1.0.2/24", "--bogus"], 2, "unexpected argument"),
        (vec!["br1", &g, "10.1.0.2"], 2, "Maybe you meant 10.1.0.2/24?"),
        (vec!["br1", &g, "10.1.0.2/24@2001:db8::1"], 2, "other address family"),
        (vec!["dummy0", &g, "10.1.0.2/24", "@10"], 2, "a dummy interface has no VLAN"),
        // A hex P_Key only means something on IPoIB; on a bridge @8001 is a VLAN out of range.
        (vec!["br1", &g, "10.1.0.2/24", "@8001"], 2, "invalid VLAN \"8001\""),
        (vec!["eth2", &g, "dhcpcd-f"], 2, "dhcpcd-f is not a form"),
        (vec!["br1", "pwt-no-such-guest", "10.1.0.2/24"], 1, "guest \"pwt-no-such-guest\""),
        (vec!["detach", &g], 1, "an attachment of"),
        (vec!["nosuchif0", &g, "10.1.0.2/24"], 1, "host interface nosuchif0"),
        (vec!["br1", &g, "-i", "a-very-long-interface", "10.1.0.2/24"], 2, "guest ifname"),
        (vec!["brkept", &g, "10.1.0.2/24", "--mode", "vepa"], 1, "needs a physical parent"),
        (vec!["--direct-phys", "brkept", &g, "10.1.0.2/24"], 1, "moves a physical device"),
        (vec!["lo", &g, "10.1.0.2/24"], 1, "it is the loopback device"),
    ];
    for (args, code, message) in cases {
        let (have, err) = cli.fails(&args);
        assert_eq!(have, code, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    assert_eq!(before, (sandbox.state(&sandbox.host_name()), sandbox.state(&g)));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn tipc_says_how_to_fix_a_kernel_without_it() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let cli = Cli::new(&sandbox);
    if std::path::Path::new("/sys/module/tipc").exists() {
        // A kernel with TIPC configures the one-member bus.
        cli.ok(&["br-t", &g, "10.61.0.2/24"]);
        cli.ok(&["tipc", &g, "--bearer", "eth:eth1"]);
    } else {
        let (code, err) = cli.fails(&["tipc", &g]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("modprobe tipc"), "{err}");
    }
    let (code, err) = cli.fails(&["tipc", &g, "--net-id", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("net id"), "{err}");
}

mod tier_vm {
    use super::*;

    #[test]
    #[ignore = "needs the VM tier (a kernel with TIPC, root); scripts/tier-vm.sh runs it"]
    fn tipc_bus_from_the_command_line() {
        let mut sandbox = Sandbox::new();
        let guests: Vec<String> = (0..3).map(|i| sandbox.add_guest(&format!("t{i}"))).collect();
        let cli = Cli::new(&sandbox);
        for (i, guest) in guests.iter().enumerate() {
            cli.ok(&["br-tipc", guest, "-i", "eth0", &format!("10.60.0.{}/24", i + 2)]);
        }
        let mut args = vec!["tipc"];
        args.extend(guests.iter().map(String::as_str));
        args.extend(["--net-id", "77", "--wait-links", "60", "--json"]);
        let report: Value = serde_json::from_str(&cli.ok(&args)).unwrap();
        let links = report["links"].as_array().unwrap();
        assert_eq!(links.len(), 6, "{report}");
        assert!(links.iter().all(|l| l["up"] == true), "{report}");
        assert!(report["nodes"].as_array().unwrap().iter().all(|n| n["net_id"] == 77));
        // Again: nothing changes.
        let again: Value = serde_json::from_str(&cli.ok(&args)).unwrap();
        assert!(
            again["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["changes"].as_array().unwrap().is_empty()),
            "{again}"
        );
        let mut show = vec!["tipc", "show"];
        show.extend(guests.iter().map(String::as_str));
        let table = cli.ok(&show);
        assert!(table.contains(&guests[0]), "{table}");
    }

    #[test]
    #[ignore = "needs the VM tier (netem, bridge VLAN filtering); scripts/tier-vm.sh runs it"]
    fn show_lab_lists_impairments_and_vlans() {
        let sandbox = Sandbox::new();
        let cli = Cli::new(&sandbox);
        let lab = format!("v{}", std::process::id());
        let _gone = LabGone(lab.clone());
        let file = std::env::temp_dir().join(format!("{lab}.clab.yml"));
        std::fs::write(
            &file,
            format!(
                "name: {lab}\ntopology:\n  nodes:\n    a: {{kind: linux}}\n    br1: {{kind: bridge}}\n  links:\n    - endpoints: [\"a:eth1\", \"br1:pa1\"]\n      pipework: {{endpoints: [{{netem: {{delay: 5ms, loss: 1.5}}}}, {{vlan: 10}}]}}\n"
            ),
        )
        .unwrap();
        let path = file.display().to_string();
        cli.lab_ok(&["apply", &path]);
        let shown = cli.lab_ok(&["show", "--lab", &lab]);
        assert!(
            shown.contains(
                "  link a:eth1 -- br1:pa1 a:eth1 netem delay 5ms loss 1.5% br1:pa1 vlan 10\n"
            ),
            "{shown}"
        );
        let shown: Value =
            serde_json::from_str(&cli.lab_ok(&["show", "--lab", &lab, "--json"])).unwrap();
        let ends = &shown["links"][0]["item"]["ends"];
        assert_eq!((&ends[0]["netem"]["delay_us"], &ends[1]["vlan"]), (&5000.into(), &10.into()));
        cli.lab_ok(&["destroy", &path]);
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_dir_all(&cli.state);
    }

    /// The command with the host sides the host kernel lacks (802.1Q, ipvlan, dummy, Open
    /// vSwitch).
    mod kinds {
        use std::process::Command;

        use serde_json::Value;

        use super::super::{Cli, Sandbox};

        /// Whether `ns` reaches `destination`: up to three pings, as an emulated CPU can be slow
        /// to answer the first. Expected failures are checked with one plain `sandbox.ping`.
        fn reaches(sandbox: &Sandbox, ns: &str, destination: &str) -> bool {
            (0..3).any(|_| sandbox.ping(ns, destination))
        }

        fn ip(ns: &str, args: &[&str]) {
            let status = Command::new("ip").args(["-n", ns]).args(args).status();
            assert!(status.unwrap().success(), "ip -n {ns} {args:?}");
        }

        /// A "physical" parent `phys0` in the sandbox's host, wired to `trunk0` in a new `far`.
        fn wired(sandbox: &mut Sandbox) -> String {
            let far = sandbox.add_guest("far");
            let host = sandbox.host_name();
            ip(
                &host,
                &[
                    "link", "add", "phys0", "up", "type", "veth", "peer", "name", "trunk0",
                    "netns", &far,
                ],
            );
            ip(&far, &["link", "set", "trunk0", "up"]);
            far
        }

        fn link(sandbox: &Sandbox, ns: &str, ifname: &str) -> Value {
            sandbox.ip_json(ns, &["link", "show", ifname])[0].clone()
        }

        #[test]
        #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
        fn at_vlan_on_a_physical_parent_reaches_the_tagged_far_end() {
            let mut sandbox = Sandbox::new();
            let far = wired(&mut sandbox);
            ip(
                &far,
                &[
                    "link",
                    "add",
                    "link",
                    "trunk0",
                    "name",
                    "trunk0.10",
                    "up",
                    "type",
                    "vlan",
                    "id",
                    "10",
                ],
            );
            ip(&far, &["addr", "add", "10.0.0.254/24", "dev", "trunk0.10"]);
            let g = sandbox.add_guest("g");
            let cli = Cli::new(&sandbox);
            let before = sandbox.state(&sandbox.host_name());
            cli.ok(&["phys0", &g, "10.0.0.2/24", "@10"]);
            let sub = link(&sandbox, &sandbox.host_name(), "phys0.10");
            assert_eq!(sub["linkinfo"]["info_data"]["id"], 10, "{sub}");
            assert_eq!(link(&sandbox, &g, "eth1")["linkinfo"]["info_kind"], "macvlan");
            assert!(reaches(&sandbox, &g, "10.0.0.254"), "the far end of the wire, tagged 10");
            cli.ok(&["detach", &g]);
            assert_eq!(sandbox.state(&sandbox.host_name()), before, "phys0.10 went with its guest");
        }

        #[test]
        #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
        fn ipvlan_l2_guests_reach_each_other() {
            let mut sandbox = Sandbox::new();
            wired(&mut sandbox);
            let (a, b) = (sandbox.add_guest("a"), sandbox.add_guest("b"));
            let cli = Cli::new(&sandbox);
            cli.ok(&["phys0", &a, "10.0.1.1/24", "--ipvlan", "l2"]);
            cli.ok(&["phys0", &b, "10.0.1.2/24", "--ipvlan", "l2"]);
            let eth1 = link(&sandbox, &a, "eth1");
            assert_eq!(eth1["linkinfo"]["info_kind"], "ipvlan", "{eth1}");
            assert_eq!(eth1["linkinfo"]["info_data"]["mode"], "l2", "{eth1}");
            let parent_mac = link(&sandbox, &sandbox.host_name(), "phys0")["address"].clone();
            assert_eq!(eth1["address"], parent_mac, "an ipvlan shares its parent's MAC");
            assert!(reaches(&sandbox, &a, "10.0.1.2"));
            cli.ok(&["detach", &a]);
            cli.ok(&["detach", &b]);
            assert_eq!(sandbox.link_names(&a), ["lo"]);
        }

        #[test]
        #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
        fn a_dummy_host_side_gives_the_guest_its_own_dummy() {
            let mut sandbox = Sandbox::new();
            let g = sandbox.add_guest("g");
            let cli = Cli::new(&sandbox);
            cli.ok(&["dummy0", &g, "203.0.113.9/32"]);
            assert_eq!(link(&sandbox, &g, "eth1")["linkinfo"]["info_kind"], "dummy");
            assert_eq!(sandbox.global_addresses(&g, "eth1"), ["203.0.113.9/32"]);
            assert!(!sandbox.link_names(&sandbox.host_name()).contains(&"dummy0".to_string()));
            cli.ok(&["detach", &g]);
            assert_eq!(sandbox.link_names(&g), ["lo"]);
        }

        #[test]
        #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
        fn ovs_tagged_guests_of_one_tag_reach_each_other_and_detach_removes_the_ports() {
            // ovs-vswitchd opens ports by name in its own namespace, the VM's: the command runs there.
            let mut sandbox = Sandbox::new();
            let (a, b) = (sandbox.add_guest("a"), sandbox.add_guest("b"));
            let cli = Cli::new(&sandbox);
            let bridge = format!("ovsc{}", std::process::id() % 100_000);
            let run = |args: &[&str]| {
                let output = Command::new(env!("CARGO_BIN_EXE_pipework"))
                    .args(args)
                    .env("PIPEWORK_STATE_DIR", &cli.state)
                    .output()
                    .unwrap();
                assert!(
                    output.status.success(),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            };
            run(&[&bridge, &a, "10.5.0.1/24", "@10"]);
            run(&[&bridge, &b, "10.5.0.2/24", "@10"]);
            let vsctl = |args: &[&str]| {
                let output = Command::new("ovs-vsctl").args(args).output().unwrap();
                String::from_utf8_lossy(&output.stdout).trim().to_string()
            };
            let ports = vsctl(&["list-ports", &bridge]);
            assert_eq!(ports.lines().count(), 2, "{ports}");
            for port in ports.lines() {
                assert_eq!(vsctl(&["get", "port", port, "tag"]), "10", "{port}");
            }
            assert!(reaches(&sandbox, &a, "10.5.0.2"), "same tag, one bridge");
            run(&["detach", &a]);
            run(&["detach", &b]);
            assert!(
                !vsctl(&["list-br"]).lines().any(|name| name == bridge),
                "the bridge it made went"
            );
        }
    }
}

mod tier_dhcp {
    use super::*;
    use crate::dhcp_lan::DhcpLan;

    /// The command run in the LAN's private host, with a private state directory.
    fn run(prefix: &str, state: &std::path::Path, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &format!("{prefix}-host"), env!("CARGO_BIN_EXE_pipework")])
            .args(args)
            .env("PIPEWORK_STATE_DIR", state)
            .output()
            .expect("run pipework")
    }

    fn ok(prefix: &str, state: &std::path::Path, args: &[&str]) -> String {
        let output = run(prefix, state, args);
        assert!(
            output.status.success(),
            "pipework {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn lan(label: &str) -> (String, PathBuf, DhcpLan) {
        let prefix = format!("pwt{}c{label}", std::process::id());
        let state = std::env::temp_dir().join(format!("{prefix}-state"));
        (prefix.clone(), state, DhcpLan::start(&prefix).expect("LAN with dnsmasq"))
    }

    fn leased(ns: &str) -> Vec<String> {
        let out =
            Command::new("ip").args(["-j", "-n", ns, "addr", "show", "eth1"]).output().unwrap();
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        shown[0]["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["family"] == "inet")
            .map(|a| a["local"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn dhcp_obtains_a_lease_and_detach_releases_it() {
        let (prefix, state, mut lan) = lan("once");
        let _guest = lan.guest("web").unwrap();
        let web = format!("{prefix}-web");
        let out = ok(&prefix, &state, &["br-lan", &web, "dhcp", "U:web.example"]);
        assert!(out.contains("eth1 on br-lan"), "{out}");
        let addresses = leased(&web);
        assert!(addresses.len() == 1 && addresses[0].starts_with("10.88.0."), "{addresses:?}");
        let route = Command::new("ip")
            .args(["-j", "-n", &web, "route", "show", "default"])
            .output()
            .unwrap();
        let route: Value = serde_json::from_slice(&route.stdout).unwrap();
        assert_eq!(route[0]["gateway"], "10.88.0.1");
        assert!(lan.leases().contains("02:"), "the server holds the lease");
        ok(&prefix, &state, &["detach", &web]);
        assert!(leased(&web).is_empty());
        let deadline = Instant::now() + Duration::from_secs(5);
        while lan.leases().contains(&addresses[0]) {
            assert!(Instant::now() < deadline, "the release reaches the server: {}", lan.leases());
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&state);
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn daemon_keeps_renewing_until_detach_and_keep_until_interrupted() {
        let (prefix, state, mut lan) = lan("keep");
        let (_a, _b) = (lan.guest("a").unwrap(), lan.guest("b").unwrap());
        let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
        // --daemon: the keeper is this program's hidden subcommand, stopped by detach.
        ok(&prefix, &state, &["br-lan", &a, "dhcp", "--daemon"]);
        let shown: Value =
            serde_json::from_str(&ok(&prefix, &state, &["show", &a, "--json"])).unwrap();
        let pid = shown[0]["dhcp"]["process"]["pid"].as_u64().expect("keeper pid recorded");
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "keeper running");
        assert_eq!(leased(&a).len(), 1);
        ok(&prefix, &state, &["detach", &a]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/{pid}/status")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .contains("State:\tZ")
        {
            assert!(Instant::now() < deadline, "the keeper stops on detach");
            std::thread::sleep(Duration::from_millis(50));
        }
        // --foreground: in the foreground until SIGTERM, then the lease is released.
        let keeper = Command::new("ip")
            .args(["netns", "exec", &format!("{prefix}-host"), env!("CARGO_BIN_EXE_pipework")])
            .args(["br-lan", &b, "dhcp", "--foreground"])
            .env("PIPEWORK_STATE_DIR", &state)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while leased(&b).is_empty() {
            assert!(Instant::now() < deadline, "the foreground client got a lease");
            std::thread::sleep(Duration::from_millis(50));
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(keeper.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let output = keeper.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stderr).contains("lease released"));
        assert!(leased(&b).is_empty(), "released on interrupt");
        ok(&prefix, &state, &["detach", &b]);
        let _ = std::fs::remove_dir_all(&state);
    }

    /// Waits until process `pid` is gone (or a zombie).
    fn wait_gone(pid: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{pid}/status"))
            .is_ok_and(|status| !status.contains("State:\tZ"))
        {
            assert!(Instant::now() < deadline, "process {pid} is still running");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn dhcp_f_returns_at_once_and_a_keeper_renews_in_the_background() {
        let (prefix, state, mut lan) = lan("bgf");
        let _guest = lan.guest("a").unwrap();
        let a = format!("{prefix}-a");
        // The original's dhcp:-f returned while its client kept running: so does this.
        let mut attach = Command::new("ip")
            .args(["netns", "exec", &format!("{prefix}-host"), env!("CARGO_BIN_EXE_pipework")])
            .args(["br-lan", &a, "dhcp:-f"])
            .env("PIPEWORK_STATE_DIR", &state)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = attach.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = attach.kill();
                let _ = attach.wait();
                panic!(
                    "pipework br-lan GUEST dhcp:-f did not return: it kept the lease in the foreground"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success());
        assert_eq!(leased(&a).len(), 1);
        let shown: Value =
            serde_json::from_str(&ok(&prefix, &state, &["show", &a, "--json"])).unwrap();
        assert_eq!(shown[0]["dhcp"]["keep"], serde_json::json!({"daemon": {"pidfile": null}}));
        let pid = shown[0]["dhcp"]["process"]["pid"].as_u64().expect("keeper pid recorded");
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(cmdline.contains("dhcp-keeper"), "the lease keeper runs: {cmdline:?}");
        ok(&prefix, &state, &["detach", &a]);
        wait_gone(pid);
        assert!(leased(&a).is_empty());
        let _ = std::fs::remove_dir_all(&state);
    }

    #[test]
    #[ignore = "needs root, dnsmasq and udhcpc; scripts/tier-dhcp.sh runs it"]
    fn dhcp_opts_only_udhcpc_knows_are_handed_to_udhcpc() {
        let (prefix, state, mut lan) = lan("hand");
        let (_a, _b) = (lan.guest("a").unwrap(), lan.guest("b").unwrap());
        let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
        // -V (vendor class) is udhcpc's, not the native client's: udhcpc runs once, as the
        // original's sidecar did, and a note says so.
        let output = run(&prefix, &state, &["br-lan", &a, "dhcp:-V pipework-test", "--json"]);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{err}");
        assert!(
            err.contains("note: dhcp:-V pipework-test: the native DHCP client does not know -V")
                && err.contains("busybox udhcpc gets the options"),
            "{err}"
        );
        let attached: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(attached["dhcp"]["client"], "udhcpc", "{attached}");
        assert_eq!(attached["dhcp"]["keep"], "once", "{attached}");
        assert!(attached["dhcp"]["process"].is_null(), "nothing kept running: {attached}");
        assert_eq!(leased(&a).len(), 1);
        // With -f udhcpc keeps running in the background, until detach.
        let out = ok(&prefix, &state, &["br-lan", &b, "dhcp:-f -V pipework-test", "--json"]);
        let attached: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(attached["dhcp"]["client"], "udhcpc", "{attached}");
        let pid = attached["dhcp"]["process"]["pid"].as_u64().expect("udhcpc kept");
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(cmdline.contains("udhcpc") && cmdline.contains("pipework-test"), "{cmdline:?}");
        assert_eq!(leased(&b).len(), 1);
        ok(&prefix, &state, &["detach", &a]);
        ok(&prefix, &state, &["detach", &b]);
        wait_gone(pid);
        assert!(leased(&a).is_empty() && leased(&b).is_empty());
        let _ = std::fs::remove_dir_all(&state);
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn the_original_udhcpc_form_with_options() {
        let (prefix, state, mut lan) = lan("ext");
        let _guest = lan.guest("web").unwrap();
        let web = format!("{prefix}-web");
        ok(&prefix, &state, &["br-lan", &web, "udhcpc:-V:pipework-test"]);
        assert_eq!(leased(&web).len(), 1);
        ok(&prefix, &state, &["detach", &web]);
        assert!(leased(&web).is_empty());
        let _ = std::fs::remove_dir_all(&state);
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn a_lab_file_with_a_kept_lease_is_kept_by_pipework_and_destroy_releases_it() {
        let (prefix, state, lan) = lan("lab");
        let lab = format!("{prefix}l");
        let file = std::env::temp_dir().join(format!("{prefix}.clab.yml"));
        std::fs::write(
            &file,
            format!(
                "name: {lab}\ntopology:\n  nodes:\n    a: {{}}\n    br-lan: {{kind: bridge}}\n  links:\n    - endpoints: [\"a:eth1\", \"br-lan:pa1\"]\n      pipework: {{endpoints: [{{dhcp: \"dhcp:-f\"}}]}}\n"
            ),
        )
        .unwrap();
        let path = file.display().to_string();
        // Through nsenter, so that the lab's namespaces are bind mounts of the machine's.
        let lab_ok = |args: &[&str]| {
            let output = Command::new("nsenter")
                .arg(format!("--net=/run/netns/{prefix}-host"))
                .arg(env!("CARGO_BIN_EXE_pipework"))
                .args(args)
                .env("PIPEWORK_STATE_DIR", &state)
                .output()
                .expect("run pipework");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "pipework {args:?}: {stderr}");
            String::from_utf8(output.stdout).unwrap()
        };
        lab_ok(&["apply", &path]);
        let a = format!("clab-{lab}-a");
        let addresses = leased(&a);
        assert!(addresses.len() == 1 && addresses[0].starts_with("10.88.0."), "{addresses:?}");
        // show names the lease and its keeper: this program's own hidden subcommand.
        let shown = lab_ok(&["show", "--lab", &lab]);
        assert!(shown.contains(&format!("lease a:eth1 {}/24 kept by", addresses[0])), "{shown}");
        let json: Value =
            serde_json::from_str(&lab_ok(&["show", "--lab", &lab, "--json"])).unwrap();
        let process = &json["leases"][0]["item"]["record"]["process"];
        assert_eq!(json["leases"][0]["present"], true, "{json}");
        let pid = process["pid"].as_u64().expect("a keeper pid");
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(cmdline.contains("dhcp-keeper"), "{cmdline:?}");
        lab_ok(&["destroy", &path]);
        wait_gone(pid);
        let deadline = Instant::now() + Duration::from_secs(5);
        while lan.leases().contains(&addresses[0]) {
            assert!(Instant::now() < deadline, "the release reaches the server: {}", lan.leases());
            std::thread::sleep(Duration::from_millis(50));
        }
        let namespaces = Command::new("ip").args(["netns", "list"]).output().unwrap();
        assert!(!String::from_utf8_lossy(&namespaces.stdout).contains(&a), "namespace left");
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_dir_all(&state);
    }
}

/// A named namespace made with `ip netns add`, which nothing else holds open (so deleting it
/// really ends it), deleted on drop if still there.
struct Netns(String);

impl Netns {
    fn new(name: String) -> Self {
        assert!(Command::new("ip").args(["netns", "add", &name]).status().unwrap().success());
        Netns(name)
    }

    /// Deletes it and waits until the kernel removed the veth ends it took with it from `host`.
    fn delete(&self, sandbox: &Sandbox, host_end: &str) {
        assert!(Command::new("ip").args(["netns", "del", &self.0]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while sandbox.link_names(&sandbox.host_name()).iter().any(|l| l == host_end) {
            assert!(Instant::now() < deadline, "{host_end} outlived its peer's namespace");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if std::path::Path::new("/run/netns").join(&self.0).exists() {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("{err}: {text}"))
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn check_reports_each_drift_and_exits_1() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let cli = Cli::new(&sandbox);
    let host = sandbox.host_name();
    let attached = json_of(&cli.ok(&["br1", &g, "10.2.0.2/24", "--json"]));
    let host_end = attached["host_ifname"].as_str().unwrap().to_string();
    assert_eq!(cli.ok(&["check", &g]).trim(), "eth1 on br1: ok");

    let ip = |ns: &str, args: &[&str]| {
        let status = Command::new("ip").args(["-n", ns]).args(args).status().unwrap();
        assert!(status.success(), "ip {args:?}");
    };
    ip(&g, &["addr", "del", "10.2.0.2/24", "dev", "eth1"]);
    ip(&g, &["link", "set", "eth1", "mtu", "1400", "address", "02:11:22:33:44:55"]);
    ip(&host, &["link", "set", &host_end, "nomaster"]);
    let output = cli.run(&["check", &g, "--json"]);
    assert_eq!(output.status.code(), Some(1), "drift exits 1");
    let checked = json_of(&String::from_utf8_lossy(&output.stdout));
    let drift: Vec<&str> = checked[0]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["drift"].as_str().unwrap())
        .collect();
    assert_eq!(drift, ["not_on_bridge", "address_removed", "mac_changed", "mtu_changed"]);
    assert_eq!(checked[0]["drift"][1]["address"], "10.2.0.2/24");
    assert_eq!(checked[0]["drift"][2]["now"], "02:11:22:33:44:55");
    assert_eq!(checked[0]["drift"][3]["now"], 1400);
    let output = cli.run(&["check", &g]);
    let (out, err) =
        (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        out.contains("eth1 on br1: the host end is no longer on bridge br1")
            && out.contains("eth1 on br1: address 10.2.0.2/24 was removed")
            && out.contains("eth1 on br1: MAC is 02:11:22:33:44:55 instead of")
            && out.contains("eth1 on br1: MTU is 1400 instead of 1500"),
        "{out}"
    );
    assert!(err.contains("cannot check") && err.contains("4 difference(s)"), "{err}");

    // The host end deleted: both ends are gone (a veth pair goes as one).
    ip(&host, &["link", "del", &host_end]);
    let checked = json_of(&String::from_utf8_lossy(&cli.run(&["check", &g, "--json"]).stdout));
    assert_eq!(
        checked[0]["drift"][0],
        serde_json::json!({"drift": "host_side_missing", "ifname": host_end})
    );
    assert_eq!(checked[0]["drift"][1]["drift"], "guest_interface_missing");
    let (code, err) = cli.fails(&["check", "nothing-here"]);
    assert_eq!(code, 1);
    assert!(err.contains("an attachment of nothing-here"), "{err}");
    cli.ok(&["detach", &g]);
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn gc_removes_records_and_host_sides_of_guests_that_are_gone() {
    let sandbox = Sandbox::new();
    let (gone, alive) = (
        Netns::new(format!("{}-gone", sandbox.prefix)),
        Netns::new(format!("{}-alive", sandbox.prefix)),
    );
    let cli = Cli::new(&sandbox);
    let host = sandbox.host_name();
    let first = json_of(&cli.ok(&["br1", &gone.0, "10.3.0.2/24", "--json"]));
    let second = json_of(&cli.ok(&["br1", &alive.0, "10.3.0.3/24", "--json"]));
    assert!(cli.ok(&["gc"]).contains("no guest is gone"));

    gone.delete(&sandbox, first["host_ifname"].as_str().unwrap());
    let checked = json_of(&String::from_utf8_lossy(&cli.run(&["check", &gone.0, "--json"]).stdout));
    let drift: Vec<&str> = checked[0]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["drift"].as_str().unwrap())
        .collect();
    assert_eq!(drift, ["host_side_missing", "guest_gone"]);
    let before = sandbox.state(&host);
    let listed = json_of(&cli.ok(&["gc", "--dry-run", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["guest"]["origin"]["named"], gone.0.as_str(), "{listed}");
    assert_eq!(sandbox.state(&host), before, "a dry run changes nothing");
    assert_eq!(json_of(&cli.ok(&["show", "--json"])).as_array().unwrap().len(), 2);

    let out = cli.ok(&["gc"]);
    assert!(out.contains("removed") && out.contains("10.3.0.2/24"), "{out}");
    let shown = json_of(&cli.ok(&["show", "--json"]));
    assert_eq!(shown.as_array().unwrap().len(), 1, "{shown}");
    assert_eq!(shown[0]["plan"]["addresses"][0], "10.3.0.3/24", "the live guest's record stays");
    assert!(sandbox.link_names(&host).contains(&"br1".to_string()), "br1 still has a port");

    // The last guest gone: gc also removes the bridge pipework created.
    alive.delete(&sandbox, second["host_ifname"].as_str().unwrap());
    let collected = json_of(&cli.ok(&["gc", "--json"]));
    assert_eq!(collected.as_array().unwrap().len(), 1);
    assert_eq!(sandbox.link_names(&host), ["lo"], "the unused bridge went too");
    assert!(cli.ok(&["show"]).contains("nothing attached"));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn the_hosts_own_namespace_as_guest_needs_allow_host_namespace() {
    let sandbox = Sandbox::new();
    let cli = Cli::new(&sandbox);
    let host = sandbox.host_name();
    let before = sandbox.state(&host);
    let (code, err) = cli.fails(&["br1", &host, "10.71.0.2/24@10.71.0.1"]);
    assert_eq!(code, 1, "a refusal caused by the system, not a usage error: {err}");
    assert!(err.contains("the host's own network namespace"), "{err}");
    assert!(err.contains("--allow-host-namespace"), "{err}");
    assert_eq!(sandbox.state(&host), before, "nothing changed in the host");
    cli.ok(&["br1", &host, "10.71.0.2/24", "--allow-host-namespace"]);
    assert_eq!(sandbox.global_addresses(&host, "eth1"), ["10.71.0.2/24"]);
    cli.ok(&["detach", &host]);
    assert_eq!(sandbox.state(&host), before, "detach undid it all");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn wait_exists_addressed_after_dad_and_routed() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let cli = Cli::new(&sandbox);
    let ip = |args: &[&str]| {
        let status = Command::new("ip").args(["netns", "exec", &g]).args(args).status();
        assert!(status.unwrap().success(), "{args:?}");
    };
    // Duplicate address detection of new interfaces takes 3 probes, a second apart (the
    // kernel's default retransmit timer).
    ip(&["sysctl", "-q", "-w", "net.ipv6.conf.default.dad_transmits=3"]);
    cli.ok(&["br1", &g, "-i", "eth6", "2001:db8:6::2/64"]);
    let wait = |args: &[&str]| {
        let mut all = vec!["--wait", "-i", "eth6"];
        all.extend_from_slice(args);
        cli.run_in(&g, &all).status.code()
    };
    assert_eq!(wait(&["--addressed", "--timeout", "20"]), Some(0));
    let shown = sandbox.ip_json(&g, &["addr", "show", "dev", "eth6"]);
    let global = shown[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["local"] == "2001:db8:6::2")
        .cloned()
        .expect("the address");
    assert!(global.get("tentative").is_none(), "--addressed returned during DAD: {global}");
    // No default route yet: --routed times out; with one through eth6, it returns.
    assert_eq!(wait(&["--routed", "--timeout", "0.3"]), Some(1));
    ip(&["ip", "-6", "route", "add", "default", "via", "2001:db8:6::1", "dev", "eth6"]);
    assert_eq!(wait(&["--routed", "--timeout", "5"]), Some(0));
    // A down interface exists but is not up.
    ip(&["ip", "link", "set", "eth6", "down"]);
    assert_eq!(wait(&["--timeout", "0.3"]), Some(1));
    assert_eq!(wait(&["--exists", "--timeout", "5"]), Some(0));
    assert_eq!(wait(&["--exists", "--routed"]), Some(2), "one condition at a time");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn mac_stable_is_the_same_on_every_attach_and_differs_per_interface() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let cli = Cli::new(&sandbox);
    let mac_of = |ifname: &str| {
        sandbox.ip_json(&g, &["link", "show", ifname])[0]["address"].as_str().unwrap().to_string()
    };
    let round = |args: &[&str], ifname: &str| {
        let mut all = vec!["br1", g.as_str(), "-i", ifname, "10.8.0.2/24"];
        all.extend_from_slice(args);
        cli.ok(&all);
        let mac = mac_of(ifname);
        cli.ok(&["detach", &g, "-i", ifname]);
        mac
    };
    let first = round(&["--mac", "stable"], "eth1");
    assert_eq!(round(&["--mac", "stable"], "eth1"), first, "the same on the next attach");
    let octet = u8::from_str_radix(&first[..2], 16).unwrap();
    assert_eq!(octet & 0x03, 0x02, "locally administered unicast: {first}");
    assert_ne!(round(&["--mac", "stable"], "eth2"), first, "each interface its own");
    // It is the U: derivation of the guest's identity and the interface name.
    let derived = format!("U:netns:{g}/eth1");
    assert_eq!(round(&["--mac", &derived], "eth1"), first);
    // Without it the kernel picks a new random MAC each time (what --mac stable is for).
    assert_ne!(round(&[], "eth1"), round(&[], "eth1"));
    let (code, err) =
        cli.fails(&["br1", &g, "10.8.0.2/24", "02:00:00:00:00:01", "--mac", "stable"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--mac stable: the MAC is also given"), "{err}");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn vxlan_joins_guests_on_two_hosts_and_detach_removes_the_tunnel() {
    let mut sandbox = Sandbox::new();
    let cli = Cli::new(&sandbox);
    let ip = |ns: &str, args: &[&str]| {
        let status = Command::new("ip").args(["-n", ns]).args(args).status();
        assert!(status.unwrap().success(), "ip -n {ns} {args:?}");
    };
    // Two "hosts" on an underlay bridge in the sandbox's host namespace.
    let underlay = sandbox.host_name();
    ip(&underlay, &["link", "add", "brunder", "up", "type", "bridge"]);
    let hosts: Vec<String> = ["ha", "hb"].iter().map(|label| sandbox.add_guest(label)).collect();
    for (n, host) in hosts.iter().enumerate() {
        let end = format!("up{n}");
        let peer = ["type", "veth", "peer", "name", "eth0", "netns", host.as_str()];
        ip(&underlay, &[&["link", "add", &end, "master", "brunder", "up"][..], &peer[..]].concat());
    }
    for (n, host) in hosts.iter().enumerate() {
        ip(host, &["addr", "add", &format!("10.98.0.{}/24", n + 1), "dev", "eth0"]);
        ip(host, &["link", "set", "eth0", "up"]);
    }
    let before: Vec<String> = hosts.iter().map(|h| sandbox.state(h)).collect();
    let guests: Vec<String> = ["ga", "gb"].iter().map(|label| sandbox.add_guest(label)).collect();
    for (n, (host, guest)) in hosts.iter().zip(&guests).enumerate() {
        let address = format!("10.201.0.{}/24", n + 1);
        let remote = format!("42@10.98.0.{}%eth0", 2 - n);
        let output = cli.run_in(host, &["brov", guest, &address, "--vxlan", &remote]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    assert_eq!(sandbox.ip_json(&guests[0], &["link", "show", "eth1"])[0]["mtu"], 1450);
    assert!(sandbox.ping(&guests[0], "10.201.0.2"), "across the overlay");
    for (host, guest) in hosts.iter().zip(&guests) {
        assert!(cli.run_in(host, &["detach", guest]).status.success());
    }
    let after: Vec<String> = hosts.iter().map(|h| sandbox.state(h)).collect();
    assert_eq!(before, after, "the tunnel and the bridge went with the last guest");
    let output = cli.run_in(&hosts[0], &["brov", &guests[0], "10.201.0.1/24", "--vxlan", "42"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("expected VNI@REMOTE"));
}

/// Deletes the namespaces of nodes a and b of a lab, even when the test fails.
struct LabGone(String);

impl Drop for LabGone {
    fn drop(&mut self) {
        for node in ["a", "b"] {
            let name = format!("clab-{}-{node}", self.0);
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
        }
    }
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn apply_diff_and_destroy_a_lab_file() {
    let sandbox = Sandbox::new();
    let cli = Cli::new(&sandbox);
    let run = |args: &[&str]| cli.run_lab(args);
    let ok = |args: &[&str]| cli.lab_ok(args);
    let lab = format!("c{}", std::process::id());
    let _gone = LabGone(lab.clone());
    let file = std::env::temp_dir().join(format!("{lab}.clab.yml"));
    std::fs::write(
        &file,
        format!(
            "name: {lab}\ntopology:\n  nodes:\n    a: {{kind: linux}}\n    b: {{kind: linux}}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n      pipework: {{endpoints: [{{addresses: [10.5.5.1/30]}}, {{addresses: [10.5.5.2/30]}}]}}\n"
        ),
    )
    .unwrap();
    let path = file.display().to_string();
    let diff = ok(&["diff", &path]);
    assert!(
        diff.contains("would: create namespace clab-")
            && diff.contains("would: add link a:eth1 -- b:eth1"),
        "{diff}"
    );
    let applied = ok(&["apply", &path]);
    assert!(applied.contains("did: add link a:eth1 -- b:eth1"), "{applied}");
    assert!(sandbox.ping(&format!("clab-{lab}-a"), "10.5.5.2"));
    assert!(ok(&["apply", &path]).contains("nothing to change"));
    let plan: Value = serde_json::from_str(&ok(&["diff", &path, "--json"])).unwrap();
    assert_eq!(plan["steps"].as_array().unwrap().len(), 0, "{plan}");
    // show --lab: what the record says, and what is missing once an end is deleted behind
    // pipework's back.
    assert!(ok(&["show"]).contains(&format!("lab {lab} (pipework show --lab {lab})")));
    let shown = ok(&["show", "--lab", &lab]);
    assert!(
        shown.contains(&format!("lab {lab}: 2 namespace(s), 0 bridge(s), 1 link(s)"))
            && shown.contains(&format!("  namespace clab-{lab}-a\n"))
            && shown.contains("  link a:eth1 -- b:eth1 [10.5.5.1/30 -- 10.5.5.2/30]\n"),
        "{shown}"
    );
    let deleted = Command::new("ip")
        .args(["-n", &format!("clab-{lab}-b"), "link", "del", "eth1"])
        .status()
        .unwrap();
    assert!(deleted.success());
    let shown: Value = serde_json::from_str(&ok(&["show", "--lab", &lab, "--json"])).unwrap();
    assert_eq!(shown["links"][0]["present"], false, "{shown}");
    assert_eq!(shown["links"][0]["item"]["ends"][1]["node"], "b", "{shown}");
    assert_eq!(
        shown["namespaces"][1],
        serde_json::json!({"item": format!("clab-{lab}-b"), "present": true})
    );
    assert!(ok(&["show", "--lab", &lab]).contains("10.5.5.2/30] (missing)"));
    let destroyed = ok(&["destroy", "--lab", &lab]);
    assert!(destroyed.contains("did: delete namespace"), "{destroyed}");
    let output = run(&["show", "--lab", &lab]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("lab {lab} (no record in")) && err.contains("destroyed"),
        "{err}"
    );
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&left.stdout).contains(&format!("clab-{lab}-")));
    std::fs::write(&file, "name: x\ntopology:\n  nodez: {}\n").unwrap();
    let output = run(&["apply", &path]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("nodez") && err.contains("line 3"), "{err}");
    std::fs::remove_file(&file).unwrap();
    let _ = std::fs::remove_dir_all(&cli.state);
}
