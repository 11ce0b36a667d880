//! The `pipework` command: the original script's grammar over pipework-core.

mod commands;

use std::process::ExitCode;

use pipework_cli::grammar::{self, Request};
use pipework_core::Error;

/// Prints `-v` steps (pipework-core's log records) to stderr.
struct StepLogger;

impl log::Log for StepLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("pipework: {}", record.args());
        }
    }

    fn flush(&self) {}
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == pipework_cli::plan::KEEPER_SUBCOMMAND) {
        // The lease keeper of `--daemon`, started by pipework itself, not by hand.
        let rest: Vec<String> =
            args[2..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
        return ExitCode::from(pipework_core::dhcp::serve_keeper(&rest).clamp(0, 255) as u8);
    }
    let (request, verbose) = match grammar::parse(&args) {
        Ok(parsed) => parsed,
        // clap prints help and version to stdout (exit 0) and mistakes to stderr (exit 2).
        Err(err) => err.exit(),
    };
    if verbose {
        let _ = log::set_logger(&StepLogger).map(|()| log::set_max_level(log::LevelFilter::Info));
    }
    let outcome = match &request {
        Request::Attach(attach) => commands::attach_guest(attach),
        Request::Wait { ifname, condition, timeout } => {
            commands::wait(ifname, *condition, *timeout)
        }
        Request::Detach { guest, ifname, json } => {
            commands::detach_guest(guest, ifname.as_deref(), *json)
        }
        Request::Show { guest, json } => commands::show(guest.as_deref(), *json),
        Request::Check { guest, json } => commands::check(guest, *json),
        Request::Gc { dry_run, json } => commands::gc(*dry_run, *json),
        Request::Lab(lab) => commands::lab(lab),
        Request::Tipc(tipc) => commands::tipc(tipc),
        Request::Watch(watch) => commands::watch(watch),
        Request::Passthrough(passthrough) => match commands::passthrough(passthrough) {
            Ok(commands::Passed::Natively) => Ok(()),
            Ok(commands::Passed::Program(status)) => return program_exit(status),
            Err(err) => Err(err),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pipework: {err}");
            exit_code(&err)
        }
    }
}

/// The exit status of `ip` or `tc` as a shell gives it: its own code, or 128 and the signal
/// that ended it.
fn program_exit(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().or(status.signal().map(|signal| 128 + signal)).unwrap_or(1);
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// 2 for arguments that are wrong in themselves, 1 for everything the system refused.
fn exit_code(err: &Error) -> ExitCode {
    match err {
        Error::InvalidArgument { .. } => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}
