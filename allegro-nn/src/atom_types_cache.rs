//! The atom types a predictor last sent to the device, kept there between calls.
//!
//! An MD code hands the same atoms call after call (LAMMPS changes its ghost atoms only
//! when it rebuilds its neighbor list), so their types need not travel again: comparing
//! `N` host words costs far less than uploading them, and leaves the positions as the
//! only per-atom bytes of a call ([`crate::ModelInputs::from_neighbor_list_reusing`]).

use std::sync::{Arc, Mutex};

use allegro_core::{Backend, Indices};

/// Atom types on the host and the device buffer holding them.
type KeptTypes<B> = (Vec<u32>, Indices<B>);

/// The last atom types uploaded, with their host copy (shared by clones).
#[derive(Clone, Debug)]
pub struct AtomTypesCache<B: Backend>(Arc<Mutex<Option<KeptTypes<B>>>>);

impl<B: Backend> Default for AtomTypesCache<B> {
    fn default() -> Self {
        AtomTypesCache(Arc::new(Mutex::new(None)))
    }
}

impl<B: Backend> AtomTypesCache<B> {
    /// The device buffer of `types` if they are the ones kept.
    pub fn get(&self, types: &[u32]) -> Option<Indices<B>> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.as_ref()
            .filter(|(host, _)| host.as_slice() == types)
            .map(|(_, device)| device.clone())
    }

    /// Keeps `device`, the buffer of `types`, for the next call.
    pub fn keep(&self, types: &[u32], device: &Indices<B>) {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *kept = Some((types.to_vec(), device.clone()));
    }
}
