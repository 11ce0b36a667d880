//! DHCPv4 for guests: pipework's own client ([`DhcpLease`]) run inside the guest's namespace,
//! or an external client (udhcpc, dhclient, dhcpcd) for parity with the original.
//!
//! - [`DhcpLease`] (`native`): mozim on a thread inside the guest; the lease applied over
//!   netlink (`apply`), kept and renewed by the thread's `session`, released; a packet
//!   listener (`replies`) turns a DHCPNAK into an error; the keeper ends when its guest goes
//!   away (`watch`).
//! - [`DhcpSpec`] (`spec`): the original's words (`dhcp`, `udhcpc-f:OPTS`, ...) as a client,
//!   a keep mode and options; [`obtain`] runs any of them and returns a [`DhcpRecord`], which
//!   an [`crate::Attachment`] keeps and detach releases.
//! - `external`: udhcpc, dhclient and dhcpcd as children inside the guest, their files under
//!   [`RUN_DIR`]; `daemon`: the lease keeper process of [`DhcpKeep::Daemon`]; `process`:
//!   finding and stopping those processes; `resolv`: the guest's own resolv.conf (opt-in).

mod apply;
mod config;
mod daemon;
mod external;
mod lease;
mod native;
mod obtain;
mod process;
mod replies;
mod resolv;
mod session;
mod spec;
mod watch;

#[cfg(feature = "fuzzing")]
pub(crate) use self::replies::fuzz_parse as fuzz_reply;

pub use self::{
    config::{DEFAULT_TIMEOUT, DhcpConfig, Hostname, OPTION_NAMES, option_code, validate_hostname},
    daemon::{KEEPER_PROGRAM, KeeperCommand, serve_keeper},
    lease::{Applied, LeaseRecord, ResolvConfWrite},
    native::{DhcpLease, LeaseEvent},
    obtain::{DhcpRecord, obtain},
    process::{ClientProcess, RUN_DIR, run_dir},
    spec::{DhcpClient, DhcpKeep, DhcpSpec},
};
