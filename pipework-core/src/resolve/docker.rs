//! Docker and Podman containers, found through the Docker Engine API on a unix socket.
//!
//! Podman's service (`podman system service`) speaks the same API, so one resolver serves both.

use std::{
    collections::BTreeMap,
    env,
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use serde::Deserialize;

use super::{
    Engine, Guest, Resolution, Resolver,
    http::{self, Failure},
    process::Process,
};
use crate::error::{Error, Op, Result};

/// Docker's socket when `DOCKER_HOST` is not set.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Podman's rootful service socket when `CONTAINER_HOST` is not set.
pub const DEFAULT_PODMAN_SOCKET: &str = "/run/podman/podman.sock";
/// How long a created container is waited for by default before "not started" is reported.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a container that is not started yet is asked again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves a container name, full ID or unique ID prefix through a Docker-compatible API.
///
/// Equivalent to: `docker inspect --format '{{.State.Pid}}' NAME`, without the `docker` CLI.
#[derive(Debug, Clone)]
pub struct DockerResolver {
    engine: Engine,
    name: String,
    endpoint: Endpoint,
    start_timeout: Duration,
}

/// Where the engine listens, or why its configured address cannot be used.
#[derive(Debug, Clone)]
enum Endpoint {
    Socket(PathBuf),
    Unsupported { variable: &'static str, value: String },
}

impl DockerResolver {
    /// Docker at `$DOCKER_HOST` (a `unix://` address) or /var/run/docker.sock.
    pub fn docker() -> Self {
        Self::from_env(Engine::Docker, "DOCKER_HOST", PathBuf::from(DEFAULT_DOCKER_SOCKET))
    }

    /// Podman's service at `$CONTAINER_HOST` (a `unix://` address), else its rootful socket
    /// /run/podman/podman.sock for root and `$XDG_RUNTIME_DIR/podman/podman.sock` for others.
    pub fn podman() -> Self {
        let default = match env::var_os("XDG_RUNTIME_DIR") {
            Some(dir) if !nix::unistd::geteuid().is_root() => {
                Path::new(&dir).join("podman/podman.sock")
            }
            _ => PathBuf::from(DEFAULT_PODMAN_SOCKET),
        };
        Self::from_env(Engine::Podman, "CONTAINER_HOST", default)
    }

    /// An engine at `socket`; the resolver is called (and takes the prefix) `engine`'s name.
    pub fn new(engine: Engine, socket: impl Into<PathBuf>) -> Self {
        DockerResolver {
            name: engine.to_string(),
            engine,
            endpoint: Endpoint::Socket(socket.into()),
            start_timeout: DEFAULT_START_TIMEOUT,
        }
    }

    /// How long a created but not yet started container (PID 0) is waited for.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// The engine's socket, when its address is a usable one.
    pub fn socket(&self) -> Option<&Path> {
        match &self.endpoint {
            Endpoint::Socket(path) => Some(path),
            Endpoint::Unsupported { .. } => None,
        }
    }

    /// Which engine this resolver asks.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The IDs of the running containers.
    ///
    /// Equivalent to: `docker ps --no-trunc --format '{{.ID}}'`.
    pub fn running(&self) -> Result<Vec<String>> {
        let socket = self.usable_socket("the running containers")?;
        let answer = self.get(socket, "/containers/json", "the running containers")?;
        if answer.status != 200 {
            return Err(self.garbage(
                socket,
                "the running containers",
                format!(
                    "HTTP {} {}: {}",
                    answer.status,
                    answer.reason,
                    http::preview(&answer.body)
                ),
            ));
        }
        let list: Vec<ListedContainer> = serde_json::from_slice(&answer.body).map_err(|err| {
            self.garbage(
                socket,
                "the running containers",
                format!("a list that does not parse ({err})"),
            )
        })?;
        Ok(list.into_iter().map(|c| c.id).collect())
    }

    /// What the engine says of container `target` (name or ID): its labels and environment;
    /// `None` when the engine does not know it (removed).
    ///
    /// Equivalent to: `docker inspect --format '{{json .Config}}' TARGET`.
    pub fn container(&self, target: &str) -> Result<Option<ContainerConfig>> {
        let target = validate_container_ref(&self.name, target)?;
        match self.inspect(target)? {
            Lookup::Found(container) => {
                let config = container.config.unwrap_or_default();
                Ok(Some(ContainerConfig {
                    id: container.id,
                    name: container.name.trim_start_matches('/').to_string(),
                    running: container.state.is_up(),
                    labels: config.labels.unwrap_or_default(),
                    env: config.env.unwrap_or_default(),
                }))
            }
            Lookup::NotMine(Error::NotFound { .. }) => Ok(None),
            Lookup::NotMine(err) => Err(err),
        }
    }

    /// The socket, or why the configured address cannot be used (about `object`).
    pub(crate) fn usable_socket(&self, object: &str) -> Result<&Path> {
        match &self.endpoint {
            Endpoint::Socket(path) => Ok(path),
            Endpoint::Unsupported { variable, value } => Err(Error::Unsupported {
                op: Op::QueryEngine,
                object: format!("{} for {object}", self.name),
                reason: format!(
                    "{variable}={value} is not a unix:// address; only unix sockets are supported"
                ),
            }),
        }
    }

    fn from_env(engine: Engine, variable: &'static str, default: PathBuf) -> Self {
        let mut resolver = Self::new(engine, default);
        if let Some(value) = env::var_os(variable).filter(|v| !v.is_empty()) {
            let value = value.to_string_lossy().into_owned();
            resolver.endpoint = match value.strip_prefix("unix://") {
                Some(path) if !path.is_empty() => Endpoint::Socket(PathBuf::from(path)),
                _ => Endpoint::Unsupported { variable, value },
            };
        }
        resolver
    }

    /// Asks the engine about `target`; `NotMine` when it does not know it or cannot be asked.
    fn inspect(&self, target: &str) -> Result<Lookup> {
        let socket = match &self.endpoint {
            Endpoint::Socket(path) => path,
            Endpoint::Unsupported { variable, value } => {
                return Ok(Lookup::NotMine(Error::Unsupported {
                    op: Op::QueryEngine,
                    object: format!("{} for {target:?}", self.name),
                    reason: format!(
                        "{variable}={value} is not a unix:// address; only unix sockets are supported"
                    ),
                }));
            }
        };
        let answer = match self.get(socket, &format!("/containers/{target}/json"), target) {
            Ok(answer) => answer,
            Err(err) => return Ok(Lookup::NotMine(err)),
        };
        match answer.status {
            200 => match serde_json::from_slice::<Container>(&answer.body) {
                Ok(container) => Ok(Lookup::Found(container)),
                Err(err) => Ok(Lookup::NotMine(self.garbage(
                    socket,
                    target,
                    format!(
                        "container JSON that does not parse ({err}): {}",
                        http::preview(&answer.body)
                    ),
                ))),
            },
            status => {
                // An ambiguous ID prefix is a 500 from Docker and a 404 from Podman: list to tell.
                if is_hex(target)
                    && let Ok(candidates) = self.containers_with_prefix(socket, target)
                    && candidates.len() > 1
                {
                    return Err(Error::invalid(
                        format!("{} container", self.name),
                        target,
                        format!(
                            "is an ambiguous ID prefix; it matches {}; give more of the ID",
                            candidates.join(", ")
                        ),
                    ));
                }
                let message = serde_json::from_slice::<EngineMessage>(&answer.body)
                    .map(|m| m.message)
                    .unwrap_or_else(|_| http::preview(&answer.body));
                Ok(Lookup::NotMine(if status == 404 {
                    Error::NotFound {
                        op: Op::Resolve,
                        object: format!(
                            "{} container {target:?} (asked {}: {message})",
                            self.name,
                            socket.display()
                        ),
                    }
                } else {
                    self.garbage(
                        socket,
                        target,
                        format!("HTTP {status} {}: {message}", answer.reason),
                    )
                }))
            }
        }
    }

    /// The containers whose ID starts with `prefix`, as `ID (name)`.
    fn containers_with_prefix(&self, socket: &Path, prefix: &str) -> Result<Vec<String>> {
        let answer = self.get(socket, "/containers/json?all=1", prefix)?;
        let list: Vec<ListedContainer> = serde_json::from_slice(&answer.body).map_err(|err| {
            self.garbage(socket, prefix, format!("a container list that does not parse ({err})"))
        })?;
        Ok(list
            .into_iter()
            .filter(|c| c.id.starts_with(prefix))
            .map(|c| {
                let names: Vec<&str> = c.names.iter().map(|n| n.trim_start_matches('/')).collect();
                format!("{} ({})", short_id(&c.id), names.join(", "))
            })
            .collect())
    }

    fn get(&self, socket: &Path, path: &str, target: &str) -> Result<http::Answer> {
        http::get(socket, path, REQUEST_TIMEOUT).map_err(|failure| match failure {
            Failure::Io(err) => Error::io(Op::QueryEngine, self.engine_at(socket, target), &err),
            Failure::Garbage(detail) => self.garbage(socket, target, detail),
        })
    }

    fn garbage(&self, socket: &Path, target: &str, detail: String) -> Error {
        Error::Protocol { op: Op::QueryEngine, object: self.engine_at(socket, target), detail }
    }

    fn engine_at(&self, socket: &Path, target: &str) -> String {
        format!("{} at {} about {target:?}", self.name, socket.display())
    }

    /// The guest for a running container, its namespace opened before the engine is asked again.
    fn open(&self, container: &Container) -> Result<Option<Guest>> {
        let process = match Process::of(container.state.pid) {
            Ok(process) => process,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        let namespace = match process.open_namespace() {
            Ok(namespace) => namespace,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        // The PID could have been recycled before it was opened: the engine must still name it.
        match self.inspect(&container.id)? {
            Lookup::Found(again) if again.state.pid == process.pid && again.state.is_up() => {
                Ok(Some(Guest::from_process(
                    namespace,
                    process,
                    self.engine.clone(),
                    Some(container.name.trim_start_matches('/').to_string()),
                    Some(container.id.clone()),
                )))
            }
            _ => Ok(None),
        }
    }
}

impl Resolver for DockerResolver {
    fn name(&self) -> &str {
        &self.name
    }

    fn resolve(&self, target: &str) -> Result<Resolution> {
        let target = match validate_container_ref(&self.name, target) {
            Ok(target) => target,
            Err(err) => return Ok(Resolution::NotMine(err)),
        };
        let deadline = Instant::now() + self.start_timeout;
        loop {
            let container = match self.inspect(target)? {
                Lookup::Found(container) => container,
                Lookup::NotMine(err) => return Ok(Resolution::NotMine(err)),
            };
            let state = &container.state;
            if state.is_up() && state.pid > 0 {
                if let Some(guest) = self.open(&container)? {
                    return Ok(Resolution::Found(guest));
                }
                // It stopped or restarted while being opened: ask again, for a bounded time.
                if Instant::now() < deadline {
                    continue;
                }
            }
            let describe = || {
                format!(
                    "{} container {:?} ({})",
                    self.name,
                    container.name.trim_start_matches('/'),
                    short_id(&container.id)
                )
            };
            if state.is_up() && state.pid > 0 {
                return Err(Error::Conflict {
                    op: Op::Resolve,
                    object: describe(),
                    reason: format!(
                        "its process kept changing for {:.1} s while it was opened; is it restarting?",
                        self.start_timeout.as_secs_f64()
                    ),
                });
            }
            if !state.is_starting() {
                return Err(Error::Conflict {
                    op: Op::Resolve,
                    object: describe(),
                    reason: format!("it is {}, not running; start it first", state.status),
                });
            }
            if Instant::now() >= deadline {
                return Err(Error::Conflict {
                    op: Op::Resolve,
                    object: describe(),
                    reason: format!(
                        "it was created but has not started (state {:?}, PID 0) after {:.1} s; start it",
                        state.status,
                        self.start_timeout.as_secs_f64()
                    ),
                });
            }
            thread::sleep(POLL_INTERVAL);
        }
    }
}

/// A container as the engine describes it: who it is and what its configuration asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerConfig {
    /// The full ID.
    pub id: String,
    /// The name, without Docker's leading `/`.
    pub name: String,
    /// Whether it runs (or is paused) now.
    pub running: bool,
    /// Its labels (`Config.Labels`).
    pub labels: BTreeMap<String, String>,
    /// Its environment, `NAME=VALUE` (`Config.Env`).
    pub env: Vec<String>,
}

/// The engine's answer about a target.
enum Lookup {
    Found(Container),
    NotMine(Error),
}

/// The fields of `GET /containers/{id}/json` that matter here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Container {
    id: String,
    #[serde(default)]
    name: String,
    state: State,
    #[serde(default)]
    config: Option<Config>,
}

/// The part of a container's configuration that says what it asks of pipework.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    status: String,
    pid: u32,
}

impl State {
    /// Running (or paused, whose namespace is as usable).
    fn is_up(&self) -> bool {
        matches!(self.status.as_str(), "running" | "paused")
    }

    /// On its way to running: created and not started yet (Podman: configured, initialized).
    fn is_starting(&self) -> bool {
        self.is_up()
            || matches!(
                self.status.as_str(),
                "created" | "configured" | "initialized" | "restarting"
            )
    }
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedContainer {
    id: String,
    #[serde(default)]
    names: Vec<String>,
}

/// The body of an engine's error answer.
#[derive(Debug, Deserialize)]
struct EngineMessage {
    message: String,
}

/// Reads an Engine API answer the way the resolver does: HTTP first, then each JSON shape.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_engine_answer(raw: &[u8]) {
    if let Ok(answer) = http::parse(raw) {
        let _ = serde_json::from_slice::<Container>(&answer.body);
        let _ = serde_json::from_slice::<Vec<ListedContainer>>(&answer.body);
        let _ = serde_json::from_slice::<EngineMessage>(&answer.body);
    }
    let _ = http::preview(raw);
}

/// Checks a container name or ID before it goes into a request path; strips Docker's leading `/`.
///
/// Docker names match `[a-zA-Z0-9][a-zA-Z0-9_.-]*` and IDs are hexadecimal, so nothing else
/// can name a container and nothing else reaches the engine.
pub(crate) fn validate_container_ref<'a>(resolver: &str, target: &'a str) -> Result<&'a str> {
    let name = target.strip_prefix('/').unwrap_or(target);
    let reason = if name.is_empty() {
        "is empty"
    } else if name.len() > 253 {
        "is longer than 253 bytes"
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        "must start with a letter or a digit"
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        "may contain only letters, digits, '_', '.' and '-'"
    } else {
        return Ok(name);
    };
    Err(Error::invalid(format!("{resolver} container"), target, reason))
}

fn is_hex(target: &str) -> bool {
    target.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_and_ids_are_checked_before_any_request() {
        assert_eq!(validate_container_ref("docker", "web-1_a.b").unwrap(), "web-1_a.b");
        assert_eq!(validate_container_ref("docker", "/web").unwrap(), "web");
        assert_eq!(validate_container_ref("docker", "94f64e4d3631").unwrap(), "94f64e4d3631");
        for (bad, why) in [
            ("", "is empty"),
            ("/", "is empty"),
            ("-web", "must start"),
            (".hidden", "must start"),
            ("web/../../images", "only letters"),
            ("web?all=1", "only letters"),
            ("we b", "only letters"),
            ("web%2f", "only letters"),
            ("wéb", "only letters"),
            ("web\r\nHost: x", "only letters"),
        ] {
            let err = validate_container_ref("podman", bad).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("podman container") && text.contains(why), "{bad:?}: {text}");
            assert_eq!(err.errno(), nix::errno::Errno::EINVAL);
        }
        assert!(validate_container_ref("docker", &"a".repeat(254)).is_err());
    }

    #[test]
    fn engine_json_is_read_from_docker_and_podman_shapes() {
        let docker = br#"{"Id":"94f6","Name":"/web","State":{"Status":"running","Running":true,"Pid":25301}}"#;
        let container: Container = serde_json::from_slice(docker).unwrap();
        assert_eq!((container.id.as_str(), container.state.pid), ("94f6", 25301));
        assert!(container.state.is_up());
        let created: State = serde_json::from_str(r#"{"Status":"created","Pid":0}"#).unwrap();
        assert!(!created.is_up() && created.is_starting());
        let exited: State = serde_json::from_str(r#"{"Status":"exited","Pid":0}"#).unwrap();
        assert!(!exited.is_starting());
        let list: Vec<ListedContainer> =
            serde_json::from_str(r#"[{"Id":"ab","Names":["/x"]},{"Id":"cd"}]"#).unwrap();
        assert_eq!(list[0].names, ["/x"]);
        assert!(list[1].names.is_empty());
    }

    #[test]
    fn only_unix_addresses_are_used() {
        let resolver = DockerResolver::new(Engine::Docker, "/x.sock");
        assert_eq!(resolver.socket(), Some(Path::new("/x.sock")));
        assert_eq!(resolver.name(), "docker");
        let podman = DockerResolver::new(Engine::Podman, "/p.sock");
        assert_eq!(podman.name(), "podman");
        let unsupported = DockerResolver {
            endpoint: Endpoint::Unsupported {
                variable: "DOCKER_HOST",
                value: "tcp://h:2375".into(),
            },
            ..resolver
        };
        assert_eq!(unsupported.socket(), None);
        match unsupported.resolve("web").unwrap() {
            Resolution::NotMine(err) => {
                let text = err.to_string();
                assert!(
                    text.contains("DOCKER_HOST=tcp://h:2375") && text.contains("\"web\""),
                    "{text}"
                );
                assert_eq!(err.errno(), nix::errno::Errno::EOPNOTSUPP);
            }
            Resolution::Found(guest) => panic!("resolved to {guest}"),
        }
    }

    #[test]
    fn ids_are_lowercase_hex() {
        assert!(is_hex("94f64e"));
        assert!(!is_hex("94F64E"));
        assert!(!is_hex("web"));
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("ab"), "ab");
    }
}
