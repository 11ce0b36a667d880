//! Which links are stacked on a link (macvlan, ipvlan, VLAN children), in its own namespace and
//! in the namespaces it knows by id, so a shared lower device is only removed once unused.

use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use rtnetlink::packet_route::{
    RouteNetlinkMessage,
    link::{LinkAttribute, LinkMessage},
    nsid::{NsidAttribute, NsidMessage},
};

use super::Link;
use crate::{
    error::{Op, Result},
    handle::{Create, Handle},
    netns::Namespace,
};

/// The kinds that stack on a lower device and die with it.
const STACKED_KINDS: &[&str] = &["macvlan", "macvtap", "ipvlan", "ipvtap", "vlan"];

impl Handle {
    /// Gives `namespace` an id in this handle's namespace unless it has one, and returns it.
    ///
    /// With an id, this namespace can read the other's links (see [`Handle::link_uppers`]).
    /// Equivalent to: `ip netns set NAME auto; ip netns list-id`.
    pub fn nsid_ensure(&self, namespace: &Namespace) -> Result<i32> {
        let object = format!("the id of {namespace}");
        let fd = NsidAttribute::Fd(namespace.as_fd().as_raw_fd() as u32);
        let ask = || {
            let answer = self.get(
                RouteNetlinkMessage::GetNsId(nsid_message(vec![fd.clone()])),
                Op::LinkGet,
                &object,
            )?;
            Ok::<_, crate::Error>(match answer {
                Some(RouteNetlinkMessage::NewNsId(message)) => {
                    nsid_of(&message).filter(|id| *id >= 0)
                }
                _ => None,
            })
        };
        if let Some(id) = ask()? {
            return Ok(id);
        }
        let message = nsid_message(vec![fd.clone(), NsidAttribute::Id(-1)]);
        match self.change(RouteNetlinkMessage::NewNsId(message), Create::No, Op::LinkSet, &object) {
            Ok(()) => {}
            // Given one by someone else meanwhile.
            Err(err) if err.errno() == Errno::EEXIST => {}
            Err(err) => return Err(err),
        }
        ask()?.ok_or_else(|| crate::Error::Protocol {
            op: Op::LinkSet,
            object,
            detail: "the kernel assigned no id".into(),
        })
    }

    /// The names of the links stacked on link `index`: children in this namespace, and
    /// macvlan/ipvlan/VLAN children in every namespace this one has an id for.
    ///
    /// A child in another namespace is counted when its lower device is outside that namespace
    /// and has this index; a rare false positive only keeps a device that could have gone.
    /// Equivalent to: `ip -d link show` here and with `target-nsid N` for each `ip netns list-id`.
    pub fn link_uppers(&self, index: u32) -> Result<Vec<String>> {
        let mut uppers: Vec<String> = self
            .link_dump(None)?
            .iter()
            .filter(|message| link_netnsid(message).is_none())
            .map(Link::from_message)
            .filter(|link| link.parent == Some(index) && link.index != index)
            .map(|link| link.name)
            .collect();
        let ids = self.dump(
            RouteNetlinkMessage::GetNsId(NsidMessage::default()),
            Op::LinkGet,
            &"namespace ids",
        )?;
        for id in ids.iter().filter_map(|answer| match answer {
            RouteNetlinkMessage::NewNsId(message) => nsid_of(message),
            _ => None,
        }) {
            for message in self.link_dump(Some(id))? {
                let link = Link::from_message(&message);
                if link.parent == Some(index)
                    && link_netnsid(&message).is_some()
                    && link.kind.as_deref().is_some_and(|kind| STACKED_KINDS.contains(&kind))
                {
                    uppers.push(format!("{} (namespace id {id})", link.name));
                }
            }
        }
        Ok(uppers)
    }

    /// Every link of this namespace, or of the namespace with id `nsid` as seen from here.
    fn link_dump(&self, nsid: Option<i32>) -> Result<Vec<LinkMessage>> {
        let mut request = LinkMessage::default();
        if let Some(nsid) = nsid {
            request.attributes.push(LinkAttribute::IfNetnsId(nsid));
        }
        let answers = self.dump(
            RouteNetlinkMessage::GetLink(request),
            Op::LinkGet,
            &format_args!(
                "links{}",
                nsid.map(|id| format!(" of namespace id {id}")).unwrap_or_default()
            ),
        )?;
        Ok(answers
            .into_iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewLink(message) => Some(message),
                _ => None,
            })
            .collect())
    }
}

fn nsid_message(attributes: Vec<NsidAttribute>) -> NsidMessage {
    let mut message = NsidMessage::default();
    message.attributes = attributes;
    message
}

fn nsid_of(message: &NsidMessage) -> Option<i32> {
    message.attributes.iter().find_map(|attribute| match attribute {
        NsidAttribute::Id(id) => Some(*id),
        _ => None,
    })
}

fn link_netnsid(message: &LinkMessage) -> Option<i32> {
    message.attributes.iter().find_map(|attribute| match attribute {
        LinkAttribute::LinkNetNsId(id) => Some(*id),
        _ => None,
    })
}
