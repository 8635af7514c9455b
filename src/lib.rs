//! allegro

pub use allegro_data as data;
