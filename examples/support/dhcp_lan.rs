//! A private LAN with a real DHCP server, for the DHCP example and benchmark: a "host"
//! namespace with bridge br-lan, and a "lan" namespace on it where dnsmasq serves
//! 10.88.0.10-99 (2-minute leases, router and DNS 10.88.0.1). Everything it made is removed
//! when it is dropped, however the program ends; dnsmasq is stopped by its PID. Needs the
//! `sandbox` module next to it (`#[path = "support/sandbox.rs"] mod sandbox;`).

use std::{
    fs,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use pipework_core::{Bridge, Guest, Handle, Veth};

use crate::sandbox::Sandbox;

/// The LAN, its server and the guests made on it.
pub struct DhcpLan {
    prefix: String,
    dnsmasq: Option<Child>,
    files: PathBuf,
    /// Netlink in the private host namespace (where br-lan is).
    pub host: Handle,
    /// Dropped after dnsmasq is stopped (fields drop after `Drop::drop`).
    sandbox: Sandbox,
}

impl DhcpLan {
    /// Builds the LAN and starts dnsmasq on it.
    pub fn start(prefix: &str) -> Result<Self, String> {
        let error = |e: pipework_core::Error| e.to_string();
        let mut sandbox = Sandbox(Vec::new());
        let host_ns = sandbox.create(&format!("{prefix}-host")).map_err(error)?;
        let mut lan = DhcpLan {
            prefix: prefix.to_string(),
            host: Handle::new(&host_ns).map_err(error)?,
            dnsmasq: None,
            files: std::env::temp_dir().join(prefix),
            sandbox,
        };
        let server_ns = lan.sandbox.create(&format!("{prefix}-lan")).map_err(error)?;
        let bridge = Bridge::new("br-lan").map_err(error)?.ensure(&lan.host).map_err(error)?;
        Veth::new("lanh", "lan0")
            .and_then(|v| {
                v.peer_namespace(&server_ns).master(bridge.link.index).up().add(&lan.host)
            })
            .map_err(error)?;
        let server = Handle::new(&server_ns).map_err(error)?;
        let lan0 = server.link("lan0").map_err(error)?.index;
        server.addr_add(lan0, "10.88.0.1/24".parse().expect("literal CIDR")).map_err(error)?;
        server.link_set_up(lan0).map_err(error)?;
        lan.start_dnsmasq()?;
        Ok(lan)
    }

    /// A new "container": an empty namespace.
    pub fn guest(&mut self, label: &str) -> Result<Guest, String> {
        let namespace = self.sandbox.create(&format!("{}-{label}", self.prefix));
        Ok(Guest::from_namespace(namespace.map_err(|e| e.to_string())?))
    }

    /// The leases the server holds, as its lease file lists them.
    pub fn leases(&self) -> String {
        fs::read_to_string(self.files.join("leases")).unwrap_or_default()
    }

    fn start_dnsmasq(&mut self) -> Result<(), String> {
        fs::create_dir_all(&self.files).map_err(|e| e.to_string())?;
        let child = Command::new("ip")
            .args(["netns", "exec", &format!("{}-lan", self.prefix), "dnsmasq"])
            .args(["--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--interface=lan0"])
            .args(["--bind-interfaces", "--no-ping", "--user=root"])
            .arg("--dhcp-range=10.88.0.10,10.88.0.99,2m")
            .arg("--dhcp-option=option:dns-server,10.88.0.1")
            .arg(format!("--dhcp-leasefile={}", self.files.join("leases").display()))
            .arg(format!("--pid-file={}", self.files.join("pid").display()))
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("cannot start dnsmasq ({e}); install it: apt-get install dnsmasq-base")
            })?;
        self.dnsmasq = Some(child);
        // Its pidfile appears once its DHCP socket is bound.
        for _ in 0..250 {
            if self.files.join("pid").exists() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("dnsmasq did not start".into())
    }
}

impl Drop for DhcpLan {
    fn drop(&mut self) {
        if let Some(mut dnsmasq) = self.dnsmasq.take() {
            let _ = dnsmasq.kill();
            let _ = dnsmasq.wait();
        }
        let _ = fs::remove_dir_all(&self.files);
    }
}
