//! `TipcBus`: the automatic configuration of a set of guests into one TIPC network.

use std::{
    collections::HashSet,
    fmt,
    time::{Duration, Instant},
};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::{
    bearer::{BearerProps, BearerSpec, UdpLocal},
    identity::{NodeId, TipcAddress},
    node::{DEFAULT_NET_ID, NodeConfig, TipcNode, link_name_part},
};
use crate::{
    error::{Error, Failures, Op, Result},
    handle::Handle,
    resolve::Guest,
};

/// The interface a bus uses when none is given.
pub const DEFAULT_BEARER_IFNAME: &str = "eth0";
/// How long [`TipcBus::configure`] waits for every link by default.
pub const DEFAULT_LINK_TIMEOUT: Duration = Duration::from_secs(30);

/// How the members of a bus get their node identities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityScheme {
    /// [`NodeId::derive`] of the guest's name (else its engine ID, PID or namespace inode):
    /// the same container gets the same identity after a restart.
    Derived,
    /// A template where `{name}` and `{index}` (the guest's position, from 1) are replaced;
    /// the result is read like `tipc node set identity` reads its argument.
    Template(String),
    /// Legacy addresses `zone.cluster.(first_node + position)`, where the kernel accepts them.
    Legacy {
        /// Zone.
        zone: u8,
        /// Cluster.
        cluster: u16,
        /// Node number of the first guest.
        first_node: u16,
    },
}

/// What a member is to be called on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Naming {
    Identity(NodeId),
    Legacy(TipcAddress),
}

/// A set of guests joined into one TIPC network: one network id, one bearer spec, unique identities.
///
/// Equivalent to running `tipc net set id`, `tipc node set identity` and `tipc bearer enable`
/// in every container, then `tipc link list` until every pair is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipcBus {
    /// The network id shared by every member (1 to 9999).
    pub net_id: u32,
    /// The bearer every member enables (default `eth:eth0`).
    pub bearer: BearerSpec,
    /// Link properties of that bearer.
    pub props: BearerProps,
    /// How identities are assigned.
    pub identities: IdentityScheme,
    /// How long to wait until every pair of members has a link up; `None` does not wait.
    pub link_timeout: Option<Duration>,
}

impl Default for TipcBus {
    fn default() -> Self {
        TipcBus {
            net_id: DEFAULT_NET_ID,
            bearer: BearerSpec::eth(DEFAULT_BEARER_IFNAME),
            props: BearerProps::default(),
            identities: IdentityScheme::Derived,
            link_timeout: Some(DEFAULT_LINK_TIMEOUT),
        }
    }
}

/// One member of a bus as found (and left) by [`TipcBus::configure`] or [`TipcBus::show`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusNode {
    /// The guest, as it was described.
    pub guest: String,
    /// Its network id.
    pub net_id: u32,
    /// Its identity.
    pub identity: Option<NodeId>,
    /// Its 32-bit address (0 until it has joined).
    pub address: u32,
    /// Its bearers.
    pub bearers: Vec<String>,
    /// What this call changed on it, in order; empty when it was already configured.
    pub changes: Vec<String>,
}

/// Whether one member has a link up to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusLink {
    /// The member whose link table was read.
    pub from: String,
    /// The member the link goes to.
    pub to: String,
    /// The kernel's name of the link, when it exists.
    pub name: Option<String>,
    /// Whether it is up.
    pub up: bool,
}

/// The table of nodes and links of a bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusReport {
    /// The members, in the order given.
    pub nodes: Vec<BusNode>,
    /// Every ordered pair of members.
    pub links: Vec<BusLink>,
}

impl BusReport {
    /// Whether the call that made this report changed anything.
    pub fn changed(&self) -> bool {
        self.nodes.iter().any(|node| !node.changes.is_empty())
    }

    /// Whether every pair of members has a link up.
    pub fn all_links_up(&self) -> bool {
        self.links.iter().all(|link| link.up)
    }
}

impl fmt::Display for BusReport {
    /// A table like `tipc node list` and `tipc link list` side by side.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.nodes.iter().map(|n| n.guest.len()).max().unwrap_or(5).max(5);
        writeln!(
            f,
            "{:width$}  {:>6}  {:32}  {:8}  {:14}  CHANGES",
            "GUEST", "NET", "IDENTITY", "ADDRESS", "BEARERS"
        )?;
        for node in &self.nodes {
            let identity = node.identity.map_or("-".to_string(), |id| id.to_string());
            let changes =
                if node.changes.is_empty() { "none".to_string() } else { node.changes.join(", ") };
            writeln!(
                f,
                "{:width$}  {:>6}  {identity:32}  {:08x}  {:14}  {changes}",
                node.guest,
                node.net_id,
                node.address,
                node.bearers.join(","),
            )?;
        }
        writeln!(f)?;
        writeln!(f, "{:width$}  {:width$}  {:5}  LINK", "FROM", "TO", "STATE")?;
        for link in &self.links {
            let state = if link.up { "up" } else { "down" };
            writeln!(
                f,
                "{:width$}  {:width$}  {state:5}  {}",
                link.from,
                link.to,
                link.name.as_deref().unwrap_or("-")
            )?;
        }
        Ok(())
    }
}

/// A member while it is being configured.
struct Member<'a> {
    guest: &'a Guest,
    label: String,
    node: TipcNode,
    naming: Naming,
    before: NodeConfig,
    bearer_exists: bool,
}

impl TipcBus {
    /// A bus with the defaults: network id 4711, `eth:eth0`, derived identities, a 30 s wait.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the network id.
    pub fn net_id(mut self, net_id: u32) -> Self {
        self.net_id = net_id;
        self
    }

    /// Sets the bearer.
    pub fn bearer(mut self, bearer: BearerSpec) -> Self {
        self.bearer = bearer;
        self
    }

    /// Sets the bearer's link properties.
    pub fn props(mut self, props: BearerProps) -> Self {
        self.props = props;
        self
    }

    /// Sets how identities are assigned.
    pub fn identities(mut self, scheme: IdentityScheme) -> Self {
        self.identities = scheme;
        self
    }

    /// Sets how long to wait for the links (`None`: do not wait).
    pub fn link_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.link_timeout = timeout;
        self
    }

    /// Checks the settings; an error names the argument and why.
    pub fn validate(&self) -> Result<()> {
        if !(1..=9999).contains(&self.net_id) {
            return Err(Error::invalid(
                "net id",
                self.net_id.to_string(),
                "must be from 1 to 9999",
            ));
        }
        self.bearer.validate()?;
        self.props.validate()
    }

    /// The identity (or legacy address) the guest at `position` (from 0) gets.
    pub fn identity_of(&self, guest: &Guest, position: usize) -> Result<String> {
        Ok(match self.naming(guest, position)? {
            Naming::Identity(id) => id.to_string(),
            Naming::Legacy(address) => address.to_string(),
        })
    }

    fn naming(&self, guest: &Guest, position: usize) -> Result<Naming> {
        let key = guest_key(guest);
        match &self.identities {
            IdentityScheme::Derived => Ok(Naming::Identity(NodeId::derive(&key))),
            IdentityScheme::Template(template) => template
                .replace("{name}", &key)
                .replace("{index}", &(position + 1).to_string())
                .parse()
                .map(Naming::Identity)
                .map_err(|err| match err {
                    Error::InvalidArgument { value, reason, .. } => Error::invalid(
                        "identity template",
                        template.as_str(),
                        format!("gives {value:?} for {guest}, which {reason}"),
                    ),
                    other => other,
                }),
            IdentityScheme::Legacy { zone, cluster, first_node } => {
                let node = u32::from(*first_node) + position as u32;
                TipcAddress::new(*zone, *cluster, node.min(4096) as u16).map(Naming::Legacy)
            }
        }
    }

    /// Joins `guests` into the bus and waits until every pair has a link up.
    ///
    /// Idempotent: a member already configured this way is left alone, so running it again
    /// changes nothing, and running it with one more guest joins that guest to the bus.
    /// Everything is checked before anything changes (TIPC present, identities unique and
    /// not in conflict with ones already set, interfaces present). A failure half-way
    /// disables the bearers this call enabled; identities and network ids stay, because the
    /// kernel cannot unset them.
    pub fn configure(&self, guests: &[Guest]) -> Result<BusReport> {
        self.configure_interruptible(guests, &|| false)
    }

    /// [`TipcBus::configure`] that asks `interrupted` between looks at the links while it
    /// waits for them (for a binding to notice Ctrl-C); once that answers true it stops
    /// waiting with an EINTR error, leaving the configuration made so far in place.
    pub fn configure_interruptible(
        &self,
        guests: &[Guest],
        interrupted: &dyn Fn() -> bool,
    ) -> Result<BusReport> {
        let mut members = self.prepare(guests)?;
        let mut enabled: Vec<usize> = Vec::new();
        let mut all_changes = Vec::new();
        for (i, member) in members.iter_mut().enumerate() {
            match self.apply(member) {
                Ok((changes, bearer_enabled)) => {
                    if bearer_enabled {
                        enabled.push(i);
                    }
                    all_changes.push(changes);
                }
                Err(err) => {
                    let mut undo = Failures::new(Op::TipcBearer, self.bearer.name());
                    for &j in &enabled {
                        undo.run(members[j].node.disable_bearer(&self.bearer.name()));
                    }
                    return Err(err.rolled_back(undo.finish()));
                }
            }
        }
        if let Some(timeout) = self.link_timeout {
            self.wait_for_links(&members, timeout, interrupted)?;
        }
        self.report(&members, all_changes)
    }

    /// Reads the bus state of `guests` without changing anything (`pipework tipc show`).
    pub fn show(&self, guests: &[Guest]) -> Result<BusReport> {
        let members = guests
            .iter()
            .enumerate()
            .map(|(position, guest)| self.member(guest, position))
            .collect::<Result<Vec<_>>>()?;
        self.report(&members, vec![Vec::new(); members.len()])
    }

    fn member<'a>(&self, guest: &'a Guest, position: usize) -> Result<Member<'a>> {
        let node = TipcNode::open(&guest.namespace)?;
        let before = node.config()?;
        let bearer_exists = node.bearer(&self.bearer.name())?.is_some();
        Ok(Member {
            guest,
            label: guest_label(guest),
            node,
            naming: self.naming(guest, position)?,
            before,
            bearer_exists,
        })
    }

    /// Opens every member and checks everything that can be checked before changing anything.
    fn prepare<'a>(&self, guests: &'a [Guest]) -> Result<Vec<Member<'a>>> {
        self.validate()?;
        if guests.is_empty() {
            return Err(Error::invalid("guests", "", "a bus needs at least one guest"));
        }
        let mut namespaces = HashSet::new();
        let mut names = HashSet::new();
        let mut members = Vec::new();
        for (position, guest) in guests.iter().enumerate() {
            if !namespaces.insert(guest.namespace.id()) {
                return Err(Error::invalid(
                    "guests",
                    guest.to_string(),
                    "is given twice (the same network namespace)",
                ));
            }
            let member = self.member(guest, position)?;
            if !names.insert(member.naming) {
                return Err(Error::invalid(
                    "guests",
                    guest.to_string(),
                    format!(
                        "gets the same identity as another guest ({}); use an identity template with {{index}}",
                        self.identity_of(guest, position)?
                    ),
                ));
            }
            self.check(&member)?;
            members.push(member);
        }
        Ok(members)
    }

    /// Refuses a member whose state contradicts the bus, before anything changes.
    fn check(&self, member: &Member) -> Result<()> {
        let conflict = |reason: String| Error::Conflict {
            op: Op::TipcBus,
            object: format!("on {}", member.label),
            reason,
        };
        let before = &member.before;
        let joined = before.address != 0;
        match (member.naming, before.identity) {
            (Naming::Identity(wanted), Some(current)) if wanted != current => {
                return Err(conflict(format!(
                    "its node identity is already {current}, not {wanted}; TIPC cannot change an identity once set"
                )));
            }
            (Naming::Legacy(wanted), Some(current)) if before.legacy_address != Some(wanted) => {
                return Err(conflict(format!(
                    "its node identity is already {current}, so legacy address {wanted} cannot be set"
                )));
            }
            _ => {}
        }
        if before.net_id != self.net_id && joined {
            return Err(conflict(format!(
                "it has already joined network {} and TIPC cannot change the network id of a node that has used a bearer",
                before.net_id
            )));
        }
        if member.bearer_exists {
            return Ok(());
        }
        let ifname = match &self.bearer {
            BearerSpec::Eth { ifname } => ifname,
            BearerSpec::Udp { local: UdpLocal::Interface { ifname, .. }, .. } => ifname,
            BearerSpec::Udp { .. } => return Ok(()),
        };
        if Handle::new(&member.guest.namespace)?.link_get(ifname.as_str())?.is_none() {
            return Err(Error::NotFound {
                op: Op::TipcBus,
                object: format!(
                    "interface {ifname} for bearer {} in {}",
                    self.bearer, member.label
                ),
            });
        }
        Ok(())
    }

    /// Brings one member to the bus's settings; returns what changed and whether the bearer was enabled.
    fn apply(&self, member: &mut Member) -> Result<(Vec<String>, bool)> {
        let mut changes = Vec::new();
        if member.node.set_net_id(self.net_id)? {
            changes.push(format!("net id {}", self.net_id));
        }
        let named = match member.naming {
            Naming::Identity(id) => {
                member.node.set_identity(&id)?.then(|| format!("identity {id}"))
            }
            Naming::Legacy(address) => {
                member.node.set_address(address)?.then(|| format!("address {address}"))
            }
        };
        changes.extend(named);
        let name = self.bearer.name();
        let mut enabled = false;
        match member.node.bearer(&name)? {
            None => {
                member.node.enable_bearer(&self.bearer, &self.props)?;
                changes.push(format!("bearer {name}"));
                enabled = true;
            }
            Some(bearer) if !self.props.satisfied_by(&bearer.props) => {
                member.node.set_bearer_props(&name, &self.props)?;
                changes.push(format!("bearer {name} properties"));
            }
            Some(_) => {}
        }
        Ok((changes, enabled))
    }

    /// Polls the link tables until every member has a link up to every other one.
    fn wait_for_links(
        &self,
        members: &[Member],
        timeout: Duration,
        interrupted: &dyn Fn() -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let links = self.pairs(members)?;
            let down: Vec<String> = links
                .iter()
                .filter(|link| !link.up)
                .map(|link| format!("{} -> {}", link.from, link.to))
                .collect();
            if down.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::kernel(
                    Op::TipcBus,
                    format!(
                        "on {} guests: after {} s these links are still down: {} (check that the bearer interfaces share a network and are up)",
                        members.len(),
                        timeout.as_secs(),
                        down.join(", ")
                    ),
                    Errno::ETIMEDOUT,
                ));
            }
            if interrupted() {
                return Err(Error::kernel(
                    Op::TipcBus,
                    format!(
                        "on {} guests: interrupted while these links were still down: {}",
                        members.len(),
                        down.join(", ")
                    ),
                    Errno::EINTR,
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The link state of every ordered pair of members.
    fn pairs(&self, members: &[Member]) -> Result<Vec<BusLink>> {
        let configs =
            members.iter().map(|member| member.node.config()).collect::<Result<Vec<_>>>()?;
        let mut pairs = Vec::new();
        for (from, member) in members.iter().enumerate() {
            let links = member.node.links()?;
            for (to, peer) in members.iter().enumerate() {
                if from == to {
                    continue;
                }
                let wanted =
                    configs[to].identity.map(|id| link_name_part(&id, configs[to].address));
                let link = links
                    .iter()
                    .find(|link| !link.broadcast && wanted.is_some() && link.peer == wanted);
                pairs.push(BusLink {
                    from: member.label.clone(),
                    to: peer.label.clone(),
                    name: link.map(|link| link.name.clone()),
                    up: link.is_some_and(|link| link.up),
                });
            }
        }
        Ok(pairs)
    }

    fn report(&self, members: &[Member], changes: Vec<Vec<String>>) -> Result<BusReport> {
        let mut nodes = Vec::new();
        for (member, changes) in members.iter().zip(changes) {
            let config = member.node.config()?;
            nodes.push(BusNode {
                guest: member.label.clone(),
                net_id: config.net_id,
                identity: config.identity,
                address: config.address,
                bearers: member.node.bearers()?.into_iter().map(|bearer| bearer.name).collect(),
                changes,
            });
        }
        Ok(BusReport { nodes, links: self.pairs(members)? })
    }
}

/// The stable key an identity is derived from: name, else engine ID, else PID or namespace inode.
fn guest_key(guest: &Guest) -> String {
    guest
        .name
        .clone()
        .or_else(|| guest.id.clone())
        .or_else(|| guest.pid.map(|pid| format!("pid{pid}")))
        .unwrap_or_else(|| format!("netns{}", guest.namespace.id().ino))
}

/// How a member is named in reports.
fn guest_label(guest: &Guest) -> String {
    guest.name.clone().unwrap_or_else(|| guest_key(guest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netns::Namespace;

    fn guest(name: Option<&str>, id: Option<&str>) -> Guest {
        let mut guest = Guest::from_namespace(Namespace::current().unwrap());
        guest.name = name.map(str::to_string);
        guest.id = id.map(str::to_string);
        guest
    }

    #[test]
    fn identities_come_from_the_name_then_the_id() {
        let bus = TipcBus::new();
        assert_eq!(bus.identity_of(&guest(Some("web"), Some("abc")), 0).unwrap(), "web");
        let by_id =
            bus.identity_of(&guest(None, Some("4f1e6a7c0d2b9e8f4f1e6a7c0d2b9e8f")), 3).unwrap();
        assert_eq!(by_id.len(), 32);
        assert_eq!(
            by_id,
            bus.identity_of(&guest(None, Some("4f1e6a7c0d2b9e8f4f1e6a7c0d2b9e8f")), 0).unwrap()
        );
    }

    #[test]
    fn templates_and_legacy_schemes() {
        let bus = TipcBus::new().identities(IdentityScheme::Template("node-{index}".into()));
        assert_eq!(bus.identity_of(&guest(Some("web"), None), 1).unwrap(), "node-2");
        let bus = TipcBus::new().identities(IdentityScheme::Template("{name}!".into()));
        let err = bus.identity_of(&guest(Some("web"), None), 0).unwrap_err().to_string();
        assert!(err.contains("identity template") && err.contains("web!"), "{err}");
        let bus = TipcBus::new().identities(IdentityScheme::Legacy {
            zone: 1,
            cluster: 1,
            first_node: 10,
        });
        assert_eq!(bus.identity_of(&guest(Some("web"), None), 2).unwrap(), "1.1.12");
    }

    #[test]
    fn bad_settings_are_refused_before_anything_is_opened() {
        let err = TipcBus::new().net_id(0).configure(&[]).unwrap_err().to_string();
        assert!(err.contains("net id"), "{err}");
        let err = TipcBus::new().configure(&[]).unwrap_err().to_string();
        assert!(err.contains("at least one guest"), "{err}");
        let props = BearerProps { tolerance: Some(1), ..Default::default() };
        assert!(
            TipcBus::new().props(props).validate().unwrap_err().to_string().contains("tolerance")
        );
    }

    #[test]
    fn the_report_prints_a_table() {
        let report = BusReport {
            nodes: vec![BusNode {
                guest: "a".into(),
                net_id: 4711,
                identity: Some("a".parse().unwrap()),
                address: 0x61_0000,
                bearers: vec!["eth:eth0".into()],
                changes: vec![],
            }],
            links: vec![BusLink {
                from: "a".into(),
                to: "b".into(),
                name: Some("a:eth0-b:eth0".into()),
                up: true,
            }],
        };
        let text = report.to_string();
        assert!(
            text.contains("00610000") && text.contains("a:eth0-b:eth0") && text.contains("none"),
            "{text}"
        );
        assert!(!report.changed() && report.all_links_up());
    }
}
