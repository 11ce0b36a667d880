//! pipework's records of what it attached, kept under /run/pipework so `detach` and `show`
//! work from another process, even after the engine forgot the container.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use crate::{
    attach::{AttachPlan, AttachStatus, Attachment, attach_keeping},
    dhcp::DhcpLease,
    error::{Error, Failures, Op, Result},
    handle::Handle,
    netns::NamespaceOrigin,
    resolve::Guest,
};

/// Where records are kept unless `PIPEWORK_STATE_DIR` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/run/pipework";

/// A directory of attachment records, one JSON file per guest interface.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

/// One record and where it is kept.
#[derive(Debug, Clone)]
pub struct Record {
    /// The record's file.
    pub path: PathBuf,
    /// What was attached.
    pub attachment: Attachment,
}

impl StateStore {
    /// A store in `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateStore { dir: dir.into() }
    }

    /// The store in `$PIPEWORK_STATE_DIR`, or /run/pipework.
    pub fn from_env() -> Self {
        Self::new(
            std::env::var_os("PIPEWORK_STATE_DIR")
                .map_or_else(|| PathBuf::from(DEFAULT_STATE_DIR), PathBuf::from),
        )
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds (or would hold) the record of `attachment`.
    pub fn path_of(&self, attachment: &Attachment) -> PathBuf {
        let guest = &attachment.guest.namespace;
        self.dir.join(format!("{}-{}.json", guest.ino, attachment.plan.guest_ifname))
    }

    /// Writes the record of `attachment` (atomically: a temporary file renamed over the old one).
    pub fn save(&self, attachment: &Attachment) -> Result<PathBuf> {
        let fail = |err: std::io::Error| Error::io(Op::State, self.dir.display().to_string(), &err);
        fs::create_dir_all(&self.dir).map_err(fail)?;
        let path = self.path_of(attachment);
        let temporary = path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(attachment).map_err(|err| Error::Protocol {
            op: Op::State,
            object: path.display().to_string(),
            detail: err.to_string(),
        })?;
        fs::File::create(&temporary).and_then(|mut f| f.write_all(&json)).map_err(fail)?;
        fs::rename(&temporary, &path).map_err(fail)?;
        Ok(path)
    }

    /// Attaches `guest` as [`attach_keeping`] does and records the attachment, so that a detach
    /// from any process finds it.
    ///
    /// A re-run of the same plan keeps the first record (it knows which default routes were
    /// replaced). When the record cannot be written, an attachment this call created is undone
    /// (its kept lease released first) and the error says why, with the undo's own failure beside
    /// it, if any: nothing is left that a detach could not find.
    pub fn attach(
        &self,
        host: &Handle,
        guest: &Guest,
        plan: &AttachPlan,
    ) -> Result<(Attachment, Option<DhcpLease>)> {
        let (attachment, kept) = attach_keeping(host, guest, plan)?;
        let created = attachment.status == AttachStatus::Created;
        if !created && self.path_of(&attachment).exists() {
            return Ok((attachment, kept));
        }
        let Err(err) = self.save(&attachment) else {
            return Ok((attachment, kept));
        };
        if !created {
            // Found in place, not made by this call: it is not this call's to undo.
            return Err(err);
        }
        let mut undo = Failures::new(
            Op::Detach,
            format!("{} of {guest}, which could not be recorded", attachment.plan.guest_ifname),
        );
        let mut unrecorded = attachment;
        if let Some(lease) = kept {
            undo.run(lease.release());
            // Released just now: the detach below has no lease left to release.
            unrecorded.dhcp = None;
        }
        let guest_handle = undo.run(Handle::new(&guest.namespace));
        undo.run(unrecorded.detach(host, guest_handle.as_ref()));
        Err(err.rolled_back(undo.finish()))
    }

    /// Every record; an unreadable record is an error naming its file.
    pub fn all(&self) -> Result<Vec<Record>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(Error::io(Op::State, self.dir.display().to_string(), &err)),
        };
        let mut records = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|err| Error::io(Op::State, self.dir.display().to_string(), &err))?
                .path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = fs::read(&path)
                .map_err(|err| Error::io(Op::State, path.display().to_string(), &err))?;
            let attachment = serde_json::from_slice(&text).map_err(|err| Error::Protocol {
                op: Op::State,
                object: path.display().to_string(),
                detail: err.to_string(),
            })?;
            records.push(Record { path, attachment });
        }
        records.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(records)
    }

    /// The records of the guest `target` names (and of interface `ifname` when given).
    ///
    /// A record matches the resolved guest's namespace, or, when the guest is gone, its
    /// recorded name, ID (or ID prefix), PID or namespace name.
    pub fn find(
        &self,
        target: &str,
        guest: Option<&Guest>,
        ifname: Option<&str>,
    ) -> Result<Vec<Record>> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|record| {
                let recorded = &record.attachment.guest;
                let same_namespace = guest.is_some_and(|g| g.namespace.id() == recorded.namespace);
                let same_name = recorded
                    .name
                    .as_deref()
                    .is_some_and(|n| n == target || n.trim_start_matches('/') == target);
                let same_id = recorded
                    .id
                    .as_deref()
                    .is_some_and(|id| target.len() >= 4 && id.starts_with(target));
                let same_pid = recorded.pid.is_some_and(|pid| pid.to_string() == target);
                let same_netns =
                    matches!(&recorded.origin, NamespaceOrigin::Named(n) if n == target);
                same_namespace || same_name || same_id || same_pid || same_netns
            })
            .filter(|record| ifname.is_none_or(|i| record.attachment.plan.guest_ifname == i))
            .collect())
    }

    /// Deletes a record.
    pub fn remove(&self, record: &Record) -> Result<()> {
        match fs::remove_file(&record.path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(Error::io(Op::State, record.path.display().to_string(), &err)),
        }
    }
}
