//! How data-parallel ranks talk: a [`Communicator`] sums numbers across ranks. One
//! process alone ([`SingleProcess`]), threads of one process ([`ThreadGroup`], which
//! tests the data-parallel logic without a launcher and serves several GPUs driven from
//! one process), and, behind a feature, MPI ranks.

use std::sync::{Arc, Barrier, Mutex};

use crate::error::{Error, Result};

/// The ranks of one data-parallel run, seen from one of them.
pub trait Communicator {
    /// This rank, `0..size`.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// This rank among the ranks that share its node (which of the node's GPUs it
    /// takes). Ranks that are threads of one process are all on one node: their rank.
    fn local_rank(&self) -> usize {
        self.rank()
    }
    /// Replaces `values` on every rank by their elementwise sum over ranks. Every rank
    /// gets the same bits (the sum is taken in rank order), so replicated state (weights,
    /// optimizer moments, EMA) stays identical. All ranks must call it with the same length.
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()>;
    /// Replaces `values` on every rank by their elementwise maximum over ranks (NaN wins,
    /// so a NaN error anywhere shows).
    fn all_reduce_max(&self, values: &mut [f64]) -> Result<()>;
}

/// `a` max `b`, NaN winning.
fn max_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// One process alone: sums are the values themselves.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _values: &mut [f64]) -> Result<()> {
        Ok(())
    }
    fn all_reduce_max(&self, _values: &mut [f64]) -> Result<()> {
        Ok(())
    }
}

/// What the threads of a [`ThreadGroup`] share: one slot per rank and a barrier.
#[derive(Debug)]
struct GroupState {
    slots: Mutex<Vec<Vec<f64>>>,
    barrier: Barrier,
}

/// One rank of a group of threads in this process ([`ThreadGroup::new`] makes the
/// group; hand one member to each thread).
#[derive(Debug)]
pub struct ThreadGroup {
    rank: usize,
    state: Arc<GroupState>,
}

impl ThreadGroup {
    /// A group of `size` ranks (at least one), one member per rank.
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        let size = size.max(1);
        let state = Arc::new(GroupState {
            slots: Mutex::new(vec![Vec::new(); size]),
            barrier: Barrier::new(size),
        });
        (0..size)
            .map(|rank| ThreadGroup {
                rank,
                state: Arc::clone(&state),
            })
            .collect()
    }
}

impl Communicator for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.state.barrier_size()
    }
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        self.all_reduce(values, 0.0, |a, b| a + b)
    }
    fn all_reduce_max(&self, values: &mut [f64]) -> Result<()> {
        self.all_reduce(values, f64::NEG_INFINITY, max_nan)
    }
}

impl ThreadGroup {
    /// Combines every rank's `values` with `op`, in rank order, starting from `init`.
    fn all_reduce(
        &self,
        values: &mut [f64],
        init: f64,
        op: impl Fn(f64, f64) -> f64,
    ) -> Result<()> {
        let lock = || self.state.slots.lock().unwrap_or_else(|e| e.into_inner());
        lock()[self.rank] = values.to_vec();
        // Everyone has written ...
        self.state.barrier.wait();
        let result = {
            let slots = lock();
            if slots.iter().any(|s| s.len() != values.len()) {
                Err(Error::State(format!(
                    "all-reduce of different lengths across ranks: {:?}",
                    slots.iter().map(Vec::len).collect::<Vec<_>>()
                )))
            } else {
                values.fill(init);
                for slot in slots.iter() {
                    for (v, x) in values.iter_mut().zip(slot) {
                        *v = op(*v, *x);
                    }
                }
                Ok(())
            }
        };
        // ... and everyone has read before a slot is written again.
        self.state.barrier.wait();
        result
    }
}

impl GroupState {
    fn barrier_size(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The ranks of an MPI job (`mpirun -np N`, `srun`): the world communicator.
#[cfg(feature = "mpi")]
pub struct MpiCommunicator {
    world: mpi::topology::SimpleCommunicator,
    /// The rank within the node (`MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`).
    local_rank: usize,
    /// Finalises MPI when dropped; kept for the program's life.
    _universe: mpi::environment::Universe,
}

#[cfg(feature = "mpi")]
impl MpiCommunicator {
    /// Initialises MPI (once per process: a second call is an error) and takes the world
    /// communicator.
    pub fn init() -> Result<Self> {
        let universe = mpi::initialize().ok_or_else(|| {
            Error::State("MPI is already initialised in this process".to_string())
        })?;
        let world = universe.world();
        let local_rank = {
            use mpi::traits::Communicator as _;
            world.split_shared(world.rank()).rank() as usize
        };
        Ok(MpiCommunicator {
            world,
            local_rank,
            _universe: universe,
        })
    }

    /// The world communicator (NCCL's bootstrap broadcasts its id over it).
    #[cfg(feature = "nccl")]
    pub(crate) fn world(&self) -> &mpi::topology::SimpleCommunicator {
        &self.world
    }
}

#[cfg(feature = "mpi")]
impl std::fmt::Debug for MpiCommunicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MpiCommunicator(rank {} of {})",
            self.rank(),
            self.size()
        )
    }
}

#[cfg(feature = "mpi")]
impl Communicator for MpiCommunicator {
    fn rank(&self) -> usize {
        use mpi::traits::Communicator as _;
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        use mpi::traits::Communicator as _;
        self.world.size() as usize
    }
    fn local_rank(&self) -> usize {
        self.local_rank
    }
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        use mpi::collective::SystemOperation;
        use mpi::traits::{Communicator as _, Root};
        // Reduce to rank 0, then broadcast: every rank gets rank 0's bits, whatever
        // order the library's all-reduce would add in on each rank.
        let root = self.world.process_at_rank(0);
        if self.world.rank() == 0 {
            let mut sum = vec![0.0; values.len()];
            root.reduce_into_root(&values[..], &mut sum[..], SystemOperation::sum());
            values.copy_from_slice(&sum);
        } else {
            root.reduce_into(&values[..], SystemOperation::sum());
        }
        root.broadcast_into(values);
        Ok(())
    }
    fn all_reduce_max(&self, values: &mut [f64]) -> Result<()> {
        use mpi::collective::SystemOperation;
        use mpi::traits::CommunicatorCollectives;
        // MPI's max ignores NaN ordering; carry "some rank had NaN" as a separate sum.
        let nan: Vec<f64> = values.iter().map(|v| v.is_nan() as u8 as f64).collect();
        let send: Vec<f64> = values
            .iter()
            .map(|v| if v.is_nan() { f64::NEG_INFINITY } else { *v })
            .collect();
        self.world
            .all_reduce_into(&send[..], values, SystemOperation::max());
        let mut any_nan = nan;
        self.all_reduce_sum(&mut any_nan)?;
        for (v, n) in values.iter_mut().zip(any_nan) {
            if n > 0.0 {
                *v = f64::NAN;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_sum_in_rank_order_and_agree() {
        let group = ThreadGroup::new(3);
        let results: Vec<Vec<f64>> = std::thread::scope(|s| {
            let handles: Vec<_> = group
                .iter()
                .map(|member| {
                    s.spawn(move || {
                        let r = member.rank() as f64;
                        let mut v = vec![r, 1.0, 0.1 * r];
                        member.all_reduce_sum(&mut v).unwrap();
                        // A second round reuses the slots.
                        let mut w = vec![1.0];
                        member.all_reduce_sum(&mut w).unwrap();
                        v.push(w[0]);
                        let mut m = vec![r, -r, if r == 1.0 { f64::NAN } else { 0.0 }];
                        member.all_reduce_max(&mut m).unwrap();
                        assert_eq!(&m[..2], &[2.0, 0.0]);
                        assert!(m[2].is_nan());
                        v
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let want = vec![3.0, 3.0, 0.0 + 0.1 + 0.2, 3.0];
        for r in &results {
            assert_eq!(r, &want);
        }
        assert_eq!(group[2].size(), 3);
        let mut one = vec![2.5];
        SingleProcess.all_reduce_sum(&mut one).unwrap();
        assert_eq!(one, vec![2.5]);
    }
}
