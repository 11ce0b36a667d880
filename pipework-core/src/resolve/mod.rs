//! Turning a target string (a PID, a namespace name or path, a container) into a [`Guest`].

mod netns;
mod pid;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use self::{netns::NetnsResolver, pid::PidResolver};
use crate::{
    error::{Error, Op, Result},
    netns::{Namespace, NamespaceId, NamespaceOrigin},
};

/// Which kind of resolver found a guest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// A plain process ID.
    Pid,
    /// A namespace named in /run/netns or given by path.
    Netns,
    /// A resolver added by the caller, under its own name.
    Other(String),
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::Pid => f.write_str("pid"),
            Engine::Netns => f.write_str("netns"),
            Engine::Other(name) => f.write_str(name),
        }
    }
}

/// A container or namespace to attach: its network namespace, held open, and what is known of it.
#[derive(Debug)]
pub struct Guest {
    /// The guest's network namespace, opened when the guest was resolved.
    pub namespace: Namespace,
    /// A process inside the namespace, when the guest has one.
    pub pid: Option<u32>,
    /// The guest's name (container name, namespace name).
    pub name: Option<String>,
    /// The engine's ID of the guest (container ID).
    pub id: Option<String>,
    /// Which resolver found it.
    pub engine: Engine,
}

impl Guest {
    /// A guest that is just a namespace, described by how the namespace was opened.
    pub fn from_namespace(namespace: Namespace) -> Self {
        let (pid, name) = match namespace.origin() {
            NamespaceOrigin::Pid(pid) => (Some(*pid), None),
            NamespaceOrigin::Named(name) => (None, Some(name.clone())),
            NamespaceOrigin::Path(path) => (None, Some(path.display().to_string())),
            _ => (None, None),
        };
        let engine = if pid.is_some() { Engine::Pid } else { Engine::Netns };
        Guest { namespace, pid, name, id: None, engine }
    }

    /// The record of this guest kept in an attachment.
    pub fn record(&self) -> GuestRecord {
        GuestRecord {
            namespace: self.namespace.id(),
            origin: self.namespace.origin().clone(),
            pid: self.pid,
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

/// What an attachment remembers of its guest, so it can be found again (or not) at detach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestRecord {
    /// The namespace's identity when attached.
    pub namespace: NamespaceId,
    /// How the namespace was opened.
    pub origin: NamespaceOrigin,
    /// A process in the namespace, when known.
    pub pid: Option<u32>,
    /// The guest's name, when known.
    pub name: Option<String>,
    /// The engine's ID of the guest, when known.
    pub id: Option<String>,
    /// Which resolver found it.
    pub engine: Engine,
}

/// What a resolver says about a target.
#[derive(Debug)]
pub enum Resolution {
    /// The target is this guest.
    Found(Guest),
    /// The target is not for this resolver; the reason is reported if no resolver matches.
    NotMine(String),
}

/// Something that can turn a target string into a guest.
pub trait Resolver: Send + Sync {
    /// The resolver's name, used as a target prefix (`pid:`) and in error messages.
    fn name(&self) -> &str;

    /// Resolves `target` (without any prefix); errors are for targets that are this
    /// resolver's but cannot be used (a stopped container, a PID that has exited).
    fn resolve(&self, target: &str) -> Result<Resolution>;
}

/// An ordered chain of resolvers; `name:target` goes straight to the resolver called `name`.
pub struct Resolvers {
    chain: Vec<Box<dyn Resolver>>,
}

impl Default for Resolvers {
    /// PID, then named namespace or namespace path.
    fn default() -> Self {
        Resolvers { chain: vec![Box::new(PidResolver), Box::new(NetnsResolver)] }
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

    /// Finds the guest `target` names, reporting every resolver's answer when none matches.
    pub fn resolve(&self, target: &str) -> Result<Guest> {
        if target.is_empty() {
            return Err(Error::invalid("guest", target, "is empty"));
        }
        if let Some((prefix, rest)) = target.split_once(':')
            && let Some(resolver) = self.chain.iter().find(|r| r.name() == prefix)
        {
            return match resolver.resolve(rest)? {
                Resolution::Found(guest) => Ok(guest),
                Resolution::NotMine(reason) => Err(Error::NotFound {
                    op: Op::Resolve,
                    object: format!("guest {target:?} ({prefix}: {reason})"),
                }),
            };
        }
        let mut reasons = Vec::new();
        for resolver in &self.chain {
            match resolver.resolve(target)? {
                Resolution::Found(guest) => return Ok(guest),
                Resolution::NotMine(reason) => {
                    reasons.push(format!("{}: {reason}", resolver.name()))
                }
            }
        }
        Err(Error::NotFound {
            op: Op::Resolve,
            object: format!("guest {target:?} ({})", reasons.join("; ")),
        })
    }
}

/// Resolves `target` with the default chain.
pub fn resolve(target: &str) -> Result<Guest> {
    Resolvers::default().resolve(target)
}
