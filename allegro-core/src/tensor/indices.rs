//! Index vectors for gather and scatter-add.

use crate::backend::Backend;
use crate::error::{Error, Result};

/// A vector of `u32` indices on a backend (edge centers, neighbors, atom types, ...).
///
/// The largest index is remembered at creation, so an op can check the range without
/// reading device memory.
pub struct Indices<B: Backend> {
    storage: B::IndexStorage,
    len: usize,
    max: Option<u32>,
}

impl<B: Backend> Clone for Indices<B> {
    fn clone(&self) -> Self {
        Indices {
            storage: self.storage.clone(),
            len: self.len,
            max: self.max,
        }
    }
}

impl<B: Backend> std::fmt::Debug for Indices<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Indices<{}>(len {}, max {:?})",
            B::name(),
            self.len,
            self.max
        )
    }
}

impl<B: Backend> Indices<B> {
    /// Copies `values` to the device.
    pub fn new(values: &[u32], device: &B::Device) -> Self {
        Indices {
            storage: B::indices_from_host(device, values),
            len: values.len(),
            max: values.iter().copied().max(),
        }
    }

    /// Copies several index arrays to the device together (one transfer on a GPU).
    pub fn new_many(parts: &[&[u32]], device: &B::Device) -> Vec<Self> {
        B::indices_from_host_many(device, parts)
            .into_iter()
            .zip(parts)
            .map(|(storage, values)| Indices {
                storage,
                len: values.len(),
                max: values.iter().copied().max(),
            })
            .collect()
    }

    /// `len` copies of `value`, made on the device (a GPU uploads nothing).
    pub fn filled(len: usize, value: u32, device: &B::Device) -> Self {
        Indices {
            storage: B::indices_filled(device, len, value),
            len,
            max: (len > 0).then_some(value),
        }
    }

    /// The run starts of these ascending indices over `offsets.len() − 1` destinations,
    /// `offsets[d]` = the first position whose index is at least `d`, where `offsets`
    /// holds those values already: found on the device (a GPU uploads nothing and keeps
    /// `offsets` as the host copy). The claims are not checked: ascending indices and
    /// offsets that are their run starts.
    pub fn run_starts(&self, offsets: Vec<u32>, device: &B::Device) -> Self {
        let len = offsets.len();
        let max = offsets.last().copied();
        Indices {
            storage: B::indices_run_starts(device, &self.storage, offsets),
            len,
            max,
        }
    }

    /// Indices already in a backend buffer (built there, e.g. by
    /// [`crate::backend::EdgeOps::edge_inputs`]). `max` must be at least every value
    /// (ops check ranges against it without reading the buffer).
    pub fn from_storage(storage: B::IndexStorage, len: usize, max: Option<u32>) -> Self {
        Indices { storage, len, max }
    }

    /// Copies `values` to the device, checking that each is below `bound`.
    pub fn new_checked(values: &[u32], bound: usize, device: &B::Device) -> Result<Self> {
        if let Some((pos, &v)) = values
            .iter()
            .enumerate()
            .find(|(_, v)| **v as usize >= bound)
        {
            return Err(Error::Shape(format!(
                "index {v} at position {pos} is not below {bound}"
            )));
        }
        Ok(Self::new(values, device))
    }

    /// Number of indices.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no indices.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The largest index, if any.
    pub fn max(&self) -> Option<u32> {
        self.max
    }

    /// The backend buffer.
    pub fn storage(&self) -> &B::IndexStorage {
        &self.storage
    }

    /// Indices `start..start + len`, on the same device.
    pub fn narrow(&self, start: usize, len: usize) -> Self {
        self.narrow_minus(start, len, 0)
    }

    /// Indices `start..start + len`, each minus `minus` (renumbering a range that starts
    /// at `minus` from zero), on the same device. Panics if the range is out of bounds;
    /// every value in it must be at least `minus`.
    pub fn narrow_minus(&self, start: usize, len: usize, minus: u32) -> Self {
        assert!(
            start + len <= self.len,
            "narrow: {start}..{} of {} indices",
            start + len,
            self.len
        );
        Indices {
            storage: B::indices_narrow(&self.storage, start, len, minus),
            len,
            // Still at least every value: the largest of the whole buffer, shifted.
            max: self
                .max
                .filter(|_| len > 0)
                .map(|m| m.saturating_sub(minus)),
        }
    }

    /// The same indices, declared ascending (`idx[m] ≤ idx[m + 1]`), as the centers of
    /// edges grouped by center are: a scatter-add over them then needs no sort, and on a
    /// GPU no read back to the host. The claim is not checked (the values may be on the
    /// device only): a false one gives wrong scatter sums.
    pub fn assume_sorted(self) -> Self {
        Indices {
            storage: B::indices_assume_sorted(&self.storage),
            ..self
        }
    }

    /// The same indices with a tighter known bound: ops check ranges against the
    /// largest index, and a narrowed range's is often smaller than the whole buffer's.
    /// `max` must be at least every value (it is not checked against the buffer).
    pub fn with_max(self, max: Option<u32>) -> Self {
        Indices { max, ..self }
    }

    /// Copies the indices to the host.
    pub fn to_vec(&self) -> Vec<u32> {
        B::indices_to_host(&self.storage)
    }

    /// Panics unless every index is below `bound` (called by ops with their name).
    pub(crate) fn assert_below(&self, bound: usize, op: &str) {
        if let Some(m) = self.max {
            assert!(
                (m as usize) < bound,
                "{op}: index {m} out of range for axis of length {bound}"
            );
        }
    }
}
