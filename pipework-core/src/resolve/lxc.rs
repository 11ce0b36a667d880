//! LXC containers: the init process found from the container's cgroup, from LXC's command
//! socket, or as a last resort from `lxc-info`.

use std::{
    env, fmt, fs,
    io::{self, Read, Write},
    os::{
        linux::net::SocketAddrExt,
        unix::{
            fs::MetadataExt,
            net::{SocketAddr, UnixStream},
        },
    },
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use nix::errno::Errno;

use super::{
    Engine, Guest, Resolution, Resolver,
    process::{self, Process},
};
use crate::error::{Error, Op, Result};

/// Where LXC keeps containers when neither `LXC_PATH` nor /etc/lxc/lxc.conf says otherwise.
pub const DEFAULT_LXC_PATH: &str = "/var/lib/lxc";
/// LXC's system configuration, which may set `lxc.lxcpath`.
const LXC_SYSTEM_CONFIG: &str = "/etc/lxc/lxc.conf";
/// `LXC_CMD_GET_INIT_PID` of LXC's `lxc_cmd_t` (src/lxc/commands.h).
const LXC_CMD_GET_INIT_PID: i32 = 4;
/// `sizeof(sun_path) - 2`: an abstract name this long or longer is hashed by LXC.
const ABSTRACT_NAME_ROOM: usize = 106;
/// How long the container's monitor may take to answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// One way of finding an LXC container's init process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LxcLookup {
    /// The `lxc.payload.<name>` cgroup (cgroup v2, or any v1 hierarchy): its process that is
    /// PID 1 of its own PID namespace. Reads /sys and /proc only.
    Cgroup,
    /// The container monitor's abstract socket `@<lxcpath>/<name>/command`, asked
    /// `LXC_CMD_GET_INIT_PID`.
    CommandSocket,
    /// `lxc-info -P <lxcpath> -n <name> -s -p`.
    LxcInfo,
}

impl fmt::Display for LxcLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LxcLookup::Cgroup => "cgroup",
            LxcLookup::CommandSocket => "command socket",
            LxcLookup::LxcInfo => "lxc-info",
        })
    }
}

/// Resolves the name of an LXC container defined in one lxcpath.
///
/// Equivalent to: `lxc-info -P LXCPATH -n NAME -p`.
#[derive(Debug, Clone)]
pub struct LxcResolver {
    lxcpath: PathBuf,
    lookups: Vec<LxcLookup>,
}

/// What one lookup learnt about the container.
enum Verdict {
    Running(u32),
    Stopped,
    Unknown(String),
}

impl LxcResolver {
    /// The lxcpath from `$LXC_PATH`, else `lxc.lxcpath` in /etc/lxc/lxc.conf, else /var/lib/lxc.
    pub fn from_env() -> Self {
        let lxcpath = env::var_os("LXC_PATH")
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
            .or_else(|| configured_lxcpath(&fs::read_to_string(LXC_SYSTEM_CONFIG).ok()?))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LXC_PATH));
        Self::new(lxcpath)
    }

    /// Containers of `lxcpath`, looked up by cgroup, then command socket, then `lxc-info`.
    pub fn new(lxcpath: impl Into<PathBuf>) -> Self {
        LxcResolver {
            lxcpath: lxcpath.into(),
            lookups: vec![LxcLookup::Cgroup, LxcLookup::CommandSocket, LxcLookup::LxcInfo],
        }
    }

    /// Uses only these lookups, in this order.
    pub fn lookups(mut self, lookups: &[LxcLookup]) -> Self {
        self.lookups = lookups.to_vec();
        self
    }

    /// The lxcpath whose containers this resolver knows.
    pub fn lxcpath(&self) -> &Path {
        &self.lxcpath
    }

    fn describe(&self, name: &str) -> String {
        format!("lxc container {name:?} in {}", self.lxcpath.display())
    }

    fn lookup(&self, lookup: LxcLookup, name: &str) -> Verdict {
        match lookup {
            LxcLookup::Cgroup => self.init_from_cgroup(name),
            LxcLookup::CommandSocket => self.init_from_command_socket(name),
            LxcLookup::LxcInfo => self.init_from_lxc_info(name),
        }
    }

    /// The process of `lxc.payload.<name>` that is PID 1 of its PID namespace; the monitor
    /// (in `lxc.monitor.<name>`, in the host's PID namespace) and the container's other
    /// processes never qualify.
    fn init_from_cgroup(&self, name: &str) -> Verdict {
        let Ok(mountinfo) = fs::read_to_string("/proc/self/mountinfo") else {
            return Verdict::Unknown("/proc/self/mountinfo is unreadable".into());
        };
        for mount in cgroup_mounts(&mountinfo) {
            for dir in [format!("lxc.payload.{name}"), format!("lxc/{name}")] {
                let Ok(procs) = fs::read_to_string(mount.join(&dir).join("cgroup.procs")) else {
                    continue;
                };
                let mut inits: Vec<(usize, u32)> = procs
                    .lines()
                    .filter_map(|line| line.trim().parse().ok())
                    .filter_map(|pid| Some((process::init_depth(pid)?, pid)))
                    .filter(|&(_, pid)| self.monitor_agrees(pid, name))
                    .collect();
                inits.sort_unstable();
                match inits.as_slice() {
                    [] => continue,
                    [(depth, pid), rest @ ..] if rest.first().is_none_or(|(d, _)| d > depth) => {
                        return Verdict::Running(*pid);
                    }
                    _ => {
                        let pids: Vec<String> = inits.iter().map(|(_, p)| p.to_string()).collect();
                        return Verdict::Unknown(format!(
                            "cgroup {} has several init processes ({})",
                            mount.join(&dir).display(),
                            pids.join(", ")
                        ));
                    }
                }
            }
        }
        Verdict::Unknown(format!("no cgroup lxc.payload.{name} with an init process"))
    }

    /// False when `pid`'s parent is the monitor of a same-named container of another lxcpath.
    fn monitor_agrees(&self, pid: u32, name: &str) -> bool {
        let Some(parent) = process::status_field(pid, "PPid") else { return false };
        let Ok(cmdline) = fs::read(format!("/proc/{parent}/cmdline")) else { return true };
        let cmdline = String::from_utf8_lossy(&cmdline);
        let Some(monitored) = cmdline.trim_end_matches('\0').strip_prefix("[lxc monitor] ") else {
            return true;
        };
        match monitored.strip_suffix(&format!(" {name}")) {
            Some(lxcpath) => same_path(Path::new(lxcpath), &self.lxcpath),
            None => false,
        }
    }

    /// Asks the container's monitor for the init PID over LXC's command socket.
    fn init_from_command_socket(&self, name: &str) -> Verdict {
        let socket_name = command_socket_name(&self.lxcpath.to_string_lossy(), name);
        let shown = String::from_utf8_lossy(&socket_name).into_owned();
        match ask_init_pid(&socket_name) {
            Ok(pid) if pid > 0 => Verdict::Running(pid as u32),
            Ok(pid) => Verdict::Unknown(format!("the monitor at @{shown} answered init PID {pid}")),
            // Nothing listens here: stopped, or its monitor is in another network namespace.
            Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                match self.monitor_elsewhere(name) {
                    Some(why) => Verdict::Unknown(format!("nothing listens at @{shown}: {why}")),
                    None => Verdict::Stopped,
                }
            }
            Err(err) => Verdict::Unknown(format!("@{shown}: {err}")),
        }
    }

    /// Why the container's monitor cannot be reached over its command socket, when a monitor
    /// process (`[lxc monitor] LXCPATH NAME`) runs in another network namespace than this
    /// thread: the socket is abstract, so it exists in one network namespace only.
    fn monitor_elsewhere(&self, name: &str) -> Option<String> {
        let here = fs::metadata("/proc/thread-self/ns/net").ok()?;
        let suffix = format!(" {name}");
        fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            let monitored = cmdline.trim_end_matches('\0').strip_prefix("[lxc monitor] ")?;
            let lxcpath = monitored.strip_suffix(&suffix)?;
            if !same_path(Path::new(lxcpath), &self.lxcpath) {
                return None;
            }
            let there = fs::metadata(format!("/proc/{pid}/ns/net")).ok()?;
            ((there.dev(), there.ino()) != (here.dev(), here.ino())).then(|| {
                format!(
                    "its monitor (PID {pid}) runs in network namespace net:[{}] and this one is \
                     net:[{}]; LXC's command socket is abstract, so it can only be reached from \
                     the monitor's network namespace, and the container may well be running",
                    there.ino(),
                    here.ino()
                )
            })
        })
    }

    /// Runs `lxc-info`, the last resort.
    fn init_from_lxc_info(&self, name: &str) -> Verdict {
        let output = Command::new("lxc-info")
            .arg("-P")
            .arg(&self.lxcpath)
            .args(["-n", name, "-s", "-p"])
            .output();
        let output = match output {
            Ok(output) => output,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Verdict::Unknown("lxc-info is not installed".into());
            }
            Err(err) => return Verdict::Unknown(format!("lxc-info: {err}")),
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Verdict::Unknown(format!("lxc-info failed: {}", stderr.trim()));
        }
        let field = |key: &str| {
            stdout.lines().find_map(|line| {
                let (k, v) = line.split_once(':')?;
                (k.trim() == key).then(|| v.trim().to_string())
            })
        };
        match (field("State").as_deref(), field("PID").and_then(|p| p.parse().ok())) {
            // lxc-info asks the same command socket, from this network namespace.
            (Some("STOPPED"), _) => match self.monitor_elsewhere(name) {
                Some(why) => Verdict::Unknown(format!("lxc-info says STOPPED, but {why}")),
                None => Verdict::Stopped,
            },
            (_, Some(pid)) if pid > 0 => Verdict::Running(pid),
            _ => Verdict::Unknown(format!("lxc-info printed no PID: {:?}", stdout.trim())),
        }
    }

    /// The guest of init process `pid`, checked to be an init and opened before it can be recycled.
    fn open(&self, name: &str, pid: u32) -> Result<Guest> {
        let process = Process::of(pid)?;
        if process::init_depth(pid).is_none() {
            return Err(Error::Conflict {
                op: Op::Resolve,
                object: format!("process {pid}"),
                reason: "it is not PID 1 of a PID namespace, so not a container's init".into(),
            });
        }
        let namespace = process.open_namespace()?;
        Ok(Guest::from_process(namespace, process, Engine::Lxc, Some(name.to_string()), None))
    }
}

impl Resolver for LxcResolver {
    fn name(&self) -> &str {
        "lxc"
    }

    fn resolve(&self, target: &str) -> Result<Resolution> {
        if let Err(err) = validate_lxc_name(target) {
            return Ok(Resolution::NotMine(err));
        }
        let config = self.lxcpath.join(target).join("config");
        if !config.exists() {
            return Ok(Resolution::NotMine(Error::NotFound {
                op: Op::Resolve,
                object: format!("{} (no {})", self.describe(target), config.display()),
            }));
        }
        let mut answers = Vec::new();
        for &lookup in &self.lookups {
            match self.lookup(lookup, target) {
                Verdict::Running(pid) => match self.open(target, pid) {
                    Ok(guest) => return Ok(Resolution::Found(guest)),
                    Err(err) => answers.push(format!("{lookup}: PID {pid}: {err}")),
                },
                Verdict::Stopped => {
                    return Err(Error::Conflict {
                        op: Op::Resolve,
                        object: self.describe(target),
                        reason: format!("it is stopped ({lookup}); start it first (lxc-start)"),
                    });
                }
                Verdict::Unknown(reason) => answers.push(format!("{lookup}: {reason}")),
            }
        }
        Err(Error::NotFound {
            op: Op::Resolve,
            object: format!(
                "the init process of {} ({})",
                self.describe(target),
                answers.join("; ")
            ),
        })
    }
}

/// Checks an LXC container name: it is a directory name in the lxcpath.
pub(crate) fn validate_lxc_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "is empty"
    } else if name == "." || name == ".." {
        "is not a container name"
    } else if name.contains('/') {
        "contains '/'; LXC container names are directory names in the lxcpath"
    } else if name.starts_with('-') {
        "starts with '-'"
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        "contains a space or a control character"
    } else if name.len() > 255 {
        "is longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(Error::invalid("lxc container", name, reason))
}

/// The `lxc.lxcpath` an LXC system configuration sets, if any.
fn configured_lxcpath(config: &str) -> Option<PathBuf> {
    config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "lxc.lxcpath" && !value.trim().is_empty())
            .then(|| PathBuf::from(value.trim()))
    })
}

/// The mount points of the cgroup hierarchies, cgroup v2 first.
fn cgroup_mounts(mountinfo: &str) -> Vec<PathBuf> {
    let mut v2 = Vec::new();
    let mut v1 = Vec::new();
    for line in mountinfo.lines() {
        let Some((mount, after)) = line.split_once(" - ") else { continue };
        let Some(point) = mount.split(' ').nth(4) else { continue };
        match after.split(' ').next() {
            Some("cgroup2") => v2.push(unescape_mount_path(point)),
            Some("cgroup") => v1.push(unescape_mount_path(point)),
            _ => {}
        }
    }
    v2.extend(v1);
    v2
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape_mount_path(escaped: &str) -> PathBuf {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let text = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(text, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    PathBuf::from(String::from_utf8_lossy(&out).into_owned())
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.components().eq(b.components()),
    }
}

/// The abstract socket name (without its leading NUL) LXC's monitor listens on, as LXC's
/// `lxc_make_abstract_socket_name` builds it: `<lxcpath>/<name>/command`, or a hash of
/// `<lxcpath>/<name>` when that does not fit a socket address.
fn command_socket_name(lxcpath: &str, name: &str) -> Vec<u8> {
    let lxcpath = match lxcpath.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    let plain = format!("{lxcpath}/{name}/command");
    if plain.len() < ABSTRACT_NAME_ROOM {
        return plain.into_bytes();
    }
    let hash = fnv1a_64(format!("{lxcpath}/{name}").as_bytes());
    format!("lxc/{hash:016x}/command").into_bytes()
}

/// The 64-bit FNV-1a hash LXC uses for long socket names.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Sends `LXC_CMD_GET_INIT_PID` (a `struct lxc_cmd_req` without data) and reads the PID from
/// the `struct lxc_cmd_rsp` answer's data field.
fn ask_init_pid(socket_name: &[u8]) -> io::Result<i64> {
    let address = SocketAddr::from_abstract_name(socket_name)?;
    let mut stream = UnixStream::connect_addr(&address)?;
    stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    stream.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    const POINTER: usize = size_of::<usize>();
    let mut request = Vec::with_capacity(8 + POINTER);
    request.extend_from_slice(&LXC_CMD_GET_INIT_PID.to_ne_bytes());
    request.extend_from_slice(&0i32.to_ne_bytes());
    request.extend_from_slice(&[0; POINTER]);
    stream.write_all(&request)?;
    let mut answer = [0u8; 8 + POINTER];
    stream.read_exact(&mut answer)?;
    let ret = i32::from_ne_bytes(answer[0..4].try_into().expect("4 bytes"));
    if ret < 0 {
        return Err(io::Error::other(format!(
            "the monitor refused: {}",
            Errno::from_raw(-ret).desc()
        )));
    }
    let mut data = [0u8; 8];
    data[..POINTER].copy_from_slice(&answer[8..]);
    Ok(if POINTER == 8 {
        i64::from_ne_bytes(data)
    } else {
        i64::from(i32::from_ne_bytes(data[..4].try_into().expect("4 bytes")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_anything_is_read() {
        assert!(validate_lxc_name("web-1").is_ok());
        for (bad, why) in [
            ("", "is empty"),
            ("..", "not a container name"),
            ("a/b", "contains '/'"),
            ("../etc", "contains '/'"),
            ("-n", "starts with '-'"),
            ("a b", "space"),
            ("a\nb", "control"),
        ] {
            let err = validate_lxc_name(bad).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("lxc container") && text.contains(why), "{bad:?}: {text}");
        }
    }

    #[test]
    fn socket_names_follow_lxc() {
        assert_eq!(command_socket_name("/var/lib/lxc", "web"), b"/var/lib/lxc/web/command");
        assert_eq!(command_socket_name("/var/lib/lxc/", "web"), b"/var/lib/lxc/web/command");
        // FNV-1a test vectors, then a name too long for sun_path, hashed like LXC does.
        assert_eq!(fnv1a_64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x85944171f73967e8);
        let long = "x".repeat(100);
        let hashed = String::from_utf8(command_socket_name("/l", &long)).unwrap();
        assert_eq!(
            hashed,
            format!("lxc/{:016x}/command", fnv1a_64(format!("/l/{long}").as_bytes()))
        );
        // The longest name LXC still writes out: 105 bytes.
        let fits = "y".repeat(105 - "/l//command".len());
        assert_eq!(command_socket_name("/l", &fits).len(), 105);
        let one_more = format!("{fits}y");
        assert!(command_socket_name("/l", &one_more).starts_with(b"lxc/"));
    }

    #[test]
    fn lxcpath_comes_from_the_system_config() {
        let config = "# comment\nlxc.bdev.lvm.vg = x\n lxc.lxcpath = /srv/lxc \n";
        assert_eq!(configured_lxcpath(config), Some(PathBuf::from("/srv/lxc")));
        assert_eq!(configured_lxcpath("lxc.lxcpath =\n"), None);
    }

    #[test]
    fn cgroup_mounts_are_found_v2_first() {
        let mountinfo = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 / /mnt/with\\040space rw - cgroup2 cgroup2 rw
22 1 8:1 / / rw - ext4 /dev/vda rw";
        assert_eq!(
            cgroup_mounts(mountinfo),
            [
                PathBuf::from("/sys/fs/cgroup/unified"),
                PathBuf::from("/mnt/with space"),
                PathBuf::from("/sys/fs/cgroup/cpu")
            ]
        );
    }

    #[test]
    fn a_missing_container_is_not_mine() {
        let resolver = LxcResolver::new("/nonexistent-lxcpath");
        match resolver.resolve("web").unwrap() {
            Resolution::NotMine(err) => {
                assert!(err.to_string().contains("/nonexistent-lxcpath/web/config"), "{err}");
            }
            Resolution::Found(guest) => panic!("found {guest}"),
        }
        match resolver.resolve("a/b").unwrap() {
            Resolution::NotMine(err) => assert!(err.to_string().contains("contains '/'"), "{err}"),
            Resolution::Found(guest) => panic!("found {guest}"),
        }
    }
}
