//! Independent steps run at once on a few threads (a topology's namespaces, its links between
//! disjoint nodes).

use std::{
    num::NonZeroUsize,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

/// The most threads a batch of steps runs on.
const MAX_THREADS: usize = 4;

/// `work` applied to every item, on up to as many threads as the machine has cores (at most
/// four), the results in the items' order. Failures injected into the calling thread (tests)
/// are injected into the workers too, counted together.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let threads = cores.min(MAX_THREADS).min(items.len());
    if threads <= 1 {
        return items.iter().map(work).collect();
    }
    #[cfg(feature = "fault-injection")]
    let faults = crate::fault::inherited();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                #[cfg(feature = "fault-injection")]
                let _armed = faults.arm_here();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else { break };
                    let result = work(item);
                    results.lock().expect("results")[index] = Some(result);
                }
            });
        }
    });
    results.into_inner().expect("results").into_iter().map(|r| r.expect("every item ran")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_worked_once_and_the_results_keep_their_order() {
        let items: Vec<u32> = (0..100).collect();
        let worked = AtomicUsize::new(0);
        let doubled = map(&items, |n| {
            worked.fetch_add(1, Ordering::Relaxed);
            n * 2
        });
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(worked.load(Ordering::Relaxed), 100);
        assert!(map(&[] as &[u32], |n| *n).is_empty());
    }
}
