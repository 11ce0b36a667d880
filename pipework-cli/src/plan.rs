//! From a request of the command's grammar to the core's [`AttachPlan`]: the host interface
//! detected, the flags converted; shared by the command, the watcher's asks and the bindings.

use pipework_core::{
    AttachPlan, Detected, Error, Guest, Handle, MacAddr, Op,
    attach::{HostChoice, HostSide, detect},
    dhcp::{DhcpClient, DhcpKeep, KeeperCommand},
    watch::Ask,
};

use crate::grammar::{Addressing, AttachRequest, parse_ask};

/// The hidden subcommand that runs the lease keeper of `--daemon` (see `dhcp::serve_keeper`).
pub const KEEPER_SUBCOMMAND: &str = "dhcp-keeper";

/// This program as the lease keeper of `--daemon`: its hidden `dhcp-keeper` subcommand.
pub fn own_keeper() -> Result<KeeperCommand, Error> {
    let program = std::env::current_exe()
        .map_err(|err| Error::io(Op::Attach, "the pipework program's path", &err))?;
    Ok(KeeperCommand { program, args: vec![KEEPER_SUBCOMMAND.into()] })
}

/// The plan of `request`'s attach of `guest` (its host interface detected in `host`), with
/// the notes to show the user; `keeper` is the lease keeper `--daemon` starts (`None`: the
/// core's `pipework-dhcp-keeper`).
pub fn plan_attach(
    request: &AttachRequest,
    host: &Handle,
    guest: &Guest,
    keeper: Option<&KeeperCommand>,
    notes: &mut Vec<String>,
) -> Result<(Detected, AttachPlan), Error> {
    let choice = HostChoice {
        direct_phys: request.direct_phys,
        macvlan_mode: request.mode,
        macvtap: request.macvtap,
        ipvlan: request.ipvlan,
        pkey: request.pkey,
    };
    let detected = detect(host, &request.host)?;
    notes.extend(detected.note.clone());
    let (side, vlan) = detected.host_side_at(&choice, request.at.as_deref())?;
    let mut plan = AttachPlan::new(side)
        .announce(request.announce)
        .allow_host_namespace(request.allow_host_namespace);
    match &request.addressing {
        Addressing::Static { addresses, gateways } => {
            plan.addresses = addresses.clone();
            plan.gateways = gateways.clone();
        }
        Addressing::Dhcp(spec) => {
            notes.extend(spec.note.clone());
            let mut spec = (**spec).clone();
            if matches!(spec.keep, DhcpKeep::Daemon { .. }) && spec.client == DhcpClient::Native {
                spec.keeper = keeper.cloned();
            }
            plan = plan.dhcp(spec);
        }
    }
    plan.mac = request.mac;
    plan.vlan = vlan;
    plan.mtu = request.mtu;
    plan.host_shim = request.shim;
    plan.vxlan = request.vxlan.clone();
    plan.host_ifname = match (&request.host_ifname, &plan.host) {
        (Some(name), HostSide::Bridge { .. } | HostSide::OvsBridge { .. }) => Some(name.clone()),
        (Some(name), side) => {
            notes.push(format!(
                "-l {name} is ignored, as by the original: only a bridge attachment has a \
                 host-side interface to name, and this is {side}"
            ));
            None
        }
        (None, _) => None,
    };
    if let Some(ifname) = &request.guest_ifname {
        plan.guest_ifname = ifname.clone();
    }
    if request.stable_mac {
        plan.mac = Some(MacAddr::stable(guest, &plan.guest_ifname));
    }
    plan.validate()?;
    Ok((detected, plan))
}

/// The plan of one ask of a container: its words read by the attach grammar, `guest` put in.
///
/// Notes go to `note`; `keeper` is as for [`plan_attach`].
pub fn plan_ask(
    host: &Handle,
    guest: &Guest,
    ask: &Ask,
    keeper: Option<&KeeperCommand>,
    note: &mut dyn FnMut(String),
) -> Result<AttachPlan, Error> {
    let named = guest.name.clone().unwrap_or_else(|| guest.to_string());
    let request = parse_ask(&ask.args, &named)
        .map_err(|usage| Error::invalid(ask.source.clone(), ask.args.clone(), usage.0))?;
    let mut notes = Vec::new();
    let (_, plan) = plan_attach(&request, host, guest, keeper, &mut notes)?;
    for text in notes {
        note(format!("{named} ({}): note: {text}", ask.source));
    }
    Ok(plan)
}
