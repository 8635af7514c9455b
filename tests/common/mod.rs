//! Helpers shared by the root package's integration tests: where the shared folder is.
#![allow(dead_code)]

pub use allegro::core::testing::shared_dir;
