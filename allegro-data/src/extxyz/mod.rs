//! Extended XYZ (extxyz) as written by ASE: a streaming reader and a lossless writer.
//!
//! A frame is an atom-count line, a comment line of `key=value` pairs (`Lattice`,
//! `Properties`, `pbc`, labels, free-form info) and one line per atom with the columns
//! listed in `Properties`. Labels are found under configurable keys
//! ([`ReadOptions`], [`WriteOptions`]); everything else is kept in
//! [`Labels::info`](crate::Labels::info) and [`Labels::arrays`](crate::Labels::arrays)
//! so that read → write → read gives back the same [`Structure`](crate::Structure).

mod comment;
mod header;
mod options;
mod read;
mod write;

pub use options::ReadOptions;
pub use read::{ExtxyzReader, open_extxyz, read_extxyz, read_extxyz_from, read_extxyz_str};
pub use write::{WriteOptions, format_frame, write_extxyz, write_extxyz_string};
