//! A real runtime calling the plugin: Podman (its CNI network backend, private storage and
//! configuration) runs a container on a network whose plugin is pipework, inside a private
//! "host" namespace; the container's address is checked by Podman itself and pinged.

mod tier_cni {
    use std::{
        fs,
        path::{Path, PathBuf},
        process::{Command, Output, Stdio},
    };

    /// Runs `program ARGS`, failing the test with its stderr when it fails.
    fn run(program: &str, args: &[&str]) -> String {
        let output = Command::new(program).args(args).output().expect("start");
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Podman with its own storage, configuration and network directory under `dir`, run
    /// in network namespace `host`, so the plugin it calls works there; the plugin keeps its
    /// records of `network` where it keeps them for any runtime, under /run/pipework/cni.
    struct Podman {
        dir: PathBuf,
        host: String,
        network: String,
    }

    impl Podman {
        fn command(&self, args: &[&str]) -> Command {
            let dir = self.dir.display();
            // nsenter enters the network namespace only (`ip netns exec` would also mount a
            // new /sys, hiding the cgroup file system runc needs).
            let mut command = Command::new("nsenter");
            command
                .arg(format!("--net=/run/netns/{}", self.host))
                .arg("podman")
                .args(["--root", &format!("{dir}/root"), "--runroot", &format!("{dir}/run")])
                .args(["--tmpdir", &format!("{dir}/tmp"), "--cgroup-manager=cgroupfs"])
                .arg("--events-backend=file")
                .args(args)
                // The plugin may be run by the cleanup process conmon starts when the
                // container exits, which gets none of this environment but the configuration
                // paths Podman passes on as arguments.
                .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
                .env_remove("CONTAINER_HOST");
            command
        }

        fn ok(&self, args: &[&str]) -> String {
            let output: Output = self.command(args).output().expect("run podman");
            assert!(
                output.status.success(),
                "podman {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        }
    }

    impl Drop for Podman {
        fn drop(&mut self) {
            // Containers (each DEL through the plugin), images and the storage's mounts.
            let _ = self.command(&["rm", "-af", "-t", "0"]).output();
            let _ = self.command(&["system", "reset", "--force"]).output();
            let _ = Command::new("ip").args(["netns", "del", &self.host]).status();
            let _ = fs::remove_dir_all(&self.dir);
            let _ = fs::remove_dir_all(Path::new("/run/pipework/cni").join(&self.network));
        }
    }

    /// A busybox root filesystem as a tar stream for `podman import`.
    fn busybox_rootfs(dir: &Path) -> Vec<u8> {
        let root = dir.join("rootfs");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static");
        for applet in ["sh", "sleep", "ip"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        let tar =
            Command::new("tar").args(["-C", &root.display().to_string(), "-cf", "-", "."]).output();
        tar.expect("tar").stdout
    }

    #[test]
    #[ignore = "needs root, podman and the reference plugins; scripts/tier-cni.sh runs it"]
    fn podman_runs_a_container_with_pipework_as_its_cni_plugin() {
        let prefix = format!("pwcp{}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        fs::create_dir_all(dir.join("bin")).unwrap();
        fs::create_dir_all(dir.join("net.d")).unwrap();
        let host = format!("{prefix}-host");
        run("ip", &["netns", "add", &host]);
        let network = format!("{prefix}net");
        let podman = Podman { dir: dir.clone(), host: host.clone(), network: network.clone() };
        run("ip", &["-n", &host, "link", "set", "lo", "up"]);
        // The plugin is found by its type, `pipework`, in Podman's plugin directories.
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pipework-cni"), dir.join("bin/pipework"))
            .unwrap();
        fs::write(
            dir.join("containers.conf"),
            format!(
                // runc: crun 1.8 refuses a hybrid cgroup hierarchy (scripts/tier-cni.sh).
                "[engine]\nruntime = \"runc\"\n[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"{}\", \"/usr/lib/cni\"]\nnetwork_config_dir = \"{}\"\n",
                dir.join("bin").display(),
                dir.join("net.d").display()
            ),
        )
        .unwrap();
        fs::write(
            dir.join("net.d").join(format!("{network}.conflist")),
            format!(
                r#"{{"cniVersion": "1.0.0", "name": "{network}", "plugins": [
                    {{"type": "pipework", "host": "brpc0", "addresses": ["10.234.0.2/24"]}}]}}"#
            ),
        )
        .unwrap();
        let mut import = podman
            .command(&["import", "-q", "-c", "ENV PATH=/bin", "-", "localhost/pwcni:latest"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        import.stdin.take().unwrap().write_all(&busybox_rootfs(&dir)).unwrap();
        assert!(import.wait().unwrap().success(), "podman import");
        let limit = run("sh", &["-c", "ulimit -Hn"]);
        let nofile = format!("nofile={limit}:{limit}");
        let name = format!("{prefix}-app");
        podman.ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &network,
            "--ulimit",
            &nofile,
            "--ulimit",
            "nproc=32768:32768",
            "localhost/pwcni",
            "sleep",
            "1000",
        ]);
        // Podman's own view from inside the container.
        let inside = podman.ok(&["exec", &name, "ip", "-o", "addr", "show", "eth0"]);
        assert!(inside.contains("10.234.0.2/24"), "{inside}");
        // A peer on the same bridge in the host reaches it.
        let peer = format!("{prefix}-peer");
        run("ip", &["netns", "add", &peer]);
        let linked = Command::new("ip")
            .args(["-n", &host, "link", "add", "vpeer", "master", "brpc0", "up", "type", "veth"])
            .args(["peer", "name", "eth0", "netns", &peer])
            .status();
        let reached = linked.is_ok_and(|s| s.success()) && {
            run("ip", &["-n", &peer, "addr", "add", "10.234.0.3/24", "dev", "eth0"]);
            run("ip", &["-n", &peer, "link", "set", "eth0", "up"]);
            (0..3).any(|_| {
                Command::new("ip")
                    .args(["netns", "exec", &peer, "ping", "-c1", "-W2", "10.234.0.2"])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
        };
        // The peer's veth goes first and synchronously: deleting its namespace destroys the
        // pair later, from the kernel's cleanup work, and a DEL that still sees `vpeer` on the
        // bridge rightly keeps the bridge.
        let _ = Command::new("ip").args(["-n", &host, "link", "del", "vpeer"]).status();
        let _ = Command::new("ip").args(["netns", "del", &peer]).status();
        assert!(reached, "the peer pings the Podman container through pipework's bridge");
        // Removing the container is the plugin's DEL: the bridge pipework made goes with it.
        // `rm` returns once the container is stopped; the DEL may come from the cleanup process
        // conmon starts when the container exits, so the bridge is given up to 10 s to go.
        podman.ok(&["rm", "-f", "-t", "0", &name]);
        let mut links = String::new();
        let gone = (0..100).any(|_| {
            links = run("ip", &["-n", &host, "-o", "link", "show"]);
            let gone = !links.contains("brpc0") && !links.contains("vpeer");
            if !gone {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            gone
        });
        assert!(gone, "{links}");
    }
}
