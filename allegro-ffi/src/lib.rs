//! allegro-ffi
