//! Batches built ahead of the step that uses them, by a pool of loader threads (torch
//! `DataLoader(num_workers=…)`): while the caller trains on batch k, the loaders read
//! frames, build neighbor lists and batch the next ones.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, sync_channel};

use crate::dataset::GraphSource;
use crate::error::{Error, Result};
use crate::graph::AtomicGraph;

/// Batches each loader thread may hold ready beyond the one the caller is using (torch's
/// `prefetch_factor`, whose default is also 2).
pub const PREFETCH_PER_LOADER: usize = 2;

/// Calls `consume(k, batch_k)` for the batches of `source` whose frames `batches[k]`
/// lists, in order `k = 0, 1, …`. With `loaders == 0` each batch is built on the calling
/// thread just before it is consumed; with `loaders > 0` loader thread `w` builds batches
/// `w, w + loaders, …` ahead, holding at most [`PREFETCH_PER_LOADER`] ready, so the
/// memory held is bounded by about `loaders · (PREFETCH_PER_LOADER + 1)` batches whatever
/// the dataset's size. Either way the batches and their order are the same.
///
/// The first error — building a batch or from `consume` — stops the loop and is
/// returned; loaders still running stop at their next batch.
pub fn for_each_batch<S, F, E>(
    source: &S,
    batches: &[&[usize]],
    loaders: usize,
    mut consume: F,
) -> std::result::Result<(), E>
where
    S: GraphSource + ?Sized,
    F: FnMut(usize, AtomicGraph) -> std::result::Result<(), E>,
    E: From<Error>,
{
    if loaders == 0 || batches.len() <= 1 {
        for (k, idx) in batches.iter().enumerate() {
            consume(k, source.batch(idx)?)?;
        }
        return Ok(());
    }
    let loaders = loaders.min(batches.len());
    std::thread::scope(|scope| {
        let queues: Vec<Receiver<Result<AtomicGraph>>> = (0..loaders)
            .map(|w| {
                let (tx, rx) = sync_channel(PREFETCH_PER_LOADER);
                scope.spawn(move || {
                    for idx in batches.iter().skip(w).step_by(loaders) {
                        // A panic in a loader becomes this batch's error, not a panic
                        // of the caller's thread when the scope joins.
                        let built = catch_unwind(AssertUnwindSafe(|| source.batch(idx)))
                            .unwrap_or_else(|_| {
                                Err(Error::InvalidArgument(
                                    "a loader thread panicked while building a batch".into(),
                                ))
                            });
                        // A send fails once the caller has stopped: stop too.
                        if tx.send(built).is_err() {
                            return;
                        }
                    }
                });
                rx
            })
            .collect();
        for k in 0..batches.len() {
            let batch = queues[k % loaders].recv().map_err(|_| {
                Error::InvalidArgument(format!("loader thread {} stopped", k % loaders))
            })??;
            consume(k, batch)?;
        }
        Ok(())
    })
}
