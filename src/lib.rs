//! allegro
