//! `pipework.tipc`: TIPC nodes, identities, bearers and the automatic bus over
//! `pipework_core::tipc`, conversion only.
//!
//! One file per room of the core's `tipc/`: `identity` (NodeId, TipcAddress), `bearer`
//! (BearerSpec), `node` (TipcNode and its read-back), `bus` (TipcBus and its report).

mod bearer;
mod bus;
mod identity;
mod node;

use pyo3::prelude::*;

use self::{
    bearer::PyBearerSpec,
    bus::{PyBusLink, PyBusNode, PyBusReport, PyTipcBus},
    identity::{PyNodeId, PyTipcAddress},
    node::{PyTipcBearer, PyTipcConfig, PyTipcLink, PyTipcNode, PyTipcPeer},
};

/// The classes of `pipework.tipc`, kept out of the top-level `pipework` namespace.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.setattr("NodeId", py.get_type::<PyNodeId>())?;
    m.setattr("TipcAddress", py.get_type::<PyTipcAddress>())?;
    m.setattr("BearerSpec", py.get_type::<PyBearerSpec>())?;
    m.setattr("TipcConfig", py.get_type::<PyTipcConfig>())?;
    m.setattr("TipcBearer", py.get_type::<PyTipcBearer>())?;
    m.setattr("TipcPeer", py.get_type::<PyTipcPeer>())?;
    m.setattr("TipcLink", py.get_type::<PyTipcLink>())?;
    m.setattr("TipcNode", py.get_type::<PyTipcNode>())?;
    m.setattr("TipcBus", py.get_type::<PyTipcBus>())?;
    m.setattr("BusReport", py.get_type::<PyBusReport>())?;
    m.setattr("BusNode", py.get_type::<PyBusNode>())?;
    m.setattr("BusLink", py.get_type::<PyBusLink>())?;
    Ok(())
}
