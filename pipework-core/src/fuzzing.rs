//! Entry points for the cargo-fuzz targets (`fuzz/`): each takes untrusted bytes the way the
//! library meets them and must never panic, whatever they hold.
//!
//! Compiled only with the `fuzzing` feature; nothing here is part of the library's API.

use netlink_packet_generic::GenlHeader;
use rtnetlink::packet_core::{Emitable, ParseableParametrized};

use crate::tipc::codec::TipcMessage;

/// A packet heard on a guest's DHCP client port, read as the reply listener reads it.
pub fn dhcp_reply(packet: &[u8]) {
    crate::dhcp::fuzz_reply(packet);
}

/// An Engine API answer on the Docker/Podman socket: HTTP head and body, then its JSON shapes.
pub fn engine_answer(raw: &[u8]) {
    crate::resolve::fuzz_engine_answer(raw);
}

/// A TIPCv2 generic-netlink payload from the kernel: it parses or fails cleanly, and what
/// parses emits again into exactly the length it announces.
pub fn tipc_message(data: &[u8]) {
    let Some((&cmd, payload)) = data.split_first() else { return };
    let header = GenlHeader { cmd, version: 1 };
    if let Ok(message) = TipcMessage::parse_with_param(payload, header) {
        let mut buffer = vec![0; message.buffer_len()];
        message.emit(&mut buffer);
    }
}
