//! Same-run comparison of one attach: pipework-core, the raw-netlink floor, and the fewest-requests
//! iproute2 sequence (and the `pipework` command once it can attach), interleaved round by round;
//! then 500 sequential attaches to one bridge, pipework-core against the floor.
//!
//! Run as root: `cargo bench --bench compare` (PW_ROUNDS=200 and PW_SCALE=500 by default).
//! Prints a Markdown table with medians, p10/p90 and the ratios the design targets.

mod support;

use pipework_core::{Guest, Namespace};
use support::{Floor, Host, iproute2_attach, pipework_attach, summary};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    if support::probed() {
        return;
    }
    let rounds = env("PW_ROUNDS", 200);
    let scale = env("PW_SCALE", 500);
    let prefix = format!("pwbench{}", std::process::id());

    let pipework_host = Host::anonymous();
    let floor_host = Host::anonymous();
    let mut floor = Floor::new(&floor_host);
    let ip_host_name = format!("{prefix}-host");
    let ip_host = Host::named(&ip_host_name);
    let (mut ours, mut quiet, mut raw, mut ip, mut command) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let quiet_host = Host::anonymous();
    let binary = support::pipework_binary();
    let command_host_name = format!("{prefix}-cmd");
    let command_host = Host::named(&command_host_name);
    let state = std::env::temp_dir().join(format!("{prefix}-state"));
    for i in 0..rounds {
        let guest = Guest::from_namespace(Namespace::create_anonymous().unwrap());
        ours.push(support::timed(|| pipework_attach(&pipework_host, &guest, i)));
        let quiet_guest = Guest::from_namespace(Namespace::create_anonymous().unwrap());
        quiet.push(support::timed(|| support::pipework_attach_quiet(&quiet_host, &quiet_guest, i)));
        let floor_guest = Namespace::create_anonymous().unwrap();
        raw.push(support::timed(|| floor.attach(&floor_host, &floor_guest, i)));
        let name = format!("{prefix}-g{i}");
        let ip_guest = Namespace::create_named(&name).unwrap();
        ip.push(support::timed(|| iproute2_attach(&ip_host_name, &name, i)));
        let command_guest_name = format!("{prefix}-c{i}");
        let command_guest = Namespace::create_named(&command_guest_name).unwrap();
        if let Some(binary) = &binary {
            command.push(support::timed(|| {
                support::command_attach(
                    binary,
                    &command_host.namespace,
                    &command_guest_name,
                    i,
                    &state,
                )
            }));
        }
        // Keep each bridge small: the guests go, and the kernel removes their veths.
        drop((guest, quiet_guest, floor_guest));
        ip_guest.delete().unwrap();
        command_guest.delete().unwrap();
    }
    drop((ip_host, command_host));
    let _ = std::fs::remove_dir_all(&state);
    let (o, q, r, p) =
        (summary(&mut ours), summary(&mut quiet), summary(&mut raw), summary(&mut ip));
    println!("\n## One attach into a fresh namespace ({rounds} rounds, interleaved)\n");
    println!("| tool | median ms | p10 | p90 |\n|---|---:|---:|---:|");
    println!("| pipework-core (in process) | {:.3} | {:.3} | {:.3} |", o.0, o.1, o.2);
    println!(
        "| pipework-core, no announcement (the floor's work) | {:.3} | {:.3} | {:.3} |",
        q.0, q.1, q.2
    );
    println!("| raw netlink floor (in process) | {:.3} | {:.3} | {:.3} |", r.0, r.1, r.2);
    println!("| iproute2, fewest requests (2 processes) | {:.3} | {:.3} | {:.3} |", p.0, p.1, p.2);
    if !command.is_empty() {
        let c = summary(&mut command);
        println!("| `pipework` command (1 process) | {:.3} | {:.3} | {:.3} |", c.0, c.1, c.2);
        println!("\n`pipework` command / iproute2 = {:.2} (target <= 0.5)", c.0 / p.0);
    } else {
        println!(
            "\n(`pipework` command not measured: build it first with cargo build --release -p pipework-cli)"
        );
    }
    println!(
        "pipework-core / floor = {:.2} (target <= 1.3); without the announcement {:.2}",
        o.0 / r.0,
        q.0 / r.0
    );
    println!("pipework-core / iproute2 = {:.2} (target < 1.0)", o.0 / p.0);

    println!("\n## {scale} sequential attaches to one bridge (all kept)\n");
    let window = (scale / 10).max(1);
    let scaled = |attach: &mut dyn FnMut(usize, &Namespace)| {
        let guests: Vec<Namespace> =
            (0..scale).map(|_| Namespace::create_anonymous().unwrap()).collect();
        let samples: Vec<f64> =
            guests.iter().enumerate().map(|(i, g)| support::timed(|| attach(i, g))).collect();
        let first = summary(&mut samples[..window].to_vec()).0;
        let last = summary(&mut samples[scale - window..].to_vec()).0;
        (first, last)
    };
    let host = Host::anonymous();
    let (ours_first, ours_last) = scaled(&mut |i, g| {
        pipework_attach(&host, &Guest::from_namespace(g.try_clone().unwrap()), i)
    });
    drop(host);
    let host = Host::anonymous();
    let (quiet_first, quiet_last) = scaled(&mut |i, g| {
        support::pipework_attach_quiet(&host, &Guest::from_namespace(g.try_clone().unwrap()), i)
    });
    drop(host);
    let host = Host::anonymous();
    let mut floor = Floor::new(&host);
    let (raw_first, raw_last) = scaled(&mut |i, g| floor.attach(&host, g, i));
    println!(
        "| tool | median of first {window} ms | median of last {window} ms | last/first |\n|---|---:|---:|---:|"
    );
    println!(
        "| pipework-core | {ours_first:.3} | {ours_last:.3} | {:.2} |",
        ours_last / ours_first
    );
    println!(
        "| pipework-core, no announcement | {quiet_first:.3} | {quiet_last:.3} | {:.2} |",
        quiet_last / quiet_first
    );
    println!(
        "| raw netlink floor | {raw_first:.3} | {raw_last:.3} | {:.2} |",
        raw_last / raw_first
    );
    println!(
        "\npipework-core / floor at the last {window}: {:.2} (target <= 1.3); without the announcement {:.2}",
        ours_last / raw_last,
        quiet_last / raw_last
    );
}
