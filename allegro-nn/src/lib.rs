//! allegro-nn
