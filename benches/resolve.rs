//! How long resolving a target takes: a PID always, a Docker, Podman or LXC container when
//! the engines run (source the env file of `scripts/engines.sh start`, which names them).
//!
//! Run: `cargo bench --bench resolve` (as root, to open other processes' namespaces).

use criterion::{Criterion, criterion_group, criterion_main};
use pipework_core::Resolvers;

fn resolve(c: &mut Criterion) {
    let chain = Resolvers::default();
    let me = std::process::id().to_string();
    c.bench_function("resolve/pid", |b| b.iter(|| chain.resolve(&me).expect("own PID")));
    for (label, variable) in
        [("docker", "PWT_BENCH_DOCKER"), ("podman", "PWT_BENCH_PODMAN"), ("lxc", "PWT_LXC_RUNNING")]
    {
        let Ok(target) = std::env::var(variable) else {
            eprintln!("resolve/{label}: skipped, {variable} names no running container");
            continue;
        };
        let target = format!("{label}:{target}");
        c.bench_function(&format!("resolve/{label}"), |b| {
            b.iter(|| chain.resolve(&target).expect("running container"))
        });
    }
}

criterion_group!(benches, resolve);
criterion_main!(benches);
