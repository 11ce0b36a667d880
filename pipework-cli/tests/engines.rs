//! The `pipework` command with real container engines (scripts/tier-engines.sh starts them):
//! a Podman container attached by its name, pinged from another guest, and detached; and
//! `pipework watch` following dockerd and Podman: labelled containers attached when they
//! start, re-attached after a restart, cleaned up when killed, and a watcher stopped and
//! started again while containers start and die ending with exactly the right attachments.

#[path = "../../pipework-core/tests/common/mod.rs"]
mod common;

mod tier_engines {
    mod podman {
        use std::process::{Command, Output};

        use crate::common::Sandbox;

        use super::watching::need;

        /// The podman command line with the tier's private storage.
        fn podman(args: &[&str]) -> Output {
            let program = need("PWT_PODMAN");
            let mut words = program.split_whitespace();
            let mut command = Command::new(words.next().expect("a program"));
            // CONTAINER_HOST would turn the podman CLI into a client of the service.
            command.args(words).args(args).env_remove("CONTAINER_HOST");
            command.output().expect("run podman")
        }

        /// A running Podman container, removed on drop.
        struct Container(String);

        impl Container {
            fn start(label: &str) -> Self {
                let container = Container(format!("pwtc{}-{label}", std::process::id()));
                let flags = need("PWT_PODMAN_RUN_FLAGS");
                let mut args = vec!["run", "-d", "--name", &container.0];
                args.extend(flags.split_whitespace());
                args.extend(["localhost/pwtest:latest", "sleep", "1000"]);
                let output = podman(&args);
                assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
                container
            }
        }

        impl Drop for Container {
            fn drop(&mut self) {
                let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
            }
        }

        #[test]
        #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
        fn watch_attaches_labelled_containers_reattaches_on_restart_and_cleans_up() {
            super::watching::lifecycle(&super::watching::Engine::podman());
        }

        #[test]
        #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
        fn a_podman_container_is_attached_by_name_pinged_and_detached() {
            let mut sandbox = Sandbox::new();
            let peer = sandbox.add_guest("peer");
            let app = Container::start("app");
            let state = std::env::temp_dir().join(format!("{}-state", sandbox.prefix));
            let pipework = |args: &[&str]| super::watching::pipework(&sandbox, &state, args);
            let target = format!("podman:{}", app.0);
            let out = pipework(&["br1", &target, "10.217.0.2/24"]);
            assert!(out.contains("eth1 on br1"), "{out}");
            pipework(&["br1", &peer, "10.217.0.3/24"]);
            // Seen from inside the container, by Podman itself.
            let inside = podman(&["exec", &app.0, "ip", "-o", "addr", "show", "eth1"]);
            let inside = String::from_utf8_lossy(&inside.stdout).to_string();
            assert!(inside.contains("10.217.0.2/24"), "{inside}");
            assert!(sandbox.ping(&peer, "10.217.0.2"), "the peer reaches the Podman container");
            pipework(&["detach", &target]);
            let gone = podman(&["exec", &app.0, "ip", "-o", "link"]);
            assert!(!String::from_utf8_lossy(&gone.stdout).contains("eth1"), "eth1 left");
            pipework(&["detach", &peer]);
            let _ = std::fs::remove_dir_all(&state);
            assert_eq!(sandbox.link_names(&sandbox.host_name()), ["lo"], "the host is clean");
        }
    }

    /// `pipework watch` against a real engine, in a private host namespace.
    mod watching {
        use std::{
            fs,
            path::{Path, PathBuf},
            process::{Child, Command, Stdio},
            time::{Duration, Instant},
        };

        use nix::{sys::signal, unistd::Pid};

        use crate::common::Sandbox;

        /// Held by each test that runs a watcher: a watcher acts on every labelled container
        /// of its engine, so two at once would attach each other's containers.
        pub static ONE_WATCHER: std::sync::Mutex<()> = std::sync::Mutex::new(());

        /// Takes [`ONE_WATCHER`], also after another test failed holding it.
        pub fn one_watcher() -> std::sync::MutexGuard<'static, ()> {
            ONE_WATCHER.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        /// An environment variable the tier script sets.
        pub fn need(var: &str) -> String {
            std::env::var(var).unwrap_or_else(|_| {
                panic!("{var} is not set: run scripts/tier-engines.sh, which starts the engines")
            })
        }

        /// An engine's command line: `docker` (at $DOCKER_HOST) or the tier's podman.
        pub struct Engine {
            pub name: &'static str,
            program: Vec<String>,
            run_flags: Vec<String>,
            image: String,
        }

        impl Engine {
            pub fn docker() -> Self {
                Engine {
                    name: "docker",
                    program: vec!["docker".into()],
                    run_flags: vec!["--network".into(), "none".into()],
                    image: need("PWT_IMAGE"),
                }
            }

            pub fn podman() -> Self {
                let words = |s: String| s.split_whitespace().map(str::to_string).collect();
                Engine {
                    name: "podman",
                    program: words(need("PWT_PODMAN")),
                    run_flags: words(need("PWT_PODMAN_RUN_FLAGS")),
                    image: "localhost/pwtest:latest".into(),
                }
            }

            /// Runs the engine's CLI; fails the test when it fails.
            pub fn run(&self, args: &[&str]) -> String {
                let output = Command::new(&self.program[0])
                    .args(&self.program[1..])
                    .args(args)
                    // CONTAINER_HOST would turn the podman CLI into a client of the service.
                    .env_remove("CONTAINER_HOST")
                    .output()
                    .expect("run the engine CLI");
                assert!(
                    output.status.success(),
                    "{} {args:?}: {}",
                    self.name,
                    String::from_utf8_lossy(&output.stderr)
                );
                String::from_utf8_lossy(&output.stdout).trim().to_string()
            }

            /// Starts a container with `labels`, removed again on drop.
            pub fn start(&self, name: &str, labels: &[(&str, &str)]) -> Container<'_> {
                let container = Container { engine: self, name: name.to_string() };
                let mut args: Vec<String> =
                    vec!["run".into(), "-d".into(), "--name".into(), name.into()];
                args.extend(self.run_flags.iter().cloned());
                for (key, value) in labels {
                    args.extend(["--label".into(), format!("{key}={value}")]);
                }
                args.extend([self.image.clone(), "sleep".into(), "1000".into()]);
                self.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
                container
            }
        }

        /// A container, removed on drop.
        pub struct Container<'a> {
            engine: &'a Engine,
            pub name: String,
        }

        impl Container<'_> {
            pub fn pid(&self) -> String {
                self.engine.run(&["inspect", "-f", "{{.State.Pid}}", &self.name])
            }

            /// The global addresses of eth1 inside the container, as the container sees them.
            pub fn eth1(&self) -> String {
                let output = Command::new("nsenter")
                    .args([
                        "-t",
                        &self.pid(),
                        "-n",
                        "ip",
                        "-o",
                        "-4",
                        "addr",
                        "show",
                        "dev",
                        "eth1",
                    ])
                    .output()
                    .expect("run nsenter");
                String::from_utf8_lossy(&output.stdout).to_string()
            }
        }

        impl Drop for Container<'_> {
            fn drop(&mut self) {
                let _ = Command::new(&self.engine.program[0])
                    .args(&self.engine.program[1..])
                    .args(["rm", "-f", &self.name])
                    .env_remove("CONTAINER_HOST")
                    .output();
            }
        }

        /// `pipework watch` running in the sandbox's host namespace, its log in a file;
        /// stopped with SIGTERM (by its PID) on drop.
        pub struct Watch {
            child: Option<Child>,
            pub log: PathBuf,
        }

        impl Watch {
            pub fn start(sandbox: &Sandbox, state: &Path, engine: &str) -> Self {
                Self::start_with(sandbox, state, &["--engine", engine])
            }

            /// `pipework watch ARGS`.
            pub fn start_with(sandbox: &Sandbox, state: &Path, args: &[&str]) -> Self {
                let log = state.with_extension(format!(
                    "watch-{}.log",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_nanos()
                ));
                let child = Command::new("ip")
                    .args(["netns", "exec", &sandbox.host_name(), env!("CARGO_BIN_EXE_pipework")])
                    .arg("watch")
                    .args(args)
                    .env("PIPEWORK_STATE_DIR", state)
                    .stdout(Stdio::null())
                    .stderr(fs::File::create(&log).expect("create the log"))
                    .spawn()
                    .expect("start pipework watch");
                let watch = Watch { child: Some(child), log };
                watch.until("following the events", || {
                    watch.text().contains("following container events")
                });
                watch
            }

            pub fn text(&self) -> String {
                fs::read_to_string(&self.log).unwrap_or_default()
            }

            /// Waits up to 20 s for `done`; fails the test with the log otherwise.
            pub fn until(&self, what: &str, done: impl Fn() -> bool) {
                let deadline = Instant::now() + Duration::from_secs(20);
                while !done() {
                    assert!(
                        Instant::now() < deadline,
                        "{what}: not after 20 s; the watcher's log:\n{}",
                        self.text()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }

            /// Stops it with SIGTERM and waits for it to exit; its exit status must be 0.
            pub fn stop(&mut self) {
                if let Some(mut child) = self.child.take() {
                    signal::kill(Pid::from_raw(child.id() as i32), signal::Signal::SIGTERM)
                        .expect("SIGTERM");
                    let status = child.wait().expect("wait for the watcher");
                    assert!(
                        status.success(),
                        "the watcher exited with {status}; its log:\n{}",
                        self.text()
                    );
                }
            }
        }

        impl Drop for Watch {
            fn drop(&mut self) {
                if let Some(mut child) = self.child.take() {
                    let _ = signal::kill(Pid::from_raw(child.id() as i32), signal::Signal::SIGTERM);
                    let _ = child.wait();
                }
                let _ = fs::remove_file(&self.log);
            }
        }

        /// The command in the sandbox's host namespace; fails the test when it fails.
        pub fn pipework(sandbox: &Sandbox, state: &Path, args: &[&str]) -> String {
            let output = Command::new("ip")
                .args(["netns", "exec", &sandbox.host_name(), env!("CARGO_BIN_EXE_pipework")])
                .args(args)
                .env("PIPEWORK_STATE_DIR", state)
                .output()
                .expect("run pipework");
            assert!(
                output.status.success(),
                "pipework {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        }

        /// The watcher's records: (container name, host interface) of each.
        pub fn records(state: &Path) -> Vec<(String, String)> {
            let mut found: Vec<(String, String)> = fs::read_dir(state.join("watch"))
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "json"))
                        .filter_map(|p| fs::read(p).ok())
                        .map(|text| {
                            let record: serde_json::Value = serde_json::from_slice(&text).unwrap();
                            (
                                record["guest"]["name"].as_str().unwrap_or_default().to_string(),
                                record["host_ifname"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            found.sort();
            found
        }

        /// The ports of `bridge` in the sandbox's host namespace.
        pub fn ports(sandbox: &Sandbox, bridge: &str) -> Vec<String> {
            let links = sandbox.ip_json(&sandbox.host_name(), &["link", "show", "master", bridge]);
            links
                .as_array()
                .map(|a| a.iter().filter_map(|l| l["ifname"].as_str().map(String::from)).collect())
                .unwrap_or_default()
        }

        /// The whole life of labelled containers under a watcher of `engine`.
        pub fn lifecycle(engine: &Engine) {
            let _alone = one_watcher();
            let mut sandbox = Sandbox::new();
            let peer = sandbox.add_guest("peer");
            let state = std::env::temp_dir().join(format!("{}-state", sandbox.prefix));
            let bridge = format!("brw{}", std::process::id() % 100_000);
            pipework(&sandbox, &state, &[&bridge, &peer, "10.218.0.254/24"]);
            let mut watch = Watch::start(&sandbox, &state, engine.name);
            let name = |label: &str| format!("{}-{label}", sandbox.prefix);
            let address = |n: u8| format!("10.218.0.{n}/24");

            // A labelled container gets its interface; a malformed label is logged, the rest goes on.
            let app = engine.start(
                &name("app"),
                &[
                    ("pipework", &format!("{bridge} {}", address(2))),
                    ("pipework.1", &format!("{bridge} --bogus")),
                ],
            );
            watch.until("app's eth1", || app.eth1().contains(&address(2)));
            assert!(sandbox.ping(&peer, "10.218.0.2"), "the peer reaches the labelled container");
            watch.until("the malformed label's line", || watch.text().contains("label pipework.1"));
            let log = watch.text();
            let bad = log.lines().find(|l| l.contains("label pipework.1")).unwrap();
            assert!(
                bad.contains(&app.name) && bad.contains("--bogus") && bad.contains("not attached"),
                "{bad}"
            );
            let good =
                log.lines().find(|l| l.contains("(label pipework)")).expect("the attach's line");
            assert!(
                good.contains(&format!("attached eth1 on {bridge}"))
                    && good.contains("ms after the event"),
                "{good}"
            );
            eprintln!("{good}");
            assert_eq!(records(&state).len(), 1, "{:?}", records(&state));

            // A restart is a new namespace: attached again, one record.
            let before = app.pid();
            engine.run(&["restart", "-t", "0", &app.name]);
            watch.until("app's eth1 after the restart", || {
                app.pid() != before && app.eth1().contains(&address(2))
            });
            // The new eth1 has a new MAC (no --mac stable): the peer's ARP entry for the old one
            // heals on the kernel's own schedule, which a loaded machine stretches to seconds.
            watch.until("the peer reaching app again", || sandbox.ping(&peer, "10.218.0.2"));
            watch.until("one record after the restart", || records(&state).len() == 1);

            // Killed: its host side and its record go.
            engine.run(&["kill", &app.name]);
            watch.until("app's record gone", || records(&state).is_empty());
            watch.until("app's port gone", || ports(&sandbox, &bridge).len() == 1);
            assert!(watch.text().contains("died: detached eth1"), "{}", watch.text());

            // The watcher stopped while containers start and die, then started again.
            let doomed =
                engine.start(&name("doomed"), &[("pipework", &format!("{bridge} {}", address(3)))]);
            watch.until("doomed's eth1", || doomed.eth1().contains(&address(3)));
            watch.stop();
            engine.run(&["kill", &doomed.name]);
            let late =
                engine.start(&name("late"), &[("pipework", &format!("{bridge} {}", address(4)))]);
            let plain = engine.start(&name("plain"), &[("com.example", "not pipework's")]);
            assert!(late.eth1().is_empty(), "nobody attached late yet");
            let watch = Watch::start(&sandbox, &state, engine.name);
            watch.until("late's eth1 after the reconcile", || late.eth1().contains(&address(4)));
            watch.until("exactly late's record", || {
                records(&state).iter().map(|r| r.0.as_str()).collect::<Vec<_>>()
                    == [late.name.as_str()]
            });
            assert_eq!(ports(&sandbox, &bridge).len(), 2, "the peer's port and late's");
            assert!(plain.eth1().is_empty(), "a container without labels is left alone");
            assert!(sandbox.ping(&peer, "10.218.0.4"));
            let shown = pipework(&sandbox, &state, &["show"]);
            let line = shown.lines().find(|l| l.contains(&late.name)).unwrap_or_default();
            assert!(
                line.ends_with("[pipework watch]") && line.contains("10.218.0.4/24"),
                "{shown}"
            );
            drop(watch);

            // Removed while no watcher runs: `watch --once` cleans up after it.
            drop(late);
            let once = pipework(&sandbox, &state, &["watch", "--engine", engine.name, "--once"]);
            assert!(once.contains("is not running: detached eth1"), "{once}");
            assert!(records(&state).is_empty());
            drop((app, doomed, plain));
            pipework(&sandbox, &state, &["detach", &peer]);
            let _ = fs::remove_dir_all(&state);
            assert_eq!(sandbox.link_names(&sandbox.host_name()), ["lo"], "the host is clean");
        }
    }

    mod docker {
        use std::{fs, process::Command};

        use super::watching::{Engine, Watch, pipework, ports};
        use crate::common::Sandbox;

        #[test]
        #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
        fn watch_attaches_labelled_containers_reattaches_on_restart_and_cleans_up() {
            super::watching::lifecycle(&Engine::docker());
        }

        /// Whether the container `pid` reaches `destination`, pinging from inside it.
        fn pings_from(pid: &str, destination: &str) -> bool {
            (0..3).any(|_| {
                Command::new("nsenter")
                    .args(["-t", pid, "-n", "ping", "-c", "1", "-W", "2", destination])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
        }

        #[test]
        #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
        fn watch_keeps_a_topology_of_containers_applied_as_they_start_and_die() {
            let _alone = super::watching::one_watcher();
            let engine = Engine::docker();
            let sandbox = Sandbox::new();
            let state = std::env::temp_dir().join(format!("{}-state", sandbox.prefix));
            fs::create_dir_all(&state).unwrap();
            let lab = format!("wt{}", std::process::id());
            let bridge = format!("brt{}", std::process::id() % 100_000);
            let (a_name, b_name) =
                (format!("{}-a", sandbox.prefix), format!("{}-b", sandbox.prefix));
            let file = state.join("lab.clab.yml");
            fs::write(
                &file,
                format!(
                    "name: {lab}\ntopology:\n  nodes:\n    {bridge}: {{kind: bridge}}\n    a: {{kind: linux, pipework: {{guest: \"docker:{a_name}\"}}}}\n    b: {{kind: linux, pipework: {{guest: \"docker:{b_name}\"}}}}\n  links:\n    - endpoints: [\"a:eth1\", \"{bridge}:vta\"]\n      pipework: {{endpoints: [{{addresses: [10.220.0.1/24]}}, {{}}]}}\n    - endpoints: [\"b:eth1\", \"{bridge}:vtb\"]\n      pipework: {{endpoints: [{{addresses: [10.220.0.2/24]}}, {{}}]}}\n"
                ),
            )
            .unwrap();
            let lab_links = || -> Vec<String> {
                let text =
                    fs::read(state.join("labs").join(format!("{lab}.json"))).unwrap_or_default();
                let record: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
                let mut ends: Vec<String> = record["links"]
                    .as_array()
                    .map(|links| {
                        links
                            .iter()
                            .filter_map(|l| l["ends"][0]["node"].as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                ends.sort();
                ends
            };
            let watch = Watch::start_with(
                &sandbox,
                &state,
                &["--engine", "docker", "--topology", file.to_str().unwrap()],
            );
            let a = engine.start(&a_name, &[]);
            watch.until("a's link", || a.eth1().contains("10.220.0.1/24"));
            let b = engine.start(&b_name, &[]);
            watch.until("b's link", || b.eth1().contains("10.220.0.2/24"));
            assert!(pings_from(&a.pid(), "10.220.0.2"), "a reaches b through the lab's bridge");
            assert_eq!(lab_links(), ["a", "b"]);
            assert!(
                watch.text().contains(&format!("lab {lab}: add link a:eth1 -- {bridge}:vta")),
                "{}",
                watch.text()
            );

            // a dies: its link goes from the lab; b's stays.
            engine.run(&["kill", &a.name]);
            watch.until("a's link forgotten", || lab_links() == ["b"]);
            // The kernel removes the dead namespace's veth asynchronously.
            watch.until("a's port gone", || ports(&sandbox, &bridge) == ["vtb"]);
            // a starts again (a new namespace): its link is made again.
            engine.run(&["start", &a.name]);
            watch.until("a's link again", || a.eth1().contains("10.220.0.1/24"));
            assert!(pings_from(&a.pid(), "10.220.0.2"));
            assert_eq!(lab_links(), ["a", "b"]);
            // Removed: both links go; destroy removes the lab's bridge.
            drop((a, b));
            watch.until("no link left", || lab_links().is_empty());
            drop(watch);
            pipework(&sandbox, &state, &["destroy", "--lab", &lab]);
            let _ = fs::remove_dir_all(&state);
            assert_eq!(sandbox.link_names(&sandbox.host_name()), ["lo"], "the host is clean");
        }
    }
}
