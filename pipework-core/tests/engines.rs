//! Resolvers: bad input and fake engines (no engine needed), then `mod tier_engines` against a
//! real dockerd, LXC and Podman started by scripts/tier-engines.sh.

mod common;

use std::{
    fs,
    io::{Read, Write},
    os::unix::{
        fs::{MetadataExt, PermissionsExt},
        net::UnixListener,
    },
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    thread::{self, JoinHandle},
    time::Duration,
};

use common::{CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, Sandbox, drop_capabilities_in_this_thread};
use nix::errno::Errno;
use pipework_core::{
    AttachPlan, Engine, Error, Guest, Handle, Namespace, Resolver, Resolvers, attach,
    resolve::{DockerResolver, LxcResolver, NetnsResolver, PidResolver, Resolution},
};

static FAKES: AtomicU32 = AtomicU32::new(0);

/// A fake engine: a unix socket whose server thread answers each request with
/// `answer(path, how many requests came before)` and records every request it got.
struct FakeEngine {
    dir: PathBuf,
    socket: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
}

impl FakeEngine {
    fn new(answer: impl Fn(&str, usize) -> Vec<u8> + Send + 'static) -> Self {
        let n = FAKES.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("pwt-fake-engine-{}-{n}", std::process::id()));
        fs::create_dir_all(&dir).expect("fake engine dir");
        let socket = dir.join("engine.sock");
        let listener = UnixListener::bind(&socket).expect("bind fake engine");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopping) = (requests.clone(), stop.clone());
        let server = thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request).into_owned();
                let path = request.split(' ').nth(1).unwrap_or_default().to_string();
                let earlier = {
                    let mut log = log.lock().unwrap();
                    log.push(request);
                    log.len() - 1
                };
                let _ = stream.write_all(&answer(&path, earlier));
            }
        });
        FakeEngine { dir, socket, requests, stop, server: Some(server) }
    }

    /// A resolver for this fake engine, called `docker`.
    fn resolver(&self) -> DockerResolver {
        DockerResolver::new(Engine::Docker, &self.socket)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::os::unix::net::UnixStream::connect(&self.socket);
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// An HTTP/1.0 answer with a JSON body, as dockerd sends it.
fn http(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.0 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn inspect_json(id: &str, name: &str, status: &str, pid: u32) -> String {
    format!(r#"{{"Id":"{id}","Name":"/{name}","State":{{"Status":"{status}","Pid":{pid}}}}}"#)
}

const FAKE_ID: &str = "5f0c4e7a9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e";

fn not_mine(resolution: Resolution) -> Error {
    match resolution {
        Resolution::NotMine(err) => err,
        Resolution::Found(guest) => panic!("unexpectedly resolved to {guest}"),
    }
}

fn found(resolution: Resolution) -> Guest {
    match resolution {
        Resolution::Found(guest) => guest,
        Resolution::NotMine(err) => panic!("not found: {err}"),
    }
}

#[test]
fn a_running_container_resolves_to_its_process_namespace_and_is_asked_twice() {
    let me = std::process::id();
    let engine =
        FakeEngine::new(move |_, _| http("200 OK", &inspect_json(FAKE_ID, "web", "running", me)));
    let guest = found(engine.resolver().resolve("web").expect("resolve"));
    assert_eq!(guest.namespace.id(), Namespace::current().unwrap().id());
    assert_eq!(guest.engine, Engine::Docker);
    assert_eq!(guest.name.as_deref(), Some("web"));
    assert_eq!(guest.id.as_deref(), Some(FAKE_ID));
    assert_eq!(guest.pid, Some(me));
    let record = guest.record();
    assert_eq!((record.pid, record.process_start), (Some(me), guest.process_start));
    assert!(record.process_start.is_some());
    // Once by name, then again by ID after the namespace was opened (PID-reuse check).
    let requests = engine.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests[0].starts_with("GET /containers/web/json HTTP/1.0\r\n"), "{requests:?}");
    assert!(requests[1].starts_with(&format!("GET /containers/{FAKE_ID}/json HTTP/1.0\r\n")));
}

#[test]
fn a_pid_the_engine_stops_naming_is_not_configured() {
    let me = std::process::id();
    // First answer: our PID; every later one: a PID that cannot exist (it restarted, say).
    let engine = FakeEngine::new(move |_, earlier| {
        let pid = if earlier == 0 { me } else { 4_194_305 };
        http("200 OK", &inspect_json(FAKE_ID, "web", "running", pid))
    });
    let resolver = engine.resolver().start_timeout(Duration::from_millis(300));
    let err = resolver.resolve("web").expect_err("a PID the engine no longer names");
    assert!(err.to_string().contains("its process kept changing"), "{err}");
    assert!(engine.requests().len() >= 2, "asked again after opening");
}

#[test]
fn a_created_container_is_waited_for_until_it_starts() {
    let me = std::process::id();
    let engine = FakeEngine::new(move |_, earlier| {
        let (status, pid) = if earlier < 3 { ("created", 0) } else { ("running", me) };
        http("200 OK", &inspect_json(FAKE_ID, "web", status, pid))
    });
    let guest = found(engine.resolver().resolve("web").expect("started meanwhile"));
    assert_eq!(guest.pid, Some(me));
    assert!(engine.requests().len() >= 4);
}

#[test]
fn a_container_that_never_starts_or_has_stopped_is_reported() {
    let engine = FakeEngine::new(|path, _| {
        let status = if path.contains("never") { "created" } else { "exited" };
        http("200 OK", &inspect_json(FAKE_ID, "x", status, 0))
    });
    let resolver = engine.resolver().start_timeout(Duration::from_millis(300));
    let err = resolver.resolve("never").expect_err("never started");
    let text = err.to_string();
    assert!(text.contains("created but has not started") && text.contains("0.3 s"), "{text}");
    assert!(text.contains("docker container \"x\""), "{text}");
    let err = resolver.resolve("gone").expect_err("stopped");
    assert!(err.to_string().contains("it is exited, not running"), "{err}");
    assert_eq!(err.errno(), Errno::EBUSY);
}

#[test]
fn an_unknown_container_is_not_mine_and_an_error_with_a_prefix() {
    let engine =
        FakeEngine::new(|_, _| http("404 Not Found", r#"{"message":"No such container: web"}"#));
    let err = not_mine(engine.resolver().resolve("web").unwrap());
    assert_eq!(err.errno(), Errno::ENOENT);
    assert!(err.to_string().contains("No such container: web"), "{err}");
    let mut chain = Resolvers::empty();
    chain.push(Box::new(engine.resolver()));
    let err = chain.resolve("docker:web").expect_err("unknown");
    assert!(err.to_string().contains("docker container \"web\""), "{err}");
}

#[test]
fn an_ambiguous_prefix_lists_the_candidates() {
    let engine = FakeEngine::new(|path, _| {
        if path.starts_with("/containers/json") {
            http(
                "200 OK",
                r#"[{"Id":"ab1111111111aaaa","Names":["/one"]},{"Id":"ab2222222222bbbb","Names":["/two"]},{"Id":"cd3333333333","Names":["/three"]}]"#,
            )
        } else {
            http(
                "500 Internal Server Error",
                r#"{"message":"Multiple IDs found with provided prefix: ab"}"#,
            )
        }
    });
    let err = engine.resolver().resolve("ab").expect_err("ambiguous");
    let text = err.to_string();
    assert_eq!(err.errno(), Errno::EINVAL);
    for expected in
        ["docker container \"ab\"", "ambiguous", "ab1111111111 (one)", "ab2222222222 (two)"]
    {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert!(!text.contains("three"), "{text}");
}

#[test]
fn an_engine_answering_garbage_is_a_clear_error() {
    for (answer, expected) in [
        (b"hello, I am not an engine\r\n\r\n".to_vec(), "not HTTP"),
        (Vec::new(), "closed without an answer"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(), "not HTTP"),
        (http("200 OK", "<html>proxy</html>"), "does not parse"),
        (http("200 OK", r#"{"Id":"x","State":"running"}"#), "does not parse"),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 500\r\n\r\n{\"Id\"".to_vec(), "cut short"),
        (
            http("500 Internal Server Error", r#"{"message":"boom"}"#),
            "HTTP 500 Internal Server Error: boom",
        ),
        (http("502 Bad Gateway", "not json"), "HTTP 502 Bad Gateway: \"not json\""),
    ] {
        let engine = FakeEngine::new(move |_, _| answer.clone());
        let err = not_mine(engine.resolver().resolve("web").expect("not an error in a chain"));
        let text = err.to_string();
        assert_eq!(err.errno(), Errno::EPROTO, "{text}");
        assert!(text.contains(expected), "{expected}: {text}");
        let place = format!("docker at {} about \"web\"", engine.socket.display());
        assert!(text.contains(&place), "{text}");
        // Named explicitly, the engine's failure is the error.
        let mut chain = Resolvers::empty();
        chain.push(Box::new(engine.resolver()));
        assert_eq!(chain.resolve("docker:web").expect_err("garbage").errno(), Errno::EPROTO);
    }
}

#[test]
fn invalid_container_names_never_reach_the_engine() {
    let engine = FakeEngine::new(|_, _| http("200 OK", "{}"));
    for bad in ["../../images/json", "web?all=1", "a b", "-x", "web\r\nX: y"] {
        let err = not_mine(engine.resolver().resolve(bad).unwrap());
        assert_eq!(err.errno(), Errno::EINVAL, "{bad:?}: {err}");
        assert!(err.to_string().contains("invalid docker container"), "{err}");
    }
    let mut chain = Resolvers::empty();
    chain.push(Box::new(engine.resolver()));
    let err = chain.resolve("docker:a/b").expect_err("invalid");
    assert!(err.to_string().contains("invalid docker container \"a/b\""), "{err}");
    assert!(engine.requests().is_empty(), "{:?}", engine.requests());
}

#[test]
fn a_missing_socket_is_named_with_its_errno() {
    let resolver = DockerResolver::new(Engine::Docker, "/nonexistent/pipework/docker.sock");
    let err = not_mine(resolver.resolve("web").unwrap());
    assert_eq!(err.errno(), Errno::ENOENT);
    let text = err.to_string();
    assert!(text.contains("docker at /nonexistent/pipework/docker.sock about \"web\""), "{text}");
    let mut chain = Resolvers::empty();
    chain.push(Box::new(DockerResolver::new(Engine::Podman, "/nonexistent/podman.sock")));
    let err = chain.resolve("podman:web").expect_err("no socket");
    assert_eq!(err.errno(), Errno::ENOENT);
    assert!(err.to_string().contains("podman at /nonexistent/podman.sock"), "{err}");
}

#[test]
fn a_socket_without_permission_is_refused_with_eacces() {
    let engine = FakeEngine::new(|_, _| http("200 OK", "{}"));
    fs::set_permissions(&engine.socket, fs::Permissions::from_mode(0o000)).unwrap();
    let resolver = engine.resolver();
    // Root passes file permissions with CAP_DAC_OVERRIDE: drop it in a thread of its own.
    let err = thread::spawn(move || {
        drop_capabilities_in_this_thread(&[CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH]);
        not_mine(resolver.resolve("web").unwrap())
    })
    .join()
    .unwrap();
    assert_eq!(err.errno(), Errno::EACCES, "{err}");
    assert!(err.to_string().contains("group that owns the engine's socket"), "{err}");
    assert!(engine.requests().is_empty());
}

#[test]
fn the_chain_lists_every_answer_and_takes_user_resolvers() {
    /// A resolver of the caller's own: `me` is this process.
    struct Myself;
    impl Resolver for Myself {
        fn name(&self) -> &str {
            "myself"
        }
        fn resolve(&self, target: &str) -> pipework_core::Result<Resolution> {
            if target != "me" {
                return Ok(Resolution::NotMine(Error::NotFound {
                    op: pipework_core::Op::Resolve,
                    object: format!("myself {target:?}"),
                }));
            }
            let mut guest = Guest::from_namespace(Namespace::current()?);
            guest.engine = Engine::Other("myself".into());
            Ok(Resolution::Found(guest))
        }
    }
    let mut chain = Resolvers::empty();
    chain
        .push(Box::new(PidResolver))
        .push(Box::new(NetnsResolver))
        .push(Box::new(DockerResolver::new(Engine::Docker, "/nonexistent/docker.sock")))
        .push(Box::new(DockerResolver::new(Engine::Podman, "/nonexistent/podman.sock")))
        .push(Box::new(LxcResolver::new("/nonexistent/lxc")));
    let err = chain.resolve("pwt-nothing").expect_err("nothing knows it");
    assert_eq!(err.errno(), Errno::ENOENT);
    let Error::Unresolved { target, answers } = &err else { panic!("{err}") };
    assert_eq!(target, "pwt-nothing");
    let names: Vec<&str> = answers.iter().map(|a| a.split(':').next().unwrap()).collect();
    assert_eq!(names, ["pid", "netns", "docker", "podman", "lxc"], "{err}");
    assert!(answers[0].contains("not a decimal process ID"), "{err}");
    assert!(answers[2].contains("/nonexistent/docker.sock"), "{err}");
    assert!(answers[4].contains("/nonexistent/lxc/pwt-nothing/config"), "{err}");

    chain.push(Box::new(Myself));
    assert_eq!(chain.resolve("me").unwrap().engine, Engine::Other("myself".into()));
    assert_eq!(chain.resolve("myself:me").unwrap().engine, Engine::Other("myself".into()));
    chain.insert(0, Box::new(Myself));
    assert_eq!(chain.names(), ["myself", "pid", "netns", "docker", "podman", "lxc", "myself"]);
    let err = chain.resolve("docker:").expect_err("empty after the prefix");
    assert!(err.to_string().contains("nothing follows the prefix \"docker\""), "{err}");
}

#[test]
fn lxc_names_with_a_slash_are_refused() {
    let mut chain = Resolvers::empty();
    chain.push(Box::new(LxcResolver::new("/nonexistent/lxc")));
    let err = chain.resolve("lxc:web/../../etc").expect_err("a slash");
    assert_eq!(err.errno(), Errno::EINVAL);
    assert!(err.to_string().contains("invalid lxc container \"web/../../etc\""), "{err}");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_namespace_deleted_after_resolving_is_refused_by_attach() {
    let mut sandbox = Sandbox::new();
    let name = sandbox.add_guest("gone");
    let guest = sandbox.guest(&name);
    let before = sandbox.state(&sandbox.host_name());
    let status = std::process::Command::new("ip").args(["netns", "del", &name]).status().unwrap();
    assert!(status.success());
    let err = attach(&sandbox.host_handle(), &guest, &AttachPlan::bridge("br0")).expect_err("gone");
    assert!(err.to_string().contains(&format!("/run/netns/{name}")), "{err}");
    assert_eq!(before, sandbox.state(&sandbox.host_name()), "attach changed the host");
}

/// The real engines started by scripts/tier-engines.sh (it exports where they are).
mod tier_engines {
    use std::process::Command;

    use super::*;

    /// An environment variable the tier script sets.
    fn need(var: &str) -> String {
        std::env::var(var).unwrap_or_else(|_| {
            panic!("{var} is not set: run scripts/tier-engines.sh, which starts the engines")
        })
    }

    /// The network namespace inode of `pid`, read from /proc without pipework.
    fn netns_inode(pid: u32) -> u64 {
        fs::metadata(format!("/proc/{pid}/ns/net")).expect("stat ns").ino()
    }

    /// A container engine's command line (docker, or podman with its private storage flags).
    struct Cli {
        program: Vec<String>,
        run_flags: Vec<String>,
        image: String,
    }

    impl Cli {
        fn docker() -> Self {
            Cli {
                program: vec!["docker".into()],
                run_flags: vec!["--network".into(), "none".into()],
                image: need("PWT_IMAGE"),
            }
        }

        fn podman() -> Self {
            let words = |s: String| s.split_whitespace().map(str::to_string).collect();
            Cli {
                program: words(need("PWT_PODMAN")),
                run_flags: words(need("PWT_PODMAN_RUN_FLAGS")),
                image: "localhost/pwtest:latest".into(),
            }
        }

        fn command(&self, args: &[&str]) -> Command {
            let mut command = Command::new(&self.program[0]);
            // CONTAINER_HOST would turn the podman CLI into a client of the service.
            command.args(&self.program[1..]).args(args).env_remove("CONTAINER_HOST");
            command
        }

        /// Runs the CLI and returns its trimmed output; fails the test when it fails.
        fn run(&self, args: &[&str]) -> String {
            let output = self.command(args).output().expect("run the engine CLI");
            assert!(
                output.status.success(),
                "{} {args:?}: {}",
                self.program.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        }

        /// Creates (and with `start`, starts) a container; removed again on drop.
        fn container<'a>(&'a self, label: &str, start: bool, cmd: &[&str]) -> Container<'a> {
            // The guard exists before the container does, so a failed start removes it too.
            let container =
                Container { cli: self, name: format!("pwt{}-{label}", std::process::id()) };
            let mut args = vec![if start { "run" } else { "create" }];
            if start && cmd != ["true"] {
                args.push("-d");
            }
            args.extend(["--name", &container.name]);
            args.extend(self.run_flags.iter().map(String::as_str));
            args.push(&self.image);
            args.extend(cmd);
            self.run(&args);
            container
        }
    }

    struct Container<'a> {
        cli: &'a Cli,
        pub name: String,
    }

    impl Container<'_> {
        fn inspect(&self, format: &str) -> String {
            self.cli.run(&["inspect", "-f", format, &self.name])
        }

        fn pid(&self) -> u32 {
            self.inspect("{{.State.Pid}}").parse().expect("pid")
        }

        fn id(&self) -> String {
            self.inspect("{{.Id}}")
        }

        fn remove(&self) {
            self.cli.run(&["rm", "-f", &self.name]);
        }
    }

    impl Drop for Container<'_> {
        fn drop(&mut self) {
            let _ = self.cli.command(&["rm", "-f", &self.name]).output();
        }
    }

    /// Resolves `target` by name, ID and prefix, checking each answer against the CLI's PID.
    fn assert_resolves_everywhere(container: &Container, engine: Engine, prefix: &str) {
        let pid = container.pid();
        let id = container.id();
        let expected = netns_inode(pid);
        assert_ne!(expected, netns_inode(std::process::id()), "the container has its own netns");
        let chain = Resolvers::default();
        for target in [
            container.name.clone(),
            format!("{prefix}:{}", container.name),
            format!("{prefix}:/{}", container.name),
            format!("{prefix}:{id}"),
            format!("{prefix}:{}", &id[..12]),
            id[..12].to_string(),
        ] {
            let guest = chain.resolve(&target).unwrap_or_else(|e| panic!("{target}: {e}"));
            assert_eq!(guest.namespace.id().ino, expected, "{target}");
            assert_eq!(guest.engine, engine, "{target}");
            assert_eq!(guest.pid, Some(pid), "{target}");
            assert_eq!(guest.name.as_deref(), Some(container.name.as_str()), "{target}");
            assert_eq!(guest.id.as_deref(), Some(id.as_str()), "{target}");
        }
    }

    #[test]
    #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
    fn docker_containers_resolve_by_name_id_and_prefix() {
        let docker = Cli::docker();
        let web = docker.container("byname", true, &["sleep", "1000"]);
        assert_resolves_everywhere(&web, Engine::Docker, "docker");
        // Docker's own handle on the namespace is the same namespace.
        let sandbox_key = web.inspect("{{.NetworkSettings.SandboxKey}}");
        let guest = Resolvers::default().resolve(&web.name).unwrap();
        assert_eq!(guest.namespace.id().ino, fs::metadata(&sandbox_key).unwrap().ino());
    }

    #[test]
    #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
    fn docker_created_container_is_resolved_once_started() {
        let docker = Cli::docker();
        let late = docker.container("late", false, &["sleep", "1000"]);
        assert_eq!(late.pid(), 0);
        let resolver = DockerResolver::docker().start_timeout(Duration::from_secs(20));
        let guest = thread::scope(|scope| {
            let resolving = scope.spawn(|| resolver.resolve(&late.name));
            thread::sleep(Duration::from_millis(700));
            docker.run(&["start", &late.name]);
            resolving.join().unwrap()
        });
        let guest = found(guest.expect("resolved once started"));
        assert_eq!(guest.pid, Some(late.pid()));
        assert_eq!(guest.namespace.id().ino, netns_inode(late.pid()));
    }

    #[test]
    #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
    fn docker_container_never_started_is_reported() {
        let docker = Cli::docker();
        let idle = docker.container("idle", false, &["sleep", "1000"]);
        let resolver = DockerResolver::docker().start_timeout(Duration::from_secs(1));
        let err = resolver.resolve(&idle.name).expect_err("never started");
        let text = err.to_string();
        assert!(text.contains(&format!("docker container \"{}\"", idle.name)), "{text}");
        assert!(text.contains("created but has not started"), "{text}");
    }

    #[test]
    #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
    fn docker_stopped_unknown_and_ambiguous_are_errors() {
        let docker = Cli::docker();
        let stopped = docker.container("stopped", true, &["true"]);
        let err = Resolvers::default().resolve(&stopped.name).expect_err("stopped");
        assert!(err.to_string().contains("it is exited, not running"), "{err}");
        assert!(err.to_string().contains(&stopped.name), "{err}");

        let unknown = format!("pwt{}-nosuch", std::process::id());
        let err = Resolvers::default().resolve(&format!("docker:{unknown}")).expect_err("unknown");
        assert_eq!(err.errno(), Errno::ENOENT);
        assert!(err.to_string().contains(&format!("No such container: {unknown}")), "{err}");

        // Create containers until two IDs share their first digit (17 always do).
        let mut made: Vec<(Container, String)> = Vec::new();
        let (first, second) = loop {
            assert!(made.len() < 17, "16 hex digits cannot all differ");
            let container = docker.container(&format!("amb{}", made.len()), false, &["true"]);
            let id = container.id();
            let twin = made.iter().find(|(_, other)| other[..1] == id[..1]).map(|(_, o)| o.clone());
            made.push((container, id.clone()));
            if let Some(twin) = twin {
                break (twin, id);
            }
        };
        let err = Resolvers::default()
            .resolve(&format!("docker:{}", &first[..1]))
            .expect_err("ambiguous");
        let text = err.to_string();
        assert_eq!(err.errno(), Errno::EINVAL, "{text}");
        assert!(text.contains("ambiguous ID prefix"), "{text}");
        assert!(text.contains(&first[..12]) && text.contains(&second[..12]), "{text}");
    }

    #[test]
    #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
    fn docker_container_removed_before_attach_is_a_clean_error() {
        let sandbox = Sandbox::new();
        let host = sandbox.host_handle();
        let docker = Cli::docker();
        let brief = docker.container("brief", true, &["sleep", "1000"]);
        let guest = Resolvers::default().resolve(&brief.name).expect("resolve");
        let before = sandbox.state(&sandbox.host_name());
        brief.remove();
        let plan = AttachPlan::bridge("br-gone").address("10.213.9.2/24".parse().unwrap());
        let err = attach(&host, &guest, &plan).expect_err("the container is gone");
        let text = err.to_string();
        assert_eq!(err.errno(), Errno::ENOENT, "{text}");
        assert!(
            text.contains("exited since it was resolved") && text.contains(&brief.name),
            "{text}"
        );
        assert_eq!(before, sandbox.state(&sandbox.host_name()), "attach left something behind");
    }

    #[test]
    #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
    fn lxc_container_resolves_by_every_lookup_and_never_to_the_monitor() {
        use pipework_core::resolve::LxcLookup;
        let name = need("PWT_LXC_RUNNING");
        let lxcpath = need("LXC_PATH");
        let output = Command::new("lxc-info")
            .args(["-P", &lxcpath, "-n", &name, "-p", "-H"])
            .output()
            .unwrap();
        let init: u32 =
            String::from_utf8_lossy(&output.stdout).trim().parse().expect("lxc-info pid");
        let status = fs::read_to_string(format!("/proc/{init}/status")).unwrap();
        let monitor: u32 =
            status.lines().find_map(|l| l.strip_prefix("PPid:")).unwrap().trim().parse().unwrap();
        let monitor_cmdline = fs::read_to_string(format!("/proc/{monitor}/cmdline")).unwrap();
        assert!(monitor_cmdline.starts_with("[lxc monitor]"), "{monitor_cmdline:?}");
        let expected = netns_inode(init);
        assert_ne!(expected, netns_inode(monitor), "the monitor stays in the host namespace");
        for lookups in [
            vec![LxcLookup::Cgroup],
            vec![LxcLookup::CommandSocket],
            vec![LxcLookup::LxcInfo],
            vec![LxcLookup::Cgroup, LxcLookup::CommandSocket, LxcLookup::LxcInfo],
        ] {
            let resolver = LxcResolver::from_env().lookups(&lookups);
            assert_eq!(resolver.lxcpath(), Path::new(&lxcpath), "LXC_PATH is honoured");
            let guest =
                found(resolver.resolve(&name).unwrap_or_else(|e| panic!("{lookups:?}: {e}")));
            assert_eq!(guest.pid, Some(init), "{lookups:?}");
            assert_eq!(guest.namespace.id().ino, expected, "{lookups:?}");
            assert_eq!((guest.engine, guest.name.as_deref()), (Engine::Lxc, Some(name.as_str())));
        }
        let guest = Resolvers::default().resolve(&name).expect("through the chain");
        assert_eq!(guest.namespace.id().ino, expected);
        let guest = Resolvers::default().resolve(&format!("lxc:{name}")).expect("with the prefix");
        assert_eq!(guest.pid, Some(init));
        // Another lxcpath does not have it.
        let err = not_mine(LxcResolver::new("/nonexistent/lxcpath").resolve(&name).unwrap());
        assert!(err.to_string().contains("/nonexistent/lxcpath"), "{err}");
    }

    #[test]
    #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
    fn lxc_stopped_and_unknown_containers_are_errors() {
        use pipework_core::resolve::LxcLookup;
        let stopped = need("PWT_LXC_STOPPED");
        let err = Resolvers::default().resolve(&format!("lxc:{stopped}")).expect_err("stopped");
        assert!(err.to_string().contains("it is stopped"), "{err}");
        assert!(err.to_string().contains(&stopped), "{err}");
        let only_info = LxcResolver::from_env().lookups(&[LxcLookup::LxcInfo]);
        assert!(
            only_info.resolve(&stopped).expect_err("stopped").to_string().contains("(lxc-info)")
        );
        let only_cgroup = LxcResolver::from_env().lookups(&[LxcLookup::Cgroup]);
        let err = only_cgroup.resolve(&stopped).expect_err("no init in a cgroup");
        assert!(err.to_string().contains("no cgroup lxc.payload."), "{err}");

        let err = Resolvers::default().resolve("lxc:pwt-nosuch").expect_err("unknown");
        assert_eq!(err.errno(), Errno::ENOENT);
        assert!(
            err.to_string().contains(&format!("{}/pwt-nosuch/config", need("LXC_PATH"))),
            "{err}"
        );
        let err = Resolvers::default().resolve("lxc:a/b").expect_err("slash");
        assert_eq!(err.errno(), Errno::EINVAL);
    }

    #[test]
    #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
    fn lxc_running_container_seen_from_another_network_namespace_is_not_called_stopped() {
        use pipework_core::resolve::LxcLookup;
        let name = need("PWT_LXC_RUNNING");
        let sandbox = Sandbox::new();
        let private = sandbox.host().try_clone().expect("a second handle on the namespace");
        let seen = std::thread::spawn(move || {
            // This thread (and the lxc-info it starts) is where the monitor's socket is not.
            nix::sched::setns(&private, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let by =
                |lookups: &[LxcLookup]| LxcResolver::from_env().lookups(lookups).resolve(&name);
            let socket = by(&[LxcLookup::CommandSocket]).map(|_| ()).expect_err("unreachable");
            let info = by(&[LxcLookup::LxcInfo]).map(|_| ()).expect_err("unreachable");
            let chain = by(&[LxcLookup::Cgroup, LxcLookup::CommandSocket, LxcLookup::LxcInfo]);
            (socket, info, chain.map(|found| matches!(found, Resolution::Found(_))))
        })
        .join()
        .expect("the lookup thread");
        let (socket, info, chain) = seen;
        for err in [&socket, &info] {
            let text = err.to_string();
            assert!(!text.contains("it is stopped"), "a running container is not stopped: {text}");
            assert!(text.contains("its monitor (PID") && text.contains("abstract"), "{text}");
            assert_eq!(err.errno(), Errno::ENOENT, "{text}");
        }
        assert!(info.to_string().contains("lxc-info says STOPPED"), "{info}");
        assert_eq!(chain.ok(), Some(true), "the cgroup lookup finds it from any namespace");
    }

    /// The pipework README's scenario with real containers: a Docker container and an LXC
    /// container on one bridge, talking to each other.
    #[test]
    #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
    fn docker_and_lxc_containers_on_one_bridge_ping_each_other() {
        let sandbox = Sandbox::new();
        let host = sandbox.host_handle();
        let docker = Cli::docker();
        let web = docker.container("lamp-web", true, &["sleep", "1000"]);
        let lxc_name = need("PWT_LXC_RUNNING");
        let chain = Resolvers::default();
        let web_guest = chain.resolve(&web.name).expect("docker guest");
        let db_guest = chain.resolve(&lxc_name).expect("lxc guest");
        assert_eq!((&web_guest.engine, &db_guest.engine), (&Engine::Docker, &Engine::Lxc));

        let web_plan = AttachPlan::bridge("br-lamp").address("10.213.7.2/24".parse().unwrap());
        let db_plan = AttachPlan::bridge("br-lamp").address("10.213.7.3/24".parse().unwrap());
        let web_attachment = attach(&host, &web_guest, &web_plan).expect("attach docker");
        let db_attachment = attach(&host, &db_guest, &db_plan).expect("attach lxc");
        // The records keep what detach needs, whatever the engines say later.
        assert_eq!(web_attachment.guest.engine, Engine::Docker);
        assert_eq!(web_attachment.guest.id, Some(web.id()));
        assert_eq!(db_attachment.guest.name.as_deref(), Some(lxc_name.as_str()));

        let addresses = docker.run(&["exec", &web.name, "ip", "-o", "addr"]);
        assert!(addresses.contains("eth1") && addresses.contains("10.213.7.2/24"), "{addresses}");
        let ping = docker
            .command(&["exec", &web.name, "ping", "-c", "3", "-W", "2", "10.213.7.3"])
            .output()
            .unwrap();
        assert!(ping.status.success(), "ping: {}", String::from_utf8_lossy(&ping.stdout));

        db_attachment
            .detach(&host, Some(&Handle::new(&db_guest.namespace).unwrap()))
            .expect("detach lxc");
        let db_links = Command::new("nsenter")
            .args(["-t", &db_guest.pid.unwrap().to_string(), "-n", "ip", "-o", "link"])
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&db_links.stdout).contains("eth1"), "eth1 left in LXC");
        // The Docker container goes first; detach still works from the record alone.
        web.remove();
        web_attachment.detach(&host, None).expect("detach after the container is gone");
        drop(web_guest);
        assert_eq!(
            sandbox.link_names(&sandbox.host_name()),
            ["lo"],
            "the host namespace is clean again"
        );
    }

    /// Podman through its Docker-compatible service; scripts/tier-engines.sh skips this module,
    /// and says why, when Podman cannot run containers on the machine.
    mod podman {
        use super::*;

        #[test]
        #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
        fn podman_containers_resolve_by_name_id_and_prefix() {
            let podman = Cli::podman();
            let app = podman.container("app", true, &["sleep", "1000"]);
            assert_resolves_everywhere(&app, Engine::Podman, "podman");
        }

        #[test]
        #[ignore = "needs real engines; scripts/tier-engines.sh runs it"]
        fn podman_stopped_and_unknown_are_errors() {
            let podman = Cli::podman();
            let done = podman.container("done", true, &["true"]);
            let err = Resolvers::default()
                .resolve(&format!("podman:{}", done.name))
                .expect_err("stopped");
            assert!(err.to_string().contains("not running"), "{err}");
            let err = Resolvers::default().resolve("podman:pwt-nosuch").expect_err("unknown");
            assert_eq!(err.errno(), Errno::ENOENT);
            assert!(err.to_string().contains("podman container \"pwt-nosuch\""), "{err}");
        }
    }
}
