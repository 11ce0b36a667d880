//! pipework's records of what it attached, kept under /run/pipework so `detach` and `show`
//! work from another process, even after the engine forgot the container.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::{
    attach::{AttachPlan, AttachStatus, Attachment, Drift, attach_keeping},
    dhcp::DhcpLease,
    error::{Error, Failures, Op, Result},
    handle::Handle,
    netns::NamespaceOrigin,
    resolve::{Guest, GuestRecord},
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
        let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let json = serde_json::to_vec_pretty(attachment).map_err(|err| Error::Protocol {
            op: Op::State,
            object: path.display().to_string(),
            detail: err.to_string(),
        })?;
        let written = fs::File::create(&temporary)
            .and_then(|mut file| file.write_all(&json))
            .and_then(|()| fs::rename(&temporary, &path));
        if let Err(err) = written {
            // Best effort: a temporary file that was never created has nothing to remove.
            let _ = fs::remove_file(&temporary);
            return Err(Error::io(Op::State, path.display().to_string(), &err));
        }
        Ok(path)
    }

    /// Takes the store's lock, `.lock` in its directory (created if missing): attaches and
    /// detaches through the store, in any process, run one at a time while it is held.
    ///
    /// Equivalent to: `flock DIR/.lock`.
    pub fn lock(&self) -> Result<Locked<'_>> {
        let fail = |err: std::io::Error| Error::io(Op::State, self.dir.display().to_string(), &err);
        fs::create_dir_all(&self.dir).map_err(fail)?;
        let file = fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".lock"))
            .map_err(fail)?;
        let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| {
            Error::kernel(Op::State, format!("lock of {}", self.dir.display()), errno)
        })?;
        Ok(Locked { store: self, _lock: lock })
    }

    /// [`Locked::attach`] under the store's lock.
    pub fn attach(
        &self,
        host: &Handle,
        guest: &Guest,
        plan: &AttachPlan,
    ) -> Result<(Attachment, Option<DhcpLease>)> {
        self.lock()?.attach(host, guest, plan)
    }

    /// [`Locked::detach`] under the store's lock.
    pub fn detach(
        &self,
        host: &Handle,
        target: &str,
        guest: Option<&Guest>,
        ifname: Option<&str>,
    ) -> (Vec<Attachment>, Result<()>) {
        match self.lock() {
            Ok(locked) => locked.detach(host, target, guest, ifname),
            Err(err) => (Vec::new(), Err(err)),
        }
    }

    /// [`Locked::gc`] under the store's lock.
    pub fn gc(&self, host: &Handle, dry_run: bool) -> (Vec<Attachment>, Result<()>) {
        match self.lock() {
            Ok(locked) => locked.gc(host, dry_run),
            Err(err) => (Vec::new(), Err(err)),
        }
    }

    /// Compares each recorded attachment of the guest `target` names (see [`Self::find`]) with
    /// what the kernel has now ([`Attachment::check`]); no record at all is an error naming the
    /// store.
    pub fn check(
        &self,
        host: &Handle,
        target: &str,
        guest: Option<&Guest>,
    ) -> Result<Vec<Checked>> {
        let records = self.find(target, guest, None)?;
        if records.is_empty() {
            return Err(self.nothing_recorded(Op::Check, target, None));
        }
        records
            .into_iter()
            .map(|record| {
                let attachment = record.attachment;
                let namespace = match guest {
                    Some(g) if g.namespace.id() == attachment.guest.namespace => {
                        Some(g.namespace.try_clone()?)
                    }
                    _ => attachment.guest.reopen()?,
                };
                let guest_handle = namespace.as_ref().map(Handle::new).transpose()?;
                let drift = attachment.check(host, guest_handle.as_ref())?;
                Ok(Checked { attachment, drift })
            })
            .collect()
    }

    fn nothing_recorded(&self, op: Op, target: &str, ifname: Option<&str>) -> Error {
        Error::NotFound {
            op,
            object: format!(
                "an attachment of {target}{} in pipework's records ({})",
                ifname.map(|i| format!(" as {i}")).unwrap_or_default(),
                self.dir.display()
            ),
        }
    }

    /// Every record; an unreadable record is an error naming its file.
    pub fn all(&self) -> Result<Vec<Record>> {
        self.matching(|_| true)
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
        self.matching(|owner| {
            let recorded = &owner.guest;
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
            let same_netns = matches!(&recorded.origin, NamespaceOrigin::Named(n) if n == target);
            (same_namespace || same_name || same_id || same_pid || same_netns)
                && ifname.is_none_or(|i| owner.plan.guest_ifname == i)
        })
    }

    /// The records whose owner (guest and interface, read first) `wanted` accepts, in file order.
    fn matching(&self, wanted: impl Fn(&Owner) -> bool) -> Result<Vec<Record>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(Error::io(Op::State, self.dir.display().to_string(), &err)),
        };
        let unreadable = |path: &Path, detail: String| Error::Protocol {
            op: Op::State,
            object: path.display().to_string(),
            detail,
        };
        let mut records = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|err| Error::io(Op::State, self.dir.display().to_string(), &err))?
                .path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = match fs::read(&path) {
                Ok(text) => text,
                // Removed by a detach since the directory was listed.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(Error::io(Op::State, path.display().to_string(), &err)),
            };
            // Only the owner first: with many records, most are someone else's.
            let owner: Owner =
                serde_json::from_slice(&text).map_err(|err| unreadable(&path, err.to_string()))?;
            if !wanted(&owner) {
                continue;
            }
            let attachment =
                serde_json::from_slice(&text).map_err(|err| unreadable(&path, err.to_string()))?;
            records.push(Record { path, attachment });
        }
        records.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(records)
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

/// A recorded attachment and how it differs from the kernel's state now (empty: intact).
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// What was attached.
    pub attachment: Attachment,
    /// Every difference found.
    pub drift: Vec<Drift>,
}

/// Whose a record is: the parts of an [`Attachment`] a look-up reads.
#[derive(Deserialize)]
struct Owner {
    guest: GuestRecord,
    plan: OwnerPlan,
}

/// The part of the plan a look-up reads.
#[derive(Deserialize)]
struct OwnerPlan {
    guest_ifname: String,
}

/// The store while its lock is held (see [`StateStore::lock`]); dropping it releases the lock.
#[derive(Debug)]
pub struct Locked<'a> {
    store: &'a StateStore,
    _lock: Flock<fs::File>,
}

impl Locked<'_> {
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
        if !created && self.store.path_of(&attachment).exists() {
            return Ok((attachment, kept));
        }
        let Err(err) = self.store.save(&attachment) else {
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

    /// Undoes the recorded attachments of the guest `target` names (see [`StateStore::find`];
    /// only interface `ifname` when given) and forgets them: the attachments undone, and the
    /// failures.
    ///
    /// Every record gets its detach; one that fails keeps its record, so the detach can be
    /// retried. No record at all is an error naming the store.
    pub fn detach(
        &self,
        host: &Handle,
        target: &str,
        guest: Option<&Guest>,
        ifname: Option<&str>,
    ) -> (Vec<Attachment>, Result<()>) {
        let records = match self.store.find(target, guest, ifname) {
            Ok(records) if records.is_empty() => {
                return (Vec::new(), Err(self.store.nothing_recorded(Op::Detach, target, ifname)));
            }
            Ok(records) => records,
            Err(err) => return (Vec::new(), Err(err)),
        };
        let guest_handle = match guest.map(|g| Handle::new(&g.namespace)).transpose() {
            Ok(handle) => handle,
            Err(err) => return (Vec::new(), Err(err)),
        };
        let mut done = Vec::new();
        let mut failures = Failures::new(Op::Detach, target);
        for record in records {
            // The guest's handle only for its own records: one found by name may be of an
            // earlier namespace of that guest, whose interfaces went with it.
            let same = guest.is_some_and(|g| g.namespace.id() == record.attachment.guest.namespace);
            let detached = record.attachment.detach(host, guest_handle.as_ref().filter(|_| same));
            if failures.run(detached.and_then(|()| self.store.remove(&record))).is_some() {
                done.push(record.attachment);
            }
        }
        (done, failures.finish())
    }

    /// Removes the records and host sides of guests that are gone
    /// ([`Attachment::guest_gone`]): what each detach would still find in the host (a bridge
    /// or VLAN sub-interface pipework created, now unused; an OVS port; a macvlan shim).
    ///
    /// Returns the attachments collected (with `dry_run`, those that would be, and nothing
    /// changes) and the failures; a record whose cleanup fails is kept, so gc can be retried.
    /// Records made in another host namespace than `host`'s are left alone.
    pub fn gc(&self, host: &Handle, dry_run: bool) -> (Vec<Attachment>, Result<()>) {
        let records = match self.store.all() {
            Ok(records) => records,
            Err(err) => return (Vec::new(), Err(err)),
        };
        let mut done = Vec::new();
        let mut failures = Failures::new(Op::Detach, "the attachments of guests that are gone");
        for record in records {
            let attachment = &record.attachment;
            if attachment.host_namespace != host.namespace_id()
                || failures.run(attachment.guest_gone(host)) != Some(true)
            {
                continue;
            }
            let collected = match dry_run {
                true => Ok(()),
                false => attachment.detach(host, None).and_then(|()| self.store.remove(&record)),
            };
            if failures.run(collected).is_some() {
                done.push(record.attachment);
            }
        }
        (done, failures.finish())
    }
}
