//! [`DhcpSpec`]: which client, how long the lease is kept, and its options; parsed from the
//! original's address words (`dhcp`, `dhcp:-f`, `udhcpc-f:OPTS`, `dhclient`, `dhcpcd:OPTS`).

use std::{path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use super::{
    config::{DhcpConfig, option_code},
    daemon::KeeperCommand,
};
use crate::error::{Error, Result};

/// The program that talks DHCP for the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DhcpClient {
    /// pipework's own client ([`super::DhcpLease`]), no program needed.
    Native,
    /// busybox `udhcpc`.
    Udhcpc,
    /// ISC `dhclient`.
    Dhclient,
    /// `dhcpcd`.
    Dhcpcd,
}

impl DhcpClient {
    /// Whether pipework announces the leased address itself: dhcpcd probes and announces it
    /// by ARP on its own (RFC 5227); pipework's client, udhcpc and dhclient do not.
    pub fn announces_lease(self) -> bool {
        self != DhcpClient::Dhcpcd
    }

    /// The program's name (`None` for the native client).
    pub fn program(self) -> Option<&'static str> {
        match self {
            DhcpClient::Native => None,
            DhcpClient::Udhcpc => Some("udhcpc"),
            DhcpClient::Dhclient => Some("dhclient"),
            DhcpClient::Dhcpcd => Some("dhcpcd"),
        }
    }
}

/// How long the lease is looked after once obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DhcpKeep {
    /// Obtain the lease and stop, leaving it in place until it runs out (the original's `dhcp`).
    Once,
    /// Keep renewing it in the calling process (the command's `--foreground`); the caller
    /// holds a [`super::DhcpLease`] (see [`super::DhcpLease::adopt`]).
    Foreground,
    /// Keep renewing it in a background process with a pidfile (`dhcp:-f`, `--daemon`,
    /// `udhcpc-f`), stopped (and the lease released) by detach.
    Daemon {
        /// The pidfile; by default under /run/pipework/dhcp.
        pidfile: Option<PathBuf>,
    },
}

/// A DHCP request as the command line gives it: client, keep mode, options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpSpec {
    /// Which client.
    pub client: DhcpClient,
    /// How long the lease is kept.
    pub keep: DhcpKeep,
    /// The options after the `:`, split on white space like the original; passed as they
    /// are to an external client, understood by the native one (see [`DhcpSpec::parse`]).
    pub options: Vec<String>,
    /// Host name, timeout, requested options, default route and resolv.conf policy.
    pub config: DhcpConfig,
    /// The program that keeps a native lease with [`DhcpKeep::Daemon`]; found with
    /// [`KeeperCommand::locate`] when `None`.
    #[serde(default)]
    pub keeper: Option<KeeperCommand>,
    /// How the word was read when that is not what it says, for the user (stderr): `dhcp:OPTS`
    /// with options only udhcpc knows, handed to udhcpc.
    #[serde(skip)]
    pub note: Option<String>,
}

/// The options the native client understands in `dhcp:OPTS`, udhcpc-style.
const NATIVE_OPTIONS: &str = "-f (keep renewing in the background), -q (once), -n, \
                              -x hostname:NAME, -H NAME, -O OPTION, -T SECONDS (timeout)";

impl DhcpSpec {
    /// A spec for pipework's own client, obtaining the lease once.
    pub fn native() -> Self {
        DhcpSpec {
            client: DhcpClient::Native,
            keep: DhcpKeep::Once,
            options: Vec::new(),
            config: DhcpConfig::default(),
            keeper: None,
            note: None,
        }
    }

    /// Parses a word that must be a DHCP word (`argument` names it in the error otherwise);
    /// see [`DhcpSpec::parse`].
    pub fn parse_word(argument: &str, word: &str) -> Result<Self> {
        Self::parse(word)?.ok_or_else(|| {
            Error::invalid(
                argument,
                word,
                "is not a DHCP word; expected dhcp[:OPTS], udhcpc[-f][:OPTS], dhclient[-f][:OPTS] \
                 or dhcpcd[:OPTS]",
            )
        })
    }

    /// Parses an address word of the original grammar; `Ok(None)` when it is not a DHCP word.
    ///
    /// `dhcp[:OPTS]` is pipework's own client; it understands udhcpc's `-f` (a lease keeper
    /// renews in the background, as the original's kept client did), `-q`, `-n`,
    /// `-x hostname:NAME`, `-H NAME`, `-O OPTION` and `-T SECONDS` (the whole timeout). Other
    /// options go, as in the original, to busybox udhcpc with OPTS (minus `-f`/`-q`, which
    /// choose kept or once) when `udhcpc` is installed, with [`DhcpSpec::note`] saying so; an
    /// error naming the option when it is not. `udhcpc[-f][:OPTS]`, `dhclient[-f][:OPTS]` and
    /// `dhcpcd[:OPTS]` run that program with OPTS passed as they are; `-f` keeps it running
    /// (detached, stopped by detach), and dhcpcd always keeps running, like the original.
    pub fn parse(word: &str) -> Result<Option<Self>> {
        Self::parse_with(word, || super::external::find_program("udhcpc").is_ok())
    }

    /// [`DhcpSpec::parse`], asking `udhcpc_installed` only when `dhcp:OPTS` needs udhcpc.
    fn parse_with(word: &str, udhcpc_installed: impl FnOnce() -> bool) -> Result<Option<Self>> {
        let (name, options) = match word.split_once(':') {
            Some((name, options)) => (name, Some(options)),
            None => (word, None),
        };
        let (base, keep) = match name.strip_suffix("-f") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let client = match base {
            "dhcp" if !keep => DhcpClient::Native,
            "udhcpc" => DhcpClient::Udhcpc,
            "dhclient" => DhcpClient::Dhclient,
            "dhcpcd" if keep => {
                return Err(Error::invalid(
                    "dhcp client",
                    word,
                    "dhcpcd-f is not a form of the original: dhcpcd keeps running by itself; use dhcpcd",
                ));
            }
            "dhcpcd" => DhcpClient::Dhcpcd,
            _ => return Ok(None),
        };
        let options: Vec<String> =
            options.unwrap_or_default().split_whitespace().map(str::to_string).collect();
        // Like the original, dhcpcd stays in the background renewing (stopped by detach here).
        let kept = keep || client == DhcpClient::Dhcpcd;
        let mut spec = DhcpSpec {
            client,
            keep: if kept { DhcpKeep::Daemon { pidfile: None } } else { DhcpKeep::Once },
            options,
            config: DhcpConfig::default(),
            keeper: None,
            note: None,
        };
        if client == DhcpClient::Native
            && let Some(unknown) = spec.apply_native_options()?
        {
            spec = spec.handed_to_udhcpc(&unknown, udhcpc_installed())?;
        }
        spec.validate()?;
        Ok(Some(spec))
    }

    /// Checks the combination; an error names what is wrong, and nothing is changed.
    pub fn validate(&self) -> Result<()> {
        self.config.validate()?;
        if let DhcpKeep::Daemon { pidfile: Some(path) } = &self.keep
            && !path.is_absolute()
        {
            return Err(Error::invalid(
                "dhcp pidfile",
                path.display().to_string(),
                "must be an absolute path",
            ));
        }
        let Some(program) = self.client.program() else { return Ok(()) };
        if self.keep == DhcpKeep::Foreground {
            return Err(Error::invalid(
                "dhcp keep mode",
                "foreground",
                format!(
                    "{program} keeps its lease in its own background process: use {program}-f \
                     (or --daemon) to keep it running"
                ),
            ));
        }
        // What pipework itself passes, so the client's files stay under /run/pipework.
        let reserved: &[&str] = match self.client {
            DhcpClient::Udhcpc => &["-i", "-p", "-q", "-f", "-b", "-S"],
            DhcpClient::Dhclient => &["-pf", "-lf", "-d", "-nw", "-1", "-r", "-x"],
            DhcpClient::Dhcpcd => &["-1", "-B", "-b", "-k", "-x"],
            DhcpClient::Native => &[],
        };
        if let Some(option) = self.options.iter().find(|o| reserved.contains(&o.as_str())) {
            return Err(Error::invalid(
                format!("{program} option"),
                option,
                format!(
                    "pipework sets it itself ({} are reserved: pid and lease files live under \
                     /run/pipework, and {program}-f chooses whether the client keeps running)",
                    reserved.join(" ")
                ),
            ));
        }
        Ok(())
    }

    /// `dhcp:OPTS` with an option the native client does not know (`unknown`): busybox udhcpc
    /// with OPTS, as the original ran it; `-f` keeps it running, `-q` (or neither) runs it once.
    fn handed_to_udhcpc(self, unknown: &str, installed: bool) -> Result<Self> {
        if !installed {
            return Err(Error::invalid(
                "dhcp option",
                unknown,
                format!(
                    "the native DHCP client does not know it (it understands {NATIVE_OPTIONS}), and \
                     busybox udhcpc, which the original ran with dhcp:OPTS, is not installed \
                     (on Debian: apt-get install udhcpc)"
                ),
            ));
        }
        let kept = self.options.iter().rev().find(|o| *o == "-f" || *o == "-q");
        let keep = match kept.map(String::as_str) {
            Some("-f") => DhcpKeep::Daemon { pidfile: None },
            _ => DhcpKeep::Once,
        };
        let options: Vec<String> =
            self.options.iter().filter(|o| *o != "-f" && *o != "-q").cloned().collect();
        let note = format!(
            "dhcp:{}: the native DHCP client does not know {unknown}, so busybox udhcpc gets the \
             options, as in the original ({})",
            self.options.join(" "),
            if matches!(keep, DhcpKeep::Daemon { .. }) {
                "kept running in the background, stopped by detach"
            } else {
                "once"
            }
        );
        let spec = DhcpSpec {
            client: DhcpClient::Udhcpc,
            keep,
            options,
            config: DhcpConfig::default(),
            keeper: None,
            note: Some(note),
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Reads the udhcpc-style options of `dhcp:OPTS` into the native client's settings; gives
    /// back the first option it does not know (then nothing it read matters: see
    /// [`DhcpSpec::handed_to_udhcpc`]).
    fn apply_native_options(&mut self) -> Result<Option<String>> {
        let mut words = self.options.iter();
        while let Some(word) = words.next() {
            // A value may be glued to its flag (`-Odns`) or follow it (`-O dns`).
            let (flag, glued) = match word.get(..2) {
                Some(flag)
                    if word.len() > 2 && flag.starts_with('-') && !word.starts_with("--") =>
                {
                    (flag, Some(&word[2..]))
                }
                _ => (word.as_str(), None),
            };
            let mut value = |what: &str| -> Result<String> {
                glued.map(str::to_string).or_else(|| words.next().cloned()).ok_or_else(|| {
                    Error::invalid("dhcp option", word, format!("{flag} needs {what}"))
                })
            };
            match flag {
                "-f" => self.keep = DhcpKeep::Daemon { pidfile: None },
                "-q" => self.keep = DhcpKeep::Once,
                // udhcpc's "exit if no lease": the native client always gives up at its timeout.
                "-n" => {}
                "-H" | "-h" => self.config = self.config.clone().hostname(&value("a host name")?),
                "-x" => {
                    let option = value("OPTION:VALUE")?;
                    match option.split_once(':') {
                        Some(("hostname", name)) => {
                            self.config = self.config.clone().hostname(name)
                        }
                        _ => return Ok(Some(format!("-x {option}"))),
                    }
                }
                "-O" => {
                    let code = option_code(&value("an option name or number")?)?;
                    self.config = self.config.clone().request_option(code);
                }
                "-T" => {
                    let text = value("a number of seconds")?;
                    let seconds: f64 = text.parse().map_err(|_| {
                        Error::invalid("dhcp timeout", &text, "is not a number of seconds")
                    })?;
                    if !seconds.is_finite() || seconds < 0.0 {
                        return Err(Error::invalid(
                            "dhcp timeout",
                            &text,
                            "is not a number of seconds",
                        ));
                    }
                    self.config = self.config.clone().timeout(Duration::from_secs_f64(seconds));
                }
                _ => return Ok(Some(word.clone())),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(word: &str) -> DhcpSpec {
        DhcpSpec::parse(word).unwrap().unwrap_or_else(|| panic!("{word} is a DHCP word"))
    }

    fn error(word: &str) -> String {
        DhcpSpec::parse(word).unwrap_err().to_string()
    }

    #[test]
    fn every_word_of_the_original_grammar() {
        for (word, client, keep) in [
            ("dhcp", DhcpClient::Native, DhcpKeep::Once),
            // As in the original, -f keeps the lease renewed in the background.
            ("dhcp:-f", DhcpClient::Native, DhcpKeep::Daemon { pidfile: None }),
            ("udhcpc", DhcpClient::Udhcpc, DhcpKeep::Once),
            ("udhcpc-f", DhcpClient::Udhcpc, DhcpKeep::Daemon { pidfile: None }),
            ("dhclient", DhcpClient::Dhclient, DhcpKeep::Once),
            ("dhclient-f", DhcpClient::Dhclient, DhcpKeep::Daemon { pidfile: None }),
            ("dhcpcd", DhcpClient::Dhcpcd, DhcpKeep::Daemon { pidfile: None }),
        ] {
            let spec = parse(word);
            assert_eq!((spec.client, spec.keep), (client, keep), "{word}");
        }
        for not_dhcp in ["10.0.0.2/24", "0/0", "dhcpx", "dhcp-f", "udhcpd", ""] {
            assert_eq!(DhcpSpec::parse(not_dhcp).unwrap(), None, "{not_dhcp}");
        }
        assert!(error("dhcpcd-f").contains("dhcpcd keeps running by itself; use dhcpcd"));
    }

    #[test]
    fn external_options_are_split_and_kept_as_given() {
        let spec = parse("dhcpcd:-4 --nohook resolv.conf");
        assert_eq!(spec.options, ["-4", "--nohook", "resolv.conf"]);
        let spec = parse("udhcpc-f:-O search  -x hostname:web");
        assert_eq!(spec.options, ["-O", "search", "-x", "hostname:web"]);
        // Options only mean something to the external client: pipework does not judge them,
        // except those it passes itself.
        let err = error("udhcpc:-p /tmp/x.pid");
        assert!(err.contains("invalid udhcpc option \"-p\"") && err.contains("reserved"), "{err}");
        let err = error("dhclient:-pf /tmp/x");
        assert!(err.contains("invalid dhclient option \"-pf\""), "{err}");
    }

    #[test]
    fn the_native_client_reads_udhcpc_style_options() {
        let spec = parse("dhcp:-f -x hostname:web -O ntpsrv -Omtu -T 2.5 -n");
        assert_eq!((spec.client, spec.note), (DhcpClient::Native, None));
        assert_eq!(spec.keep, DhcpKeep::Daemon { pidfile: None });
        assert_eq!(spec.config.hostname, super::super::Hostname::Name("web".into()));
        assert_eq!(spec.config.request_options, [42, 26]);
        assert_eq!(spec.config.timeout, Duration::from_millis(2500));
        assert_eq!(parse("dhcp:-H db").config.hostname, super::super::Hostname::Name("db".into()));
    }

    fn with_udhcpc(word: &str, installed: bool) -> Result<DhcpSpec> {
        DhcpSpec::parse_with(word, || installed).map(|spec| spec.expect("a DHCP word"))
    }

    #[test]
    fn options_only_udhcpc_knows_go_to_udhcpc_when_installed() {
        let spec = with_udhcpc("dhcp:-V vendor -f -x 61:abc", true).unwrap();
        assert_eq!(
            (spec.client, &spec.keep),
            (DhcpClient::Udhcpc, &DhcpKeep::Daemon { pidfile: None })
        );
        assert_eq!(spec.options, ["-V", "vendor", "-x", "61:abc"], "-f chose the keep mode");
        let note = spec.note.unwrap();
        assert!(
            note.contains("dhcp:-V vendor -f -x 61:abc: the native DHCP client does not know -V")
                && note.contains("busybox udhcpc gets the options")
                && note.contains("kept running in the background"),
            "{note}"
        );
        let once = with_udhcpc("dhcp:-x 61:abc -q", true).unwrap();
        assert_eq!(
            (once.client, once.keep, once.options),
            (DhcpClient::Udhcpc, DhcpKeep::Once, vec!["-x".into(), "61:abc".into()])
        );
        assert!(once.note.unwrap().contains("does not know -x 61:abc"));
        // What udhcpc must not be given is refused as for udhcpc:OPTS.
        let err = with_udhcpc("dhcp:-Z -p /tmp/x.pid", true).unwrap_err().to_string();
        assert!(err.contains("invalid udhcpc option \"-p\""), "{err}");
        // Native options alone never ask for udhcpc.
        let native = DhcpSpec::parse_with("dhcp:-n -T 3", || panic!("not asked")).unwrap();
        assert_eq!(native.unwrap().client, DhcpClient::Native);
    }

    #[test]
    fn the_native_client_refuses_what_it_does_not_know_without_udhcpc() {
        let err = with_udhcpc("dhcp:-Z", false).unwrap_err().to_string();
        assert!(
            err.contains("invalid dhcp option \"-Z\": the native DHCP client does not know it")
                && err.contains(
                    "busybox udhcpc, which the original ran with dhcp:OPTS, is not installed"
                )
                && err.contains("apt-get install udhcpc"),
            "{err}"
        );
        assert!(error("dhcp:-O nonsense").contains("not an option the DHCP client knows"));
        assert!(error("dhcp:-O").contains("-O needs an option name"));
        let err = with_udhcpc("dhcp:-x 61:abc", false).unwrap_err().to_string();
        assert!(err.contains("invalid dhcp option \"-x 61:abc\""), "{err}");
        assert!(error("dhcp:-T 0").contains("must be more than zero"));
        assert!(error("dhcp:-T soon").contains("not a number of seconds"));
        assert!(error("dhcp:-H bad_name").contains("invalid hostname"));
    }

    #[test]
    fn keep_modes_and_pidfiles_are_checked() {
        let mut spec = parse("udhcpc");
        spec.keep = DhcpKeep::Foreground;
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("use udhcpc-f (or --daemon)"), "{err}");
        let mut spec = DhcpSpec::native();
        spec.keep = DhcpKeep::Daemon { pidfile: Some("relative.pid".into()) };
        assert!(spec.validate().unwrap_err().to_string().contains("must be an absolute path"));
    }
}
