//! `pipework_tipc_bus` (a TIPC bus across guests), `pipework_tipc_report` (what it found) and
//! `pipework_tipc_node` (TIPC in one namespace).

use std::{ffi::c_char, slice, time::Duration};

use pipework_core::{
    Guest,
    tipc::{BearerSpec, BusReport, IdentityScheme, TipcBus, TipcNode},
};

use crate::{
    error::{Failure, pipework_result},
    ffi::{Out, TextOut, borrow, borrow_mut, free, into_raw, json, text},
    guest::pipework_guest,
    namespace::pipework_namespace,
    panic::{boundary, value_boundary},
};

/// The settings of a TIPC bus: network id, bearer, identity scheme, how long to wait for links.
pub struct pipework_tipc_bus(TipcBus);

/// The nodes and links of a bus, as configured or found.
pub struct pipework_tipc_report(BusReport);

/// TIPC in one network namespace.
pub struct pipework_tipc_node(TipcNode);

/// Changes the settings behind `bus` with `change`; invalid settings leave them as they were.
fn set(
    bus: *mut pipework_tipc_bus,
    change: impl FnOnce(TipcBus) -> Result<TipcBus, Failure>,
) -> pipework_result {
    boundary(|| {
        // SAFETY: every caller passes its C caller's pointer, valid or NULL.
        let bus = unsafe { borrow_mut(bus, "bus") }?;
        let changed = change(bus.0.clone())?;
        changed.validate()?;
        bus.0 = changed;
        Ok(())
    })
}

/// Runs `run` (configure or show) of `bus` over the `count` guests of `guests`.
///
/// # Safety
/// As for `pipework_tipc_bus_configure`.
unsafe fn over_guests(
    bus: *const pipework_tipc_bus,
    guests: *const *const pipework_guest,
    count: usize,
    report_out: *mut *mut pipework_tipc_report,
    run: impl FnOnce(&TipcBus, &[Guest]) -> pipework_core::Result<BusReport>,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (bus, out) = unsafe { (borrow(bus, "bus")?, Out::new(report_out, "report_out")?) };
        if guests.is_null() {
            return Err(Failure::null("guests"));
        }
        // SAFETY: the caller's contract: `guests` holds `count` pointers.
        let pointers = unsafe { slice::from_raw_parts(guests, count) };
        let guests = pointers
            .iter()
            // SAFETY: the caller's contract: each pointer is NULL or a live guest.
            .map(|guest| Ok(unsafe { borrow(*guest, "guests[i]") }?.0.try_clone()?))
            .collect::<Result<Vec<Guest>, Failure>>()?;
        out.write(into_raw(pipework_tipc_report(run(&bus.0, &guests)?)));
        Ok(())
    })
}

/// A bus with the defaults: network id 4711, bearer `eth:eth0`, identities derived from the
/// guests' names, a 30 s wait for the links.
///
/// # Safety
/// `bus_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_bus_new(
    bus_out: *mut *mut pipework_tipc_bus,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let out = unsafe { Out::new(bus_out, "bus_out") }?;
        out.write(into_raw(pipework_tipc_bus(TipcBus::new())));
        Ok(())
    })
}

/// Joins the members to network id `net_id` (1 to 9999). Equivalent to: `tipc net set id N`.
///
/// # Safety
/// `bus` is a live bus.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_bus_set_net_id(
    bus: *mut pipework_tipc_bus,
    net_id: u32,
) -> pipework_result {
    set(bus, |bus| Ok(bus.net_id(net_id)))
}

/// Enables bearer `spec` in every member: `eth:IFNAME` or
/// `udp:NAME[,local=IP[:PORT]][,dev=IFNAME][,port=PORT][,remote=IP[:PORT]]`.
/// Equivalent to: `tipc bearer enable media eth device IFNAME`.
///
/// # Safety
/// `bus` is a live bus; `spec` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_bus_set_bearer(
    bus: *mut pipework_tipc_bus,
    spec: *const c_char,
) -> pipework_result {
    set(bus, |bus| {
        // SAFETY: the caller's contract.
        let spec: BearerSpec = unsafe { text(spec, "spec") }?.parse()?;
        Ok(bus.bearer(spec))
    })
}

/// Gives each member the identity `template` with `{name}` and `{index}` (its position, from 1)
/// replaced, instead of one derived from its name. Equivalent to: `tipc node set identity ID`.
///
/// # Safety
/// `bus` is a live bus; `template` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_bus_set_identity_template(
    bus: *mut pipework_tipc_bus,
    template: *const c_char,
) -> pipework_result {
    set(bus, |bus| {
        // SAFETY: the caller's contract.
        let template = unsafe { text(template, "template") }?;
        Ok(bus.identities(IdentityScheme::Template(template.to_owned())))
    })
}

/// Waits at most `timeout_ms` milliseconds for every pair of members to have a link up
/// (PIPEWORK_RESULT_TIMEOUT otherwise); 0 does not wait.
///
/// # Safety
/// `bus` is a live bus.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_bus_set_link_timeout(
    bus: *mut pipework_tipc_bus,
    timeout_ms: u32,
) -> pipework_result {
    set(bus, |bus| {
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into()));
        Ok(bus.link_timeout(timeout))
    })
}

/// Joins the `count` guests of `guests` into the bus (network id, identity, bearer in each),
/// waits for the links and reports the nodes and links. Running it again changes nothing; a
/// guest added later joins. A kernel without TIPC is PIPEWORK_RESULT_UNSUPPORTED, the message
/// naming the fix (`modprobe tipc`).
///
/// # Safety
/// `bus` is a live bus; `guests` holds `count` live guests; `report_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_bus_configure(
    bus: *const pipework_tipc_bus,
    guests: *const *const pipework_guest,
    count: usize,
    report_out: *mut *mut pipework_tipc_report,
) -> pipework_result {
    // SAFETY: the caller's contract.
    unsafe { over_guests(bus, guests, count, report_out, TipcBus::configure) }
}

/// Reports the nodes and links of the `count` guests of `guests` without changing anything.
/// Equivalent to: `tipc node list` and `tipc link list` in each guest.
///
/// # Safety
/// As for `pipework_tipc_bus_configure`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_bus_show(
    bus: *const pipework_tipc_bus,
    guests: *const *const pipework_guest,
    count: usize,
    report_out: *mut *mut pipework_tipc_report,
) -> pipework_result {
    // SAFETY: the caller's contract.
    unsafe { over_guests(bus, guests, count, report_out, TipcBus::show) }
}

/// Releases the bus object; NULL does nothing.
///
/// # Safety
/// `bus` is NULL or a bus not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_bus_free(bus: *mut pipework_tipc_bus) {
    // SAFETY: the caller's contract.
    unsafe { free(bus) }
}

/// Copies the report (nodes with their identity, address, bearers and changes; links with
/// their state) as JSON into `buf`, with `pipework_last_error`'s buffer rules.
///
/// # Safety
/// `report` is a live report; `buf` holds `len` bytes (or is NULL with `len` 0);
/// `written_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_report_to_json(
    report: *const pipework_tipc_report,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (report, out) =
            unsafe { (borrow(report, "report")?, TextOut::new(buf, len, written_out)?) };
        out.write(&json(&report.0)?)
    })
}

/// Whether every pair of members has a link up (false when `report` is NULL).
///
/// # Safety
/// `report` is NULL or a live report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_report_all_links_up(
    report: *const pipework_tipc_report,
) -> bool {
    value_boundary(false, || {
        // SAFETY: the caller's contract.
        Ok(unsafe { borrow(report, "report") }?.0.all_links_up())
    })
}

/// Releases the report; NULL does nothing.
///
/// # Safety
/// `report` is NULL or a report not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_report_free(report: *mut pipework_tipc_report) {
    // SAFETY: the caller's contract.
    unsafe { free(report) }
}

/// Opens TIPC in `netns` (the namespace object stays the caller's). A kernel without TIPC is
/// PIPEWORK_RESULT_UNSUPPORTED, the message naming the fix (`modprobe tipc`).
///
/// # Safety
/// `netns` is a live namespace object; `node_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_node_open(
    netns: *const pipework_namespace,
    node_out: *mut *mut pipework_tipc_node,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (namespace, out) =
            unsafe { (borrow(netns, "netns")?, Out::new(node_out, "node_out")?) };
        out.write(into_raw(pipework_tipc_node(TipcNode::open(&namespace.0)?)));
        Ok(())
    })
}

/// Copies the node's settings (`net_id`, `identity`, `address`, `legacy_address`) as JSON into
/// `buf`, with `pipework_last_error`'s buffer rules. Equivalent to: `tipc node get identity`
/// and `tipc net get id`.
///
/// # Safety
/// As for `pipework_tipc_report_to_json`, with `node` a live node.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_node_config_to_json(
    node: *const pipework_tipc_node,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (node, out) = unsafe { (borrow(node, "node")?, TextOut::new(buf, len, written_out)?) };
        out.write(&json(&node.0.config()?)?)
    })
}

/// Releases the node object; NULL does nothing.
///
/// # Safety
/// `node` is NULL or a node not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_tipc_node_free(node: *mut pipework_tipc_node) {
    // SAFETY: the caller's contract.
    unsafe { free(node) }
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use pipework_core::tipc::BusLink;

    use super::*;
    use crate::error::last_message;

    #[test]
    fn the_setters_build_the_core_bus() {
        let mut bus = ptr::null_mut();
        unsafe {
            assert_eq!(pipework_tipc_bus_new(&mut bus), pipework_result::Ok);
            assert_eq!(pipework_tipc_bus_set_net_id(bus, 42), pipework_result::Ok);
            assert_eq!(pipework_tipc_bus_set_bearer(bus, c"eth:tp0".as_ptr()), pipework_result::Ok);
            let template = c"node-{index}".as_ptr();
            assert_eq!(pipework_tipc_bus_set_identity_template(bus, template), pipework_result::Ok);
            assert_eq!(pipework_tipc_bus_set_link_timeout(bus, 1500), pipework_result::Ok);
        }
        let expected = TipcBus::new()
            .net_id(42)
            .bearer(BearerSpec::eth("tp0"))
            .identities(IdentityScheme::Template("node-{index}".into()))
            .link_timeout(Some(Duration::from_millis(1500)));
        assert_eq!(unsafe { &(*bus).0 }, &expected);
        unsafe { pipework_tipc_bus_set_link_timeout(bus, 0) };
        assert_eq!(unsafe { (*bus).0.link_timeout }, None);
        unsafe { pipework_tipc_bus_free(bus) };
    }

    #[test]
    fn bad_settings_are_refused_and_change_nothing() {
        let mut bus = ptr::null_mut();
        unsafe { pipework_tipc_bus_new(&mut bus) };
        let refused = unsafe {
            [
                pipework_tipc_bus_set_net_id(bus, 0),
                pipework_tipc_bus_set_net_id(bus, 10_000),
                pipework_tipc_bus_set_bearer(bus, c"ib:x".as_ptr()),
            ]
        };
        assert_eq!(refused, [pipework_result::InvalidArgument; 3]);
        assert!(last_message().unwrap().contains("eth:IFNAME"), "{:?}", last_message());
        assert_eq!(unsafe { &(*bus).0 }, &TipcBus::new());
        unsafe { pipework_tipc_bus_free(bus) };
    }

    #[test]
    fn a_report_converts_to_json() {
        let link = BusLink { from: "a".into(), to: "b".into(), name: None, up: false };
        let report = into_raw(pipework_tipc_report(BusReport { nodes: vec![], links: vec![link] }));
        let mut buf = [0 as c_char; 128];
        let mut written = 0;
        let rc = unsafe {
            pipework_tipc_report_to_json(report, buf.as_mut_ptr(), buf.len(), &mut written)
        };
        assert_eq!(rc, pipework_result::Ok);
        let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert_eq!(text, r#"{"nodes":[],"links":[{"from":"a","to":"b","name":null,"up":false}]}"#);
        assert!(!unsafe { pipework_tipc_report_all_links_up(report) });
        unsafe { (&mut (*report).0.links)[0].up = true };
        assert!(unsafe { pipework_tipc_report_all_links_up(report) });
        assert!(!unsafe { pipework_tipc_report_all_links_up(ptr::null()) });
        assert_eq!(last_message().as_deref(), Some("report is NULL"));
        unsafe { pipework_tipc_report_free(report) };
    }

    #[test]
    fn a_null_guests_array_is_named() {
        let mut bus = ptr::null_mut();
        let mut report = ptr::null_mut();
        unsafe { pipework_tipc_bus_new(&mut bus) };
        let rc = unsafe { pipework_tipc_bus_configure(bus, ptr::null(), 1, &mut report) };
        assert_eq!(rc, pipework_result::NullParameter);
        assert_eq!(last_message().as_deref(), Some("guests is NULL"));
        let missing = [ptr::null()];
        let rc = unsafe { pipework_tipc_bus_show(bus, missing.as_ptr(), 1, &mut report) };
        assert_eq!(rc, pipework_result::NullParameter);
        assert_eq!(last_message().as_deref(), Some("guests[i] is NULL"));
        assert!(report.is_null());
        unsafe { pipework_tipc_bus_free(bus) };
    }
}
