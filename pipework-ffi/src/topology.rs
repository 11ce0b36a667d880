//! `pipework_topology`: a lab read from a containerlab file, and `pipework_lab_plan`: the steps
//! an apply, plan or destroy of it made (what `pipework apply|diff|destroy` print).

use std::{ffi::c_char, path::Path};

use pipework_core::{
    StateStore,
    topology::{self, Plan, Topology},
};

use crate::{
    error::{Failure, pipework_result},
    ffi::{Out, TextOut, borrow, free, into_raw, json, text},
    handle::pipework_handle,
    panic::boundary,
};

/// A lab: its nodes and links, checked as `pipework apply` checks its file.
pub struct pipework_topology(Topology);

/// The steps of a lab's plan, apply or destroy.
pub struct pipework_lab_plan(Plan);

/// The state directory `state_dir` names (NULL: `$PIPEWORK_STATE_DIR` or /run/pipework).
///
/// # Safety
/// `state_dir` is NULL or a NUL-terminated string.
unsafe fn store(state_dir: *const c_char) -> Result<StateStore, Failure> {
    if state_dir.is_null() {
        return Ok(StateStore::from_env());
    }
    // SAFETY: the caller's contract.
    Ok(StateStore::new(unsafe { text(state_dir, "state_dir") }?))
}

/// Reads the lab file at `path` (YAML or JSON, containerlab's schema); bad input is
/// PIPEWORK_RESULT_INVALID_ARGUMENT naming the file, line and field.
///
/// # Safety
/// `path` is a NUL-terminated string; `topology_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_topology_from_file(
    path: *const c_char,
    topology_out: *mut *mut pipework_topology,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (path, out) = unsafe { (text(path, "path")?, Out::new(topology_out, "topology_out")?) };
        out.write(into_raw(pipework_topology(Topology::from_file(Path::new(path))?)));
        Ok(())
    })
}

/// Reads a lab from the text of a file; `source` names it in errors.
///
/// # Safety
/// `text_in` and `source` are NUL-terminated strings; `topology_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_topology_parse(
    text_in: *const c_char,
    source: *const c_char,
    topology_out: *mut *mut pipework_topology,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (body, source, out) = unsafe {
            (
                text(text_in, "text")?,
                text(source, "source")?,
                Out::new(topology_out, "topology_out")?,
            )
        };
        out.write(into_raw(pipework_topology(Topology::parse(body, source)?)));
        Ok(())
    })
}

/// Writes the lab's name to `buf` (see the string-out convention).
///
/// # Safety
/// `topology` is a live topology; `buf` is valid for `len` bytes or NULL with `len` 0;
/// `written_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_topology_name(
    topology: *const pipework_topology,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (topology, out) =
            unsafe { (borrow(topology, "topology")?, TextOut::new(buf, len, written_out)?) };
        out.write(&topology.0.name)
    })
}

/// Writes the /run/netns name apply gives node `node` (`clab-<lab>-<node>`) to `buf`;
/// PIPEWORK_RESULT_NOT_FOUND for a node that is not a namespace node.
///
/// # Safety
/// As for `pipework_topology_name`, with `node` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_topology_netns_name(
    topology: *const pipework_topology,
    node: *const c_char,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (topology, node, out) = unsafe {
            (
                borrow(topology, "topology")?,
                text(node, "node")?,
                TextOut::new(buf, len, written_out)?,
            )
        };
        let netns = topology.0.netns_of(node).ok_or_else(|| pipework_core::Error::NotFound {
            op: pipework_core::error::Op::State,
            object: format!("namespace node {node} in lab {}", topology.0.name),
        })?;
        out.write(netns)
    })
}

/// What the three lab operations share: the topology, the host handle, the state directory.
///
/// # Safety
/// As for the public functions below.
unsafe fn lab_call(
    topology: *const pipework_topology,
    host: *const pipework_handle,
    state_dir: *const c_char,
    plan_out: *mut *mut pipework_lab_plan,
    call: impl FnOnce(&pipework_core::Handle, &Topology, &StateStore) -> pipework_core::Result<Plan>,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (topology, host, store, out) = unsafe {
            (
                borrow(topology, "topology")?,
                borrow(host, "host")?,
                store(state_dir)?,
                Out::new(plan_out, "plan_out")?,
            )
        };
        out.write(into_raw(pipework_lab_plan(call(&host.0, &topology.0, &store)?)));
        Ok(())
    })
}

/// The steps that would take the lab from what its previous apply made to this file;
/// changes nothing. `host` is where bridge nodes live; `state_dir` NULL is the default.
///
/// Equivalent to: `pipework diff FILE`.
///
/// # Safety
/// `topology` and `host` are live objects; `state_dir` is NULL or a NUL-terminated string;
/// `plan_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_topology_plan(
    topology: *const pipework_topology,
    host: *const pipework_handle,
    state_dir: *const c_char,
    plan_out: *mut *mut pipework_lab_plan,
) -> pipework_result {
    // SAFETY: the caller's contract.
    unsafe { lab_call(topology, host, state_dir, plan_out, topology::plan) }
}

/// Makes the lab what the file says, as one transaction (a failed step undoes the others);
/// `plan_out` gets the steps made.
///
/// Equivalent to: `pipework apply FILE`.
///
/// # Safety
/// As for `pipework_topology_plan`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_topology_apply(
    topology: *const pipework_topology,
    host: *const pipework_handle,
    state_dir: *const c_char,
    plan_out: *mut *mut pipework_lab_plan,
) -> pipework_result {
    // SAFETY: the caller's contract.
    unsafe { lab_call(topology, host, state_dir, plan_out, topology::apply) }
}

/// Removes what the applies of this lab made; `plan_out` gets the steps made.
///
/// Equivalent to: `pipework destroy FILE`.
///
/// # Safety
/// As for `pipework_topology_plan`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_topology_destroy(
    topology: *const pipework_topology,
    host: *const pipework_handle,
    state_dir: *const c_char,
    plan_out: *mut *mut pipework_lab_plan,
) -> pipework_result {
    // SAFETY: the caller's contract.
    unsafe {
        lab_call(topology, host, state_dir, plan_out, |host, topology, store| {
            topology::destroy(host, &topology.name, store)
        })
    }
}

/// Writes what the applies of this lab made, and whether each is in place now, as JSON
/// (`{"lab", "namespaces", "bridges", "links"}`, entries `{"item", "present"}`) to `buf`;
/// PIPEWORK_RESULT_NOT_FOUND when the lab has no record. Changes nothing.
///
/// Equivalent to: `pipework show --lab NAME --json`.
///
/// # Safety
/// As for `pipework_topology_plan`, with the string-out arguments of `pipework_topology_name`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_topology_status_to_json(
    topology: *const pipework_topology,
    host: *const pipework_handle,
    state_dir: *const c_char,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (topology, host, store, out) = unsafe {
            (
                borrow(topology, "topology")?,
                borrow(host, "host")?,
                store(state_dir)?,
                TextOut::new(buf, len, written_out)?,
            )
        };
        let lab = &topology.0.name;
        let status = topology::status(&host.0, lab, &store)?.ok_or_else(|| {
            pipework_core::Error::NotFound {
                op: pipework_core::error::Op::State,
                object: format!("lab {lab} (no record: never applied here, or destroyed)"),
            }
        })?;
        out.write(&json(&status)?)
    })
}

/// Releases the topology; NULL does nothing.
///
/// # Safety
/// `topology` is NULL or a topology not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_topology_free(topology: *mut pipework_topology) {
    // SAFETY: the caller's contract.
    unsafe { free(topology) }
}

/// How many steps the plan has (0: nothing to change, or nothing changed).
///
/// # Safety
/// `plan` is a live plan; `count_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_lab_plan_count(
    plan: *const pipework_lab_plan,
    count_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (plan, out) = unsafe { (borrow(plan, "plan")?, Out::new(count_out, "count_out")?) };
        out.write(plan.0.steps.len());
        Ok(())
    })
}

/// Writes the plan as JSON (`{"lab", "steps": [{"step": "add_link", "link": {...}}, ...]}`,
/// what `pipework apply --json` prints) to `buf`.
///
/// # Safety
/// `plan` is a live plan, with the string-out arguments of `pipework_topology_name`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_lab_plan_to_json(
    plan: *const pipework_lab_plan,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (plan, out) = unsafe { (borrow(plan, "plan")?, TextOut::new(buf, len, written_out)?) };
        out.write(&json(&plan.0)?)
    })
}

/// Releases the plan; NULL does nothing.
///
/// # Safety
/// `plan` is NULL or a plan not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_lab_plan_free(plan: *mut pipework_lab_plan) {
    // SAFETY: the caller's contract.
    unsafe { free(plan) }
}
