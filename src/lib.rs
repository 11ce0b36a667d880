//! Examples and benchmarks of pipework-rs live in examples/ and benches/.
