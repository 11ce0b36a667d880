//! Least privilege: the `pipework` binary run as user nobody under `capsh`, whose only
//! capabilities are CAP_NET_ADMIN and CAP_SYS_ADMIN, attaches and detaches; with one of them
//! missing the attach fails naming it, exits 1 and changes nothing. Each test works in a private
//! host namespace and private guest namespaces, checked with `ip -j` and real pings.

#[path = "../../pipework-core/tests/common/mod.rs"]
mod common;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use common::{CAP_NET_ADMIN, CAP_SYS_ADMIN, Sandbox};
use serde_json::Value;

/// The user the limited runs are: no root uid, so only the capabilities given count.
const NOBODY: &str = "nobody";
/// Its uid and gid on Debian.
const NOBODY_ID: u32 = 65534;

/// A capability by its capsh name and number.
type Cap = (&'static str, u32);
const NET_ADMIN: Cap = ("cap_net_admin", CAP_NET_ADMIN);
const SYS_ADMIN: Cap = ("cap_sys_admin", CAP_SYS_ADMIN);

/// Whether capsh can run these tests; without it the test fails under CI=true and is reported
/// skipped, with the reason, otherwise.
fn capsh_usable(test: &str) -> bool {
    let reason = match Command::new("capsh").arg("--has-ambient").output() {
        Ok(output) if output.status.success() => return true,
        Ok(_) => "capsh says this kernel has no ambient capabilities",
        Err(_) => {
            "capsh is not installed (Debian: apt-get install libcap2-bin; scripts/test.sh does)"
        }
    };
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true: {test} cannot run: {reason}");
    // Straight to the process's stderr, past the test harness's capture, so it is seen.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
    false
}

/// Runs the `pipework` binary in the sandbox's host namespace as nobody, whose effective,
/// permitted, inheritable, ambient and bounding sets are exactly `keep`, with a state directory
/// nobody owns.
struct Limited {
    host: String,
    dir: PathBuf,
    binary: PathBuf,
}

impl Limited {
    fn new(sandbox: &Sandbox) -> Self {
        let dir = std::env::temp_dir().join(format!("{}-caps", sandbox.prefix));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("state")).unwrap();
        // The build directory may be where nobody cannot go (/root): a link or copy of the
        // binary beside the state directory is reachable.
        let binary = dir.join("pipework");
        let built = Path::new(env!("CARGO_BIN_EXE_pipework"));
        if std::fs::hard_link(built, &binary).is_err() {
            std::fs::copy(built, &binary).unwrap();
        }
        for path in [&dir, &dir.join("state")] {
            std::os::unix::fs::chown(path, Some(NOBODY_ID), Some(NOBODY_ID)).unwrap();
        }
        Limited { host: sandbox.host_name(), dir, binary }
    }

    /// `ip netns exec HOST capsh ... -- -c 'exec "$0" "$@"' PROGRAM ARGS`: capsh drops every
    /// other capability from the bounding set, becomes nobody keeping `keep` as ambient
    /// capabilities, and execs the program, which so has `keep` and nothing else.
    fn run(&self, keep: &[Cap], program: &Path, args: &[&str]) -> Output {
        let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let drop: Vec<String> = (0..=last)
            .filter(|n| !keep.iter().any(|(_, kept)| kept == n))
            .map(|n| n.to_string())
            .collect();
        let names: Vec<&str> = keep.iter().map(|(name, _)| *name).collect();
        let names = names.join(",");
        Command::new("ip")
            .args(["netns", "exec", &self.host, "capsh"])
            .arg(format!("--drop={}", drop.join(",")))
            // setpcap, setuid and setgid only for capsh itself to become nobody: not inheritable,
            // not ambient, gone at the exec.
            .arg(format!("--caps={names}+eip cap_setpcap,cap_setuid,cap_setgid+ep"))
            .args(["--keep=1", &format!("--user={NOBODY}"), &format!("--addamb={names}")])
            .args(["--", "-c", r#"exec "$0" "$@""#])
            .arg(program)
            .args(args)
            .env("PIPEWORK_STATE_DIR", self.dir.join("state"))
            .current_dir(&self.dir)
            .output()
            .expect("run ip netns exec capsh")
    }

    /// Runs the binary with `keep`.
    fn pipework(&self, keep: &[Cap], args: &[&str]) -> Output {
        self.run(keep, &self.binary, args)
    }

    /// Runs the binary with `keep` and returns its stdout, failing on a non-zero exit.
    fn ok(&self, keep: &[Cap], args: &[&str]) -> String {
        let output = self.pipework(keep, args);
        assert!(
            output.status.success(),
            "pipework {args:?} with {keep:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Proves what the capsh line gives: uid and gid nobody, and `keep` as the effective,
    /// permitted, inheritable, ambient and bounding sets (`/proc/self/status` of the exec'd
    /// program).
    fn assert_gives_exactly(&self, keep: &[Cap]) {
        let output = self.run(keep, Path::new("/bin/cat"), &["/proc/self/status"]);
        let status = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {status}"))
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let nobody = NOBODY_ID.to_string();
        assert_eq!(field("Uid:"), [nobody.as_str(); 4], "{status}");
        assert_eq!(field("Gid:"), [nobody.as_str(); 4], "{status}");
        let mask = keep.iter().fold(0u64, |mask, (_, n)| mask | 1 << n);
        for set in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
            let value = u64::from_str_radix(&field(set)[0], 16).unwrap();
            assert_eq!(value, mask, "{set} {value:#x} is not {keep:?}: {status}");
        }
    }

    /// The files in the state directory (pipework's records), but for the lock file every run
    /// takes, which stays.
    fn records(&self) -> Vec<String> {
        let mut names: Vec<String> = walk(&self.dir.join("state"));
        names.retain(|name| !name.ends_with("/.lock"));
        names.sort();
        names
    }
}

fn walk(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() { walk(&path) } else { vec![path.display().to_string()] }
        })
        .collect()
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Everything a failed attach could have changed: links, addresses and routes of the host and
/// the guest, the namespace ids the host knows, pipework's records.
fn snapshot(sandbox: &Sandbox, limited: &Limited, guest: &str) -> String {
    let host = sandbox.host_name();
    let ids = sandbox.ip_json(&host, &["netns", "list-id"]);
    format!(
        "{}\n{}\nids {ids}\nrecords {:?}",
        sandbox.state(&host),
        sandbox.state(guest),
        limited.records()
    )
}

#[test]
#[ignore = "needs root and capsh; scripts/test.sh runs it"]
fn attach_and_detach_with_only_cap_net_admin_and_cap_sys_admin() {
    if !capsh_usable("attach_and_detach_with_only_cap_net_admin_and_cap_sys_admin") {
        return;
    }
    let mut sandbox = Sandbox::new();
    let (a, b) = (sandbox.add_guest("a"), sandbox.add_guest("b"));
    let limited = Limited::new(&sandbox);
    let both = [NET_ADMIN, SYS_ADMIN];
    limited.assert_gives_exactly(&both);
    let out = limited.ok(&both, &["br1", &a, "10.40.0.1/24"]);
    assert!(out.contains("eth1 on br1 (bridge)"), "{out}");
    limited.ok(&both, &["br1", &b, "10.40.0.2/24@10.40.0.1"]);
    assert_eq!(sandbox.global_addresses(&a, "eth1"), ["10.40.0.1/24"]);
    assert_eq!(sandbox.global_addresses(&b, "eth1"), ["10.40.0.2/24"]);
    assert_eq!(sandbox.ip_json(&b, &["route", "show", "default"])[0]["gateway"], "10.40.0.1");
    let host = sandbox.host_name();
    let bridge = &sandbox.ip_json(&host, &["link", "show", "br1"])[0];
    assert_eq!(bridge["linkinfo"]["info_kind"], "bridge", "{bridge}");
    let ports = sandbox.ip_json(&host, &["link", "show", "master", "br1"]);
    assert_eq!(ports.as_array().unwrap().len(), 2, "both host ends on br1: {ports}");
    assert!(sandbox.ping(&a, "10.40.0.2") && sandbox.ping(&b, "10.40.0.1"));
    // The records were written as nobody, and are read back the same way.
    let shown: Value = serde_json::from_str(&limited.ok(&both, &["show", "--json"])).unwrap();
    assert_eq!(shown.as_array().unwrap().len(), 2, "{shown}");
    let out = limited.ok(&both, &["detach", &a]);
    assert!(out.contains("detached eth1 from br1"), "{out}");
    limited.ok(&both, &["detach", &b]);
    assert_eq!(sandbox.link_names(&a), ["lo"]);
    assert_eq!(sandbox.link_names(&b), ["lo"]);
    assert_eq!(sandbox.link_names(&host), ["lo"], "the bridge went with its last port");
    assert!(limited.ok(&both, &["show"]).contains("nothing attached"));
}

/// Attaches `guest` with `keep` only, and checks the failure: exit status 1, an error that names
/// `missing`, and nothing changed.
fn attach_fails_naming(
    sandbox: &Sandbox,
    limited: &Limited,
    keep: Cap,
    missing: &str,
    args: &[&str],
) {
    limited.assert_gives_exactly(&[keep]);
    let guest = args[1];
    let before = snapshot(sandbox, limited, guest);
    let output = limited.pipework(&[keep], args);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "pipework {args:?} with {keep:?}: {err}");
    assert!(
        err.contains("Operation not permitted") && err.contains(&format!("(this needs {missing})")),
        "pipework {args:?} with {keep:?}: {err}"
    );
    let after = snapshot(sandbox, limited, guest);
    let changed: Vec<(&str, &str)> =
        before.lines().zip(after.lines()).filter(|(b, a)| b != a).collect();
    assert!(changed.is_empty() && before == after, "pipework {args:?} changed: {changed:#?}");
}

#[test]
#[ignore = "needs root and capsh; scripts/test.sh runs it"]
fn without_cap_net_admin_attach_names_it_and_changes_nothing() {
    if !capsh_usable("without_cap_net_admin_attach_names_it_and_changes_nothing") {
        return;
    }
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let limited = Limited::new(&sandbox);
    // A new bridge: creating it is refused.
    attach_fails_naming(
        &sandbox,
        &limited,
        SYS_ADMIN,
        "CAP_NET_ADMIN",
        &["br1", &g, "10.41.0.2/24"],
    );
    // An existing bridge: creating the veth is refused.
    let status = Command::new("ip")
        .args(["-n", &sandbox.host_name(), "link", "add", "br2", "type", "bridge"])
        .status()
        .unwrap();
    assert!(status.success());
    attach_fails_naming(
        &sandbox,
        &limited,
        SYS_ADMIN,
        "CAP_NET_ADMIN",
        &["br2", &g, "10.41.0.2/24"],
    );
}

#[test]
#[ignore = "needs root and capsh; scripts/test.sh runs it"]
fn without_cap_sys_admin_attach_names_it_and_changes_nothing() {
    if !capsh_usable("without_cap_sys_admin_attach_names_it_and_changes_nothing") {
        return;
    }
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let limited = Limited::new(&sandbox);
    // Entering the guest's namespace (setns) is refused.
    attach_fails_naming(
        &sandbox,
        &limited,
        NET_ADMIN,
        "CAP_SYS_ADMIN",
        &["br1", &g, "10.42.0.2/24"],
    );
}
