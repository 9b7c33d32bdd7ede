//! Several channels walked at the same time, on one task, their results taken as they end.

use std::future::Future;

use anyhow::Result;
use futures_util::stream::{FuturesUnordered, StreamExt};

/// Runs `work` on every item, up to `jobs` at a time (in the items' order), and hands each
/// output to `done` as soon as it is there. An error from `done` ends the whole: the work still
/// in flight is dropped (what it wrote is not in the state file, so the next run redoes it).
pub(super) async fn each<I, F, Fut, T>(
    jobs: usize,
    items: I,
    work: F,
    mut done: impl FnMut(T) -> Result<()>,
) -> Result<()>
where
    I: IntoIterator,
    F: Fn(I::Item) -> Fut,
    Fut: Future<Output = T>,
{
    let mut items = items.into_iter();
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < jobs.max(1) {
            match items.next() {
                Some(it) => running.push(work(it)),
                None => break,
            }
        }
        match running.next().await {
            Some(out) => done(out)?,
            None => return Ok(()),
        }
    }
}
