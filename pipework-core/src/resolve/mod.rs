//! Turning a target string (a PID, a namespace name or path, a container) into a [`Guest`].
//!
//! A [`Resolvers`] chain asks each [`Resolver`] in turn; `name:target` (`docker:web`,
//! `lxc:db`, `pid:4242`) asks only the resolver called `name`. Every guest's network
//! namespace is opened while it is resolved, and a process-backed guest is re-checked after
//! that, so a recycled PID is never configured.

mod docker;
pub(crate) mod http;
mod lxc;
mod netns;
mod pid;
pub(crate) mod process;

#[cfg(feature = "fuzzing")]
pub(crate) use self::docker::fuzz_engine_answer;

use std::{fmt, fs, os::unix::fs::MetadataExt, path::Path};

use serde::{Deserialize, Serialize};

use self::process::Process;
pub use self::{
    docker::{
        ContainerConfig, DEFAULT_DOCKER_SOCKET, DEFAULT_PODMAN_SOCKET, DEFAULT_START_TIMEOUT,
        DockerResolver,
    },
    lxc::{DEFAULT_LXC_PATH, LxcLookup, LxcResolver},
    netns::NetnsResolver,
    pid::PidResolver,
};
use crate::{
    error::{Category, Error, Op, Result},
    netns::{NETNS_RUN_DIR, Namespace, NamespaceId, NamespaceOrigin},
};

/// Which kind of resolver found a guest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// A plain process ID.
    Pid,
    /// A namespace named in /run/netns or given by path.
    Netns,
    /// A Docker container, found through the Docker Engine API.
    Docker,
    /// A Podman container, found through Podman's Docker-compatible API.
    Podman,
    /// An LXC container.
    Lxc,
    /// A resolver added by the caller, under its own name.
    Other(String),
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::Pid => f.write_str("pid"),
            Engine::Netns => f.write_str("netns"),
            Engine::Docker => f.write_str("docker"),
            Engine::Podman => f.write_str("podman"),
            Engine::Lxc => f.write_str("lxc"),
            Engine::Other(name) => f.write_str(name),
        }
    }
}

/// A container or namespace to attach: its network namespace, held open, and what is known of it.
#[derive(Debug)]
pub struct Guest {
    /// The guest's network namespace, opened when the guest was resolved.
    pub namespace: Namespace,
    /// A process inside the namespace, when the guest has one (a container's init).
    pub pid: Option<u32>,
    /// When that process started (clock ticks after boot, /proc/PID/stat field 22): with the
    /// PID it tells the process from a later one that reuses the PID.
    pub process_start: Option<u64>,
    /// The guest's name (container name, namespace name).
    pub name: Option<String>,
    /// The engine's ID of the guest (container ID).
    pub id: Option<String>,
    /// Which resolver found it.
    pub engine: Engine,
}

impl Guest {
    /// What names this guest across restarts, for [`crate::MacAddr::stable`]:
    /// `docker:<container ID>`, `podman:<container ID>`, `lxc:<name>`, `netns:<name>`,
    /// `path:<namespace path>`, or `pid:<PID>` (a PID is only as stable as its process).
    pub fn identity(&self) -> String {
        let named = self.id.as_ref().or(self.name.as_ref());
        match (&self.engine, named, self.namespace.origin()) {
            (Engine::Netns, _, NamespaceOrigin::Named(name)) => format!("netns:{name}"),
            (Engine::Netns, _, NamespaceOrigin::Path(path)) => {
                match (path.parent(), path.file_name()) {
                    // /run/netns/web is the namespace named web, however it was given.
                    (Some(dir), Some(name)) if dir == Path::new(NETNS_RUN_DIR) => {
                        format!("netns:{}", name.to_string_lossy())
                    }
                    _ => format!("path:{}", path.display()),
                }
            }
            (Engine::Pid, _, _) | (_, None, _) => match self.pid {
                Some(pid) => format!("pid:{pid}"),
                None => format!("netns:{}", self.namespace.id()),
            },
            (engine, Some(named), _) => format!("{engine}:{named}"),
        }
    }

    /// Another `Guest` for the same namespace and description (the namespace opened again).
    pub fn try_clone(&self) -> Result<Self> {
        Ok(Guest {
            namespace: self.namespace.try_clone()?,
            pid: self.pid,
            process_start: self.process_start,
            name: self.name.clone(),
            id: self.id.clone(),
            engine: self.engine.clone(),
        })
    }

    /// A guest that is just a namespace, described by how the namespace was opened.
    pub fn from_namespace(namespace: Namespace) -> Self {
        let (pid, name) = match namespace.origin() {
            NamespaceOrigin::Pid(pid) => (Some(*pid), None),
            NamespaceOrigin::Named(name) => (None, Some(name.clone())),
            NamespaceOrigin::Path(path) => (None, Some(path.display().to_string())),
            _ => (None, None),
        };
        let engine = if pid.is_some() { Engine::Pid } else { Engine::Netns };
        Guest { namespace, pid, process_start: None, name, id: None, engine }
    }

    /// The guest of a process whose namespace was opened while the process was known alive.
    pub(crate) fn from_process(
        namespace: Namespace,
        process: Process,
        engine: Engine,
        name: Option<String>,
        id: Option<String>,
    ) -> Self {
        Guest {
            namespace,
            pid: Some(process.pid),
            process_start: Some(process.start_time),
            name,
            id,
            engine,
        }
    }

    /// Fails when the guest went away after it was resolved: its process exited (or its PID
    /// now belongs to another process), or its namespace name or file was removed or reused.
    pub fn check_alive(&self) -> Result<()> {
        match self.gone() {
            Some(why) => {
                Err(Error::NotFound { op: Op::Resolve, object: format!("{self} ({why})") })
            }
            None => Ok(()),
        }
    }

    /// Why the guest is gone since it was resolved (see [`Self::check_alive`]); `None` while
    /// it is there.
    pub fn gone(&self) -> Option<String> {
        if let (Some(pid), Some(start_time)) = (self.pid, self.process_start) {
            let exited = || Some(format!("process {pid} exited since it was resolved"));
            if (Process { pid, start_time }).ensure_same().is_err() {
                return exited();
            }
            // A zombie keeps its /proc entry but no longer has a namespace.
            let Ok(now) = fs::metadata(format!("/proc/{pid}/ns/net")) else {
                return exited();
            };
            if (now.dev(), now.ino()) != (self.namespace.id().dev, self.namespace.id().ino) {
                return Some(format!(
                    "process {pid} is now in another network namespace, net:[{}]",
                    now.ino()
                ));
            }
            return None;
        }
        let file = match self.namespace.origin() {
            NamespaceOrigin::Named(name) => Path::new(NETNS_RUN_DIR).join(name),
            NamespaceOrigin::Path(path) => path.clone(),
            _ => return None,
        };
        match fs::metadata(&file) {
            Ok(meta)
                if (meta.dev(), meta.ino())
                    == (self.namespace.id().dev, self.namespace.id().ino) =>
            {
                None
            }
            Ok(_) => Some(format!("{} now refers to another namespace", file.display())),
            Err(err) => Some(format!("{}: {err}", file.display())),
        }
    }

    /// The record of this guest kept in an attachment.
    pub fn record(&self) -> GuestRecord {
        GuestRecord {
            namespace: self.namespace.id(),
            origin: self.namespace.origin().clone(),
            pid: self.pid,
            process_start: self.process_start,
            name: self.name.clone(),
            id: self.id.clone(),
            engine: self.engine.clone(),
        }
    }

    /// A short stable key for generated names: the PID when known, else the namespace inode.
    pub(crate) fn naming_key(&self) -> String {
        match self.pid {
            Some(pid) => pid.to_string(),
            None => self.namespace.id().ino.to_string(),
        }
    }
}

impl fmt::Display for Guest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, self.pid) {
            (Some(name), _) if self.engine != Engine::Netns => {
                write!(f, "{} {name} ({})", self.engine, self.namespace)
            }
            _ => write!(f, "{}", self.namespace),
        }
    }
}

/// What an attachment remembers of its guest, so it can be found again (or not) at detach,
/// even after its engine has forgotten it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestRecord {
    /// The namespace's identity when attached.
    pub namespace: NamespaceId,
    /// How the namespace was opened.
    pub origin: NamespaceOrigin,
    /// A process in the namespace, when known.
    pub pid: Option<u32>,
    /// That process's start time, which tells it from a later process with the same PID.
    #[serde(default)]
    pub process_start: Option<u64>,
    /// The guest's name, when known.
    pub name: Option<String>,
    /// The engine's ID of the guest, when known.
    pub id: Option<String>,
    /// Which resolver found it.
    pub engine: Engine,
}

impl GuestRecord {
    /// Opens the guest's namespace again the way it was found; `None` when it is gone or is now another one.
    ///
    /// An anonymous namespace cannot be found again and gives `None`.
    pub fn reopen(&self) -> Result<Option<Namespace>> {
        let opened = match &self.origin {
            NamespaceOrigin::Current => Namespace::current(),
            NamespaceOrigin::Pid(pid) => Namespace::from_pid(*pid),
            NamespaceOrigin::Path(path) => Namespace::from_path(path),
            NamespaceOrigin::Named(name) => Namespace::from_name(name),
            NamespaceOrigin::Anonymous => return Ok(None),
        };
        match opened {
            Ok(namespace) if namespace.id() == self.namespace => Ok(Some(namespace)),
            Ok(_) => Ok(None),
            Err(err) if err.category() == Category::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The guest this record describes, with its namespace opened again (see [`Self::reopen`]).
    pub fn with_namespace(&self, namespace: Namespace) -> Guest {
        Guest {
            namespace,
            pid: self.pid,
            process_start: self.process_start,
            name: self.name.clone(),
            id: self.id.clone(),
            engine: self.engine.clone(),
        }
    }
}

/// What a resolver says about a target.
#[derive(Debug)]
pub enum Resolution {
    /// The target is this guest.
    Found(Guest),
    /// The target is nothing this resolver knows, or the resolver cannot tell (its engine is
    /// not running, its socket is unreachable or answers garbage, the target is not a valid
    /// name for it). The chain then asks the next resolver; a `prefix:` target reports it.
    NotMine(Error),
}

/// Something that can turn a target string into a guest.
///
/// `Ok(NotMine)` lets the chain go on; `Err` stops it: the target is this resolver's but
/// cannot be used (a stopped container, an ambiguous ID prefix).
pub trait Resolver: Send + Sync {
    /// The resolver's name, used as a target prefix (`pid:`) and in error messages.
    fn name(&self) -> &str;

    /// Resolves `target` (without any prefix), opening the guest's namespace at once.
    fn resolve(&self, target: &str) -> Result<Resolution>;
}

/// An ordered chain of resolvers; `name:target` goes straight to the resolver called `name`.
pub struct Resolvers {
    chain: Vec<Box<dyn Resolver>>,
}

impl Default for Resolvers {
    /// PID, named namespace or namespace path, Docker (`$DOCKER_HOST`), Podman
    /// (`$CONTAINER_HOST`), then LXC (`$LXC_PATH`).
    fn default() -> Self {
        Resolvers {
            chain: vec![
                Box::new(PidResolver),
                Box::new(NetnsResolver),
                Box::new(DockerResolver::docker()),
                Box::new(DockerResolver::podman()),
                Box::new(LxcResolver::from_env()),
            ],
        }
    }
}

impl Resolvers {
    /// An empty chain.
    pub fn empty() -> Self {
        Resolvers { chain: Vec::new() }
    }

    /// Adds a resolver at the end of the chain.
    pub fn push(&mut self, resolver: Box<dyn Resolver>) -> &mut Self {
        self.chain.push(resolver);
        self
    }

    /// Adds a resolver at `index` (0 asks it first); past the end, it goes last.
    pub fn insert(&mut self, index: usize, resolver: Box<dyn Resolver>) -> &mut Self {
        self.chain.insert(index.min(self.chain.len()), resolver);
        self
    }

    /// The names of the resolvers, in the order they are asked.
    pub fn names(&self) -> Vec<&str> {
        self.chain.iter().map(|r| r.name()).collect()
    }

    /// Finds the guest `target` names: a `name:` prefix asks only that resolver, otherwise the
    /// first resolver that finds it wins, and when none does, the error lists every answer.
    pub fn resolve(&self, target: &str) -> Result<Guest> {
        if target.is_empty() {
            return Err(Error::invalid("guest", target, "is empty"));
        }
        if let Some((prefix, rest)) = target.split_once(':')
            && let Some(resolver) = self.chain.iter().find(|r| r.name() == prefix)
        {
            if rest.is_empty() {
                return Err(Error::invalid(
                    "guest",
                    target,
                    format!("nothing follows the prefix {prefix:?}"),
                ));
            }
            return match resolver.resolve(rest)? {
                Resolution::Found(guest) => Ok(guest),
                Resolution::NotMine(err) => Err(err),
            };
        }
        let mut answers = Vec::new();
        for resolver in &self.chain {
            match resolver.resolve(target)? {
                Resolution::Found(guest) => return Ok(guest),
                Resolution::NotMine(err) => {
                    let answer = err.to_string();
                    let reason = answer.strip_prefix("cannot resolve guest: ").unwrap_or(&answer);
                    answers.push(format!("{}: {reason}", resolver.name()));
                }
            }
        }
        Err(Error::Unresolved { target: target.to_string(), answers })
    }
}

/// Resolves `target` with the default chain.
pub fn resolve(target: &str) -> Result<Guest> {
    Resolvers::default().resolve(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_opens_the_same_namespace_and_keeps_the_description() {
        let guest = Guest::from_namespace(Namespace::from_pid(std::process::id()).unwrap());
        let clone = guest.try_clone().unwrap();
        assert_eq!(clone.namespace.id(), guest.namespace.id());
        assert_eq!(clone.record(), guest.record());
    }

    #[test]
    fn a_record_reopens_its_namespace_while_it_exists() {
        let own = Guest::from_namespace(Namespace::from_pid(std::process::id()).unwrap()).record();
        let reopened = own.reopen().unwrap().expect("own namespace");
        assert_eq!(reopened.id(), own.namespace);
        let mut gone = own.clone();
        gone.origin = NamespaceOrigin::Named("pipework-no-such-namespace".into());
        assert!(gone.reopen().unwrap().is_none());
        let mut other = own.clone();
        other.namespace.ino += 1;
        assert!(other.reopen().unwrap().is_none(), "another namespace under the same origin");
        let mut anonymous = own;
        anonymous.origin = NamespaceOrigin::Anonymous;
        assert!(anonymous.reopen().unwrap().is_none());
    }
}
