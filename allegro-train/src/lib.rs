//! allegro-train
