//! Open vSwitch bridges and ports, configured through ovsdb-server's database protocol.
//!
//! pipework speaks OVSDB (RFC 7047) to ovsdb-server's unix socket instead of running
//! `ovs-vsctl`: no process per call, one atomic transaction per change, typed answers (the
//! kernel-style errno of a failed connection, ovsdb-server's own refusal text), and nothing to
//! install beyond the running daemons. Like `ovs-vsctl`, each change waits until ovs-vswitchd has
//! applied it (`cur_cfg` reaches `next_cfg`), and a port ovs-vswitchd could not open is reported.

mod ovsdb;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Mutex,
    thread,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use self::ovsdb::{
    Connection, map, map_of, named, optional, rows, select, set_members, uuid, uuid_of,
};
use crate::{
    error::{Error, Op, Result},
    link::validate_ifname,
    netns::{Namespace, NamespaceId},
};

/// The external-ids key that marks a bridge pipework created (so detach may remove it).
pub const CREATED_KEY: &str = "pipework.created";

/// How long ovs-vswitchd may take to apply a change.
const APPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A port to add to an Open vSwitch bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OvsPort {
    /// The port's name, which is also the name of the network device it carries.
    pub name: String,
    /// The access VLAN (`tag`): frames enter untagged and are switched in this VLAN.
    pub tag: Option<u16>,
    /// Key-value pairs recorded on the port's interface (`external_ids`).
    pub external_ids: BTreeMap<String, String>,
}

/// A port as Open vSwitch records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OvsPortInfo {
    /// The port's name.
    pub name: String,
    /// The bridge it belongs to.
    pub bridge: String,
    /// The access VLAN, if any.
    pub tag: Option<u16>,
    /// The interface's `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// The OpenFlow port number ovs-vswitchd gave it (`None` until it has opened the device).
    pub ofport: Option<i64>,
}

/// A session with ovsdb-server, the keeper of Open vSwitch's configuration.
pub struct Ovs {
    connection: Mutex<Connection>,
    socket: PathBuf,
}

impl Ovs {
    /// The socket Open vSwitch's tools use: `$OVS_RUNDIR/db.sock`, else `/run/openvswitch/db.sock`.
    pub fn default_socket() -> PathBuf {
        let rundir = std::env::var_os("OVS_RUNDIR").unwrap_or_else(|| "/run/openvswitch".into());
        Path::new(&rundir).join("db.sock")
    }

    /// Connects to ovsdb-server on its default socket.
    pub fn connect() -> Result<Self> {
        Self::connect_to(&Self::default_socket())
    }

    /// Connects to ovsdb-server on `socket`.
    pub fn connect_to(socket: &Path) -> Result<Self> {
        Ok(Ovs { connection: Mutex::new(Connection::open(socket)?), socket: socket.into() })
    }

    /// The network namespace ovs-vswitchd runs in (from its pidfile next to the socket), when known.
    ///
    /// Ports are network devices looked up by name there, so pipework creates them there.
    pub fn vswitchd_namespace(&self) -> Option<NamespaceId> {
        let pidfile = self.socket.parent()?.join("ovs-vswitchd.pid");
        let pid = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
        Some(Namespace::from_pid(pid).ok()?.id())
    }

    fn transact(&self, object: &str, operations: Vec<Value>) -> Result<Vec<Value>> {
        self.connection.lock().unwrap_or_else(|p| p.into_inner()).transact(object, operations)
    }

    /// Runs `operations`, then waits until ovs-vswitchd has applied them, as `ovs-vsctl` does.
    fn transact_applied(&self, object: &str, operations: Vec<Value>) -> Result<Vec<Value>> {
        let (results, target) = self.commit(object, operations)?;
        self.wait_applied(object, target)?;
        Ok(results)
    }

    /// Runs `operations` with a request that ovs-vswitchd apply them; returns their results and
    /// the configuration number to wait for (see [`Self::wait_applied`]).
    fn commit(&self, object: &str, mut operations: Vec<Value>) -> Result<(Vec<Value>, i64)> {
        let count = operations.len();
        operations.push(json!({
            "op": "mutate", "table": "Open_vSwitch", "where": [],
            "mutations": [["next_cfg", "+=", 1]],
        }));
        operations.push(json!({
            "op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"],
        }));
        let mut results = self.transact(object, operations)?;
        let target = rows(&results[count + 1]).first().and_then(|row| row["next_cfg"].as_i64());
        results.truncate(count);
        let Some(target) = target else {
            return Err(Error::Protocol {
                op: Op::Ovsdb,
                object: object.to_string(),
                detail: "the Open_vSwitch table has no row (was `ovs-vsctl init` run?)".into(),
            });
        };
        Ok((results, target))
    }

    /// Waits until ovs-vswitchd has applied configuration number `target`.
    fn wait_applied(&self, object: &str, target: i64) -> Result<()> {
        let deadline = Instant::now() + APPLY_TIMEOUT;
        let mut pause = Duration::from_millis(2);
        loop {
            let current = self.transact(
                object,
                vec![json!({
                    "op": "select", "table": "Open_vSwitch", "where": [], "columns": ["cur_cfg"],
                })],
            )?;
            if rows(&current[0]).first().and_then(|row| row["cur_cfg"].as_i64()) >= Some(target) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Unsupported {
                    op: Op::Ovsdb,
                    object: object.to_string(),
                    reason: format!(
                        "the change is in the database but ovs-vswitchd did not apply it within {}s (is ovs-vswitchd running?)",
                        APPLY_TIMEOUT.as_secs()
                    ),
                });
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// The names of every bridge.
    ///
    /// Equivalent to: `ovs-vsctl list-br`.
    pub fn bridges(&self) -> Result<Vec<String>> {
        let results = self.transact(
            "bridges",
            vec![json!({
                "op": "select", "table": "Bridge", "where": [], "columns": ["name"],
            })],
        )?;
        let mut names: Vec<String> = rows(&results[0])
            .iter()
            .filter_map(|row| row["name"].as_str().map(Into::into))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Whether a bridge named `name` exists.
    ///
    /// Equivalent to: `ovs-vsctl br-exists NAME`.
    pub fn bridge_exists(&self, name: &str) -> Result<bool> {
        Ok(self.bridge_row(name)?.is_some())
    }

    fn bridge_row(&self, name: &str) -> Result<Option<Value>> {
        let mut results = self.transact(
            &format!("OVS bridge {name}"),
            vec![select("Bridge", "name", json!(name), &["_uuid", "ports", "external_ids"])],
        )?;
        Ok(results[0]["rows"].as_array_mut().and_then(|rows| rows.pop()))
    }

    /// Creates bridge `name` with its internal port unless it exists; returns whether it was created.
    ///
    /// A bridge created here carries `external_ids:pipework.created=true`.
    /// Equivalent to: `ovs-vsctl --may-exist add-br NAME -- br-set-external-id NAME pipework.created true`.
    pub fn bridge_ensure(&self, name: &str) -> Result<bool> {
        validate_ifname("OVS bridge name", name)?;
        if self.bridge_exists(name)? {
            return Ok(false);
        }
        let created = BTreeMap::from([(CREATED_KEY.to_string(), "true".to_string())]);
        let object = format!("OVS bridge {name}");
        let outcome = self.commit(
            &object,
            vec![
                json!({"op": "insert", "table": "Interface", "uuid-name": "iface",
                   "row": {"name": name, "type": "internal"}}),
                json!({"op": "insert", "table": "Port", "uuid-name": "port",
                   "row": {"name": name, "interfaces": named("iface")}}),
                json!({"op": "insert", "table": "Bridge", "uuid-name": "bridge",
                   "row": {"name": name, "ports": named("port"), "external_ids": map(&created)}}),
                json!({"op": "mutate", "table": "Open_vSwitch", "where": [],
                   "mutations": [["bridges", "insert", named("bridge")]]}),
            ],
        );
        match outcome {
            // Committed: a failed wait takes the bridge out again.
            Ok((_, target)) => match self.wait_applied(&object, target) {
                Ok(()) => Ok(true),
                Err(err) => Err(err.rolled_back(self.bridge_delete(name))),
            },
            // Created by someone else between our look-up and our transaction.
            Err(Error::Conflict { reason, .. })
                if reason.contains("constraint violation") && self.bridge_exists(name)? =>
            {
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// Deletes bridge `name` with all its ports.
    ///
    /// Equivalent to: `ovs-vsctl del-br NAME`.
    pub fn bridge_delete(&self, name: &str) -> Result<()> {
        let object = format!("OVS bridge {name}");
        let row = self
            .bridge_row(name)?
            .ok_or_else(|| Error::NotFound { op: Op::Ovsdb, object: object.clone() })?;
        let id = uuid_of(&row["_uuid"]).unwrap_or_default().to_string();
        self.transact_applied(
            &object,
            vec![json!({
                "op": "mutate", "table": "Open_vSwitch", "where": [],
                "mutations": [["bridges", "delete", uuid(&id)]],
            })],
        )?;
        Ok(())
    }

    /// Deletes bridge `name` if pipework created it and no port but its own is left; returns
    /// whether it was deleted.
    pub fn bridge_delete_if_unused(&self, name: &str) -> Result<bool> {
        let Some(row) = self.bridge_row(name)? else {
            return Ok(false);
        };
        let ours = map_of(&row["external_ids"]).get(CREATED_KEY).is_some_and(|v| v == "true");
        if !ours || !self.bridge_ports(name)?.is_empty() {
            return Ok(false);
        }
        self.bridge_delete(name)?;
        Ok(true)
    }

    /// The ports of bridge `name`, without the bridge's own internal port.
    ///
    /// Equivalent to: `ovs-vsctl list-ports NAME`.
    pub fn bridge_ports(&self, name: &str) -> Result<Vec<String>> {
        let object = format!("OVS bridge {name}");
        let results = self.transact(
            &object,
            vec![
                select("Bridge", "name", json!(name), &["ports"]),
                json!({"op": "select", "table": "Port", "where": [], "columns": ["_uuid", "name"]}),
            ],
        )?;
        let bridge = rows(&results[0]).first().ok_or(Error::NotFound { op: Op::Ovsdb, object })?;
        let members: Vec<&str> =
            set_members(&bridge["ports"]).into_iter().filter_map(uuid_of).collect();
        let mut names: Vec<String> = rows(&results[1])
            .iter()
            .filter(|port| uuid_of(&port["_uuid"]).is_some_and(|id| members.contains(&id)))
            .filter_map(|port| port["name"].as_str())
            .filter(|port| *port != name)
            .map(Into::into)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Adds `port` (an existing network device of that name) to `bridge`, with its access VLAN
    /// and external ids, and waits until ovs-vswitchd has opened it.
    ///
    /// Equivalent to: `ovs-vsctl add-port BRIDGE PORT [tag=VLAN] -- set Interface PORT external-ids:K=V...`.
    pub fn port_add(&self, bridge: &str, port: &OvsPort) -> Result<()> {
        validate_ifname("OVS port name", &port.name)?;
        if let Some(tag) = port.tag {
            crate::link::validate_vlan_id("vlan", tag)?;
        }
        let object = format!("port {} on OVS bridge {bridge}", port.name);
        let mut port_row = json!({"name": port.name, "interfaces": named("iface")});
        if let Some(tag) = port.tag {
            port_row["tag"] = json!(tag);
        }
        let results = self.commit(
            &object,
            vec![
                json!({"op": "insert", "table": "Interface", "uuid-name": "iface",
                   "row": {"name": port.name, "external_ids": map(&port.external_ids)}}),
                json!({"op": "insert", "table": "Port", "uuid-name": "port", "row": port_row}),
                json!({"op": "mutate", "table": "Bridge", "where": [["name", "==", bridge]],
                   "mutations": [["ports", "insert", named("port")]]}),
            ],
        );
        let results = match results {
            Err(Error::Conflict { reason, .. }) if reason.contains("constraint violation") => {
                return Err(Error::AlreadyExists {
                    op: Op::Ovsdb,
                    object: format!("port or interface {} in Open vSwitch", port.name),
                    hint: "choose another host interface name (-l) or remove that port".into(),
                });
            }
            other => other?,
        };
        if results.0[2]["count"] == 0 {
            // Nothing referenced the new rows, so ovsdb-server dropped them at commit.
            return Err(Error::NotFound { op: Op::Ovsdb, object: format!("OVS bridge {bridge}") });
        }
        // Committed: from here on, a failure takes the port out again.
        let opened = self.wait_applied(&object, results.1).and_then(|()| {
            self.transact(&object, vec![select("Interface", "name", json!(port.name), &["error"])])
        });
        let refused = match opened {
            Ok(opened) => match rows(&opened[0]).first().and_then(|row| optional(&row["error"])) {
                Some(error) => Error::Conflict {
                    op: Op::Ovsdb,
                    object,
                    reason: format!(
                        "ovs-vswitchd could not open it: {}",
                        error.as_str().unwrap_or_default()
                    ),
                },
                None => return Ok(()),
            },
            Err(err) => err,
        };
        Err(refused.rolled_back(self.port_del(&port.name).map(drop)))
    }

    /// Removes port `name` from whichever bridge has it; returns whether it existed.
    ///
    /// Equivalent to: `ovs-vsctl --if-exists del-port NAME`.
    pub fn port_del(&self, name: &str) -> Result<bool> {
        let object = format!("OVS port {name}");
        let results =
            self.transact(&object, vec![select("Port", "name", json!(name), &["_uuid"])])?;
        let Some(id) = rows(&results[0]).first().and_then(|row| uuid_of(&row["_uuid"])) else {
            return Ok(false);
        };
        let id = id.to_string();
        self.transact_applied(
            &object,
            vec![json!({
                "op": "mutate", "table": "Bridge", "where": [["ports", "includes", uuid(&id)]],
                "mutations": [["ports", "delete", uuid(&id)]],
            })],
        )?;
        Ok(true)
    }

    /// Port `name` as Open vSwitch records it, or `None` when no bridge has it.
    ///
    /// Equivalent to: `ovs-vsctl port-to-br NAME; ovs-vsctl get Port NAME tag; ovs-vsctl get Interface NAME external_ids ofport`.
    pub fn port(&self, name: &str) -> Result<Option<OvsPortInfo>> {
        let object = format!("OVS port {name}");
        let results = self.transact(
            &object,
            vec![
                select("Port", "name", json!(name), &["_uuid", "tag"]),
                select("Interface", "name", json!(name), &["external_ids", "ofport"]),
            ],
        )?;
        let Some(port) = rows(&results[0]).first() else {
            return Ok(None);
        };
        let id = uuid_of(&port["_uuid"]).unwrap_or_default();
        let owner = self.transact(
            &object,
            vec![json!({
                "op": "select", "table": "Bridge", "where": [["ports", "includes", uuid(id)]],
                "columns": ["name"],
            })],
        )?;
        let Some(bridge) = rows(&owner[0]).first().and_then(|row| row["name"].as_str()) else {
            return Ok(None);
        };
        let interface = rows(&results[1]).first();
        Ok(Some(OvsPortInfo {
            name: name.to_string(),
            bridge: bridge.to_string(),
            tag: optional(&port["tag"]).and_then(Value::as_u64).and_then(|t| u16::try_from(t).ok()),
            external_ids: interface.map(|i| map_of(&i["external_ids"])).unwrap_or_default(),
            ofport: interface.and_then(|i| optional(&i["ofport"])).and_then(Value::as_i64),
        }))
    }
}

impl std::fmt::Debug for Ovs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ovs").field("socket", &self.socket).finish_non_exhaustive()
    }
}
