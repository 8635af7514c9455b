//! allegro-data
