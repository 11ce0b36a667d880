//! The original script's command line, parsed into a typed request (no system access here).

use std::{ffi::OsString, net::IpAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};
use pipework_core::{
    Condition, IpNet, IpvlanMode, MacAddr, MacvlanMode, VxlanUplink,
    attach::AtSuffix,
    dhcp::{DhcpKeep, DhcpSpec},
    link::parse_pkey,
    parse_cidr,
};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `pipework HOSTIF [-i IF] [-l IF] [-a 4|6] GUEST IP[/LEN][@GW] [MAC][@VLAN]`.
    Attach(AttachRequest),
    /// `pipework --wait [-i IF]`: inside a container, wait for the interface.
    Wait { ifname: String, condition: Condition, timeout: Option<Duration> },
    /// `pipework route|rule|tc [-i IF] [-l IF] [-a 4|6] GUEST ARGS...`.
    Passthrough(PassthroughRequest),
    /// `pipework detach GUEST [-i IF]`.
    Detach { guest: String, ifname: Option<String>, json: bool },
    /// `pipework show [GUEST]`.
    Show { guest: Option<String>, json: bool },
    /// `pipework check GUEST`: compare its attachments with the kernel.
    Check { guest: String, json: bool },
    /// `pipework gc [--dry-run]`: remove what is left of guests that are gone.
    Gc { dry_run: bool, json: bool },
    /// `pipework tipc GUEST...` (configure a bus) or `pipework tipc show GUEST...`.
    Tipc(TipcRequest),
    /// `pipework apply FILE`, `pipework diff FILE`, `pipework destroy FILE | --lab NAME`,
    /// `pipework show --lab NAME`.
    Lab(LabRequest),
    /// `pipework watch [--engine docker|podman|all] [--once]`.
    Watch(WatchRequest),
}

/// A watch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// The engines to follow.
    pub engines: Vec<pipework_core::Engine>,
    /// Reconcile once and exit instead of following the events.
    pub once: bool,
    /// A topology whose `guest` nodes name containers, kept applied to its running part.
    pub topology: Option<PathBuf>,
}

/// A topology request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabRequest {
    /// What to do.
    pub verb: LabVerb,
    /// The topology file (none for `destroy --lab`).
    pub file: Option<PathBuf>,
    /// The lab's name (`destroy --lab`).
    pub lab: Option<String>,
    /// JSON output.
    pub json: bool,
}

/// What a topology request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabVerb {
    /// Make the lab what the file says.
    Apply,
    /// Print the plan, change nothing.
    Diff,
    /// Remove what the lab's applies made.
    Destroy,
    /// Print what the lab's applies made and whether it is in place (`show --lab NAME`).
    Show,
}

/// A TIPC bus request.
#[derive(Debug, Clone, PartialEq)]
pub struct TipcRequest {
    /// Only report, change nothing.
    pub show: bool,
    /// The members.
    pub guests: Vec<String>,
    /// `--net-id`.
    pub net_id: Option<u32>,
    /// `--bearer eth:IF | udp:...`.
    pub bearer: Option<String>,
    /// `--identity TEMPLATE` (`{name}`, `{index}`).
    pub identity: Option<String>,
    /// `--wait-links SECONDS` (`Some(Some(..))`) or `--no-wait-links` (`Some(None)`); `None`
    /// (also a bare `--wait-links`) leaves the core's default wait.
    pub wait_links: Option<Option<Duration>>,
    /// `--json`.
    pub json: bool,
}

/// A route, rule or tc form.
#[derive(Debug, Clone, PartialEq)]
pub struct PassthroughRequest {
    /// Which tool.
    pub tool: Tool,
    /// The guest.
    pub guest: String,
    /// The tool's arguments.
    pub args: Vec<String>,
    /// `-a 4|6`: `ip -4|-6 route|rule` (tc has no family).
    pub family: Option<u8>,
    /// The original's `-i IF` and `-l IF` of these forms, which it consumed and ignored
    /// (as written, for a note).
    pub ignored: Vec<String>,
}

/// The tool a passthrough form runs inside the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `ip route`.
    Route,
    /// `ip rule`.
    Rule,
    /// `tc`.
    Tc,
}

impl Tool {
    /// The form's word on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Route => "route",
            Tool::Rule => "rule",
            Tool::Tc => "tc",
        }
    }
}

/// How the guest interface gets its addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum Addressing {
    /// Static addresses with optional gateways; empty for the original's `0/0`.
    Static { addresses: Vec<IpNet>, gateways: Vec<IpAddr> },
    /// One of the DHCP forms: `dhcp`, `udhcpc`, `dhclient`, `dhcpcd`, each with `:OPTIONS`.
    Dhcp(Box<DhcpSpec>),
}

/// An attach, as the command line gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachRequest {
    /// The host interface, or `mac:ADDRESS`.
    pub host: String,
    /// The guest target (container, PID, namespace name or path).
    pub guest: String,
    /// The interface name inside the guest (`-i`); the default depends on the host kind.
    pub guest_ifname: Option<String>,
    /// The host-side name (`-l`).
    pub host_ifname: Option<String>,
    /// How the interface is addressed.
    pub addressing: Addressing,
    /// The guest MAC (`MAC` or `U:STRING`, positional or `--mac`).
    pub mac: Option<MacAddr>,
    /// `--mac stable`: a MAC derived from the guest's identity and the interface name.
    pub stable_mac: bool,
    /// The original's `@N` as written: a VLAN id, or on an IPoIB host interface the hex P_Key
    /// (read once the host interface is known, by [`pipework_core::Detected::at_suffix`]).
    pub at: Option<String>,
    /// Move the device itself (`--direct-phys`).
    pub direct_phys: bool,
    /// Macvlan mode (`--mode`).
    pub mode: Option<MacvlanMode>,
    /// A macvtap instead of a macvlan (`--macvtap`).
    pub macvtap: bool,
    /// An ipvlan in this mode instead of a macvlan (`--ipvlan`).
    pub ipvlan: Option<IpvlanMode>,
    /// The IPoIB partition key (`--pkey`, hex).
    pub pkey: Option<u16>,
    /// The host shim address (`--shim`).
    pub shim: Option<IpNet>,
    /// MTU (`--mtu`).
    pub mtu: Option<u32>,
    /// Announce the addresses (`--no-arp` turns it off).
    pub announce: bool,
    /// Let the guest be the host's own namespace (`--allow-host-namespace`).
    pub allow_host_namespace: bool,
    /// A VXLAN or Geneve overlay for the bridge (`--vxlan VNI@REMOTE,...`, `--geneve VNI@REMOTE`).
    pub vxlan: Option<VxlanUplink>,
    /// Print the plan, change nothing (`--dry-run`).
    pub dry_run: bool,
    /// JSON output (`--json`).
    pub json: bool,
}

/// A command-line mistake: exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const ABOUT: &str =
    "Connect containers and network namespaces to networks (the successor of the pipework script)";

const LONG_ABOUT: &str = "\
Connect containers and network namespaces to networks their engine cannot express: an extra
interface on a bridge, a macvlan on a physical NIC, a physical device moved in, and more.
Accepts the original pipework script's grammar, in any flag order, and adds undo (detach),
records (show), JSON, dry runs and clear errors.

USAGE (the original's forms):
  pipework <hostif|mac:MAC> [-i guestif] [-l hostif] [-a 4|6] <guest> <ip>/<len>[@<gw>] [MAC][@VLAN]
  pipework <hostif|mac:MAC> [-i guestif] [-l hostif] <guest> dhcp[:opts] [MAC][@VLAN]
      (also udhcpc[-f][:opts], dhclient[-f][:opts], dhcpcd[:opts]; dhcp:-f, like --daemon,
      leaves a lease keeper renewing in the background, stopped by detach; --foreground renews
      in this process until Ctrl-C; dhcp:opts that only udhcpc knows are run by udhcpc)
  pipework --direct-phys <hostif> [-i guestif] <guest> <ip>/<len>[@<gw>]
  pipework route|rule|tc [-a 4|6] <guest> <args...>   (-i, -l accepted and ignored, as before)
  pipework --wait [-i guestif] [--timeout SECONDS] [--exists | --addressed | --routed]

NEW COMMANDS:
  pipework detach <guest> [-i guestif]     undo exactly what attach made
  pipework show [<guest>] [--json]         what pipework attached, and where
  pipework check <guest> [--json]          compare its attachments with the kernel (exit 1 on drift)
  pipework gc [--dry-run] [--json]         remove records and host sides of guests that are gone
  pipework tipc <guest>... [--net-id N] [--bearer eth:IF|udp:...] [--wait-links S | --no-wait-links] [--json]
                                           join guests into one TIPC bus (tipc show <guest>...)
  pipework apply|diff <file> [--json]      make a lab what a containerlab file says (diff: the plan only)
  pipework destroy <file> | --lab <name>   remove what the applies of a lab made
  pipework show --lab <name> [--json]      what the applies of a lab made, and what is in place

<hostif> is an existing bridge (a veth port is added), any other device (a macvlan child, or
with --direct-phys the device itself), or a missing name starting with br (a bridge is created).
<guest> is a PID, a name in /run/netns, a namespace path, or a container name or ID.
<ip> 0/0 gives an interface without address; <len> may be a netmask (255.255.255.0); several
addresses are separated by commas; IPv6 needs no -a 6. MAC U:<string> derives a stable MAC from
<string> as the original did. @VLAN is a VLAN id, or on an IPoIB host interface the hex P_Key
(pipework ib0 web 10.10.10.10/24 @8001). -l names the host end of a bridge attachment only
(ignored, with a note, for other host sides, as the original ignored it).";

const EXAMPLES: &str = "\
EXAMPLES (from the original README):
  pipework br1 web 192.168.1.1/24                 web on bridge br1 (created if missing)
  pipework br1 db 192.168.1.2/24                  and db next to it
  pipework br1 -i eth2 web 10.1.1.1/24            a custom interface name in the guest
  pipework br1 -l pwweb web 10.1.1.1/24           a custom host-side name
  pipework br1 web 192.168.4.25/20@192.168.4.1    with a default gateway
  pipework eth2 web 50.19.169.157/24              a macvlan on physical eth2
  pipework br1 web 10.2.0.3/24 U:web.example.org  a stable MAC derived from a string
  pipework br1 web 0/0                            an interface without address
  pipework --direct-phys eth4 web 10.4.0.2/24     move eth4 itself into web
  pipework route web add 10.0.5.0/24 via 10.2.3.1 a route inside web
  pipework tc web qdisc add dev eth1 root netem loss 30%
  pipework --wait                                 (inside a container) wait for eth1 to be up
  pipework detach web                             undo it

Exit status: 0 success, 1 failure, 2 usage error.";

/// The attach form's flags and positionals.
#[derive(Debug, Parser)]
#[command(
    name = "pipework",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_long_help = EXAMPLES,
    override_usage = "pipework <hostif|mac:MAC> [-i guestif] [-l hostif] [-a 4|6] <guest> <ip>/<len>[@<gw>] [MAC][@VLAN]\n       pipework route|rule|tc <guest> <args...> | detach <guest> | show [<guest>] | --wait [-i guestif]"
)]
struct AttachCli {
    /// Interface name inside the guest (default eth1, ib0 for IPoIB).
    #[arg(short = 'i', value_name = "GUESTIF")]
    guest_ifname: Option<String>,
    /// Host-side interface name (bridge attachments).
    #[arg(short = 'l', value_name = "HOSTIF")]
    host_ifname: Option<String>,
    /// Address family of the addresses: 4 or 6 (IPv6 is recognised without it).
    #[arg(short = 'a', value_name = "4|6", value_parser = ["4", "6"])]
    family: Option<String>,
    /// Move the host device itself into the guest (SR-IOV VFs, spare NICs).
    #[arg(long)]
    direct_phys: bool,
    /// Wait (inside a container) until the interface is up.
    #[arg(long)]
    wait: bool,
    /// With --wait: only until the interface exists (the original's meaning).
    #[arg(long, requires = "wait", conflicts_with_all = ["addressed", "routed"])]
    exists: bool,
    /// With --wait: also wait for an address that duplicate address detection has passed.
    #[arg(long, requires = "wait", conflicts_with = "routed")]
    addressed: bool,
    /// With --wait: also wait for an address and a default route through the interface.
    #[arg(long, requires = "wait")]
    routed: bool,
    /// With --wait: give up after this many seconds (default: wait forever, like the original).
    #[arg(long, value_name = "SECONDS", requires = "wait")]
    timeout: Option<f64>,
    /// Macvlan mode on a physical parent: bridge (default), private, vepa, passthru, source.
    #[arg(long, value_name = "MODE")]
    mode: Option<String>,
    /// A macvtap instead of a macvlan on a physical parent.
    #[arg(long)]
    macvtap: bool,
    /// An ipvlan instead of a macvlan on a physical parent: l2, l3 or l3s.
    #[arg(long, value_name = "MODE")]
    ipvlan: Option<String>,
    /// The partition key of an IPoIB child, in hex (8001, 0x8001).
    #[arg(long, value_name = "PKEY")]
    pkey: Option<String>,
    /// With a macvlan: a host-side shim with this address, so the host reaches the guest.
    #[arg(long, value_name = "ADDRESS/LEN")]
    shim: Option<String>,
    /// The guest interface's MAC: an address, U:<string>, or `stable` (derived from the
    /// guest's identity and the interface name, the same on every attach).
    #[arg(long = "mac", value_name = "MAC|U:STRING|stable")]
    mac_flag: Option<String>,
    /// MTU of the guest interface (default: the host side's).
    #[arg(long)]
    mtu: Option<u32>,
    /// More addresses for the guest interface (repeatable), in the <ip> argument's syntax.
    #[arg(long = "ip", value_name = "ADDRESS/LEN[@GW]")]
    more_addresses: Vec<String>,
    /// With dhcp: stay in the foreground renewing the lease until interrupted (Ctrl-C,
    /// SIGTERM), then release it (dhcp:-f, like --daemon, renews in the background instead).
    #[arg(long)]
    foreground: bool,
    /// With a DHCP form: leave a daemon renewing the lease (stopped by detach).
    #[arg(long)]
    daemon: bool,
    /// With --daemon: where to write its pid (default: under /run/pipework).
    #[arg(long, value_name = "PATH", requires = "daemon")]
    pidfile: Option<PathBuf>,
    /// Do not send a gratuitous ARP / neighbour advertisement after addressing.
    #[arg(long)]
    no_arp: bool,
    /// Allow a guest that is the host's own network namespace (PID 1, a --net=host container).
    #[arg(long)]
    allow_host_namespace: bool,
    /// Join the bridge to a VXLAN overlay across hosts: tunnel port vx<VNI> flooding to every
    /// remote, through DEV when given.
    #[arg(long, value_name = "VNI@REMOTE[,REMOTE...][%DEV]", conflicts_with = "geneve")]
    vxlan: Option<String>,
    /// Join the bridge to a Geneve overlay: tunnel port gnv<VNI> to the one other host REMOTE
    /// (DEV only sets the overlay's MTU: the route to REMOTE picks the device).
    #[arg(long, value_name = "VNI@REMOTE[%DEV]")]
    geneve: Option<String>,
    /// Print what would be done and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Print each step as it happens.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// <hostif> <guest> <ip>[/<len>][@<gw>] [MAC][@VLAN]
    #[arg(value_name = "ARGS", num_args = 0..=4, allow_hyphen_values = false)]
    positionals: Vec<String>,
}

/// The new subcommands, and the passthrough forms.
#[derive(Debug, Parser)]
#[command(name = "pipework", version, about = ABOUT)]
struct SubCli {
    #[command(subcommand)]
    command: Sub,
    /// Print each step as it happens.
    #[arg(short = 'v', long, global = true)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Undo what pipework attached to a guest.
    Detach(DetachArgs),
    /// Show what pipework attached (to one guest, or everywhere).
    Show(ShowArgs),
    /// Compare a guest's attachments with what the kernel has now (exit 1 on drift).
    Check(CheckArgs),
    /// Remove the records and host sides of guests that are gone.
    Gc(GcArgs),
    /// Make a lab what a topology file (containerlab's format) says, as one transaction.
    Apply(LabArgs),
    /// Print what apply would change, and change nothing.
    Diff(LabArgs),
    /// Remove everything the applies of a lab made.
    Destroy(LabArgs),
    /// Run `ip route ARGS` inside the guest (add/del/replace with via/dev/table are done natively).
    Route(PassthroughArgs),
    /// Run `ip rule ARGS` inside the guest.
    Rule(PassthroughArgs),
    /// Run `tc ARGS` inside the guest.
    Tc(PassthroughArgs),
    /// Join guests into one TIPC network (`tipc show GUEST...` only reports).
    Tipc(TipcArgs),
    /// Follow Docker and Podman: attach what containers ask for in their `pipework` labels
    /// (and `pipework_cmd` variables) when they start, detach it when they die.
    Watch(WatchArgs),
}

#[derive(Debug, Args)]
struct WatchArgs {
    /// Which engines to follow: docker ($DOCKER_HOST), podman ($CONTAINER_HOST) or all.
    #[arg(long, value_name = "ENGINE", default_value = "all", value_parser = ["docker", "podman", "all"])]
    engine: String,
    /// Reconcile once (attach what running containers ask for, detach what dead ones had)
    /// and exit, instead of following the events.
    #[arg(long)]
    once: bool,
    /// A topology file (the apply format) whose `guest` nodes name containers: a node's links
    /// are made when its container starts and go when it dies.
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct TipcArgs {
    /// The guests (the first word `show` reports the bus and changes nothing).
    #[arg(required = true, value_name = "GUEST")]
    guests: Vec<String>,
    /// The TIPC network id shared by the members (1 to 9999, default 4711).
    #[arg(long, value_name = "N")]
    net_id: Option<u32>,
    /// The bearer: eth:IF (default eth:eth0) or udp:NAME,local=IP[:PORT][,remote=IP[:PORT]].
    #[arg(long, value_name = "SPEC")]
    bearer: Option<String>,
    /// Identity template instead of derived ones: {name} and {index} are replaced.
    #[arg(long, value_name = "TEMPLATE")]
    identity: Option<String>,
    /// How long to wait until every pair of members has a link up (the default: 30 s).
    #[arg(long, value_name = "SECONDS", num_args = 0..=1)]
    wait_links: Option<Option<f64>>,
    /// Do not wait for the links.
    #[arg(long, conflicts_with = "wait_links")]
    no_wait_links: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct DetachArgs {
    /// The guest (as given to attach, or its PID, name or ID).
    guest: String,
    /// Only this interface of the guest.
    #[arg(short = 'i', value_name = "GUESTIF")]
    ifname: Option<String>,
    /// Print the undone attachments as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// Only this guest.
    guest: Option<String>,
    /// A lab instead: what its applies made, and whether each is in place.
    #[arg(long, value_name = "NAME", conflicts_with = "guest")]
    lab: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The guest (as given to attach, or its PID, name or ID).
    guest: String,
    /// Print each attachment and its drift as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct LabArgs {
    /// The topology file (YAML or JSON, containerlab's schema).
    #[arg(required_unless_present = "lab")]
    file: Option<PathBuf>,
    /// destroy: the lab's name instead of its file.
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    lab: Option<String>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
}

impl LabArgs {
    fn request(self, verb: LabVerb) -> Request {
        Request::Lab(LabRequest { verb, file: self.file, lab: self.lab, json: self.json })
    }
}

#[derive(Debug, Args)]
struct GcArgs {
    /// Only list what would be removed.
    #[arg(long)]
    dry_run: bool,
    /// Print the collected attachments as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct PassthroughArgs {
    /// Ignored, as by the original (name the device in the arguments: dev IF).
    #[arg(short = 'i', value_name = "GUESTIF")]
    guest_ifname: Option<String>,
    /// Ignored, as by the original.
    #[arg(short = 'l', value_name = "HOSTIF")]
    host_ifname: Option<String>,
    /// The address family for ip route and ip rule: 4 or 6 (ignored by tc).
    #[arg(short = 'a', value_name = "4|6", value_parser = ["4", "6"])]
    family: Option<String>,
    /// The guest.
    guest: String,
    /// The arguments of the tool.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 1..)]
    args: Vec<String>,
}

impl PassthroughArgs {
    fn request(self, tool: Tool) -> Request {
        let mut ignored = Vec::new();
        ignored.extend(self.guest_ifname.map(|name| format!("-i {name}")));
        ignored.extend(self.host_ifname.map(|name| format!("-l {name}")));
        let family = self.family.and_then(|f| f.parse().ok());
        if tool == Tool::Tc {
            ignored.extend(family.map(|f| format!("-a {f}")));
        }
        let family = family.filter(|_| tool != Tool::Tc);
        Request::Passthrough(PassthroughRequest {
            tool,
            guest: self.guest,
            args: self.args,
            family,
            ignored,
        })
    }
}

/// The words that select a subcommand or passthrough form instead of an attach.
const SUBCOMMANDS: [&str; 13] = [
    "detach", "show", "check", "gc", "route", "rule", "tc", "tipc", "apply", "diff", "destroy",
    "watch", "help",
];

/// Parses a whole command line (`args[0]` is the program); `Err` carries clap's own rendering
/// for --help and --version as well as for mistakes.
pub fn parse(args: &[OsString]) -> Result<(Request, bool), clap::Error> {
    let first = args.get(1).and_then(|a| a.to_str()).unwrap_or_default();
    if SUBCOMMANDS.contains(&first) {
        let cli = SubCli::try_parse_from(args)?;
        let request = match cli.command {
            Sub::Detach(a) => Request::Detach { guest: a.guest, ifname: a.ifname, json: a.json },
            Sub::Show(ShowArgs { lab: Some(lab), json, .. }) => {
                Request::Lab(LabRequest { verb: LabVerb::Show, file: None, lab: Some(lab), json })
            }
            Sub::Show(a) => Request::Show { guest: a.guest, json: a.json },
            Sub::Check(a) => Request::Check { guest: a.guest, json: a.json },
            Sub::Gc(a) => Request::Gc { dry_run: a.dry_run, json: a.json },
            Sub::Apply(a) => a.request(LabVerb::Apply),
            Sub::Diff(a) => a.request(LabVerb::Diff),
            Sub::Destroy(a) => a.request(LabVerb::Destroy),
            Sub::Route(a) => a.request(Tool::Route),
            Sub::Rule(a) => a.request(Tool::Rule),
            Sub::Tc(a) => a.request(Tool::Tc),
            Sub::Watch(a) => Request::Watch(WatchRequest {
                engines: match a.engine.as_str() {
                    "docker" => vec![pipework_core::Engine::Docker],
                    "podman" => vec![pipework_core::Engine::Podman],
                    _ => vec![pipework_core::Engine::Docker, pipework_core::Engine::Podman],
                },
                once: a.once,
                topology: a.topology,
            }),
            Sub::Tipc(a) => {
                let show = a.guests.first().is_some_and(|g| g == "show");
                let guests: Vec<String> = a.guests.into_iter().skip(usize::from(show)).collect();
                if guests.is_empty() {
                    return Err(SubCli::command_for_errors().error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "tipc show needs at least one guest",
                    ));
                }
                let wait_links = match a.wait_links.flatten() {
                    Some(s) if !(s.is_finite() && s > 0.0) => {
                        return Err(SubCli::command_for_errors().error(
                            clap::error::ErrorKind::ValueValidation,
                            format!("--wait-links {s}: give a positive number of seconds"),
                        ));
                    }
                    Some(s) => Some(Some(Duration::from_secs_f64(s))),
                    None if a.no_wait_links => Some(None),
                    None => None,
                };
                Request::Tipc(TipcRequest {
                    show,
                    guests,
                    net_id: a.net_id,
                    bearer: a.bearer,
                    identity: a.identity,
                    wait_links,
                    json: a.json,
                })
            }
        };
        return Ok((request, cli.verbose));
    }
    let cli = AttachCli::try_parse_from(args)?;
    let verbose = cli.verbose;
    attach_request(cli).map(|request| (request, verbose)).map_err(|usage| {
        AttachCli::command_for_errors().error(clap::error::ErrorKind::ValueValidation, usage.0)
    })
}

/// Parses what a container asks for (a `pipework` label's value: the attach form's arguments
/// without the guest, `br1 192.168.9.2/24@192.168.9.1`) into the attach of `guest`.
///
/// The words are split as a shell would (quotes group). The forms that need a terminal or
/// print instead of attaching (--wait, --foreground, --dry-run, --json, -v) are refused.
pub fn parse_ask(words: &str, guest: &str) -> Result<AttachRequest, Usage> {
    let split = shlex::split(words)
        .ok_or_else(|| Usage("an unterminated quote or a trailing backslash".into()))?;
    let args = std::iter::once("pipework".to_string()).chain(split);
    let mut cli = AttachCli::try_parse_from(args).map_err(|err| {
        let rendered = err.render().to_string();
        let first = rendered.lines().next().unwrap_or_default().trim_start_matches("error: ");
        Usage(first.to_string())
    })?;
    for (given, flag) in [
        (cli.wait, "--wait"),
        (cli.foreground, "--foreground"),
        (cli.dry_run, "--dry-run"),
        (cli.json, "--json"),
        (cli.verbose, "-v"),
    ] {
        if given {
            return Err(Usage(format!("{flag} has no meaning in a container's ask")));
        }
    }
    if cli.positionals.is_empty() {
        return Err(Usage("missing the host interface and the address".into()));
    }
    cli.positionals.insert(1, guest.to_string());
    match attach_request(cli)? {
        Request::Attach(request) => Ok(request),
        _ => Err(Usage("not an attach".into())),
    }
}

impl AttachCli {
    fn command_for_errors() -> clap::Command {
        <Self as clap::CommandFactory>::command()
    }
}

impl SubCli {
    fn command_for_errors() -> clap::Command {
        <Self as clap::CommandFactory>::command()
    }
}

fn attach_request(cli: AttachCli) -> Result<Request, Usage> {
    if cli.wait {
        if !cli.positionals.is_empty() {
            return Err(Usage(format!(
                "--wait takes no other arguments (got {:?}); it runs inside the container: pipework --wait [-i IF]",
                cli.positionals
            )));
        }
        let timeout = match cli.timeout {
            Some(seconds) if !(seconds.is_finite() && seconds > 0.0) => {
                return Err(Usage(format!(
                    "--timeout {seconds}: give a positive number of seconds"
                )));
            }
            seconds => seconds.map(Duration::from_secs_f64),
        };
        return Ok(Request::Wait {
            ifname: cli.guest_ifname.unwrap_or_else(|| "eth1".into()),
            condition: match (cli.exists, cli.addressed, cli.routed) {
                (true, _, _) => Condition::Exists,
                (_, true, _) => Condition::Addressed,
                (_, _, true) => Condition::Routed,
                _ => Condition::Up,
            },
            timeout,
        });
    }
    let mut positionals = cli.positionals.into_iter();
    let (Some(host), Some(guest)) = (positionals.next(), positionals.next()) else {
        return Err(Usage(
            "missing arguments: pipework <hostif> <guest> <ip>/<len>[@<gw>] [MAC][@VLAN]".into(),
        ));
    };
    let Some(ip) = positionals.next() else {
        return Err(Usage(format!(
            "missing the address of {guest}: give <ip>/<len>[@<gw>], 0/0 for none, or dhcp"
        )));
    };
    let mut addressing = parse_addressing(&ip)?;
    if cli.foreground || cli.daemon {
        let Addressing::Dhcp(spec) = &mut addressing else {
            return Err(Usage(format!(
                "--foreground and --daemon go with a DHCP form, and {ip} is not one"
            )));
        };
        if cli.foreground && cli.daemon {
            return Err(Usage("--foreground and --daemon (background) exclude each other".into()));
        }
        spec.keep = if cli.daemon {
            DhcpKeep::Daemon { pidfile: cli.pidfile }
        } else {
            DhcpKeep::Foreground
        };
        spec.validate().map_err(|e| Usage(e.to_string()))?;
    }
    for more in &cli.more_addresses {
        match (&mut addressing, parse_addressing(more)?) {
            (
                Addressing::Static { addresses, gateways },
                Addressing::Static { addresses: more_addresses, gateways: more_gateways },
            ) => {
                addresses.extend(more_addresses);
                gateways.extend(more_gateways);
            }
            _ => {
                return Err(Usage(format!(
                    "--ip {more}: static addresses cannot be mixed with DHCP"
                )));
            }
        }
    }
    if let (Some(family), Addressing::Static { addresses, gateways }) = (&cli.family, &addressing) {
        let want_v6 = family == "6";
        for ip in addresses.iter().map(IpNet::addr).chain(gateways.iter().copied()) {
            if ip.is_ipv6() != want_v6 {
                return Err(Usage(format!(
                    "-a {family}: {ip} is an IPv{} address",
                    if want_v6 { 4 } else { 6 }
                )));
            }
        }
    }
    let (mut mac, at) = match positionals.next() {
        Some(text) => parse_mac_vlan(&text)?,
        None => (None, None),
    };
    let stable_mac = cli.mac_flag.as_deref() == Some("stable");
    if let Some(flag) = cli.mac_flag.as_deref() {
        if mac.is_some() {
            return Err(Usage(format!("--mac {flag}: the MAC is also given as an argument")));
        }
        if !stable_mac {
            mac = Some(MacAddr::parse_pipework(flag).map_err(|err| Usage(err.to_string()))?);
        }
    }
    let mode = optional(cli.mode.as_deref(), str::parse::<MacvlanMode>)?;
    let ipvlan = optional(cli.ipvlan.as_deref(), str::parse::<IpvlanMode>)?;
    let pkey = optional(cli.pkey.as_deref(), |text| parse_pkey("--pkey", text))?;
    let shim = optional(cli.shim.as_deref(), |text| parse_cidr("--shim", text))?;
    // clap refuses both flags at once.
    let vxlan = match optional(cli.geneve.as_deref(), VxlanUplink::parse_geneve)? {
        Some(geneve) => Some(geneve),
        None => optional(cli.vxlan.as_deref(), VxlanUplink::parse)?,
    };
    Ok(Request::Attach(AttachRequest {
        host,
        guest,
        guest_ifname: cli.guest_ifname,
        host_ifname: cli.host_ifname,
        addressing,
        mac,
        stable_mac,
        at,
        direct_phys: cli.direct_phys,
        mode,
        macvtap: cli.macvtap,
        ipvlan,
        pkey,
        shim,
        mtu: cli.mtu,
        announce: !cli.no_arp,
        allow_host_namespace: cli.allow_host_namespace,
        vxlan,
        dry_run: cli.dry_run,
        json: cli.json,
    }))
}

/// Parses an optional flag value with a core parser, its error becoming a usage error.
fn optional<T>(
    value: Option<&str>,
    parse: impl FnOnce(&str) -> pipework_core::Result<T>,
) -> Result<Option<T>, Usage> {
    value.map(parse).transpose().map_err(|e| Usage(e.to_string()))
}

/// Parses the `<ip>` argument: addresses with gateways, `0/0`, or a DHCP form.
pub fn parse_addressing(text: &str) -> Result<Addressing, Usage> {
    if let Some(spec) = DhcpSpec::parse(text).map_err(|e| Usage(e.to_string()))? {
        return Ok(Addressing::Dhcp(Box::new(spec)));
    }
    if text == "0/0" {
        return Ok(Addressing::Static { addresses: Vec::new(), gateways: Vec::new() });
    }
    let mut addresses = Vec::new();
    let mut gateways = Vec::new();
    for part in text.split(',') {
        let (cidr, gateway) = match part.split_once('@') {
            Some((cidr, gateway)) => (cidr, Some(gateway)),
            None => (part, None),
        };
        let net = parse_cidr("address", cidr).map_err(|e| Usage(e.to_string()))?;
        if let Some(gateway) = gateway {
            let gateway: IpAddr = gateway.parse().map_err(|_| {
                Usage(format!(
                    "invalid gateway {gateway:?} in {part:?}: not an IPv4 or IPv6 address"
                ))
            })?;
            if gateway.is_ipv4() != net.addr().is_ipv4() {
                return Err(Usage(format!(
                    "invalid gateway {gateway} for {net}: it is of the other address family"
                )));
            }
            gateways.push(gateway);
        }
        addresses.push(net);
    }
    Ok(Addressing::Static { addresses, gateways })
}

/// Parses `[MAC][@N]`, with `U:STRING` MACs; `N` is a VLAN id, or a hex P_Key on IPoIB.
pub fn parse_mac_vlan(text: &str) -> Result<(Option<MacAddr>, Option<String>), Usage> {
    let (mac, vlan) = match text.split_once('@') {
        Some((mac, vlan)) => (mac, Some(vlan)),
        None => (text, None),
    };
    let mac = (!mac.is_empty())
        .then(|| MacAddr::parse_pipework(mac))
        .transpose()
        .map_err(|e| Usage(e.to_string()))?;
    if let Some(at) = vlan {
        AtSuffix::check_syntax(at).map_err(|e| Usage(e.to_string()))?;
    }
    Ok((mac, vlan.map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Request, String> {
        let args: Vec<OsString> = std::iter::once("pipework")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect();
        parse(&args).map(|(request, _)| request).map_err(|err| err.to_string())
    }

    fn attach(line: &str) -> AttachRequest {
        match parse_line(line) {
            Ok(Request::Attach(request)) => request,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn static_of(request: &AttachRequest) -> (Vec<IpNet>, Vec<IpAddr>) {
        match &request.addressing {
            Addressing::Static { addresses, gateways } => (addresses.clone(), gateways.clone()),
            other => panic!("{other:?}"),
        }
    }

    /// A command line, then what it must give: host, guest, -i, -l, addresses, gateways.
    type StaticCase<'a> =
        (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>, &'a [&'a str], &'a [&'a str]);

    #[test]
    fn every_static_form_of_the_original() {
        let cases: &[StaticCase] = &[
            // line, host, guest, -i, -l, addresses, gateways
            ("br1 web 192.168.1.1/24", "br1", "web", None, None, &["192.168.1.1/24"], &[]),
            (
                "br1 -i eth2 web 10.1.1.1/24",
                "br1",
                "web",
                Some("eth2"),
                None,
                &["10.1.1.1/24"],
                &[],
            ),
            (
                "br1 -i eth2 -l pwx web 10.1.1.1/24",
                "br1",
                "web",
                Some("eth2"),
                Some("pwx"),
                &["10.1.1.1/24"],
                &[],
            ),
            // The original misparsed this order; any order works now.
            (
                "br1 -l pwx -i eth2 web 10.1.1.1/24",
                "br1",
                "web",
                Some("eth2"),
                Some("pwx"),
                &["10.1.1.1/24"],
                &[],
            ),
            (
                "-l pwx br1 web -i eth2 10.1.1.1/24",
                "br1",
                "web",
                Some("eth2"),
                Some("pwx"),
                &["10.1.1.1/24"],
                &[],
            ),
            (
                "br1 web 192.168.4.25/20@192.168.4.1",
                "br1",
                "web",
                None,
                None,
                &["192.168.4.25/20"],
                &["192.168.4.1"],
            ),
            ("eth2 web 50.19.169.157/24", "eth2", "web", None, None, &["50.19.169.157/24"], &[]),
            (
                "mac:02:AB:cd:00:00:01 web 10.0.0.2/24",
                "mac:02:AB:cd:00:00:01",
                "web",
                None,
                None,
                &["10.0.0.2/24"],
                &[],
            ),
            ("br1 web 0/0", "br1", "web", None, None, &[], &[]),
            (
                "br1 -a 6 web 2001:db8::2/64@2001:db8::1",
                "br1",
                "web",
                None,
                None,
                &["2001:db8::2/64"],
                &["2001:db8::1"],
            ),
            ("br1 web 2001:db8::2/64", "br1", "web", None, None, &["2001:db8::2/64"], &[]),
            (
                "br1 web 10.0.0.2/24@10.0.0.1,2001:db8::2/64@2001:db8::1",
                "br1",
                "web",
                None,
                None,
                &["10.0.0.2/24", "2001:db8::2/64"],
                &["10.0.0.1", "2001:db8::1"],
            ),
            (
                "br1 web 10.0.0.2/24 --ip 10.0.1.2/24",
                "br1",
                "web",
                None,
                None,
                &["10.0.0.2/24", "10.0.1.2/24"],
                &[],
            ),
            ("br1 4242 10.0.0.2/24", "br1", "4242", None, None, &["10.0.0.2/24"], &[]),
        ];
        for (line, host, guest, ifname, hostif, addresses, gateways) in cases {
            let request = attach(line);
            assert_eq!((request.host.as_str(), request.guest.as_str()), (*host, *guest), "{line}");
            assert_eq!(
                (request.guest_ifname.as_deref(), request.host_ifname.as_deref()),
                (*ifname, *hostif),
                "{line}"
            );
            let (have_addresses, have_gateways) = static_of(&request);
            assert_eq!(have_addresses, nets(addresses), "{line}");
            let gateways: Vec<IpAddr> = gateways.iter().map(|g| g.parse().unwrap()).collect();
            assert_eq!(have_gateways, gateways, "{line}");
            assert!(request.announce && !request.direct_phys && !request.dry_run, "{line}");
        }
    }

    #[test]
    fn mac_vlan_and_unique_macs() {
        let request = attach("br1 web 10.0.0.2/24 U:myhost.foo.com");
        assert_eq!(request.mac.unwrap().to_string(), "02:72:6c:cd:9b:8d");
        assert_eq!(request.at, None);
        let request = attach("eth2 web 10.0.0.2/24 U:foo@10");
        assert_eq!(
            (request.mac, request.at.as_deref()),
            (Some(MacAddr::from_unique_string("foo")), Some("10"))
        );
        let request = attach("eth2 web 10.0.0.2/24 @42");
        assert_eq!((request.mac, request.at.as_deref()), (None, Some("42")));
        // The original README's IPoIB form: @8001 is a hex P_Key once ib0 is known to be IPoIB
        // (Detected::at_suffix); the grammar keeps it as written.
        let request = attach("ib0 web 10.10.10.10/24 @8001");
        assert_eq!((request.host.as_str(), request.at.as_deref()), ("ib0", Some("8001")));
        assert_eq!(request.pkey, None);
        let request = attach("eth2 web 10.0.0.2/24 02:00:00:00:00:07");
        assert_eq!(request.mac.unwrap().to_string(), "02:00:00:00:00:07");
    }

    #[test]
    fn dhcp_forms_and_their_options() {
        use pipework_core::dhcp::DhcpClient;
        let daemon = DhcpKeep::Daemon { pidfile: None };
        let cases = [
            ("dhcp", DhcpClient::Native, DhcpKeep::Once, ""),
            ("dhcp:-f", DhcpClient::Native, daemon.clone(), "-f"),
            ("udhcpc", DhcpClient::Udhcpc, DhcpKeep::Once, ""),
            ("udhcpc-f", DhcpClient::Udhcpc, daemon.clone(), ""),
            ("udhcpc:-V:vendor", DhcpClient::Udhcpc, DhcpKeep::Once, "-V:vendor"),
            ("dhclient", DhcpClient::Dhclient, DhcpKeep::Once, ""),
            ("dhclient-f", DhcpClient::Dhclient, daemon.clone(), ""),
            ("dhclient:-v", DhcpClient::Dhclient, DhcpKeep::Once, "-v"),
            ("dhcpcd", DhcpClient::Dhcpcd, daemon.clone(), ""),
            ("dhcpcd:-4", DhcpClient::Dhcpcd, daemon.clone(), "-4"),
        ];
        for (word, client, keep, options) in cases {
            let request = attach(&format!("eth2 web {word} U:web@7"));
            let Addressing::Dhcp(spec) = &request.addressing else {
                panic!("{word}: {:?}", request.addressing)
            };
            assert_eq!((spec.client, &spec.keep), (client, &keep), "{word}");
            assert_eq!(spec.options.join(" "), options, "{word}");
            assert_eq!(request.at.as_deref(), Some("7"));
        }
        let Addressing::Dhcp(kept) = attach("eth2 web dhcp --foreground").addressing else {
            panic!()
        };
        assert_eq!(kept.keep, DhcpKeep::Foreground);
        let Addressing::Dhcp(daemon) =
            attach("eth2 web dhcp --daemon --pidfile /run/x.pid").addressing
        else {
            panic!()
        };
        assert_eq!(daemon.keep, DhcpKeep::Daemon { pidfile: Some("/run/x.pid".into()) });
        let Addressing::Dhcp(daemon) = attach("eth2 web dhcp --daemon").addressing else {
            panic!()
        };
        assert_eq!(daemon.keep, DhcpKeep::Daemon { pidfile: None });
    }

    #[test]
    fn new_options_and_other_forms() {
        let request =
            attach("--direct-phys eth4 web 10.4.0.2/24 --mtu 9000 --dry-run --json --no-arp");
        assert!(request.direct_phys && request.dry_run && request.json && !request.announce);
        assert_eq!(request.mtu, Some(9000));
        let request = attach("eth2 web 10.0.0.2/24 --mode vepa --macvtap --shim 10.0.0.250/32");
        assert_eq!((request.mode, request.macvtap), (Some(MacvlanMode::Vepa), true));
        assert_eq!(request.shim, Some("10.0.0.250/32".parse().unwrap()));
        let request = attach("eth2 web 10.0.0.2/24 --ipvlan l3s");
        assert_eq!(request.ipvlan, Some(IpvlanMode::L3s));
        let request = attach("ib0 web 10.0.0.2/24 --pkey 8001");
        assert_eq!(request.pkey, Some(0x8001));
        assert_eq!(
            parse_line("--wait").unwrap(),
            Request::Wait { ifname: "eth1".into(), condition: Condition::Up, timeout: None }
        );
        for (flag, condition) in [
            ("--exists", Condition::Exists),
            ("--addressed", Condition::Addressed),
            ("--routed", Condition::Routed),
        ] {
            let request = parse_line(&format!("--wait {flag}")).unwrap();
            assert_eq!(
                request,
                Request::Wait { ifname: "eth1".into(), condition, timeout: None },
                "{flag}"
            );
        }
        assert!(parse_line("--wait --exists --routed").is_err(), "one condition at a time");
        assert_eq!(
            parse_line("--wait -i eth2 --addressed --timeout 2.5").unwrap(),
            Request::Wait {
                ifname: "eth2".into(),
                condition: Condition::Addressed,
                timeout: Some(Duration::from_millis(2500))
            }
        );
        assert_eq!(
            parse_line("route web add default via 10.0.0.1").unwrap(),
            Request::Passthrough(PassthroughRequest {
                tool: Tool::Route,
                guest: "web".into(),
                args: vec!["add".into(), "default".into(), "via".into(), "10.0.0.1".into()],
                family: None,
                ignored: Vec::new(),
            })
        );
        assert_eq!(
            parse_line("tc web qdisc add dev eth1 root netem loss 30%").unwrap(),
            Request::Passthrough(PassthroughRequest {
                tool: Tool::Tc,
                guest: "web".into(),
                args: "qdisc add dev eth1 root netem loss 30%"
                    .split(' ')
                    .map(String::from)
                    .collect(),
                family: None,
                ignored: Vec::new(),
            })
        );
        assert!(matches!(
            parse_line("rule web add from 10.0.0.2 table 5").unwrap(),
            Request::Passthrough(PassthroughRequest { tool: Tool::Rule, .. })
        ));
        assert_eq!(
            parse_line("detach web -i eth2").unwrap(),
            Request::Detach { guest: "web".into(), ifname: Some("eth2".into()), json: false }
        );
        assert_eq!(parse_line("show --json").unwrap(), Request::Show { guest: None, json: true });
        assert_eq!(
            parse_line("check web --json").unwrap(),
            Request::Check { guest: "web".into(), json: true }
        );
        assert_eq!(parse_line("gc --dry-run").unwrap(), Request::Gc { dry_run: true, json: false });
        assert_eq!(
            parse_line("show web").unwrap(),
            Request::Show { guest: Some("web".into()), json: false }
        );
        assert_eq!(
            parse_line("show --lab tri --json").unwrap(),
            Request::Lab(LabRequest {
                verb: LabVerb::Show,
                file: None,
                lab: Some("tri".into()),
                json: true
            })
        );
        let err = parse_line("show web --lab tri").unwrap_err();
        assert!(err.contains("--lab") && err.contains("cannot be used with"), "{err}");
    }

    #[test]
    fn dotted_netmasks_and_the_passthrough_flags_of_the_original() {
        let (addresses, gateways) = static_of(&attach("br1 web 10.0.0.2/255.255.255.0"));
        assert_eq!((addresses, gateways), (nets(&["10.0.0.2/24"]), vec![]));
        let (addresses, gateways) =
            static_of(&attach("br1 web 192.168.4.25/255.255.240.0@192.168.4.1"));
        assert_eq!(addresses, nets(&["192.168.4.25/20"]));
        assert_eq!(gateways, ["192.168.4.1".parse::<IpAddr>().unwrap()]);
        let err = parse_line("br1 web 10.0.0.2/255.0.255.0").unwrap_err();
        assert!(
            err.contains("invalid address \"10.0.0.2/255.0.255.0\"")
                && err.contains("not contiguous"),
            "{err}"
        );
        // route|rule|tc [-i IF] [-l IF] [-a 4|6] GUEST ...: -a applies to ip, -i/-l are noted.
        let passthrough = |line: &str| match parse_line(line).unwrap() {
            Request::Passthrough(request) => request,
            other => panic!("{line}: {other:?}"),
        };
        let request = passthrough("route -i eth1 -a 6 web add default via 2001:db8::1");
        assert_eq!((request.tool, request.guest.as_str()), (Tool::Route, "web"));
        assert_eq!((request.family, request.ignored), (Some(6), vec!["-i eth1".to_string()]));
        assert_eq!(request.args, ["add", "default", "via", "2001:db8::1"]);
        let request = passthrough("rule -a 4 web add from 10.0.0.2 table 5");
        assert_eq!((request.family, request.args[0].as_str()), (Some(4), "add"));
        let request = passthrough("tc -i eth1 -l x -a 6 web qdisc show");
        assert_eq!((request.family, request.ignored.len()), (None, 3));
        // The tool's own flags after the guest are its arguments.
        let request = passthrough("route web show -i");
        assert_eq!((request.args, request.family), (vec!["show".into(), "-i".into()], None));
    }

    #[test]
    fn vxlan_and_geneve_flags_give_the_bridge_its_overlay() {
        let vxlan = attach("brov web 10.0.0.1/24 --vxlan 42@192.0.2.2,192.0.2.3").vxlan.unwrap();
        assert_eq!((vxlan.device_name().as_str(), vxlan.remotes.len()), ("vx42", 2));
        let geneve = attach("brov web 10.0.0.1/24 --geneve 42@192.0.2.2%eth0").vxlan.unwrap();
        assert_eq!(geneve.encapsulation, pipework_core::Encapsulation::Geneve);
        assert_eq!((geneve.device_name().as_str(), geneve.port), ("gnv42", 6081));
        assert_eq!(geneve.underlay.as_deref(), Some("eth0"));
        for (line, why) in [
            ("brov web 0/0 --vxlan 1@192.0.2.2 --geneve 1@192.0.2.2", "cannot be used with"),
            ("brov web 0/0 --geneve 1@192.0.2.2,192.0.2.3", "a Geneve port has one remote"),
            ("brov web 0/0 --geneve 1", "expected VNI@REMOTE"),
        ] {
            let err = parse_line(line).unwrap_err();
            assert!(err.contains(why), "{line}: {err}");
        }
    }

    #[test]
    fn tipc_waits_the_cores_default_unless_told() {
        let wait = |line: &str| match parse_line(line).unwrap() {
            Request::Tipc(request) => request.wait_links,
            other => panic!("{other:?}"),
        };
        assert_eq!(wait("tipc a b"), None, "the core's default");
        assert_eq!(wait("tipc a b --wait-links"), None, "the core's default");
        assert_eq!(wait("tipc a b --wait-links 5"), Some(Some(Duration::from_secs(5))));
        assert_eq!(wait("tipc a b --no-wait-links"), Some(None));
        assert!(parse_line("tipc a --wait-links 5 --no-wait-links").is_err());
    }

    #[test]
    fn usage_errors_name_the_argument_and_the_fix() {
        let cases = [
            ("", "missing arguments"),
            ("br1", "missing arguments"),
            ("br1 web", "missing the address of web"),
            ("br1 web 10.0.0.2", "Maybe you meant 10.0.0.2/24?"),
            ("br1 web 10.0.0.2/33", "prefix length"),
            ("br1 web 10.0.0.2/24@2001:db8::1", "other address family"),
            ("br1 web 10.0.0.2/24@nowhere", "invalid gateway \"nowhere\""),
            ("br1 -a 6 web 10.0.0.2/24", "-a 6: 10.0.0.2 is an IPv4 address"),
            ("br1 -a 5 web 10.0.0.2/24", "invalid value '5'"),
            ("eth2 web dhcpcd-f", "dhcpcd-f is not a form of the original"),
            ("eth2 web dhcp:-Ononsense", "not an option the DHCP client knows"),
            ("eth2 web 10.0.0.2/24 --foreground", "go with a DHCP form"),
            ("eth2 web dhcp --foreground --daemon", "exclude each other"),
            ("eth2 web dhcp --keep", "unexpected argument '--keep'"),
            ("br1 web 10.0.0.2/24 01:00:5e:00:00:01", "multicast"),
            ("br1 web 10.0.0.2/24 @12345", "invalid VLAN \"12345\""),
            ("br1 web 10.0.0.2/24 @x", "invalid VLAN"),
            ("br1 web 10.0.0.2/24 02:00:00:00:00:01 extra", "unexpected value 'extra'"),
            ("br1 web 10.0.0.2/24 --bogus", "unexpected argument '--bogus'"),
            ("eth2 web 10.0.0.2/24 --mode hairpin", "invalid macvlan mode"),
            ("--wait eth1", "--wait takes no other arguments"),
            ("--wait --timeout 0", "--timeout 0"),
            ("--timeout 3 br1 web 0/0", "--wait"),
            ("detach", "required"),
            ("route", "required"),
            ("tipc", "required"),
            ("tipc show", "at least one guest"),
            ("tipc a --wait-links 0", "--wait-links 0"),
        ];
        for (line, expected) in cases {
            let err = parse_line(line).expect_err(line);
            assert!(err.contains(expected), "{line:?}: {err}");
        }
    }

    #[test]
    fn a_containers_ask_is_the_attach_form_without_the_guest() {
        let ask = parse_ask("br1 192.168.9.2/24@192.168.9.1", "web").unwrap();
        assert_eq!((ask.host.as_str(), ask.guest.as_str()), ("br1", "web"));
        assert_eq!(
            static_of(&ask),
            (nets(&["192.168.9.2/24"]), vec!["192.168.9.1".parse::<IpAddr>().unwrap()])
        );
        let ask = parse_ask("-i eth2 ovsbr0 10.0.0.2/24 @10", "web").unwrap();
        assert_eq!(ask.guest_ifname.as_deref(), Some("eth2"));
        assert_eq!(ask.at.as_deref(), Some("10"));
        let ask = parse_ask("eth2 dhcp U:web", "web").unwrap();
        assert!(matches!(ask.addressing, Addressing::Dhcp(_)));
        assert!(ask.mac.is_some());
        // Quotes group words, as in a shell.
        let ask = parse_ask("br1 'udhcpc:-V x'", "web").unwrap();
        assert!(matches!(ask.addressing, Addressing::Dhcp(_)));
        // The same words as the command gives.
        assert_eq!(
            parse_ask("br1 10.0.0.2/24 --mtu 1400", "web").unwrap(),
            attach("br1 web 10.0.0.2/24 --mtu 1400")
        );
        for (words, expected) in [
            ("", "missing the host interface"),
            ("br1", "missing the address of web"),
            ("br1 10.0.0.2/24 --wait", "--wait has no meaning"),
            ("br1 dhcp --foreground", "--foreground has no meaning"),
            ("br1 10.0.0.2/24 --dry-run", "--dry-run has no meaning"),
            ("br1 10.0.0.2/24 --bogus", "--bogus"),
            ("br1 'unterminated", "unterminated quote"),
            ("br1 10.0.0.300/24", "10.0.0.300"),
        ] {
            let err = parse_ask(words, "web").expect_err(words);
            assert!(err.0.contains(expected), "{words:?}: {err}");
        }
    }
}
