//! Criterion benchmarks of one attach: pipework-core against the raw-netlink floor, into a fresh
//! namespace each time, and N = 10/100/500 sequential attaches to one bridge. Run as root:
//! `cargo bench --bench attach`.

mod support;

use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pipework_core::{Guest, Namespace};
use support::{Floor, Host, pipework_attach};

fn one_attach(c: &mut Criterion) {
    let mut group = c.benchmark_group("attach_one");
    let host = Host::anonymous();
    let mut i = 0usize;
    group.bench_function("pipework", |b| {
        b.iter_batched(
            || Guest::from_namespace(Namespace::create_anonymous().unwrap()),
            |guest| {
                i += 1;
                pipework_attach(&host, &guest, i % 60000);
                guest
            },
            BatchSize::PerIteration,
        )
    });
    let floor_host = Host::anonymous();
    let mut floor = Floor::new(&floor_host);
    group.bench_function("raw_netlink_floor", |b| {
        b.iter_batched(
            || Namespace::create_anonymous().unwrap(),
            |guest| {
                i += 1;
                floor.attach(&floor_host, &guest, i % 60000);
                guest
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn sequential(c: &mut Criterion) {
    let mut group = c.benchmark_group("attach_sequential");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    for n in [10usize, 100, 500] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("pipework", n), &n, |b, &n| {
            b.iter_batched(
                || {
                    let guests: Vec<Guest> = (0..n)
                        .map(|_| Guest::from_namespace(Namespace::create_anonymous().unwrap()))
                        .collect();
                    (Host::anonymous(), guests)
                },
                |(host, guests)| {
                    for (i, guest) in guests.iter().enumerate() {
                        pipework_attach(&host, guest, i);
                    }
                    (host, guests)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, one_attach, sequential);
criterion_main!(benches);
