//! A lab's plan against what its previous apply made (recorded under the state directory),
//! its apply as one transaction, and its destroy.

use std::{collections::BTreeMap, fmt, fs, io::Write, path::PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    HOST_NODE, LinkSpec, MACVLAN_NODE, NodeKind, TipcSpec, Topology, TunnelSpec,
    leases::{self, EndLease},
};
use crate::{
    attach::{bridge_vlan, overlay, ovs::connect_for},
    error::{Error, Failures, Op, Result},
    handle::Handle,
    link::{Bridge, Ipvlan, Macvlan, MacvlanMode, Veth},
    mac::MacAddr,
    netns::Namespace,
    ovs::{Ovs, OvsPort},
    parallel,
    resolve::Guest,
    route::Route,
    state::StateStore,
    tipc::TipcNode,
};

/// What an apply of a lab made, kept as `labs/<lab>.json` in the state directory so that a
/// later apply or destroy, from any process, knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    /// The lab's name.
    pub lab: String,
    /// The namespaces the lab created.
    pub namespaces: Vec<String>,
    /// The bridges the lab created.
    pub bridges: Vec<String>,
    /// The links in place.
    pub links: Vec<LinkSpec>,
    /// The targets of the `guest` nodes the links in place end on, by node, so that a removal
    /// finds their namespaces when the file no longer names them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub guests: BTreeMap<String, String>,
    /// The tunnels in place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tunnels: Vec<TunnelSpec>,
    /// The Open vSwitch bridges the lab created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ovs_bridges: Vec<String>,
    /// The `ovs-bridge` nodes the links in place end on, so that a removal deletes their
    /// ports when the file no longer names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ovs_nodes: Vec<String>,
    /// The DHCP leases the ends of the links in place hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leases: Vec<EndLease>,
    /// The TIPC bus in place, over the members that joined it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipc: Option<TipcSpec>,
}

/// One change of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum Step {
    /// `ip netns add NAME`.
    CreateNamespace {
        /// The namespace.
        name: String,
    },
    /// `ip link add NAME up type bridge`.
    CreateBridge {
        /// The bridge.
        name: String,
    },
    /// `ovs-vsctl add-br NAME`.
    CreateOvsBridge {
        /// The bridge.
        name: String,
    },
    /// A veth pair between the link's ends, addressed and up.
    AddLink {
        /// The link.
        link: LinkSpec,
    },
    /// A bridge node's VXLAN port to other hosts, with a flood entry per remote.
    AddTunnel {
        /// The tunnel.
        tunnel: TunnelSpec,
    },
    /// `ip link del vxVNI` of a tunnel the lab made.
    RemoveTunnel {
        /// The tunnel.
        tunnel: TunnelSpec,
    },
    /// `ip link del` of the link's first end.
    RemoveLink {
        /// The link.
        link: LinkSpec,
    },
    /// `ip netns del NAME`.
    DeleteNamespace {
        /// The namespace.
        name: String,
    },
    /// `ip link del NAME` of a bridge the lab created, once it has no port.
    DeleteBridge {
        /// The bridge.
        name: String,
    },
    /// `ovs-vsctl del-br NAME` of an Open vSwitch bridge the lab created, once it has no port.
    DeleteOvsBridge {
        /// The bridge.
        name: String,
    },
    /// The bus configured in its members, waiting until every pair has a link up
    /// (`pipework tipc NODE...`).
    JoinTipc {
        /// The bus.
        tipc: TipcSpec,
    },
    /// `tipc bearer disable` in the members leaving the bus.
    LeaveTipc {
        /// The bus, with the members that leave it.
        tipc: TipcSpec,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateNamespace { name } => write!(f, "create namespace {name}"),
            Step::CreateBridge { name } => write!(f, "create bridge {name}"),
            Step::CreateOvsBridge { name } => write!(f, "create OVS bridge {name}"),
            Step::AddLink { link } => write!(f, "add link {}", link.key()),
            Step::RemoveLink { link } => write!(f, "remove link {}", link.key()),
            Step::AddTunnel { tunnel } => {
                let remotes: Vec<String> =
                    tunnel.uplink.remotes.iter().map(ToString::to_string).collect();
                let device = tunnel.uplink.device_name();
                write!(f, "add tunnel {device} on {} to {}", tunnel.bridge, remotes.join(","))
            }
            Step::RemoveTunnel { tunnel } => {
                write!(f, "remove tunnel {} on {}", tunnel.uplink.device_name(), tunnel.bridge)
            }
            Step::DeleteNamespace { name } => write!(f, "delete namespace {name}"),
            Step::DeleteBridge { name } => write!(f, "delete bridge {name}"),
            Step::DeleteOvsBridge { name } => write!(f, "delete OVS bridge {name}"),
            Step::JoinTipc { tipc } => write!(
                f,
                "join TIPC bus {} on {} over {}",
                tipc.bus.net_id,
                tipc.bus.bearer,
                tipc.nodes.join(",")
            ),
            Step::LeaveTipc { tipc } => write!(
                f,
                "leave TIPC bus {} on {}: {}",
                tipc.bus.net_id,
                tipc.bus.bearer,
                tipc.nodes.join(",")
            ),
        }
    }
}

/// The changes that take a lab from what its previous apply made to what the file wants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The lab.
    pub lab: String,
    /// The changes, in the order they are made.
    pub steps: Vec<Step>,
}

/// What an apply did: its plan, all of it carried out.
pub type Applied = Plan;

fn state_path(store: &StateStore, lab: &str) -> PathBuf {
    store.dir().join("labs").join(format!("{lab}.json"))
}

fn read_state(store: &StateStore, lab: &str) -> Result<LabState> {
    let path = state_path(store, lab);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| Error::Protocol {
            op: Op::State,
            object: path.display().to_string(),
            detail: err.to_string(),
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Ok(LabState { lab: lab.to_string(), ..Default::default() })
        }
        Err(err) => Err(Error::io(Op::State, path.display().to_string(), &err)),
    }
}

fn write_state(store: &StateStore, state: &LabState) -> Result<()> {
    let path = state_path(store, &state.lab);
    let fail = |err: std::io::Error| Error::io(Op::State, path.display().to_string(), &err);
    if state.namespaces.is_empty()
        && state.bridges.is_empty()
        && state.links.is_empty()
        && state.tunnels.is_empty()
        && state.ovs_bridges.is_empty()
        && state.tipc.is_none()
    {
        return match fs::remove_file(&path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(fail(err)),
            _ => Ok(()),
        };
    }
    fs::create_dir_all(path.parent().expect("labs/")).map_err(fail)?;
    let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let json = serde_json::to_vec_pretty(state).expect("a lab state serialises");
    fs::File::create(&temporary)
        .and_then(|mut file| file.write_all(&json))
        .and_then(|()| fs::rename(&temporary, &path))
        .map_err(|err| {
            let _ = fs::remove_file(&temporary);
            fail(err)
        })
}

/// The plan of `topology` against what the previous apply of its lab made; changes nothing.
///
/// Equivalent to: `pipework diff FILE`.
pub fn plan(host: &Handle, topology: &Topology, store: &StateStore) -> Result<Plan> {
    let previous = read_state(store, &topology.name)?;
    let mut steps = Vec::new();
    for kind in topology.nodes.values() {
        if let NodeKind::Namespace { netns } = kind
            && !previous.namespaces.contains(netns)
        {
            steps.push(Step::CreateNamespace { name: netns.clone() });
        }
    }
    for (name, kind) in &topology.nodes {
        if *kind == NodeKind::Bridge
            && !previous.bridges.contains(name)
            && host.link_get(name.as_str())?.is_none()
        {
            steps.push(Step::CreateBridge { name: name.clone() });
        }
    }
    let ovs_wanted: Vec<&String> = topology
        .nodes
        .iter()
        .filter(|(name, kind)| {
            **kind == NodeKind::OvsBridge && !previous.ovs_bridges.contains(name)
        })
        .map(|(name, _)| name)
        .collect();
    if !ovs_wanted.is_empty() {
        let ovs = Ovs::connect()?;
        for name in ovs_wanted {
            if !ovs.bridge_exists(name)? {
                steps.push(Step::CreateOvsBridge { name: name.clone() });
            }
        }
    }
    let kept = |link: &LinkSpec| topology.links.contains(link);
    let made = |link: &LinkSpec| previous.links.contains(link);
    // Members leave a bus before their links go; a changed bus is left by all.
    let mut joined = previous.tipc.clone();
    if let Some(before) = &previous.tipc {
        let leaving = match &topology.tipc {
            Some(wanted) if wanted.bus == before.bus => before.without(&wanted.nodes),
            _ => before.clone(),
        };
        if !leaving.nodes.is_empty() {
            joined = Some(before.without(&leaving.nodes)).filter(|rest| !rest.nodes.is_empty());
            steps.push(Step::LeaveTipc { tipc: leaving });
        }
    }
    // A changed link (same ends, other addresses or MTU) is removed before it is added again.
    for link in previous.links.iter().filter(|link| !kept(link)) {
        steps.push(Step::RemoveLink { link: link.clone() });
    }
    for tunnel in previous.tunnels.iter().filter(|tunnel| !topology.tunnels.contains(tunnel)) {
        steps.push(Step::RemoveTunnel { tunnel: tunnel.clone() });
    }
    for tunnel in topology.tunnels.iter().filter(|tunnel| !previous.tunnels.contains(tunnel)) {
        steps.push(Step::AddTunnel { tunnel: tunnel.clone() });
    }
    for link in topology.links.iter().filter(|link| !made(link)) {
        steps.push(Step::AddLink { link: link.clone() });
    }
    // The bus is joined once the links are up, again when a member's link was made anew.
    if let Some(wanted) = &topology.tipc {
        let member_link_added = topology
            .links
            .iter()
            .filter(|link| !made(link))
            .any(|link| link.ends.iter().any(|end| wanted.nodes.contains(&end.node)));
        if joined.as_ref() != Some(wanted) || member_link_added {
            steps.push(Step::JoinTipc { tipc: wanted.clone() });
        }
    }
    let wanted: Vec<&str> = topology
        .nodes
        .values()
        .filter_map(|kind| match kind {
            NodeKind::Namespace { netns } => Some(netns.as_str()),
            _ => None,
        })
        .collect();
    for name in previous.namespaces.iter().filter(|name| !wanted.contains(&name.as_str())) {
        steps.push(Step::DeleteNamespace { name: name.clone() });
    }
    for name in
        previous.bridges.iter().filter(|name| topology.nodes.get(*name) != Some(&NodeKind::Bridge))
    {
        steps.push(Step::DeleteBridge { name: name.clone() });
    }
    for name in previous
        .ovs_bridges
        .iter()
        .filter(|name| topology.nodes.get(*name) != Some(&NodeKind::OvsBridge))
    {
        steps.push(Step::DeleteOvsBridge { name: name.clone() });
    }
    Ok(Plan { lab: topology.name.clone(), steps })
}

/// Makes the lab what `topology` says, as one transaction: a failed step undoes every step
/// this apply made before it, and the lab's record is only written once all are done. Applying
/// the same file again changes nothing. Independent steps run at once (the namespaces, the
/// links between disjoint nodes).
///
/// Equivalent to: `pipework apply FILE`.
pub fn apply(host: &Handle, topology: &Topology, store: &StateStore) -> Result<Applied> {
    let labs = StateStore::new(store.dir().join("labs"));
    let _lock = labs.lock()?;
    let plan = plan(host, topology, store)?;
    let mut state = read_state(store, &topology.name)?;
    // Each step done, with the MACs of the ends of a link it removed, to make it again alike.
    let mut done: Vec<(Step, Option<EndMacs>)> = Vec::new();
    let tipc_before = state.tipc.clone();
    for batch in batches(&plan.steps) {
        let outcomes = match batch.as_slice() {
            [step] => vec![carry_out(host, topology, &state, step)],
            _ => parallel::map(&batch, |step| carry_out(host, topology, &state, step)),
        };
        let mut failed = None;
        for (step, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                Ok((macs, leases)) => {
                    done.push(((*step).clone(), macs));
                    record(&mut state, step);
                    state.leases.extend(leases);
                }
                Err(err) => drop(failed.get_or_insert((*step, err))),
            }
        }
        if let Some((step, err)) = failed {
            let mut undo = Failures::new(
                Op::Detach,
                format!("what the apply of lab {} had made", topology.name),
            );
            let mut restored = Vec::new();
            for (made, macs) in done.iter().rev() {
                let made = as_undone(made, tipc_before.as_ref());
                restored.extend(
                    undo.run(revert(host, topology, &state, &made, *macs)).into_iter().flatten(),
                );
            }
            // A removed link made again holds a new lease: the record keeps that one.
            if !restored.is_empty()
                && let Some(mut previous) = undo.run(read_state(store, &topology.name))
            {
                previous.leases.retain(|old| !restored.iter().any(|new| new.same_end(old)));
                previous.leases.extend(restored);
                undo.run(write_state(store, &previous));
            }
            return Err(Error::Conflict {
                op: Op::Attach,
                object: format!("lab {}", topology.name),
                reason: format!("{step}: {err}"),
            }
            .rolled_back(undo.finish()));
        }
    }
    state.guests = guests_of(topology, &state.links);
    state.ovs_nodes = ovs_nodes_of(topology, &state);
    write_state(store, &state)?;
    Ok(plan)
}

/// Carries out one step of an apply; a link it removes gives the MACs its ends had, a link
/// it adds the leases its ends obtained.
fn carry_out(
    host: &Handle,
    topology: &Topology,
    state: &LabState,
    step: &Step,
) -> Result<(Option<EndMacs>, Vec<EndLease>)> {
    log::info!("{}: {step}", topology.name);
    let macs = match step {
        Step::RemoveLink { link } => end_macs(host, topology, state, link)?,
        _ => None,
    };
    run(host, topology, state, step).map(|leases| (macs, leases))
}

/// The plan's steps in batches whose steps run at once: the namespaces to create together,
/// the links to add in waves whose links have no node in common; every other step alone.
fn batches(steps: &[Step]) -> Vec<Vec<&Step>> {
    let mut batches = Vec::new();
    let mut rest = steps;
    while let Some(first) = rest.first() {
        let alike = |step: &Step| std::mem::discriminant(step) == std::mem::discriminant(first);
        let run = rest.iter().take_while(|step| alike(step)).count();
        let (same, after) = rest.split_at(run);
        match first {
            Step::CreateNamespace { .. } => batches.push(same.iter().collect()),
            Step::AddLink { .. } => batches.extend(disjoint_waves(same)),
            _ => batches.extend(same.iter().map(|step| vec![step])),
        }
        rest = after;
    }
    batches
}

/// AddLink steps in waves, each taking in order every link that shares no node with the
/// links already in it.
fn disjoint_waves(links: &[Step]) -> Vec<Vec<&Step>> {
    let nodes = |step: &Step| match step {
        Step::AddLink { link } => [link.ends[0].node.clone(), link.ends[1].node.clone()],
        _ => unreachable!("waves are made of AddLink steps"),
    };
    let mut waves = Vec::new();
    let mut remaining: Vec<&Step> = links.iter().collect();
    while !remaining.is_empty() {
        let mut busy = std::collections::HashSet::new();
        let (wave, later): (Vec<&Step>, Vec<&Step>) = remaining.into_iter().partition(|step| {
            let [a, b] = nodes(step);
            let free = !busy.contains(&a) && !busy.contains(&b);
            if free {
                busy.insert(a);
                busy.insert(b);
            }
            free
        });
        waves.push(wave);
        remaining = later;
    }
    waves
}

/// The targets of the guest nodes that `links` end on.
fn guests_of(topology: &Topology, links: &[LinkSpec]) -> BTreeMap<String, String> {
    links
        .iter()
        .flat_map(|link| &link.ends)
        .filter_map(|end| match topology.nodes.get(&end.node) {
            Some(NodeKind::Guest { target }) => Some((end.node.clone(), target.clone())),
            _ => None,
        })
        .collect()
}

/// The `ovs-bridge` nodes that the links of `state` end on, as `topology` or the record says.
fn ovs_nodes_of(topology: &Topology, state: &LabState) -> Vec<String> {
    let mut nodes: Vec<String> = state
        .links
        .iter()
        .flat_map(|link| &link.ends)
        .filter(|end| is_ovs(topology, state, end))
        .map(|end| end.node.clone())
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

/// Whether `end` is a port of an `ovs-bridge` node.
fn is_ovs(topology: &Topology, state: &LabState, end: &super::End) -> bool {
    match topology.nodes.get(&end.node) {
        Some(kind) => *kind == NodeKind::OvsBridge,
        None => state.ovs_nodes.contains(&end.node),
    }
}

/// The part of `topology` whose guests run now: every node but the `guest` nodes whose target
/// does not resolve (a stopped container), and the links between the nodes kept; and the links
/// of the lab's record that went with a guest's namespace (an end on a guest that does not run,
/// or whose interface is not in the guest's namespace any more: it was restarted) are forgotten,
/// so the next [`apply`] of that part makes them again. Returns the part and what was forgotten.
///
/// What `pipework watch --topology FILE` applies on each container event.
pub fn running_part(topology: &Topology, store: &StateStore) -> Result<(Topology, Vec<LinkSpec>)> {
    let mut guests = std::collections::BTreeMap::new();
    for (node, kind) in &topology.nodes {
        if let NodeKind::Guest { target } = kind {
            guests.insert(node.clone(), crate::resolve(target).ok().map(|guest| guest.namespace));
        }
    }
    let running = |node: &str| guests.get(node).is_none_or(Option::is_some);
    let part = Topology {
        name: topology.name.clone(),
        nodes: topology
            .nodes
            .iter()
            .filter(|(node, _)| running(node))
            .map(|(node, kind)| (node.clone(), kind.clone()))
            .collect(),
        links: topology
            .links
            .iter()
            .filter(|link| link.ends.iter().all(|end| running(&end.node)))
            .cloned()
            .collect(),
        tunnels: topology.tunnels.clone(),
        tipc: topology
            .tipc
            .as_ref()
            .map(|tipc| {
                let stopped: Vec<String> =
                    tipc.nodes.iter().filter(|node| !running(node)).cloned().collect();
                tipc.without(&stopped)
            })
            .filter(|tipc| !tipc.nodes.is_empty()),
    };
    let labs = StateStore::new(store.dir().join("labs"));
    let _lock = labs.lock()?;
    let mut state = read_state(store, &topology.name)?;
    let vanished = |end: &super::End| match guests.get(&end.node) {
        None => Ok(false),
        Some(None) => Ok(true),
        Some(Some(namespace)) => {
            Ok(Handle::new(namespace)?.link_get(end.ifname.as_str())?.is_none())
        }
    };
    let mut forgotten = Vec::new();
    for link in &state.links {
        let mut gone = false;
        for end in &link.ends {
            gone |= vanished(end)?;
        }
        if gone {
            forgotten.push(link.clone());
        }
    }
    if !forgotten.is_empty() {
        // Their keepers end with the guest's namespace; only their files are left to remove.
        let gone: Vec<&EndLease> = state
            .leases
            .iter()
            .filter(|lease| forgotten.iter().any(|link| link.ends.iter().any(|e| lease.is_of(e))))
            .collect();
        leases::release(gone, None)?;
        state.leases.retain(|lease| {
            !forgotten.iter().any(|link| link.ends.iter().any(|end| lease.is_of(end)))
        });
        state.links.retain(|link| !forgotten.contains(link));
        state
            .guests
            .retain(|node, _| state.links.iter().any(|l| l.ends.iter().any(|e| e.node == *node)));
        write_state(store, &state)?;
    }
    Ok((part, forgotten))
}

/// The labs with a record under the state directory (applied here, not destroyed), sorted.
pub fn labs(store: &StateStore) -> Result<Vec<String>> {
    let dir = store.dir().join("labs");
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(Error::io(Op::State, dir.display().to_string(), &err)),
    };
    let mut labs: Vec<String> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_string))
        .collect();
    labs.sort();
    Ok(labs)
}

/// Something a lab's record names, and whether it is in place now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Present<T> {
    /// What the record names.
    pub item: T,
    /// Whether the kernel has it now (both ends, for a link).
    pub present: bool,
}

/// A lab as its record says, and what of it is in place now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabStatus {
    /// The lab's name.
    pub lab: String,
    /// The namespaces the lab created.
    pub namespaces: Vec<Present<String>>,
    /// The bridges the lab created.
    pub bridges: Vec<Present<String>>,
    /// The links the lab made.
    pub links: Vec<Present<LinkSpec>>,
    /// The tunnels the lab made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tunnels: Vec<Present<TunnelSpec>>,
    /// The Open vSwitch bridges the lab created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ovs_bridges: Vec<Present<String>>,
    /// The leases the lab's ends obtained; present while the end is and its keeper (if it
    /// has one) runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leases: Vec<Present<EndLease>>,
    /// The TIPC bus the lab's members joined; present while every pair has a link up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipc: Option<Present<TipcSpec>>,
}

/// What the applies of lab `lab` made and whether each is in place now; `None` when the lab
/// has no record (never applied here, or destroyed). Changes nothing.
///
/// Equivalent to: `pipework show --lab LAB`.
pub fn status(host: &Handle, lab: &str, store: &StateStore) -> Result<Option<LabStatus>> {
    if !state_path(store, lab).exists() {
        return Ok(None);
    }
    let state = read_state(store, lab)?;
    let empty = Topology::empty(lab);
    let end_present = |end: &super::End| -> Result<bool> {
        let found = match place(host, &empty, &state, &end.node) {
            Ok(Place::Namespace(namespace)) => {
                Handle::new(&namespace)?.link_get(end.ifname.as_str())?
            }
            Ok(Place::Host(_)) => host.link_get(end.ifname.as_str())?,
            Err(err)
                if [nix::errno::Errno::ENOENT, nix::errno::Errno::ENODEV]
                    .contains(&err.errno()) =>
            {
                None
            }
            Err(err) => return Err(err),
        };
        Ok(found.is_some())
    };
    let mut links = Vec::new();
    for link in &state.links {
        let present = end_present(&link.ends[0])? && end_present(&link.ends[1])?;
        links.push(Present { item: link.clone(), present });
    }
    let mut bridges = Vec::new();
    for name in &state.bridges {
        bridges
            .push(Present { item: name.clone(), present: host.link_get(name.as_str())?.is_some() });
    }
    let namespaces = state
        .namespaces
        .iter()
        .map(|name| Present { item: name.clone(), present: Namespace::from_name(name).is_ok() })
        .collect();
    let mut tunnels = Vec::new();
    for tunnel in &state.tunnels {
        let present = host.link_get(tunnel.uplink.device_name().as_str())?.is_some();
        tunnels.push(Present { item: tunnel.clone(), present });
    }
    let mut ovs_bridges = Vec::new();
    if !state.ovs_bridges.is_empty() {
        let ovs = Ovs::connect()?;
        for name in &state.ovs_bridges {
            ovs_bridges.push(Present { item: name.clone(), present: ovs.bridge_exists(name)? });
        }
    }
    let mut leases = Vec::new();
    for lease in &state.leases {
        let end = state.links.iter().flat_map(|link| &link.ends).find(|end| lease.is_of(end));
        let kept = lease.record.process.as_ref().is_none_or(|process| process.is_running());
        let present = kept && end.map_or(Ok(false), end_present)?;
        leases.push(Present { item: lease.clone(), present });
    }
    let tipc = match &state.tipc {
        Some(tipc) => Some(Present { item: tipc.clone(), present: bus_up(host, &state, tipc)? }),
        None => None,
    };
    Ok(Some(LabStatus {
        lab: lab.to_string(),
        namespaces,
        bridges,
        links,
        tunnels,
        ovs_bridges,
        leases,
        tipc,
    }))
}

/// Whether every pair of the bus's members has a link up; false when a member is gone.
///
/// Equivalent to: `pipework tipc show NODE...`.
fn bus_up(host: &Handle, state: &LabState, tipc: &TipcSpec) -> Result<bool> {
    let empty = Topology::empty(&state.lab);
    let mut members = Vec::new();
    for node in &tipc.nodes {
        match member(host, &empty, state, node) {
            Ok(guest) => members.push(guest),
            Err(err) if err.errno() == nix::errno::Errno::ENOENT => return Ok(false),
            Err(err) => return Err(err),
        }
    }
    Ok(tipc.bus.show(&members)?.all_links_up())
}

/// Removes everything the applies of lab `lab` made, as its record says.
///
/// Equivalent to: `pipework destroy --lab LAB`.
pub fn destroy(host: &Handle, lab: &str, store: &StateStore) -> Result<Plan> {
    let labs = StateStore::new(store.dir().join("labs"));
    let _lock = labs.lock()?;
    let mut state = read_state(store, lab)?;
    let empty = Topology::empty(lab);
    let plan = plan(host, &empty, store)?;
    let mut failures = Failures::new(Op::Detach, format!("lab {lab}"));
    for step in &plan.steps {
        log::info!("{lab}: {step}");
        // A link inside a namespace that goes too needs no removal of its own.
        if let Step::RemoveLink { link } = step
            && link.ends.iter().all(|end| netns_name(&state, &end.node).is_some())
        {
            if failures.run(release_leases(host, &empty, &state, link)).is_some() {
                record(&mut state, step);
            }
            continue;
        }
        if failures.run(run(host, &empty, &state, step)).is_some() {
            record(&mut state, step);
        }
    }
    state
        .guests
        .retain(|node, _| state.links.iter().any(|l| l.ends.iter().any(|e| e.node == *node)));
    state.ovs_nodes = ovs_nodes_of(&empty, &state);
    write_state(store, &state)?;
    failures.finish().map(|()| plan)
}

/// The namespace name of an end, as the lab's record knows its nodes (`clab-<lab>-<node>`).
fn netns_name<'a>(state: &'a LabState, node: &str) -> Option<&'a str> {
    let name = super::namespace_name(&state.lab, node);
    state.namespaces.iter().find(|ns| **ns == name).map(String::as_str)
}

/// Notes a step done in the lab's record.
fn record(state: &mut LabState, step: &Step) {
    match step {
        Step::CreateNamespace { name } => state.namespaces.push(name.clone()),
        Step::CreateBridge { name } => state.bridges.push(name.clone()),
        Step::CreateOvsBridge { name } => state.ovs_bridges.push(name.clone()),
        Step::DeleteOvsBridge { name } => state.ovs_bridges.retain(|b| b != name),
        Step::AddLink { link } => state.links.push(link.clone()),
        Step::RemoveLink { link } => {
            state.links.retain(|l| l != link);
            state.leases.retain(|lease| !link.ends.iter().any(|end| lease.is_of(end)));
        }
        Step::AddTunnel { tunnel } => state.tunnels.push(tunnel.clone()),
        Step::RemoveTunnel { tunnel } => state.tunnels.retain(|t| t != tunnel),
        Step::DeleteNamespace { name } => state.namespaces.retain(|n| n != name),
        Step::DeleteBridge { name } => state.bridges.retain(|b| b != name),
        Step::JoinTipc { tipc } => state.tipc = Some(tipc.clone()),
        Step::LeaveTipc { tipc } => {
            state.tipc = state
                .tipc
                .as_ref()
                .map(|joined| joined.without(&tipc.nodes))
                .filter(|rest| !rest.nodes.is_empty());
        }
    }
}

/// The MACs of a link's two ends, in the order of its ends.
type EndMacs = [MacAddr; 2];

/// The MACs a link's ends have now; `None` when an end is gone (with its guest, say), so
/// there is nothing to make again.
fn end_macs(
    host: &Handle,
    topology: &Topology,
    state: &LabState,
    link: &LinkSpec,
) -> Result<Option<EndMacs>> {
    let mac = |end: &super::End| -> Result<Option<MacAddr>> {
        let link = match place(host, topology, state, &end.node) {
            Ok(Place::Namespace(namespace)) => {
                Handle::new(&namespace)?.link_get(end.ifname.as_str())?
            }
            Ok(Place::Host(_)) => host.link_get(end.ifname.as_str())?,
            Err(err) if err.errno() == nix::errno::Errno::ENOENT => None,
            Err(err) => return Err(err),
        };
        Ok(link.and_then(|link| link.mac))
    };
    Ok(mac(&link.ends[0])?.zip(mac(&link.ends[1])?).map(|(a, b)| [a, b]))
}

/// A step as its undoing sees it: a join undone leaves only the members that joined in this
/// apply, a leave undone joins the bus as it was before.
fn as_undone(step: &Step, tipc_before: Option<&TipcSpec>) -> Step {
    match (step, tipc_before) {
        (Step::JoinTipc { tipc }, Some(before)) if before.bus == tipc.bus => {
            Step::JoinTipc { tipc: tipc.without(&before.nodes) }
        }
        (Step::LeaveTipc { .. }, Some(before)) => Step::LeaveTipc { tipc: before.clone() },
        _ => step.clone(),
    }
}

/// Undoes a step this apply made; a removed link comes back with the MACs it had, and gives
/// the leases its ends obtained again.
fn revert(
    host: &Handle,
    topology: &Topology,
    state: &LabState,
    step: &Step,
    macs: Option<EndMacs>,
) -> Result<Vec<EndLease>> {
    let inverse = match step {
        Step::CreateNamespace { name } => Step::DeleteNamespace { name: name.clone() },
        Step::CreateBridge { name } => Step::DeleteBridge { name: name.clone() },
        Step::CreateOvsBridge { name } => Step::DeleteOvsBridge { name: name.clone() },
        Step::AddLink { link } => Step::RemoveLink { link: link.clone() },
        Step::AddTunnel { tunnel } => Step::RemoveTunnel { tunnel: tunnel.clone() },
        Step::RemoveTunnel { tunnel } => Step::AddTunnel { tunnel: tunnel.clone() },
        Step::JoinTipc { tipc } if tipc.nodes.is_empty() => return Ok(Vec::new()),
        Step::JoinTipc { tipc } => Step::LeaveTipc { tipc: tipc.clone() },
        Step::LeaveTipc { tipc } => Step::JoinTipc { tipc: tipc.clone() },
        // A link that was gone already is not made again.
        Step::RemoveLink { link } => {
            return macs
                .map_or(Ok(Vec::new()), |macs| add_link(host, topology, state, link, Some(macs)));
        }
        // Deletions come last and are not undone.
        Step::DeleteNamespace { .. } | Step::DeleteBridge { .. } | Step::DeleteOvsBridge { .. } => {
            return Ok(Vec::new());
        }
    };
    run(host, topology, state, &inverse)
}

/// Where an end's interface lives: a namespace of the lab, a guest's, or the host namespace
/// (with the index of the bridge it is a port of, if any).
enum Place {
    Namespace(Namespace),
    Host(Option<u32>),
}

fn place(host: &Handle, topology: &Topology, state: &LabState, node: &str) -> Result<Place> {
    let bridge = || Ok(Place::Host(Some(host.link(node)?.index)));
    match topology.nodes.get(node) {
        Some(NodeKind::Bridge) => bridge(),
        Some(NodeKind::Host | NodeKind::Macvlan | NodeKind::OvsBridge) => Ok(Place::Host(None)),
        Some(NodeKind::Guest { target }) => Ok(Place::Namespace(crate::resolve(target)?.namespace)),
        Some(NodeKind::Namespace { netns }) => Ok(Place::Namespace(Namespace::from_name(netns)?)),
        // A node the file no longer has (a removal): the guest or namespace it was, as the
        // lab's record says, else the host or a bridge.
        None => match (state.guests.get(node), netns_name(state, node)) {
            (Some(target), _) => Ok(Place::Namespace(crate::resolve(target)?.namespace)),
            (None, Some(netns)) => Ok(Place::Namespace(Namespace::from_name(netns)?)),
            (None, None)
                if [HOST_NODE, MACVLAN_NODE].contains(&node)
                    || state.ovs_nodes.iter().any(|ovs| ovs == node) =>
            {
                Ok(Place::Host(None))
            }
            (None, None) => bridge(),
        },
    }
}

/// Where an end was made, which a changed file may no longer say: a guest's namespace as the
/// lab's record knows it, else [`place`].
fn made_in(
    host: &Handle,
    topology: &Topology,
    state: &LabState,
    end: &super::End,
) -> Result<Place> {
    match state.guests.get(&end.node) {
        Some(target) => crate::resolve(target).map(|guest| Place::Namespace(guest.namespace)),
        None => place(host, topology, state, &end.node),
    }
}

/// Gives back the leases the ends of `link` hold (only stopping their keepers when the end's
/// namespace is gone).
fn release_leases(
    host: &Handle,
    topology: &Topology,
    state: &LabState,
    link: &LinkSpec,
) -> Result<()> {
    let mut released = Ok(());
    for end in &link.ends {
        let held: Vec<&EndLease> = state.leases.iter().filter(|l| l.is_of(end)).collect();
        if held.is_empty() {
            continue;
        }
        let namespace = match made_in(host, topology, state, end) {
            Ok(Place::Namespace(namespace)) => Some(namespace),
            Ok(Place::Host(_)) => None,
            Err(err) if err.errno() == nix::errno::Errno::ENOENT => None,
            Err(err) => return Err(err),
        };
        released = released.and(leases::release(held, namespace.as_ref()));
    }
    released
}

/// The guest a linux node is, to join a TIPC bus: a guest node's resolved target (its
/// container's name derives its identity), else its namespace, named as the namespace is.
fn member(host: &Handle, topology: &Topology, state: &LabState, node: &str) -> Result<Guest> {
    let target = match topology.nodes.get(node) {
        Some(NodeKind::Guest { target }) => Some(target),
        Some(_) => None,
        None => state.guests.get(node),
    };
    if let Some(target) = target {
        return crate::resolve(target);
    }
    match place(host, topology, state, node)? {
        Place::Namespace(namespace) => Ok(Guest::from_namespace(namespace)),
        Place::Host(_) => Err(Error::invalid("tipc nodes", node, "is no linux node")),
    }
}

/// Disables the bus's bearer in each member leaving it, where it is enabled; a member gone
/// (its namespace or guest) has nothing left to disable.
///
/// Equivalent to: `ip netns exec NS tipc bearer disable media eth device IF`.
fn leave_tipc(host: &Handle, topology: &Topology, state: &LabState, tipc: &TipcSpec) -> Result<()> {
    let bearer = tipc.bus.bearer.name();
    for node in &tipc.nodes {
        let guest = match member(host, topology, state, node) {
            Err(err) if err.errno() == nix::errno::Errno::ENOENT => continue,
            guest => guest?,
        };
        // A bearer that is not enabled (any more) has nothing to disable.
        match TipcNode::open(&guest.namespace)?.disable_bearer(&bearer) {
            Err(err) if err.errno() == nix::errno::Errno::ENOENT => {}
            disabled => disabled?,
        }
    }
    Ok(())
}

/// Whether `end` is the parent of a `macvlan:PARENT` endpoint.
fn is_macvlan_parent(topology: &Topology, end: &super::End) -> bool {
    topology
        .nodes
        .get(&end.node)
        .map_or(end.node == MACVLAN_NODE, |kind| *kind == NodeKind::Macvlan)
}

/// The end of `link` whose deletion removes it: a macvlan's child, else the first end.
fn removable_end<'a>(topology: &Topology, link: &'a LinkSpec) -> &'a super::End {
    if is_macvlan_parent(topology, &link.ends[0]) { &link.ends[1] } else { &link.ends[0] }
}

/// Carries out one step; a link it adds gives the leases its ends obtained.
fn run(host: &Handle, topology: &Topology, state: &LabState, step: &Step) -> Result<Vec<EndLease>> {
    if let Step::AddLink { link } = step {
        return add_link(host, topology, state, link, None);
    }
    run_unleased(host, topology, state, step).map(|()| Vec::new())
}

/// Carries out a step that obtains no lease.
fn run_unleased(host: &Handle, topology: &Topology, state: &LabState, step: &Step) -> Result<()> {
    match step {
        Step::CreateNamespace { name } => Namespace::create_named(name).map(drop),
        Step::CreateBridge { name } => Bridge::new(name)?.ensure(host).map(drop),
        Step::DeleteNamespace { name } => match Namespace::delete_named(name) {
            Err(err) if err.errno() == nix::errno::Errno::ENOENT => Ok(()),
            deleted => deleted,
        },
        Step::DeleteBridge { name } => Bridge::new(name)?.delete_if_unused(host).map(drop),
        Step::CreateOvsBridge { name } => connect_for(host, name)?.bridge_ensure(name).map(drop),
        Step::DeleteOvsBridge { name } => Ovs::connect()?.bridge_delete_if_unused(name).map(drop),
        Step::AddLink { .. } => unreachable!("run adds links"),
        Step::JoinTipc { tipc } => {
            let members = tipc
                .nodes
                .iter()
                .map(|node| member(host, topology, state, node))
                .collect::<Result<Vec<_>>>()?;
            tipc.bus.configure(&members).map(drop)
        }
        Step::LeaveTipc { tipc } => leave_tipc(host, topology, state, tipc),
        Step::AddTunnel { tunnel } => add_tunnel(host, tunnel),
        Step::RemoveTunnel { tunnel } => {
            match host.link_del(tunnel.uplink.device_name().as_str()) {
                Err(err) if err.errno() == nix::errno::Errno::ENODEV => Ok(()),
                deleted => deleted,
            }
        }
        Step::RemoveLink { link } => {
            let ovs_ports: Vec<&str> = link
                .ends
                .iter()
                .filter(|end| is_ovs(topology, state, end))
                .map(|end| end.ifname.as_str())
                .collect();
            if !ovs_ports.is_empty() {
                let ovs = Ovs::connect()?;
                for port in ovs_ports {
                    ovs.port_del(port)?;
                }
            }
            release_leases(host, topology, state, link)?;
            let end = removable_end(topology, link);
            let handle = match made_in(host, topology, state, end) {
                Ok(Place::Namespace(namespace)) => Handle::new(&namespace)?,
                Ok(Place::Host(_)) => return host.link_del(end.ifname.as_str()),
                // Gone with its namespace already.
                Err(err) if err.errno() == nix::errno::Errno::ENOENT => return Ok(()),
                Err(err) => return Err(err),
            };
            match handle.link_del(end.ifname.as_str()) {
                Err(err) if err.errno() == nix::errno::Errno::ENODEV => Ok(()),
                deleted => deleted,
            }
        }
    }
}

/// A veth pair whose ends are born where they live (in the host for a bridge port or a host
/// end), or a macvlan born in its node, with their addresses, routes, impairments (and `macs`,
/// when given), a bridge port in its access VLAN, up, then the leases its ends ask for; on
/// failure the link goes again.
fn add_link(
    host: &Handle,
    topology: &Topology,
    state: &LabState,
    link: &LinkSpec,
    macs: Option<EndMacs>,
) -> Result<Vec<EndLease>> {
    let in_host = |end: &super::End| match topology.nodes.get(&end.node) {
        Some(kind) => kind.in_host(),
        None => !state.guests.contains_key(&end.node) && netns_name(state, &end.node).is_none(),
    };
    // The end in the host, if any, is the one created there.
    let (first, second, macs) = if in_host(&link.ends[1]) {
        (&link.ends[1], &link.ends[0], macs.map(|[a, b]| [b, a]))
    } else {
        (&link.ends[0], &link.ends[1], macs)
    };
    let Place::Namespace(peer_namespace) = place(host, topology, state, &second.node)? else {
        unreachable!("a link has a linux node at one end, checked when the file was read");
    };
    // The MACs it had (undoing a removal), else the file's.
    let macs = macs.map(|[a, b]| [Some(a), Some(b)]).unwrap_or([first.mac, second.mac]);
    if is_macvlan_parent(topology, first) {
        return add_macvlan(host, first, second, &peer_namespace, link, macs[1]);
    }
    let (first_namespace, master) = match place(host, topology, state, &first.node)? {
        Place::Namespace(namespace) => (Some(namespace), None),
        Place::Host(bridge) => (None, bridge),
    };
    let handle = first_namespace.as_ref().map(Handle::new).transpose()?;
    let creator = handle.as_ref().unwrap_or(host);
    let mut veth = Veth::new(&first.ifname, &second.ifname)?.peer_namespace(&peer_namespace).up();
    // On a bridge with a tunnel, the overlay's MTU unless the file sets one.
    let tunnel = topology.tunnels.iter().find(|t| t.bridge == first.node);
    let mtu = match (link.mtu, tunnel) {
        (Some(mtu), _) => Some(mtu),
        (None, Some(tunnel)) => Some(overlay::overlay_mtu(host, &tunnel.uplink)?),
        (None, None) => None,
    };
    if let Some(mtu) = mtu {
        veth = veth.mtu(mtu);
    }
    if let Some(bridge) = master {
        veth = veth.master(bridge);
    }
    if let Some(mac) = macs[0] {
        veth = veth.mac(mac);
    }
    if let Some(peer_mac) = macs[1] {
        veth = veth.peer_mac(peer_mac);
    }
    let made = veth.add(creator)?;
    let ovs = if is_ovs(topology, state, first) {
        match connect_for(host, &first.node) {
            Ok(ovs) => Some(ovs),
            Err(err) => return Err(err.rolled_back(creator.link_del(made.index))),
        }
    } else {
        None
    };
    let configured = (|| -> Result<()> {
        if let Some(ovs) = &ovs {
            let port =
                OvsPort { name: first.ifname.clone(), tag: first.vlan, ..Default::default() };
            ovs.port_add(&first.node, &port)?;
        }
        if let (Some(vid), Some(bridge)) = (first.vlan, master) {
            bridge_vlan::prepare(host, &first.node)?;
            bridge_vlan::make_access_port(host, bridge, made.index, vid)?;
        }
        for address in &first.addresses {
            creator.addr_add(made.index, *address)?;
        }
        let peer = Handle::new(&peer_namespace)?;
        let peer_link = peer.link(second.ifname.as_str())?;
        for address in &second.addresses {
            peer.addr_add(peer_link.index, *address)?;
        }
        peer.link_set_up(peer_link.index)?;
        add_routes(creator, made.index, first)?;
        add_routes(&peer, peer_link.index, second)?;
        impair(creator, made.index, first)?;
        impair(&peer, peer_link.index, second)
    })();
    let leased = configured.and_then(|()| {
        let ends = [(first, first_namespace.as_ref()), (second, Some(&peer_namespace))];
        obtain_leases(ends.into_iter().filter_map(|(end, ns)| Some((end, ns?))))
    });
    leased.map_err(|err| {
        let port_gone = ovs.as_ref().map_or(Ok(()), |ovs| ovs.port_del(&first.ifname).map(drop));
        let link_gone = creator.link_del(made.index);
        err.rolled_back(port_gone.and(link_gone))
    })
}

/// The leases `ends` (each up in its namespace) ask for; when one fails, those obtained
/// before it are given back.
fn obtain_leases<'a>(
    ends: impl IntoIterator<Item = (&'a super::End, &'a Namespace)>,
) -> Result<Vec<EndLease>> {
    let mut obtained: Vec<(EndLease, &Namespace)> = Vec::new();
    for (end, namespace) in ends {
        match leases::obtain_for(end, namespace) {
            Ok(lease) => obtained.extend(lease.map(|lease| (lease, namespace))),
            Err(err) => {
                let mut undo = Ok(());
                for (lease, namespace) in &obtained {
                    undo = undo.and(leases::release([lease], Some(namespace)));
                }
                return Err(err.rolled_back(undo));
            }
        }
    }
    Ok(obtained.into_iter().map(|(lease, _)| lease).collect())
}

/// A macvlan (bridge mode unless the link says), or the ipvlan the link asks for, on
/// `parent.ifname` (a device of the host) born in `child`'s node as `child.ifname`, with its
/// addresses and routes, up, then its lease; on failure it goes again.
fn add_macvlan(
    host: &Handle,
    parent: &super::End,
    child: &super::End,
    namespace: &Namespace,
    link: &LinkSpec,
    mac: Option<MacAddr>,
) -> Result<Vec<EndLease>> {
    if let Some(mode) = link.ipvlan {
        let mut ipvlan =
            Ipvlan::new(&child.ifname, parent.ifname.as_str(), mode)?.namespace(namespace).up();
        if let Some(mtu) = link.mtu {
            ipvlan = ipvlan.mtu(mtu);
        }
        ipvlan.add(host)?;
    } else {
        let mode = link.mode.unwrap_or(MacvlanMode::Bridge);
        let mut macvlan =
            Macvlan::new(&child.ifname, parent.ifname.as_str(), mode)?.namespace(namespace).up();
        if let Some(mtu) = link.mtu {
            macvlan = macvlan.mtu(mtu);
        }
        if let Some(mac) = mac {
            macvlan = macvlan.mac(mac);
        }
        macvlan.add(host)?;
    }
    let guest = Handle::new(namespace)?;
    let made = guest.link(child.ifname.as_str())?;
    let configured = (|| -> Result<Vec<EndLease>> {
        for address in &child.addresses {
            guest.addr_add(made.index, *address)?;
        }
        add_routes(&guest, made.index, child)?;
        impair(&guest, made.index, child)?;
        obtain_leases([(child, namespace)])
    })();
    configured.map_err(|err| err.rolled_back(guest.link_del(made.index)))
}

/// Adds an end's routes out of its interface `index`; they go with the interface.
///
/// Equivalent to: `ip route add DST via VIA dev IF`.
fn add_routes(handle: &Handle, index: u32, end: &super::End) -> Result<()> {
    for route in &end.routes {
        handle.route_add(&Route {
            destination: route.destination,
            gateway: Some(route.via),
            oif: Some(index),
            metric: None,
            table: None,
        })?;
    }
    Ok(())
}

/// Gives an end's interface `index` its netem impairments, if it has any; they go with it.
///
/// Equivalent to: `tc qdisc replace dev IF root netem ...`.
fn impair(handle: &Handle, index: u32, end: &super::End) -> Result<()> {
    end.netem.as_ref().map_or(Ok(()), |netem| handle.netem_set(index, netem))
}

/// The bridge node's tunnel port (`vx<VNI>` flooding to every remote, head-end replication,
/// or `gnv<VNI>` to its one remote), up, with the overlay's MTU; on failure it goes again.
///
/// Equivalent to: `ip link add vxVNI mtu M master BRIDGE up type vxlan id VNI remote R1
/// dstport P [dev DEV]; bridge fdb append 00:00:00:00:00:00 dev vxVNI dst R2 self permanent`.
fn add_tunnel(host: &Handle, tunnel: &TunnelSpec) -> Result<()> {
    let bridge = host.link(tunnel.bridge.as_str())?;
    overlay::create_flooding(host, &bridge, &tunnel.uplink).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_go_together_and_links_in_waves_of_disjoint_nodes() {
        let text = "name: w\ntopology:\n  nodes:\n    a: {}\n    b: {}\n    c: {}\n    d: {}\n  links:\n    - endpoints: [\"a:e1\", \"b:e1\"]\n    - endpoints: [\"b:e2\", \"c:e1\"]\n    - endpoints: [\"c:e2\", \"d:e1\"]\n    - endpoints: [\"d:e2\", \"a:e2\"]\n";
        let topology = Topology::parse(text, "w.yml").unwrap();
        let mut steps: Vec<Step> = topology
            .nodes
            .values()
            .map(|kind| match kind {
                NodeKind::Namespace { netns } => Step::CreateNamespace { name: netns.clone() },
                _ => unreachable!(),
            })
            .collect();
        steps.extend(topology.links.iter().map(|link| Step::AddLink { link: link.clone() }));
        steps.push(Step::DeleteBridge { name: "old".into() });
        let keys = |batch: &Vec<&Step>| -> Vec<String> {
            batch
                .iter()
                .map(|step| match step {
                    Step::AddLink { link } => link.key(),
                    other => other.to_string(),
                })
                .collect()
        };
        let batches: Vec<Vec<String>> = batches(&steps).iter().map(keys).collect();
        assert_eq!(batches.len(), 4, "{batches:?}");
        assert_eq!(batches[0].len(), 4, "the namespaces together");
        assert_eq!(batches[1], ["a:e1 -- b:e1", "c:e2 -- d:e1"]);
        assert_eq!(batches[2], ["b:e2 -- c:e1", "d:e2 -- a:e2"]);
        assert_eq!(batches[3], ["delete bridge old"]);
    }
}
