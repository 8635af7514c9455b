//! allegro-core
