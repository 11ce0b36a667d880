//! `pipework_dhcp_config` (what a DHCP client asks for) and `pipework_dhcp_lease` (a lease held).

use std::{ffi::c_char, time::Duration};

use pipework_core::{
    DhcpConfig, DhcpLease,
    dhcp::{option_code, validate_hostname},
};

use crate::{
    error::{Failure, pipework_result},
    ffi::{Out, TextOut, borrow, borrow_mut, free, into_raw, take, text},
    guest::pipework_guest,
    panic::boundary,
};

/// What a DHCP client asks for and how its lease is applied: host name, timeout, extra
/// options, default route and resolv.conf policy.
pub struct pipework_dhcp_config(DhcpConfig);

/// A DHCPv4 lease held by a guest interface and renewed in the background while the object
/// lives.
pub struct pipework_dhcp_lease(DhcpLease);

/// Changes the configuration behind `config` with `change`.
fn set(
    config: *mut pipework_dhcp_config,
    change: impl FnOnce(&mut DhcpConfig) -> Result<(), Failure>,
) -> pipework_result {
    boundary(|| {
        // SAFETY: every caller passes its C caller's pointer, valid or NULL.
        change(&mut unsafe { borrow_mut(config, "config") }?.0)
    })
}

/// A configuration with the defaults: the guest's name as host name, a 30 s timeout, no extra
/// option, an existing default route kept, resolv.conf left alone.
///
/// # Safety
/// `config_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_config_new(
    config_out: *mut *mut pipework_dhcp_config,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let out = unsafe { Out::new(config_out, "config_out") }?;
        out.write(into_raw(pipework_dhcp_config(DhcpConfig::default())));
        Ok(())
    })
}

/// Sends `hostname` (RFC 1123) as the host name (option 12).
///
/// # Safety
/// `config` is a live configuration; `hostname` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_config_set_hostname(
    config: *mut pipework_dhcp_config,
    hostname: *const c_char,
) -> pipework_result {
    set(config, |config| {
        // SAFETY: the caller's contract.
        let hostname = unsafe { text(hostname, "hostname") }?;
        validate_hostname(hostname)?;
        *config = config.clone().hostname(hostname);
        Ok(())
    })
}

/// Sends no host name.
///
/// # Safety
/// `config` is a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_config_set_no_hostname(
    config: *mut pipework_dhcp_config,
) -> pipework_result {
    set(config, |config| {
        *config = config.clone().no_hostname();
        Ok(())
    })
}

/// Waits at most `timeout_ms` milliseconds for a lease (more than zero, checked when acquiring).
///
/// # Safety
/// `config` is a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_config_set_timeout(
    config: *mut pipework_dhcp_config,
    timeout_ms: u32,
) -> pipework_result {
    set(config, |config| {
        config.timeout = Duration::from_millis(timeout_ms.into());
        Ok(())
    })
}

/// Also requests option `option`, by udhcpc name (`dns`, `ntpsrv`, ...) or number (1 to 254).
///
/// # Safety
/// `config` is a live configuration; `option` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_config_add_request_option(
    config: *mut pipework_dhcp_config,
    option: *const c_char,
) -> pipework_result {
    set(config, |config| {
        // SAFETY: the caller's contract.
        let code = option_code(unsafe { text(option, "option") }?)?;
        *config = config.clone().request_option(code);
        Ok(())
    })
}

/// Replaces a default route already in the guest with the lease's router (otherwise that
/// route is kept and the router not installed, so there are never two).
///
/// # Safety
/// `config` is a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_config_set_replace_default_route(
    config: *mut pipework_dhcp_config,
    replace: bool,
) -> pipework_result {
    set(config, |config| {
        config.replace_default_route = replace;
        Ok(())
    })
}

/// Writes the lease's DNS servers into the guest's own resolv.conf (never the host's).
///
/// # Safety
/// `config` is a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_config_set_write_resolv_conf(
    config: *mut pipework_dhcp_config,
    write: bool,
) -> pipework_result {
    set(config, |config| {
        config.write_resolv_conf = write;
        Ok(())
    })
}

/// Releases the configuration object; NULL does nothing.
///
/// # Safety
/// `config` is NULL or a configuration not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_config_free(config: *mut pipework_dhcp_config) {
    // SAFETY: the caller's contract.
    unsafe { free(config) }
}

/// Obtains a DHCPv4 lease for interface `ifname` of `guest` with pipework's own client,
/// applies it (address, router, MTU, routes) and keeps renewing it while the object lives.
///
/// On any failure (PIPEWORK_RESULT_TIMEOUT without an answer, PIPEWORK_RESULT_REFUSED for a
/// DHCPNAK) nothing is left in the guest. Equivalent to: `udhcpc -i IFNAME` inside the guest.
///
/// # Safety
/// `guest` and `config` are live objects; `ifname` a NUL-terminated string; `lease_out` is
/// valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_lease_acquire(
    guest: *const pipework_guest,
    ifname: *const c_char,
    config: *const pipework_dhcp_config,
    lease_out: *mut *mut pipework_dhcp_lease,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (guest, ifname, config, out) = unsafe {
            (
                borrow(guest, "guest")?,
                text(ifname, "ifname")?,
                borrow(config, "config")?,
                Out::new(lease_out, "lease_out")?,
            )
        };
        out.write(into_raw(pipework_dhcp_lease(DhcpLease::acquire(&guest.0, ifname, &config.0)?)));
        Ok(())
    })
}

/// Copies the leased address as `ADDRESS/PREFIX` into `buf`, with `pipework_last_error`'s
/// buffer rules (19 bytes always suffice).
///
/// # Safety
/// `lease` is a live lease; `buf` holds `len` bytes (or is NULL with `len` 0); `written_out`
/// is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_lease_address(
    lease: *const pipework_dhcp_lease,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (lease, out) =
            unsafe { (borrow(lease, "lease")?, TextOut::new(buf, len, written_out)?) };
        out.write(&lease.0.record().address.to_string())
    })
}

/// Copies the lease as it is now (address, router, DNS, times, what applying it changed) as
/// JSON into `buf`, with `pipework_last_error`'s buffer rules.
///
/// # Safety
/// As for `pipework_dhcp_lease_address`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_lease_to_json(
    lease: *const pipework_dhcp_lease,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (lease, out) =
            unsafe { (borrow(lease, "lease")?, TextOut::new(buf, len, written_out)?) };
        out.write(&crate::ffi::json(&lease.0.record())?)
    })
}

/// Gives the lease back to the server (DHCPRELEASE) and removes what applying it configured;
/// frees the object whatever the result.
///
/// Equivalent to: `dhclient -r IFNAME` inside the guest.
///
/// # Safety
/// `lease` is NULL or a lease not freed yet; it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_lease_release(
    lease: *mut pipework_dhcp_lease,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let lease = unsafe { take(lease, "lease") }?;
        Ok(lease.0.release()?)
    })
}

/// Stops renewing and frees the object, leaving the address in place until the lease runs
/// out (use `pipework_dhcp_lease_release` to give it back); NULL does nothing.
///
/// # Safety
/// `lease` is NULL or a lease not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_dhcp_lease_free(lease: *mut pipework_dhcp_lease) {
    // SAFETY: the caller's contract.
    unsafe { free(lease) }
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use pipework_core::dhcp::Hostname;

    use super::*;

    #[test]
    fn the_setters_build_the_core_config() {
        let mut config = ptr::null_mut();
        unsafe {
            assert_eq!(pipework_dhcp_config_new(&mut config), pipework_result::Ok);
            pipework_dhcp_config_set_hostname(config, c"web.example".as_ptr());
            pipework_dhcp_config_set_timeout(config, 2500);
            pipework_dhcp_config_add_request_option(config, c"ntpsrv".as_ptr());
            pipework_dhcp_config_add_request_option(config, c"121".as_ptr());
            pipework_dhcp_config_set_replace_default_route(config, true);
            pipework_dhcp_config_set_write_resolv_conf(config, true);
        }
        let expected = DhcpConfig::default()
            .hostname("web.example")
            .timeout(Duration::from_millis(2500))
            .request_option(42)
            .request_option(121)
            .replace_default_route(true)
            .write_resolv_conf(true);
        assert_eq!(unsafe { &(*config).0 }, &expected);
        unsafe { pipework_dhcp_config_set_no_hostname(config) };
        assert_eq!(unsafe { &(*config).0.hostname }, &Hostname::None);
        unsafe { pipework_dhcp_config_free(config) };
    }

    #[test]
    fn bad_settings_are_refused_and_change_nothing() {
        let mut config = ptr::null_mut();
        unsafe { pipework_dhcp_config_new(&mut config) };
        let refused = unsafe {
            [
                pipework_dhcp_config_set_hostname(config, c"bad host".as_ptr()),
                pipework_dhcp_config_add_request_option(config, c"53".as_ptr()),
                pipework_dhcp_config_add_request_option(config, c"bogus".as_ptr()),
            ]
        };
        assert_eq!(refused, [pipework_result::InvalidArgument; 3]);
        assert_eq!(unsafe { &(*config).0 }, &DhcpConfig::default());
        unsafe { pipework_dhcp_config_free(config) };
    }
}
