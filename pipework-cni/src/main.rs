//! `pipework-cni`: the CNI plugin. The environment and stdin go to
//! [`pipework_core::cni::run`]; its JSON goes to stdout and its status is the exit status.

use std::io::{Read, Write};

fn main() {
    let mut stdin = Vec::new();
    // VERSION may come without a configuration; an unreadable stdin is then an empty one.
    let _ = std::io::stdin().read_to_end(&mut stdin);
    let env = pipework_core::cni::Env::new(std::env::vars());
    let outcome = pipework_core::cni::run(&env, &stdin);
    let mut stdout = std::io::stdout().lock();
    // Nothing is left to report to when stdout is closed; the status still says it.
    let _ = stdout.write_all(outcome.stdout.as_bytes()).and_then(|()| stdout.flush());
    std::process::exit(outcome.status);
}
