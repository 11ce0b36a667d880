//! The plugin driven as libcni drives it: a whole process per command, `CNI_*` in the
//! environment, the configuration on stdin, run inside a private "host" namespace; results
//! checked with `ip -j` and pings in private "container" namespaces.
//!
//! Tests needing Debian's reference plugins (containernetworking-plugins in /usr/lib/cni) are
//! in `tier_cni`, run by scripts/tier-cni.sh, which installs them.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

use serde_json::{Value, json};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A private host namespace, container namespaces and a private state directory, all removed
/// on drop.
struct Lab {
    prefix: String,
    namespaces: Vec<String>,
    state: PathBuf,
}

/// What one plugin process answered.
struct Answer {
    status: i32,
    json: Value,
}

impl Lab {
    fn new() -> Self {
        assert!(nix::unistd::geteuid().is_root(), "privileged test run without root");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("pwc{}x{n}", std::process::id());
        let state = std::env::temp_dir().join(format!("{prefix}-state"));
        let mut lab = Lab { prefix, namespaces: Vec::new(), state };
        let host = lab.netns("host");
        ip(&["-n", &host, "link", "set", "lo", "up"]);
        lab
    }

    /// Creates namespace `<prefix>-label` and returns its name.
    fn netns(&mut self, label: &str) -> String {
        let name = format!("{}-{label}", self.prefix);
        ip(&["netns", "add", &name]);
        self.namespaces.push(name.clone());
        name
    }

    fn host(&self) -> String {
        format!("{}-host", self.prefix)
    }

    /// Waits (up to 10 s) until no `pw-reclaim` process, the plugin's detached wait for the
    /// kernel's reclamation of the links a DEL deleted, runs in this lab's host namespace.
    fn await_reclaimers(&self) {
        use std::os::unix::fs::MetadataExt;
        let host = std::fs::metadata(format!("/run/netns/{}", self.host())).unwrap().ino();
        let ours_running = || {
            std::fs::read_dir("/proc").unwrap().flatten().any(|process| {
                let stat = std::fs::read_to_string(process.path().join("stat")).unwrap_or_default();
                let running = stat
                    .split_once(" (pw-reclaim) ")
                    .is_some_and(|(_, rest)| !rest.starts_with('Z'));
                running
                    && std::fs::metadata(process.path().join("ns/net"))
                        .is_ok_and(|netns| netns.ino() == host)
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ours_running() {
            assert!(std::time::Instant::now() < deadline, "a pw-reclaim process is still running");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Runs `program` (the plugin unless given) in the host namespace for `command` with
    /// container `id`'s `ifname` in netns `netns` (a /run/netns name), as libcni does.
    fn run(
        &self,
        program: Option<&str>,
        command: &str,
        id: &str,
        netns: Option<&str>,
        conf: &Value,
    ) -> Answer {
        let program =
            program.map_or_else(|| env!("CARGO_BIN_EXE_pipework-cni").to_string(), str::to_string);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.host(), &program])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", id)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_ARGS", "IgnoreUnknown=1")
            .env("CNI_PATH", "/usr/lib/cni")
            .env("PIPEWORK_STATE_DIR", &self.state);
        if let Some(netns) = netns {
            cmd.env("CNI_NETNS", format!("/run/netns/{netns}"));
        }
        let mut child =
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("run the plugin");
        child.stdin.take().unwrap().write_all(conf.to_string().as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let json = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        Answer { status: output.status.code().unwrap_or(-1), json }
    }

    fn plugin(&self, command: &str, id: &str, netns: Option<&str>, conf: &Value) -> Answer {
        self.run(None, command, id, netns, conf)
    }

    fn links(&self, ns: &str) -> Vec<String> {
        ip_json(&["-n", ns, "link", "show"])
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["ifname"].as_str().unwrap().to_string())
            .collect()
    }

    fn addresses(&self, ns: &str, ifname: &str) -> Vec<String> {
        let shown = ip_json(&["-n", ns, "addr", "show", "dev", ifname]);
        shown[0]["addr_info"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["scope"] == "global")
            .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
            .collect()
    }

    fn ping(&self, ns: &str, to: &str) -> bool {
        Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "2", to])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn remove(&mut self, ns: &str) {
        ip(&["netns", "del", ns]);
        self.namespaces.retain(|n| n != ns);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("run ip");
    assert!(status.success(), "ip {args:?} failed");
}

fn ip_json(args: &[&str]) -> Value {
    let output = Command::new("ip").arg("-j").args(args).output().expect("run ip");
    assert!(output.status.success(), "ip -j {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn static_conf(version: &str, bridge: &str, address: &str) -> Value {
    json!({"cniVersion": version, "name": "pwtest", "type": "pipework", "host": bridge,
           "addresses": [address], "gateway": "10.77.0.1", "mtu": 1400})
}

#[test]
#[ignore = "privileged: needs root; run by scripts/test.sh"]
fn add_gives_each_container_its_interface_and_del_removes_it_even_twice() {
    let mut lab = Lab::new();
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let bridge =
        format!("br{}", COUNTER.fetch_add(1, Ordering::SeqCst) + std::process::id() % 10000);
    let add = lab.plugin("ADD", "ctr-a", Some(&a), &static_conf("1.1.0", &bridge, "10.77.0.2/24"));
    assert_eq!(add.status, 0, "{}", add.json);
    assert_eq!(add.json["cniVersion"], "1.1.0");
    let interfaces = add.json["interfaces"].as_array().unwrap();
    assert_eq!(interfaces[1]["name"], "eth0");
    assert_eq!(interfaces[1]["sandbox"], format!("/run/netns/{a}"));
    assert_eq!(interfaces[1]["mtu"], 1400);
    assert_eq!(add.json["ips"][0]["address"], "10.77.0.2/24");
    assert_eq!(add.json["ips"][0]["interface"], 1);
    assert_eq!(add.json["routes"][0]["dst"], "0.0.0.0/0");
    let add_b =
        lab.plugin("ADD", "ctr-b", Some(&b), &static_conf("0.4.0", &bridge, "10.77.0.3/24"));
    assert_eq!(add_b.status, 0, "{}", add_b.json);
    assert_eq!(add_b.json["ips"][0]["version"], "4");
    // Independently: the interface, its address, MTU and default route, and real traffic.
    assert_eq!(lab.addresses(&a, "eth0"), vec!["10.77.0.2/24"]);
    assert_eq!(ip_json(&["-n", &a, "link", "show", "eth0"])[0]["mtu"], 1400);
    assert_eq!(ip_json(&["-n", &a, "route", "show", "default"])[0]["gateway"], "10.77.0.1");
    assert!(lab.links(&lab.host()).contains(&bridge));
    assert!(lab.ping(&a, "10.77.0.3"), "a cannot reach b over the bridge");
    // CHECK passes on what ADD made.
    let mut check_conf = static_conf("1.1.0", &bridge, "10.77.0.2/24");
    check_conf["prevResult"] = add.json.clone();
    assert_eq!(lab.plugin("CHECK", "ctr-a", Some(&a), &check_conf).status, 0);
    // DEL, then DEL again: both succeed; the interface and its host end are gone.
    let host_end = interfaces[0]["name"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let del =
            lab.plugin("DEL", "ctr-a", Some(&a), &static_conf("1.1.0", &bridge, "10.77.0.2/24"));
        assert_eq!(del.status, 0, "{}", del.json);
        assert_eq!(del.json, Value::Null);
    }
    assert!(!lab.links(&a).contains(&"eth0".to_string()));
    assert!(!lab.links(&lab.host()).contains(&host_end));
    // The DEL returned once the kernel had unlisted the pair: an ADD right after gets the
    // same interface name and address again.
    let again =
        lab.plugin("ADD", "ctr-a", Some(&a), &static_conf("1.1.0", &bridge, "10.77.0.2/24"));
    assert_eq!(again.status, 0, "{}", again.json);
    assert_eq!(lab.addresses(&a, "eth0"), vec!["10.77.0.2/24"]);
    assert!(lab.ping(&a, "10.77.0.3"), "a cannot reach b after its ADD again");
    let del = lab.plugin("DEL", "ctr-a", Some(&a), &static_conf("1.1.0", &bridge, "10.77.0.2/24"));
    assert_eq!(del.status, 0, "{}", del.json);
    assert!(!lab.links(&a).contains(&"eth0".to_string()));
    // DEL of a container whose netns is already gone succeeds, and cleans the host side.
    lab.remove(&b);
    let del = lab.plugin("DEL", "ctr-b", Some(&b), &static_conf("0.4.0", &bridge, "10.77.0.3/24"));
    assert_eq!(del.status, 0, "{}", del.json);
    assert!(
        !lab.links(&lab.host()).contains(&bridge),
        "the bridge pipework made stays after its last port"
    );
    // The detached waits for the kernel's reclamation end by themselves.
    lab.await_reclaimers();
    assert_eq!(
        std::fs::read_dir(lab.state.join("cni/pwtest"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
            .count(),
        0
    );
}

#[test]
#[ignore = "privileged: needs root; run by scripts/test.sh"]
fn bad_input_is_the_specs_error_and_changes_nothing() {
    let mut lab = Lab::new();
    let a = lab.netns("a");
    let before = (lab.links(&lab.host()), lab.links(&a));
    let bad_mtu = json!({"cniVersion": "1.0.0", "name": "pwtest", "type": "pipework", "host": "brbad", "mtu": 20});
    let answer = lab.plugin("ADD", "ctr", Some(&a), &bad_mtu);
    assert_eq!((answer.status, answer.json["code"].as_u64()), (1, Some(4)), "{}", answer.json);
    assert!(answer.json["msg"].as_str().unwrap().contains("mtu"));
    let no_host = json!({"cniVersion": "1.0.0", "name": "pwtest", "type": "pipework"});
    assert_eq!(lab.plugin("ADD", "ctr", Some(&a), &no_host).json["code"], 4);
    let too_new =
        json!({"cniVersion": "1.2.0", "name": "pwtest", "type": "pipework", "host": "brbad"});
    assert_eq!(lab.plugin("ADD", "ctr", Some(&a), &too_new).json["code"], 1);
    let good = static_conf("1.1.0", "brbad", "10.77.0.2/24");
    assert_eq!(lab.plugin("ADD", "", Some(&a), &good).json["code"], 7, "CNI_CONTAINERID missing");
    assert_eq!(lab.plugin("ADD", "ctr", Some("pwc-no-such-netns"), &good).json["code"], 3);
    assert_eq!(lab.plugin("FROB", "ctr", Some(&a), &good).json["code"], 7);
    // An attach that fails half-way (the guest already has an eth0 of its own) leaves nothing.
    ip(&["-n", &a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
    let before_dup = (lab.links(&lab.host()), lab.links(&a));
    let answer = lab.plugin("ADD", "ctr", Some(&a), &good);
    assert_eq!(answer.status, 1, "{}", answer.json);
    assert_eq!((lab.links(&lab.host()), lab.links(&a)), before_dup);
    ip(&["-n", &a, "link", "del", "eth0"]);
    assert_eq!((lab.links(&lab.host()), lab.links(&a)), before);
    let version = lab.plugin("VERSION", "", None, &json!({"cniVersion": "1.0.0"}));
    assert_eq!(
        version.json,
        json!({"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]})
    );
    assert_eq!(lab.plugin("STATUS", "", None, &good).status, 0);
}

#[test]
#[ignore = "privileged: needs root; run by scripts/test.sh"]
fn check_reports_drift_and_gc_removes_what_is_not_valid() {
    let mut lab = Lab::new();
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let conf_a = static_conf("1.1.0", "brgc", "10.77.0.2/24");
    let conf_b = static_conf("1.1.0", "brgc", "10.77.0.3/24");
    assert_eq!(lab.plugin("ADD", "ctr-a", Some(&a), &conf_a).status, 0);
    assert_eq!(lab.plugin("ADD", "ctr-b", Some(&b), &conf_b).status, 0);
    ip(&["-n", &a, "addr", "del", "10.77.0.2/24", "dev", "eth0"]);
    let check = lab.plugin("CHECK", "ctr-a", Some(&a), &conf_a);
    assert_eq!(check.status, 1);
    assert!(
        check.json["msg"].as_str().unwrap().contains("address 10.77.0.2/24 was removed"),
        "{}",
        check.json
    );
    ip(&["-n", &b, "link", "del", "eth0"]);
    let check = lab.plugin("CHECK", "ctr-b", Some(&b), &conf_b);
    assert!(check.json["msg"].as_str().unwrap().contains("missing"), "{}", check.json);
    // GC keeps ctr-b (as the runtime says) and removes ctr-a's attachment.
    let mut gc = conf_a.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "ctr-b", "ifname": "eth0"}]);
    let answer = lab.plugin("GC", "", None, &gc);
    assert_eq!(answer.status, 0, "{}", answer.json);
    assert!(!lab.links(&a).contains(&"eth0".to_string()));
    gc["cni.dev/valid-attachments"] = json!([]);
    assert_eq!(lab.plugin("GC", "", None, &gc).status, 0);
    assert!(!lab.links(&lab.host()).contains(&"brgc".to_string()));
}

mod tier_cni {
    use super::*;

    fn host_local(lab: &Lab, version: &str) -> Value {
        json!({"cniVersion": version, "name": "pwtest", "type": "pipework", "host": "brhl",
               "ipam": {"type": "host-local", "dataDir": lab.state.join("host-local"),
                        "ranges": [[{"subnet": "10.78.0.0/24", "gateway": "10.78.0.1"}]],
                        "routes": [{"dst": "0.0.0.0/0"}]}})
    }

    #[test]
    #[ignore = "needs Debian's containernetworking-plugins: run by scripts/tier-cni.sh"]
    fn tier_cni_host_local_addresses_concurrent_adds_and_releases_on_del() {
        let mut lab = Lab::new();
        let names: Vec<String> = (0..6).map(|i| lab.netns(&format!("c{i}"))).collect();
        let lab_ref = &lab;
        let answers: Vec<Answer> = std::thread::scope(|scope| {
            let runs: Vec<_> = names
                .iter()
                .enumerate()
                .map(|(i, ns)| {
                    let version = if i % 2 == 0 { "1.0.0" } else { "1.1.0" };
                    scope.spawn(move || {
                        lab_ref.plugin(
                            "ADD",
                            &format!("ctr{i}"),
                            Some(ns),
                            &host_local(lab_ref, version),
                        )
                    })
                })
                .collect();
            runs.into_iter().map(|run| run.join().unwrap()).collect()
        });
        let mut seen = Vec::new();
        for (answer, ns) in answers.iter().zip(&names) {
            assert_eq!(answer.status, 0, "{}", answer.json);
            let address = answer.json["ips"][0]["address"].as_str().unwrap().to_string();
            assert_eq!(lab.addresses(ns, "eth0"), vec![address.clone()]);
            assert_eq!(ip_json(&["-n", ns, "route", "show", "default"])[0]["gateway"], "10.78.0.1");
            assert!(!seen.contains(&address), "{address} given twice");
            seen.push(address);
        }
        let second = seen[1].split('/').next().unwrap();
        assert!(lab.ping(&names[0], second));
        // CHECK is delegated to host-local too and passes.
        assert_eq!(
            lab.plugin("CHECK", "ctr0", Some(&names[0]), &host_local(&lab, "1.0.0")).status,
            0
        );
        for (i, ns) in names.iter().enumerate() {
            let del = lab.plugin("DEL", &format!("ctr{i}"), Some(ns), &host_local(&lab, "1.0.0"));
            assert_eq!(del.status, 0, "{}", del.json);
        }
        let leases: Vec<_> = std::fs::read_dir(lab.state.join("host-local/pwtest"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("10."))
            .collect();
        assert!(leases.is_empty(), "host-local still holds {leases:?}");
        let _ = &mut lab;
    }

    #[test]
    #[ignore = "needs Debian's containernetworking-plugins: run by scripts/tier-cni.sh"]
    fn tier_cni_chain_pipework_then_tuning_and_a_failed_add_releases_the_address() {
        let mut lab = Lab::new();
        let a = lab.netns("a");
        let add = lab.plugin("ADD", "ctr", Some(&a), &host_local(&lab, "1.0.0"));
        assert_eq!(add.status, 0, "{}", add.json);
        let tuning = json!({"cniVersion": "1.0.0", "name": "pwtest", "type": "tuning", "promisc": true, "prevResult": add.json});
        let tuned = lab.run(Some("/usr/lib/cni/tuning"), "ADD", "ctr", Some(&a), &tuning);
        assert_eq!(tuned.status, 0, "{}", tuned.json);
        assert_eq!(tuned.json["ips"], add.json["ips"]);
        let flags = ip_json(&["-n", &a, "link", "show", "eth0"])[0]["flags"].clone();
        assert!(flags.as_array().unwrap().iter().any(|f| f == "PROMISC"), "{flags}");
        // pipework after another plugin keeps the previous result and appends its own.
        let mut second = host_local(&lab, "1.0.0");
        second["prevResult"] = add.json.clone();
        second["host"] = json!("brhl2");
        let b = lab.netns("b");
        let chained = lab.plugin("ADD", "ctr-b", Some(&b), &second);
        assert_eq!(chained.status, 0, "{}", chained.json);
        assert_eq!(chained.json["interfaces"].as_array().unwrap().len(), 4);
        assert_eq!(chained.json["ips"][1]["interface"], 3);
        // A failed ADD (the guest's eth0 is taken) gives its address back to host-local.
        let c = lab.netns("c");
        ip(&["-n", &c, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
        let failed = lab.plugin("ADD", "ctr-c", Some(&c), &host_local(&lab, "1.0.0"));
        assert_eq!(failed.status, 1, "{}", failed.json);
        let held = std::fs::read_dir(lab.state.join("host-local/pwtest"))
            .unwrap()
            .filter(|e| {
                std::fs::read_to_string(e.as_ref().unwrap().path())
                    .unwrap_or_default()
                    .contains("ctr-c")
            })
            .count();
        assert_eq!(held, 0, "the failed ADD kept its address");
        for (id, ns) in [("ctr", &a), ("ctr-b", &b)] {
            let conf = if id == "ctr" { host_local(&lab, "1.0.0") } else { second.clone() };
            assert_eq!(lab.plugin("DEL", id, Some(ns), &conf).status, 0);
        }
        assert!(!lab.links(&lab.host()).iter().any(|l| l.starts_with("brhl")));
    }
}
