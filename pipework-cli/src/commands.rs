//! Each request carried out with pipework-core; this module only converts and prints.

use std::{
    process::ExitStatus,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use pipework_core::{
    AttachPlan, AttachStatus, Attachment, Condition, Engine, Error, Guest, Handle, Namespace, Op,
    StateStore,
    dhcp::{DhcpKeep, DhcpLease, KeeperCommand},
    resolve,
    resolve::DockerResolver,
    route::RouteCommand,
    state::Checked,
    topology::Topology,
    wait_for,
    watch::{Ask, Watcher},
};

use pipework_cli::plan::{own_keeper, plan_ask, plan_attach};

use crate::grammar::{
    AttachRequest, LabRequest, LabVerb, PassthroughRequest, TipcRequest, Tool, WatchRequest,
};

/// Attaches, records and prints (or, with --dry-run, only prints the plan).
pub fn attach_guest(request: &AttachRequest) -> Result<(), Error> {
    let host = Handle::current()?;
    let guest = resolve(&request.guest)?;
    let mut notes = Vec::new();
    let keeper = own_keeper()?;
    let (detected, plan) = plan_attach(request, &host, &guest, Some(&keeper), &mut notes)?;
    for note in notes {
        eprintln!("pipework: note: {note}");
    }
    if request.dry_run {
        return print_plan(request, &guest, &detected, &plan);
    }
    let keep_in_foreground =
        plan.dhcp.as_ref().is_some_and(|spec| spec.keep == DhcpKeep::Foreground);
    if keep_in_foreground {
        // From here on an interrupt ends the foreground keeper cleanly, whenever it comes.
        catch_stop_signals()?;
    }
    let store = StateStore::from_env();
    let (attachment, kept) = store.attach(&host, &guest, &plan)?;
    for warning in &attachment.warnings {
        eprintln!("pipework: warning: {warning}");
    }
    if request.json {
        println!("{}", to_json(&attachment));
    } else {
        println!("{}", describe(&attachment));
    }
    match kept {
        Some(lease) => keep_lease_in_foreground(lease, &store, &attachment),
        None => Ok(()),
    }
}

/// Set by SIGINT or SIGTERM while a lease is kept in the foreground.
static STOP: AtomicBool = AtomicBool::new(false);

/// Makes SIGINT and SIGTERM set [`STOP`] instead of ending the process.
fn catch_stop_signals() -> Result<(), Error> {
    extern "C" fn stop(_: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
    }
    let handler = SigAction::new(SigHandler::Handler(stop), SaFlags::empty(), SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(signal, &handler) }
            .map_err(|errno| Error::kernel(Op::Attach, "signal handler", errno))?;
    }
    Ok(())
}

/// `--foreground`: renew the lease in the foreground, printing each event, until
/// SIGINT or SIGTERM; then release it and forget the attachment's lease.
fn keep_lease_in_foreground(
    kept: DhcpLease,
    store: &StateStore,
    attachment: &Attachment,
) -> Result<(), Error> {
    eprintln!(
        "pipework: keeping the lease of {} in the foreground; Ctrl-C releases it",
        kept.record().address
    );
    while !STOP.load(Ordering::SeqCst) {
        if let Some(event) = kept.next_event(Duration::from_millis(200)) {
            eprintln!("pipework: {event:?}");
        }
    }
    kept.release()?;
    let mut released = attachment.clone();
    released.dhcp = None;
    store.save(&released)?;
    eprintln!("pipework: lease released");
    Ok(())
}

fn print_plan(
    request: &AttachRequest,
    guest: &Guest,
    detected: &pipework_core::Detected,
    plan: &AttachPlan,
) -> Result<(), Error> {
    if request.json {
        let value = serde_json::json!({ "guest": guest.record(), "host_interface": detected, "plan": plan });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        return Ok(());
    }
    println!("dry run: nothing will be changed");
    println!("guest: {guest}");
    println!("host interface {}: {}", detected.name, detected.kind);
    println!("host side: {}", plan.host);
    println!("guest interface: {}", plan.guest_ifname);
    let list =
        |items: Vec<String>| if items.is_empty() { "none".to_string() } else { items.join(", ") };
    println!("addresses: {}", list(plan.addresses.iter().map(ToString::to_string).collect()));
    println!("gateways: {}", list(plan.gateways.iter().map(ToString::to_string).collect()));
    if let Some(mac) = plan.mac {
        println!("mac: {mac}");
    }
    if let Some(mtu) = plan.mtu {
        println!("mtu: {mtu}");
    }
    if let Some(vlan) = plan.vlan {
        println!("vlan: {vlan} ({})", plan.vlan_protocol);
    }
    if let Some(shim) = plan.host_shim {
        println!("host shim: {shim}");
    }
    if let Some(uplink) = &plan.vxlan {
        let remotes: Vec<String> = uplink.remotes.iter().map(ToString::to_string).collect();
        println!("vxlan: {} (vni {}) to {}", uplink.device_name(), uplink.vni, remotes.join(", "));
    }
    if let Some(spec) = &plan.dhcp {
        println!("dhcp: {}", spec.client.program().unwrap_or("pipework's own client"));
    }
    Ok(())
}

/// Undoes the recorded attachments of a guest and forgets them.
pub fn detach_guest(target: &str, ifname: Option<&str>, json: bool) -> Result<(), Error> {
    let host = Handle::current()?;
    let guest = resolve(target).ok();
    let (done, outcome) = StateStore::from_env().detach(&host, target, guest.as_ref(), ifname);
    if json {
        println!("{}", to_json(&done));
    } else {
        for attachment in &done {
            println!(
                "detached {} from {}",
                attachment.plan.guest_ifname,
                attachment.plan.host.host_interface()
            );
        }
    }
    outcome
}

/// Prints each recorded attachment of a guest and its drift; drift is an error (exit 1).
pub fn check(target: &str, json: bool) -> Result<(), Error> {
    let host = Handle::current()?;
    let checked = StateStore::from_env().check(&host, target, resolve(target).ok().as_ref())?;
    if json {
        println!("{}", to_json(&checked));
    } else {
        for Checked { attachment, drift } in &checked {
            let what = format!(
                "{} on {}",
                attachment.plan.guest_ifname,
                attachment.plan.host.host_interface()
            );
            match drift.is_empty() {
                true => println!("{what}: ok"),
                false => drift.iter().for_each(|d| println!("{what}: {d}")),
            }
        }
    }
    let drifted = checked.iter().map(|c| c.drift.len()).sum::<usize>();
    match drifted {
        0 => Ok(()),
        n => Err(Error::Conflict {
            op: Op::Check,
            object: target.to_string(),
            reason: format!("{n} difference(s) from what pipework attached"),
        }),
    }
}

/// Removes (or, with --dry-run, lists) what is left of guests that are gone.
pub fn gc(dry_run: bool, json: bool) -> Result<(), Error> {
    let host = Handle::current()?;
    let (collected, outcome) = StateStore::from_env().gc(&host, dry_run);
    if json {
        println!("{}", to_json(&collected));
    } else {
        let verb = if dry_run { "would remove" } else { "removed" };
        for attachment in &collected {
            println!("{verb} {}", describe(attachment));
        }
        if collected.is_empty() {
            println!("no guest is gone");
        }
    }
    outcome
}

/// Prints what pipework attached (to one guest or everywhere).
pub fn show(target: Option<&str>, json: bool) -> Result<(), Error> {
    let store = StateStore::from_env();
    let watched = Watcher::store_in(&store);
    let guest = target.and_then(|t| resolve(t).ok());
    let records_of = |store: &StateStore| match target {
        Some(target) => store.find(target, guest.as_ref(), None),
        None => store.all(),
    };
    let records = records_of(&store)?;
    let watched_records = records_of(&watched)?;
    if json {
        let attachments: Vec<&Attachment> =
            records.iter().chain(&watched_records).map(|r| &r.attachment).collect();
        println!("{}", to_json(&attachments));
    } else if records.is_empty() && watched_records.is_empty() {
        println!(
            "nothing attached by pipework (records in {} and {})",
            store.dir().display(),
            watched.dir().display()
        );
    } else {
        for record in &records {
            println!("{}", describe(&record.attachment));
        }
        for record in &watched_records {
            println!("{} [pipework watch]", describe(&record.attachment));
        }
    }
    if target.is_none() && !json {
        for lab in pipework_core::topology::labs(&store)? {
            println!("lab {lab} (pipework show --lab {lab})");
        }
    }
    Ok(())
}

/// Follows the engines (or, with --once, reconciles once), printing one line per action.
pub fn watch(request: &WatchRequest) -> Result<(), Error> {
    let engines = request
        .engines
        .iter()
        .map(|engine| match engine {
            Engine::Podman => DockerResolver::podman(),
            _ => DockerResolver::docker(),
        })
        .collect();
    let store = Watcher::store_in(&StateStore::from_env());
    let keeper = own_keeper()?;
    KeeperCommand::set_default(keeper.clone());
    let watcher = Watcher::new(
        engines,
        store,
        Box::new(move |host: &Handle, guest: &Guest, ask: &Ask| {
            plan_ask(host, guest, ask, Some(&keeper), &mut |note| {
                eprintln!("pipework watch: {note}")
            })
        }),
        Box::new(|report| eprintln!("pipework watch: {report}")),
    );
    let watcher = match &request.topology {
        Some(file) => watcher.with_topology(Topology::from_file(file)?, StateStore::from_env()),
        None => watcher,
    };
    if request.once {
        return watcher.reconcile_once();
    }
    catch_stop_signals()?;
    watcher.run(&STOP)
}

/// Waits in the current namespace until `ifname` meets `condition`.
pub fn wait(
    ifname: &str,
    condition: Condition,
    timeout: Option<std::time::Duration>,
) -> Result<(), Error> {
    let handle = Handle::current()?;
    wait_for(&handle, ifname, condition, timeout).map(drop)
}

/// Joins guests into one TIPC bus (or, with `show`, reports it) and prints the table.
pub fn tipc(request: &TipcRequest) -> Result<(), Error> {
    use pipework_core::tipc::{IdentityScheme, TipcBus};
    let guests =
        request.guests.iter().map(|g| resolve(g)).collect::<Result<Vec<Guest>, Error>>()?;
    let mut bus = TipcBus::new();
    if let Some(wait) = request.wait_links {
        bus = bus.link_timeout(wait);
    }
    if let Some(net_id) = request.net_id {
        bus = bus.net_id(net_id);
    }
    if let Some(bearer) = &request.bearer {
        bus = bus.bearer(bearer.parse()?);
    }
    if let Some(template) = &request.identity {
        bus = bus.identities(IdentityScheme::Template(template.clone()));
    }
    bus.validate()?;
    let report = if request.show { bus.show(&guests)? } else { bus.configure(&guests)? };
    if request.json {
        println!("{}", to_json(&report));
    } else {
        print!("{report}");
    }
    Ok(())
}

/// How a route/rule/tc form was carried out.
pub enum Passed {
    /// Done with netlink by pipework itself.
    Natively,
    /// Run by `ip` or `tc`, which ended with this status.
    Program(ExitStatus),
}

/// Runs a route/rule/tc form inside the guest: common `route` forms natively, the rest by
/// `ip [-4|-6]`/`tc`; the original's ignored `-i`/`-l` (and `-a` of tc) get a note.
pub fn passthrough(request: &PassthroughRequest) -> Result<Passed, Error> {
    let PassthroughRequest { tool, guest: target, args, family, ignored } = request;
    for option in ignored {
        eprintln!(
            "pipework: note: {option} is ignored by the {} form, as by the original{}",
            tool.name(),
            if *tool == Tool::Tc { "" } else { " (name the device in the arguments: dev IF)" }
        );
    }
    let guest = resolve(target)?;
    if *tool == Tool::Route
        && let Some(typed) = RouteCommand::parse(args)
        && family.is_none_or(|f| typed.is_ipv6() == Some(f == 6))
    {
        typed.run(&Handle::new(&guest.namespace)?)?;
        return Ok(Passed::Natively);
    }
    let family = family.map(|f| format!("-{f}"));
    let mut prefix: Vec<&str> = family.iter().map(String::as_str).collect();
    let program = match tool {
        Tool::Route => {
            prefix.push("route");
            "ip"
        }
        Tool::Rule => {
            prefix.push("rule");
            "ip"
        }
        Tool::Tc => "tc",
    };
    run_in(&guest.namespace, program, &prefix, args).map(Passed::Program)
}

fn run_in(
    namespace: &Namespace,
    program: &str,
    prefix: &[&str],
    args: &[String],
) -> Result<ExitStatus, Error> {
    let mut command = namespace.command(program)?;
    command.args(prefix).args(args);
    log::info!("running {program} {} {} in {namespace}", prefix.join(" "), args.join(" "));
    command
        .status()
        .map_err(|err| Error::io(Op::RunProgram, format!("{program} in {namespace}"), &err))
}

fn describe(attachment: &Attachment) -> String {
    let guest = &attachment.guest;
    let who = guest
        .name
        .clone()
        .or(guest.pid.map(|p| format!("pid {p}")))
        .unwrap_or_else(|| guest.namespace.to_string());
    let addresses: Vec<String> =
        attachment.plan.addresses.iter().map(ToString::to_string).collect();
    format!(
        "{who} {} on {} ({}) via {}: {} mac {} mtu {}{}",
        attachment.plan.guest_ifname,
        attachment.plan.host.host_interface(),
        attachment.plan.host.kind_name(),
        if attachment.host_ifname.is_empty() { "-" } else { &attachment.host_ifname },
        if addresses.is_empty() { "no address".to_string() } else { addresses.join(", ") },
        attachment.mac.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
        attachment.mtu,
        if attachment.status == AttachStatus::AlreadyAttached { " (already attached)" } else { "" }
    )
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}

/// Applies, plans or destroys a lab and prints its steps (one line each, or the plan as JSON).
pub fn lab(request: &LabRequest) -> Result<(), Error> {
    use pipework_core::topology::{self, Topology};
    let host = Handle::current()?;
    let store = StateStore::from_env();
    if request.verb == LabVerb::Show {
        return show_lab(&host, request.lab.as_deref().unwrap_or_default(), &store, request.json);
    }
    let topology = request.file.as_deref().map(Topology::from_file).transpose()?;
    // A kept lease (`dhcp: "dhcp:-f"`) is kept by this program's hidden subcommand.
    KeeperCommand::set_default(own_keeper()?);
    let plan = match (request.verb, &topology) {
        (LabVerb::Apply, Some(topology)) => topology::apply(&host, topology, &store)?,
        (LabVerb::Diff, Some(topology)) => topology::plan(&host, topology, &store)?,
        (LabVerb::Destroy, Some(topology)) => topology::destroy(&host, &topology.name, &store)?,
        (LabVerb::Destroy, None) => {
            topology::destroy(&host, request.lab.as_deref().unwrap_or_default(), &store)?
        }
        (LabVerb::Show, _) => unreachable!("shown above"),
        (_, None) => {
            let lab = request.lab.clone().unwrap_or_default();
            return Err(Error::invalid(
                "--lab",
                lab,
                "apply and diff read the lab's file; give it",
            ));
        }
    };
    if request.json {
        println!("{}", to_json(&plan));
        return Ok(());
    }
    let done = if request.verb == LabVerb::Diff { "would" } else { "did" };
    if plan.steps.is_empty() {
        println!("lab {}: nothing to change", plan.lab);
    }
    for step in &plan.steps {
        println!("lab {} {done}: {step}", plan.lab);
    }
    Ok(())
}

/// Prints what the applies of `lab` made, one line each, marking what is not in place now.
fn show_lab(host: &Handle, lab: &str, store: &StateStore, json: bool) -> Result<(), Error> {
    let Some(status) = pipework_core::topology::status(host, lab, store)? else {
        return Err(Error::NotFound {
            op: Op::State,
            object: format!(
                "lab {lab} (no record in {}: never applied here, or destroyed)",
                store.dir().join("labs").display()
            ),
        });
    };
    if json {
        println!("{}", to_json(&status));
        return Ok(());
    }
    let mark = |present: bool| if present { "" } else { " (missing)" };
    println!(
        "lab {}: {} namespace(s), {} bridge(s), {} link(s)",
        status.lab,
        status.namespaces.len(),
        status.bridges.len(),
        status.links.len()
    );
    for namespace in &status.namespaces {
        println!("  namespace {}{}", namespace.item, mark(namespace.present));
    }
    for bridge in &status.bridges {
        println!("  bridge {}{}", bridge.item, mark(bridge.present));
    }
    for bridge in &status.ovs_bridges {
        println!("  OVS bridge {}{}", bridge.item, mark(bridge.present));
    }
    for link in &status.links {
        let addresses = |end: &pipework_core::topology::End| {
            end.addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
        };
        let [a, b] = &link.item.ends;
        let mut line = format!("  link {}", link.item.key());
        if !a.addresses.is_empty() || !b.addresses.is_empty() {
            line += &format!(" [{} -- {}]", addresses(a), addresses(b));
        }
        if let Some(mtu) = link.item.mtu {
            line += &format!(" mtu {mtu}");
        }
        if let Some(mode) = link.item.ipvlan {
            line += &format!(" ipvlan {mode}");
        }
        for end in [a, b] {
            if let Some(vid) = end.vlan {
                line += &format!(" {}:{} vlan {vid}", end.node, end.ifname);
            }
            if let Some(netem) = &end.netem {
                line += &format!(" {}:{} netem {netem}", end.node, end.ifname);
            }
        }
        println!("{line}{}", mark(link.present));
    }
    for tunnel in &status.tunnels {
        let uplink = &tunnel.item.uplink;
        let remotes: Vec<String> = uplink.remotes.iter().map(ToString::to_string).collect();
        println!(
            "  tunnel {} on {} to {}{}",
            uplink.device_name(),
            tunnel.item.bridge,
            remotes.join(","),
            mark(tunnel.present)
        );
    }
    if let Some(tipc) = &status.tipc {
        println!(
            "  TIPC bus {} on {} over {}{}",
            tipc.item.bus.net_id,
            tipc.item.bus.bearer,
            tipc.item.nodes.join(","),
            if tipc.present { "" } else { " (links not all up)" }
        );
    }
    for lease in &status.leases {
        let record = &lease.item.record;
        let kept = record.process.as_ref().map_or(String::new(), |process| {
            format!(" kept by {} (pid {})", process.program, process.pid)
        });
        println!(
            "  lease {}:{} {}{kept}{}",
            lease.item.node,
            lease.item.ifname,
            record.lease.address,
            mark(lease.present)
        );
    }
    Ok(())
}
