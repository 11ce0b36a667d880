//! Network namespaces as owned file descriptors, and the only code that switches a thread into one.

use std::{
    ffi::CString,
    fmt,
    fs::{self, File, OpenOptions},
    io,
    os::{
        fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd},
        unix::{
            ffi::OsStrExt,
            fs::{MetadataExt, OpenOptionsExt},
            process::CommandExt,
        },
    },
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
    thread::JoinHandle,
};

use nix::{
    errno::Errno,
    mount::{MntFlags, MsFlags, mount, umount2},
    sched::{CloneFlags, setns, unshare},
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Op, Result};

/// Where `ip netns` keeps named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// `NS_GET_NSTYPE` from `linux/nsfs.h`: asks an nsfs file which kind of namespace it is.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Serialises the one-time setup of /run/netns within this process.
static RUN_DIR_SETUP: Mutex<()> = Mutex::new(());

/// The identity of a namespace: the device and inode of its nsfs file, as `stat -L` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NamespaceId {
    /// Device number of the nsfs file.
    pub dev: u64,
    /// Inode number (the number in `net:[4026531833]`).
    pub ino: u64,
}

impl fmt::Display for NamespaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "net:[{}]", self.ino)
    }
}

/// How a [`Namespace`] was obtained, which is also how it can be found again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceOrigin {
    /// The namespace of the calling thread.
    Current,
    /// The namespace of a process.
    Pid(u32),
    /// A file that refers to a namespace (a bind mount, `/proc/PID/ns/net`).
    Path(PathBuf),
    /// A namespace named in /run/netns, like `ip netns`.
    Named(String),
    /// A namespace that only lives as long as its file descriptor.
    Anonymous,
}

/// A network namespace, held open by its file descriptor.
#[derive(Debug)]
pub struct Namespace {
    fd: OwnedFd,
    id: NamespaceId,
    origin: NamespaceOrigin,
}

impl Namespace {
    /// The namespace of the calling thread.
    ///
    /// Equivalent to: `ip netns identify` (for the current process).
    pub fn current() -> Result<Self> {
        Self::open("/proc/thread-self/ns/net", NamespaceOrigin::Current)
    }

    /// The namespace of process `pid`.
    ///
    /// Equivalent to: `ip netns attach NAME PID` without creating a name.
    pub fn from_pid(pid: u32) -> Result<Self> {
        if pid == 0 {
            return Err(Error::invalid("pid", "0", "PID 0 is not a process"));
        }
        let path = format!("/proc/{pid}/ns/net");
        Self::open(&path, NamespaceOrigin::Pid(pid)).map_err(|err| match err.errno() {
            Errno::ENOENT => {
                Error::NotFound { op: Op::OpenNamespace, object: format!("process {pid}") }
            }
            _ => err,
        })
    }

    /// The namespace referred to by a file, such as a bind mount or Docker's SandboxKey.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::open(path, NamespaceOrigin::Path(path.to_path_buf()))
    }

    /// The namespace named `name` in /run/netns.
    ///
    /// Equivalent to: `ip netns exec NAME ...` (the lookup part).
    pub fn from_name(name: &str) -> Result<Self> {
        validate_name(name)?;
        let path = Path::new(NETNS_RUN_DIR).join(name);
        Self::open(&path, NamespaceOrigin::Named(name.to_string())).map_err(|err| {
            match err.errno() {
                Errno::ENOENT => Error::NotFound {
                    op: Op::OpenNamespace,
                    object: format!("network namespace {name:?} (in {NETNS_RUN_DIR})"),
                },
                _ => err,
            }
        })
    }

    /// Creates a new namespace and persists it under /run/netns/`name`.
    ///
    /// Equivalent to: `ip netns add NAME`.
    pub fn create_named(name: &str) -> Result<Self> {
        validate_name(name)?;
        prepare_run_dir()?;
        let path = Path::new(NETNS_RUN_DIR).join(name);
        let object = format!("{name:?}");
        OpenOptions::new().write(true).create_new(true).mode(0o444).open(&path).map_err(|err| {
            match err.kind() {
                io::ErrorKind::AlreadyExists => Error::AlreadyExists {
                    op: Op::CreateNamespace,
                    object: format!("network namespace {name:?}"),
                    hint: "choose another name or delete it with `ip netns del`".into(),
                },
                _ => Error::io(Op::CreateNamespace, object.clone(), &err),
            }
        })?;
        let bound = with_new_namespace(|| {
            mount(
                Some("/proc/thread-self/ns/net"),
                &path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|errno| Error::kernel(Op::CreateNamespace, object.clone(), errno))
        });
        let remove =
            || fs::remove_file(&path).map_err(|err| Error::io(Op::DeleteNamespace, &object, &err));
        if let Err(err) = bound {
            return Err(err.rolled_back(remove()));
        }
        Self::open(&path, NamespaceOrigin::Named(name.to_string())).map_err(|err| {
            let unmounted = umount2(&path, MntFlags::MNT_DETACH)
                .map_err(|errno| Error::kernel(Op::DeleteNamespace, &object, errno));
            err.rolled_back(unmounted.and_then(|()| remove()))
        })
    }

    /// Creates a new namespace that lives as long as the returned value (or a link or process in it).
    ///
    /// Equivalent to: `unshare --net` without a process.
    pub fn create_anonymous() -> Result<Self> {
        let fd = with_new_namespace(|| {
            File::open("/proc/thread-self/ns/net")
                .map(OwnedFd::from)
                .map_err(|err| Error::io(Op::CreateNamespace, "anonymous namespace", &err))
        })?;
        Self::from_fd(fd, NamespaceOrigin::Anonymous)
    }

    /// Deletes a named namespace; anonymous ones end when they are dropped.
    ///
    /// Equivalent to: `ip netns del NAME`. The kernel destroys the namespace, and the
    /// virtual links in it, once no process or descriptor holds it any more.
    pub fn delete(self) -> Result<()> {
        match &self.origin {
            NamespaceOrigin::Named(name) => {
                let path = Path::new(NETNS_RUN_DIR).join(name);
                drop(self.fd);
                umount2(&path, MntFlags::MNT_DETACH).map_err(|errno| {
                    Error::kernel(Op::DeleteNamespace, format!("{name:?}"), errno)
                })?;
                fs::remove_file(&path)
                    .map_err(|err| Error::io(Op::DeleteNamespace, format!("{name:?}"), &err))
            }
            NamespaceOrigin::Anonymous => Ok(()),
            _ => Err(Error::Unsupported {
                op: Op::DeleteNamespace,
                object: self.to_string(),
                reason: "only named and anonymous namespaces created by pipework can be deleted"
                    .into(),
            }),
        }
    }

    /// Deletes the named namespace `name` of /run/netns without opening it first (a lab's
    /// teardown of the namespaces its record says it created); the kernel frees it once
    /// nothing else holds it.
    ///
    /// Equivalent to: `ip netns del NAME`.
    pub fn delete_named(name: &str) -> Result<()> {
        validate_name(name)?;
        let path = Path::new(NETNS_RUN_DIR).join(name);
        umount2(&path, MntFlags::MNT_DETACH).map_err(|errno| match errno {
            Errno::ENOENT => Error::NotFound {
                op: Op::DeleteNamespace,
                object: format!("network namespace {name:?} (in {NETNS_RUN_DIR})"),
            },
            _ => Error::kernel(Op::DeleteNamespace, format!("{name:?}"), errno),
        })?;
        fs::remove_file(&path)
            .map_err(|err| Error::io(Op::DeleteNamespace, format!("{name:?}"), &err))
    }

    /// A command that runs `program` inside this namespace (the child enters it before exec),
    /// without `ip netns exec`'s mount namespace and sysfs remount.
    ///
    /// Equivalent to: `nsenter --net=NS PROGRAM`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Result<std::process::Command> {
        use std::os::unix::process::CommandExt;
        let fd = std::sync::Arc::new(
            self.fd
                .try_clone()
                .map_err(|err| Error::io(Op::EnterNamespace, self.to_string(), &err))?,
        );
        let mut command = std::process::Command::new(program);
        // SAFETY: the closure only makes the setns system call, which is async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                if libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            });
        }
        Ok(command)
    }

    /// Another descriptor for the same namespace.
    pub fn try_clone(&self) -> Result<Self> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|err| Error::io(Op::OpenNamespace, self.to_string(), &err))?;
        Ok(Namespace { fd, id: self.id, origin: self.origin.clone() })
    }

    /// The identity of this namespace (device and inode).
    pub fn id(&self) -> NamespaceId {
        self.id
    }

    /// How this namespace was obtained.
    pub fn origin(&self) -> &NamespaceOrigin {
        &self.origin
    }

    /// The name under /run/netns, when it has one.
    pub fn name(&self) -> Option<&str> {
        match &self.origin {
            NamespaceOrigin::Named(name) => Some(name),
            _ => None,
        }
    }

    fn open(path: impl AsRef<Path>, origin: NamespaceOrigin) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path)
            .map_err(|err| Error::io(Op::OpenNamespace, path.display().to_string(), &err))?;
        Self::from_fd(OwnedFd::from(file), origin)
    }

    /// Takes a descriptor inherited from a parent process (checked to be a network namespace).
    pub(crate) fn from_inherited_fd(fd: OwnedFd) -> Result<Self> {
        let origin =
            NamespaceOrigin::Path(PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())));
        Self::from_fd(fd, origin)
    }

    /// Runs `work` on a new thread that stays inside this namespace for its whole life.
    ///
    /// Sockets the thread opens (raw DHCP sockets, UDP) belong to this namespace.
    pub(crate) fn spawn_thread<T: Send + 'static>(
        &self,
        name: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<JoinHandle<Result<T>>> {
        let namespace = self.try_clone()?;
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let _inside = NamespaceGuard::enter(&namespace)?;
                Ok(work())
            })
            .map_err(|err| Error::io(Op::EnterNamespace, self.to_string(), &err))
    }

    /// Runs `work` on the calling thread inside this namespace, then comes back (also when
    /// `work` panics): for opening a socket or a sysctl file that must belong to this namespace.
    pub(crate) fn within<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        let _inside = NamespaceGuard::enter(self)?;
        work()
    }

    /// Makes `command`'s process enter this namespace between fork and exec.
    ///
    /// With `isolation`, the process also gets a private mount namespace (a slave of the
    /// caller's, so nothing it mounts propagates back) where files are bind-mounted over
    /// others, and a private UTS namespace with the given host name: a DHCP client's hook
    /// script then writes resolv.conf to pipework's file and sets the host name of nobody
    /// but itself. No `ip netns exec` is run.
    pub(crate) fn enter_in_child(
        &self,
        command: &mut Command,
        isolation: Option<&ChildIsolation>,
    ) -> Result<()> {
        let fd =
            self.fd.try_clone().map_err(|e| Error::io(Op::EnterNamespace, self.to_string(), &e))?;
        let to_c = |argument: &str, text: &[u8]| {
            CString::new(text).map_err(|_| {
                Error::invalid(argument, String::from_utf8_lossy(text), "contains a NUL byte")
            })
        };
        let binds = isolation
            .map(|i| i.binds.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|(file, over)| {
                Ok((
                    to_c("path", file.as_os_str().as_bytes())?,
                    to_c("path", over.as_os_str().as_bytes())?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let hostname = isolation.and_then(|i| i.hostname.clone()).map(String::into_bytes);
        let isolate = isolation.is_some();
        let in_child = move || -> io::Result<()> {
            // Only system calls from here on: this runs in the forked child before exec.
            setns(&fd, CloneFlags::CLONE_NEWNET)?;
            if isolate {
                unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS)?;
                mount(
                    None::<&str>,
                    c"/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_SLAVE,
                    None::<&str>,
                )?;
                for (file, over) in &binds {
                    mount(
                        Some(file.as_c_str()),
                        over.as_c_str(),
                        None::<&str>,
                        MsFlags::MS_BIND,
                        None::<&str>,
                    )?;
                }
                if let Some(name) = &hostname {
                    // SAFETY: the pointer and length describe `name`, which outlives the call.
                    if unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
            }
            Ok(())
        };
        // SAFETY: the closure only makes system calls (setns, unshare, mount, sethostname)
        // on memory prepared before the fork; it allocates nothing and takes no lock.
        unsafe { command.pre_exec(in_child) };
        Ok(())
    }

    fn from_fd(fd: OwnedFd, origin: NamespaceOrigin) -> Result<Self> {
        let describe = || match &origin {
            NamespaceOrigin::Path(p) => p.display().to_string(),
            other => format!("{other:?}"),
        };
        // SAFETY: NS_GET_NSTYPE takes no argument and only reads the descriptor.
        let kind = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
        if kind < 0 {
            let errno = Errno::last();
            return Err(match errno {
                Errno::ENOTTY | Errno::EINVAL => Error::invalid(
                    "namespace path",
                    describe(),
                    "not a namespace file (expected /proc/PID/ns/net or a bind mount of one)",
                ),
                _ => Error::kernel(Op::OpenNamespace, describe(), errno),
            });
        }
        if kind != libc::CLONE_NEWNET {
            return Err(Error::invalid(
                "namespace path",
                describe(),
                "refers to a namespace that is not a network namespace",
            ));
        }
        let meta =
            File::from(fd.try_clone().map_err(|e| Error::io(Op::OpenNamespace, describe(), &e))?)
                .metadata()
                .map_err(|err| Error::io(Op::OpenNamespace, describe(), &err))?;
        let id = NamespaceId { dev: meta.dev(), ino: meta.ino() };
        Ok(Namespace { fd, id, origin })
    }
}

impl AsFd for Namespace {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl PartialEq for Namespace {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Namespace {}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            NamespaceOrigin::Current => write!(f, "current netns {}", self.id),
            NamespaceOrigin::Pid(pid) => write!(f, "netns of pid {pid} {}", self.id),
            NamespaceOrigin::Path(path) => write!(f, "netns {} {}", path.display(), self.id),
            NamespaceOrigin::Named(name) => write!(f, "netns {name:?} {}", self.id),
            NamespaceOrigin::Anonymous => write!(f, "anonymous netns {}", self.id),
        }
    }
}

/// Checks a /run/netns name the way `ip netns` does (no `/`, not `.` or `..`, not empty).
fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "is empty"
    } else if name == "." || name == ".." {
        "is not a name"
    } else if name.contains('/') {
        "contains '/' (give a path with from_path instead)"
    } else if name.len() > 255 {
        "is longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(Error::invalid("netns name", name, reason))
}

/// Makes /run/netns exist and be a shared mount point, as `ip netns add` does.
fn prepare_run_dir() -> Result<()> {
    let _lock = RUN_DIR_SETUP.lock().unwrap_or_else(|p| p.into_inner());
    let dir = Path::new(NETNS_RUN_DIR);
    fs::create_dir_all(dir).map_err(|err| Error::io(Op::CreateNamespace, NETNS_RUN_DIR, &err))?;
    let make_shared = || {
        mount(None::<&str>, dir, None::<&str>, MsFlags::MS_SHARED | MsFlags::MS_REC, None::<&str>)
    };
    match make_shared() {
        Ok(()) => Ok(()),
        // Not yet a mount point: bind it onto itself first, then share it.
        Err(Errno::EINVAL) => {
            mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                .and_then(|()| make_shared())
        }
        Err(errno) => Err(errno),
    }
    .map_err(|errno| Error::kernel(Op::CreateNamespace, NETNS_RUN_DIR, errno))
}

/// Runs `f` on the calling thread inside a brand-new network namespace, then switches back.
fn with_new_namespace<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let mut guard = NamespaceGuard::save()?;
    unshare(CloneFlags::CLONE_NEWNET)
        .map_err(|errno| Error::kernel(Op::CreateNamespace, "new namespace", errno))?;
    guard.switched = true;
    let result = f();
    drop(guard);
    result
}

/// What a child process gets besides the network namespace (see [`Namespace::enter_in_child`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct ChildIsolation {
    /// `(file, over)`: bind-mount `file` over `over` in the child's private mount namespace.
    pub(crate) binds: Vec<(PathBuf, PathBuf)>,
    /// The host name of the child's private UTS namespace.
    pub(crate) hostname: Option<String>,
}

/// Keeps the calling thread's namespace and switches back to it on drop, even when unwinding.
pub(crate) struct NamespaceGuard {
    original: OwnedFd,
    switched: bool,
}

impl NamespaceGuard {
    /// Remembers the calling thread's namespace without leaving it.
    ///
    /// The guard switches back on drop only once `switched` is set, after a successful
    /// `unshare` or `setns`: returning needs CAP_SYS_ADMIN, which a failed switch may lack.
    fn save() -> Result<Self> {
        let original = File::open("/proc/thread-self/ns/net")
            .map_err(|err| Error::io(Op::EnterNamespace, "/proc/thread-self/ns/net", &err))?;
        Ok(NamespaceGuard { original: original.into(), switched: false })
    }

    /// Switches the calling thread into `ns` until the guard is dropped.
    pub(crate) fn enter(ns: &Namespace) -> Result<Self> {
        if let Some(errno) = crate::handle::injected(Op::EnterNamespace) {
            return Err(Error::kernel(Op::EnterNamespace, ns.to_string(), errno));
        }
        let mut guard = Self::save()?;
        let here = File::from(
            guard
                .original
                .try_clone()
                .map_err(|e| Error::io(Op::EnterNamespace, ns.to_string(), &e))?,
        )
        .metadata()
        .map_err(|e| Error::io(Op::EnterNamespace, ns.to_string(), &e))?;
        if here.dev() == ns.id.dev && here.ino() == ns.id.ino {
            return Ok(guard);
        }
        setns(ns, CloneFlags::CLONE_NEWNET)
            .map_err(|errno| Error::kernel(Op::EnterNamespace, ns.to_string(), errno))?;
        guard.switched = true;
        Ok(guard)
    }
}

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        if self.switched && setns(&self.original, CloneFlags::CLONE_NEWNET).is_err() {
            // A thread left in a foreign namespace would configure the wrong container.
            eprintln!("pipework: cannot return a thread to its network namespace; aborting");
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_like_ip_netns() {
        for bad in ["", ".", "..", "a/b"] {
            let err = validate_name(bad).unwrap_err();
            assert_eq!(err.errno(), Errno::EINVAL, "{bad:?}");
            assert!(err.to_string().contains("netns name"), "{err}");
        }
        assert!(validate_name("container-1").is_ok());
    }

    #[test]
    fn pid_zero_is_refused() {
        let err = Namespace::from_pid(0).unwrap_err();
        assert!(err.to_string().contains("PID 0"), "{err}");
    }

    #[test]
    fn a_regular_file_is_not_a_namespace() {
        let err = Namespace::from_path("/proc/self/status").unwrap_err();
        assert_eq!(err.errno(), Errno::EINVAL, "{err}");
        assert!(err.to_string().contains("not a namespace file"), "{err}");
    }

    #[test]
    fn the_current_namespace_equals_the_process_namespace() {
        let a = Namespace::current().expect("current");
        let b = Namespace::from_pid(std::process::id()).expect("own pid");
        assert_eq!(a, b);
        assert_eq!(a.id(), b.id());
        assert!(a.to_string().starts_with("current netns net:["), "{a}");
    }
}
