//! The `pipework` command with real container engines (scripts/tier-engines.sh starts them):
//! a Podman container attached by its name, pinged from another guest, and detached.

#[path = "../../pipework-core/tests/common/mod.rs"]
mod common;

mod tier_engines {
    mod podman {
        use std::process::{Command, Output};

        use crate::common::Sandbox;

        /// An environment variable the tier script sets.
        fn need(var: &str) -> String {
            std::env::var(var).unwrap_or_else(|_| {
                panic!("{var} is not set: run scripts/tier-engines.sh, which starts the engines")
            })
        }

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
        fn a_podman_container_is_attached_by_name_pinged_and_detached() {
            let mut sandbox = Sandbox::new();
            let peer = sandbox.add_guest("peer");
            let app = Container::start("app");
            let state = std::env::temp_dir().join(format!("{}-state", sandbox.prefix));
            let pipework = |args: &[&str]| {
                let output = Command::new("ip")
                    .args(["netns", "exec", &sandbox.host_name(), env!("CARGO_BIN_EXE_pipework")])
                    .args(args)
                    .env("PIPEWORK_STATE_DIR", &state)
                    .output()
                    .expect("run pipework");
                assert!(
                    output.status.success(),
                    "pipework {args:?}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                String::from_utf8_lossy(&output.stdout).to_string()
            };
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
}
