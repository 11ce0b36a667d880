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
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["br1"], 2, "missing arguments"),
        (vec!["br1", &g, "10.1.0.2/24", "--bogus"], 2, "unexpected argument"),
        (vec!["br1", &g, "10.1.0.2"], 2, "Maybe you meant 10.1.0.2/24?"),
        (vec!["br1", &g, "10.1.0.2/24@2001:db8::1"], 2, "other address family"),
        (vec!["dummy0", &g, "10.1.0.2/24", "@10"], 2, "a dummy interface has no VLAN"),
        (vec!["eth2", &g, "dhcpcd-f"], 2, "dhcpcd-f is not a form"),
        (vec!["br1", "pwt-no-such-guest", "10.1.0.2/24"], 1, "guest \"pwt-no-such-guest\""),
        (vec!["detach", &g], 1, "an attachment of"),
        (vec!["nosuchif0", &g, "10.1.0.2/24"], 1, "host interface nosuchif0"),
        (vec!["br1", &g, "-i", "a-very-long-interface", "10.1.0.2/24"], 2, "guest ifname"),
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
        // --keep: in the foreground until SIGTERM, then the lease is released.
        let keeper = Command::new("ip")
            .args(["netns", "exec", &format!("{prefix}-host"), env!("CARGO_BIN_EXE_pipework")])
            .args(["br-lan", &b, "dhcp", "--keep"])
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
