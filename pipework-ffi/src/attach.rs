//! `pipework_attach_options` (what to do) and `pipework_attachment` (what was done, and its undo).

use std::ffi::c_char;

use pipework_core::{
    AttachPlan, Attachment, MacAddr, MacvlanMode, VxlanUplink, attach,
    attach::{HostChoice, choose_host},
    dhcp::DhcpSpec,
    link::{IpvlanMode, validate_ifname, validate_pkey, validate_vlan_id},
    parse_cidr, parse_ip,
};

use crate::{
    error::{Failure, pipework_result},
    ffi::{Out, TextOut, borrow, borrow_mut, free, into_raw, text},
    guest::pipework_guest,
    handle::pipework_handle,
    panic::boundary,
};

/// What an attach should do: the host interface, names, addresses, gateways, MAC, MTU.
pub struct pipework_attach_options {
    /// The host interface argument; what it is gets detected in the host namespace at attach.
    host: String,
    /// How to use the host interface when it is a physical device.
    choice: HostChoice,
    /// Everything else; its host side is replaced at attach by what `host` turns out to be.
    plan: AttachPlan,
    /// `_set_mac(options, "stable")`: the MAC is derived from the guest at attach.
    stable_mac: bool,
}

/// What an attach made, recorded so that `pipework_attachment_detach` undoes exactly that.
pub struct pipework_attachment(Attachment);

/// Changes the options behind `options` with `change`, which reads its input first.
fn set(
    options: *mut pipework_attach_options,
    change: impl FnOnce(&mut pipework_attach_options) -> Result<(), Failure>,
) -> pipework_result {
    boundary(|| {
        // SAFETY: every caller passes its C caller's pointer, valid or NULL.
        change(unsafe { borrow_mut(options, "options") }?)
    })
}

/// New options that connect a guest through the host interface `host` (pipework's first
/// argument) as `eth1`, with no address.
///
/// What `host` means is read in the host namespace when attaching, like the original script
/// does: an existing Linux bridge gets a veth port, an existing other device (a NIC, a bond,
/// a veth) a macvlan child, and a missing `br*` name a new bridge; `mac:aa:bb:cc:dd:ee:ff` names
/// the one device with that MAC. A name that is nothing of this is PIPEWORK_RESULT_NOT_FOUND.
///
/// # Safety
/// `host` is a NUL-terminated string; `options_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_new(
    host: *const c_char,
    options_out: *mut *mut pipework_attach_options,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (host, out) = unsafe { (text(host, "host")?, Out::new(options_out, "options_out")?) };
        out.write(into_raw(pipework_attach_options {
            host: host.to_string(),
            choice: HostChoice::default(),
            plan: AttachPlan::bridge(host),
            stable_mac: false,
        }));
        Ok(())
    })
}

/// Sets the host interface the guest is connected through (see `pipework_attach_options_new`).
///
/// # Safety
/// `options` is a live options object; `host` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_host(
    options: *mut pipework_attach_options,
    host: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        options.host = unsafe { text(host, "host") }?.to_string();
        Ok(())
    })
}

/// Moves a physical host interface itself into the guest instead of giving the guest a
/// macvlan on it (pipework's `--direct-phys`); detach gives it back as it was.
///
/// # Safety
/// `options` is a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_direct_phys(
    options: *mut pipework_attach_options,
    direct_phys: bool,
) -> pipework_result {
    set(options, |options| {
        options.choice.direct_phys = direct_phys;
        Ok(())
    })
}

/// Sets the macvlan mode for a physical host interface: `bridge` (the default, like the
/// original), `private`, `vepa`, `passthru` or `source`.
///
/// Equivalent to: `ip link add ... link PARENT type macvlan mode MODE`.
///
/// # Safety
/// `options` is a live options object; `mode` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_macvlan_mode(
    options: *mut pipework_attach_options,
    mode: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        let mode = unsafe { text(mode, "mode") }?;
        options.choice.macvlan_mode = Some(mode.parse::<MacvlanMode>()?);
        Ok(())
    })
}

/// Gives the guest a macvtap (with its /dev/tapN) instead of a macvlan on a physical host
/// interface.
///
/// # Safety
/// `options` is a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_macvtap(
    options: *mut pipework_attach_options,
    macvtap: bool,
) -> pipework_result {
    set(options, |options| {
        options.choice.macvtap = macvtap;
        Ok(())
    })
}

/// For a macvlan guest: adds a host-side "shim" macvlan with address `cidr` on the same
/// parent, with a route to each guest address through it, so the host can reach the guest.
///
/// # Safety
/// `options` is a live options object; `cidr` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_host_shim(
    options: *mut pipework_attach_options,
    cidr: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        options.plan.host_shim = Some(parse_cidr("host shim", unsafe { text(cidr, "cidr") }?)?);
        Ok(())
    })
}

/// Turns on or off the gratuitous ARP / unsolicited neighbour advertisement of the guest's
/// addresses after the attach (on by default).
///
/// # Safety
/// `options` is a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_announce(
    options: *mut pipework_attach_options,
    announce: bool,
) -> pipework_result {
    set(options, |options| {
        options.plan.announce = announce;
        Ok(())
    })
}

/// Allows (or, the default, refuses) a guest that is the host side's own network namespace:
/// the guest interface, its addresses and default route would land in the host (pipework's
/// `--allow-host-namespace`).
///
/// # Safety
/// `options` is a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_allow_host_namespace(
    options: *mut pipework_attach_options,
    allow: bool,
) -> pipework_result {
    set(options, |options| {
        options.plan.allow_host_namespace = allow;
        Ok(())
    })
}

/// Joins the bridge to a VXLAN overlay across hosts: `VNI@REMOTE[,REMOTE...][%DEV]`
/// (pipework's `--vxlan`), a tunnel port `vx<VNI>` flooding to every remote.
///
/// # Safety
/// `options` is a live options object; `vxlan` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_vxlan(
    options: *mut pipework_attach_options,
    vxlan: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        options.plan.vxlan = Some(VxlanUplink::parse(unsafe { text(vxlan, "vxlan") }?)?);
        Ok(())
    })
}

/// Sets the interface name inside the guest (pipework's `-i`, default `eth1`).
///
/// # Safety
/// `options` is a live options object; `ifname` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_guest_ifname(
    options: *mut pipework_attach_options,
    ifname: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        let ifname = unsafe { text(ifname, "ifname") }?;
        validate_ifname("guest ifname", ifname)?;
        options.plan.guest_ifname = ifname.to_string();
        Ok(())
    })
}

/// Sets the host-side interface name (pipework's `-l`); generated when not set.
///
/// # Safety
/// `options` is a live options object; `ifname` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_host_ifname(
    options: *mut pipework_attach_options,
    ifname: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        let ifname = unsafe { text(ifname, "ifname") }?;
        validate_ifname("host ifname", ifname)?;
        options.plan.host_ifname = Some(ifname.to_string());
        Ok(())
    })
}

/// Adds an address for the guest interface, as `ADDRESS/PREFIX` (IPv4 or IPv6; call again
/// for several).
///
/// Equivalent to: `ip addr add ADDRESS/PREFIX dev IFNAME` in the guest.
///
/// # Safety
/// `options` is a live options object; `cidr` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_add_address(
    options: *mut pipework_attach_options,
    cidr: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        options.plan.addresses.push(parse_cidr("address", unsafe { text(cidr, "cidr") }?)?);
        Ok(())
    })
}

/// Adds a default gateway for the guest (at most one per address family).
///
/// Equivalent to: `ip route replace default via GATEWAY` in the guest (with an on-link
/// host route first when the gateway lies outside every address's subnet).
///
/// # Safety
/// `options` is a live options object; `gateway` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_add_gateway(
    options: *mut pipework_attach_options,
    gateway: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        options.plan.gateways.push(parse_ip("gateway", unsafe { text(gateway, "gateway") }?)?);
        Ok(())
    })
}

/// Sets the guest interface's MAC: `aa:bb:cc:dd:ee:ff`, pipework's `U:<string>` for a
/// stable address derived from the string, or `stable` for one derived at attach from the
/// guest's identity and the interface name. Multicast and all-zero addresses are refused.
///
/// # Safety
/// `options` is a live options object; `mac` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_mac(
    options: *mut pipework_attach_options,
    mac: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        let mac = unsafe { text(mac, "mac") }?;
        options.stable_mac = mac == "stable";
        options.plan.mac =
            if options.stable_mac { None } else { Some(MacAddr::parse_pipework(mac)?) };
        Ok(())
    })
}

/// Sets the MTU of both ends; inherited from the host side when not set.
///
/// The range (68 to 65535, from 1280 with an IPv6 address) is checked by the attach.
///
/// # Safety
/// `options` is a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_mtu(
    options: *mut pipework_attach_options,
    mtu: u32,
) -> pipework_result {
    set(options, |options| {
        options.plan.mtu = Some(mtu);
        Ok(())
    })
}

/// Attaches the guest on VLAN `vlan_id` (1 to 4094; pipework's `@VLAN`): through a
/// sub-interface `<parent>.<vlan_id>` under a macvlan or ipvlan guest, as an access port of a
/// VLAN-filtering Linux bridge, or as the port tag on an Open vSwitch bridge.
///
/// Equivalent to: `ip link add link PARENT name PARENT.ID type vlan id ID` (for a sub-interface).
///
/// # Safety
/// `options` is a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_vlan(
    options: *mut pipework_attach_options,
    vlan_id: u16,
) -> pipework_result {
    set(options, |options| {
        validate_vlan_id("vlan", vlan_id)?;
        options.plan.vlan = Some(vlan_id);
        Ok(())
    })
}

/// Addresses the guest interface over DHCP instead of static addresses, with pipework's
/// address words: `dhcp[:OPTS]` (pipework's own client; OPTS among `-x hostname:NAME`, `-H NAME`,
/// `-O OPTION`, `-T SECONDS`), or `udhcpc[-f][:OPTS]`, `dhclient[-f][:OPTS]`, `dhcpcd[:OPTS]`
/// run inside the guest (`-f`: kept running). Detach releases the lease.
///
/// # Safety
/// `options` is a live options object; `client` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_dhcp(
    options: *mut pipework_attach_options,
    client: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        let client = unsafe { text(client, "client") }?;
        options.plan.dhcp = Some(DhcpSpec::parse_word("dhcp client", client)?);
        Ok(())
    })
}

/// Gives the guest an ipvlan in `mode` (`l2`, `l3` or `l3s`) instead of a macvlan on a physical
/// host interface (pipework's `--ipvlan`).
///
/// Equivalent to: `ip link add ... link PARENT type ipvlan mode MODE`.
///
/// # Safety
/// `options` is a live options object; `mode` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_ipvlan_mode(
    options: *mut pipework_attach_options,
    mode: *const c_char,
) -> pipework_result {
    set(options, |options| {
        // SAFETY: the caller's contract.
        let mode = unsafe { text(mode, "mode") }?;
        options.choice.ipvlan = Some(mode.parse::<IpvlanMode>()?);
        Ok(())
    })
}

/// Sets the partition key of the IPoIB child made on an IPoIB host interface (pipework's
/// `--pkey`); the parent's when not set.
///
/// Equivalent to: `ip link add link PARENT name NAME type ipoib pkey PKEY`.
///
/// # Safety
/// `options` is a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_set_pkey(
    options: *mut pipework_attach_options,
    pkey: u16,
) -> pipework_result {
    set(options, |options| {
        validate_pkey("pkey", pkey)?;
        options.choice.pkey = Some(pkey);
        Ok(())
    })
}

/// Releases the options object; NULL does nothing.
///
/// # Safety
/// `options` is NULL or an options object not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attach_options_free(options: *mut pipework_attach_options) {
    // SAFETY: the caller's contract.
    unsafe { free(options) }
}

/// Attaches `guest` as `options` say, with `host` the handle of the host side's namespace.
///
/// What the host interface is gets read there first. Every argument is checked before
/// anything changes; a failure half-way removes what this
/// call created. Running the same options again finds the attachment in place and returns
/// it (its JSON says `"status":"already_attached"`). Equivalent to: `pipework HOST GUEST ...`.
///
/// # Safety
/// `host`, `guest` and `options` are live objects; `attachment_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_handle_attach(
    host: *const pipework_handle,
    guest: *const pipework_guest,
    options: *const pipework_attach_options,
    attachment_out: *mut *mut pipework_attachment,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (host, guest, options, out) = unsafe {
            (
                borrow(host, "host")?,
                borrow(guest, "guest")?,
                borrow(options, "options")?,
                Out::new(attachment_out, "attachment_out")?,
            )
        };
        let mut plan = options.plan.clone();
        plan.host = choose_host(&host.0, &options.host, &options.choice)?.side;
        if options.stable_mac {
            plan.mac = Some(MacAddr::stable(&guest.0, &plan.guest_ifname));
        }
        out.write(into_raw(pipework_attachment(attach(&host.0, &guest.0, &plan)?)));
        Ok(())
    })
}

/// Undoes the attachment: deletes the veth pair, restores the default routes it replaced and
/// removes a bridge pipework created once its last port is gone.
///
/// `host` is a handle in the namespace the attachment was made from. `guest` is a handle in
/// the guest's namespace, or NULL when the guest is gone (then only the host side is
/// cleaned). The attachment object stays the caller's to free.
///
/// # Safety
/// `attachment` and `host` are live objects; `guest` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attachment_detach(
    attachment: *const pipework_attachment,
    host: *const pipework_handle,
    guest: *const pipework_handle,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract; `guest` may be NULL.
        let (attachment, host, guest) =
            unsafe { (borrow(attachment, "attachment")?, borrow(host, "host")?, guest.as_ref()) };
        Ok(attachment.0.detach(&host.0, guest.map(|guest| &guest.0))?)
    })
}

/// Copies the attachment's record as JSON into `buf`, with `pipework_last_error`'s buffer rules
/// (a NULL `buf` with `len` 0 stores the length: allocate one byte more).
///
/// # Safety
/// `attachment` is a live object; `buf` holds `len` bytes (or is NULL with `len` 0);
/// `written_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attachment_to_json(
    attachment: *const pipework_attachment,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (attachment, out) =
            unsafe { (borrow(attachment, "attachment")?, TextOut::new(buf, len, written_out)?) };
        out.write(&crate::ffi::json(&attachment.0)?)
    })
}

/// Reads an attachment back from the JSON of `pipework_attachment_to_json` (to detach later,
/// from another process).
///
/// # Safety
/// `json` is a NUL-terminated string; `attachment_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attachment_from_json(
    json: *const c_char,
    attachment_out: *mut *mut pipework_attachment,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (json, out) =
            unsafe { (text(json, "json")?, Out::new(attachment_out, "attachment_out")?) };
        let attachment = serde_json::from_str(json).map_err(|err| {
            Failure::new(
                pipework_result::InvalidArgument,
                libc::EINVAL,
                format!("invalid attachment JSON: {err}"),
            )
        })?;
        out.write(into_raw(pipework_attachment(attachment)));
        Ok(())
    })
}

/// Releases the attachment object (the attachment itself stays in place); NULL does nothing.
///
/// # Safety
/// `attachment` is NULL or an attachment object not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_attachment_free(attachment: *mut pipework_attachment) {
    // SAFETY: the caller's contract.
    unsafe { free(attachment) }
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;

    fn options(host: &std::ffi::CStr) -> *mut pipework_attach_options {
        let mut options = ptr::null_mut();
        assert_eq!(
            unsafe { pipework_attach_options_new(host.as_ptr(), &mut options) },
            pipework_result::Ok
        );
        options
    }

    #[test]
    fn the_setters_build_the_core_plan() {
        let options = options(c"br0");
        unsafe {
            assert_eq!(
                pipework_attach_options_set_host(options, c"br1".as_ptr()),
                pipework_result::Ok
            );
            pipework_attach_options_set_guest_ifname(options, c"eth2".as_ptr());
            pipework_attach_options_set_host_ifname(options, c"vhost".as_ptr());
            pipework_attach_options_add_address(options, c"10.0.0.2/24".as_ptr());
            pipework_attach_options_add_address(options, c"2001:db8::2/64".as_ptr());
            pipework_attach_options_add_gateway(options, c"10.0.0.1".as_ptr());
            pipework_attach_options_set_mac(options, c"U:myhost.foo.com".as_ptr());
            pipework_attach_options_set_mtu(options, 1400);
            pipework_attach_options_set_host_shim(options, c"10.0.0.250/32".as_ptr());
            pipework_attach_options_set_announce(options, false);
            pipework_attach_options_set_direct_phys(options, true);
            pipework_attach_options_set_macvlan_mode(options, c"private".as_ptr());
            pipework_attach_options_set_macvtap(options, true);
            pipework_attach_options_set_ipvlan_mode(options, c"l3".as_ptr());
            pipework_attach_options_set_pkey(options, 0x8001);
            pipework_attach_options_set_vlan(options, 100);
            pipework_attach_options_set_dhcp(options, c"dhcp".as_ptr());
        }
        // The host side comes from detecting `host` at attach; until then it is `_new`'s.
        let expected = AttachPlan::bridge("br0")
            .guest_ifname("eth2")
            .host_ifname("vhost")
            .address("10.0.0.2/24".parse().unwrap())
            .address("2001:db8::2/64".parse().unwrap())
            .gateway("10.0.0.1".parse().unwrap())
            .mac(MacAddr::parse("02:72:6c:cd:9b:8d").unwrap())
            .mtu(1400)
            .host_shim("10.0.0.250/32".parse().unwrap())
            .announce(false)
            .vlan(100)
            .dhcp(DhcpSpec::parse("dhcp").unwrap().unwrap());
        let options_seen = unsafe { &*options };
        let choice = HostChoice {
            direct_phys: true,
            macvlan_mode: Some(MacvlanMode::Private),
            macvtap: true,
            ipvlan: Some(IpvlanMode::L3),
            pkey: Some(0x8001),
        };
        assert_eq!((options_seen.host.as_str(), options_seen.choice), ("br1", choice));
        assert_eq!(options_seen.plan, expected);
        unsafe { pipework_attach_options_free(options) };
    }

    #[test]
    fn a_refused_setting_leaves_the_options_as_they_were() {
        let options = options(c"br1");
        let before = unsafe { (*options).plan.clone() };
        let refused = unsafe {
            [
                pipework_attach_options_add_address(options, c"10.0.0.2".as_ptr()),
                pipework_attach_options_set_mac(options, c"01:00:5e:00:00:01".as_ptr()),
                pipework_attach_options_set_host_shim(options, c"10.0.0.250".as_ptr()),
                pipework_attach_options_set_macvlan_mode(options, c"bogus".as_ptr()),
                pipework_attach_options_set_ipvlan_mode(options, c"l4".as_ptr()),
                pipework_attach_options_set_pkey(options, 0x8000),
                pipework_attach_options_set_dhcp(options, c"nodhcp".as_ptr()),
                pipework_attach_options_set_vlan(options, 4095),
            ]
        };
        assert_eq!(
            refused,
            [
                pipework_result::InvalidArgument,
                pipework_result::InvalidArgument,
                pipework_result::InvalidArgument,
                pipework_result::InvalidArgument,
                pipework_result::InvalidArgument,
                pipework_result::InvalidArgument,
                pipework_result::InvalidArgument,
                pipework_result::InvalidArgument
            ]
        );
        let message = crate::error::last_message().unwrap();
        assert!(message.starts_with("invalid vlan \"4095\""), "{message}");
        assert_eq!(unsafe { &(*options).plan }, &before);
        assert_eq!(unsafe { (*options).choice }, HostChoice::default());
        unsafe { pipework_attach_options_free(options) };
    }

    #[test]
    fn attachments_round_trip_through_json() {
        let json = concat!(
            r#"{"status":"created","plan":{"host":{"kind":"bridge","name":"br1"},"#,
            r#""guest_ifname":"eth1","host_ifname":null,"addresses":["192.168.1.1/24"],"#,
            r#""gateways":[],"mac":null,"mtu":null,"host_shim":null,"announce":true},"#,
            r#""host_namespace":{"dev":4,"ino":4026532831},"guest":{"namespace":{"dev":4,"#,
            r#""ino":4026533005},"origin":{"named":"web"},"pid":null,"name":"web","id":null,"#,
            r#""engine":"netns"},"host_ifname":"pw28cacfe3de6f6","host_ifindex":3,"#,
            r#""guest_ifindex":2,"mac":"72:0e:e7:9f:75:94","mtu":1500,"bridge_created":true,"#,
            r#""routes_added":[],"routes_replaced":[],"physical":null,"shim":null,"warnings":[]}"#
        );
        let input = std::ffi::CString::new(json).unwrap();
        let mut attachment = ptr::null_mut();
        let rc = unsafe { pipework_attachment_from_json(input.as_ptr(), &mut attachment) };
        assert_eq!(rc, pipework_result::Ok);
        let mut needed = 0;
        let rc =
            unsafe { pipework_attachment_to_json(attachment, ptr::null_mut(), 0, &mut needed) };
        assert_eq!(rc, pipework_result::Ok);
        let mut buf = vec![0 as c_char; needed + 1];
        let mut written = 0;
        let rc = unsafe {
            pipework_attachment_to_json(attachment, buf.as_mut_ptr(), buf.len(), &mut written)
        };
        assert_eq!((rc, written), (pipework_result::Ok, needed));
        let output = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        // Everything read comes back; fields the core added since default in.
        let (input, output): (serde_json::Value, serde_json::Value) =
            (serde_json::from_str(json).unwrap(), serde_json::from_str(output).unwrap());
        assert!(contains(&output, &input), "{output}");
        unsafe { pipework_attachment_free(attachment) };
    }

    /// Whether every field of `part`, recursively, is in `whole` with the same value.
    fn contains(whole: &serde_json::Value, part: &serde_json::Value) -> bool {
        match (whole, part) {
            (serde_json::Value::Object(whole), serde_json::Value::Object(part)) => part
                .iter()
                .all(|(key, value)| whole.get(key).is_some_and(|found| contains(found, value))),
            _ => whole == part,
        }
    }
}
