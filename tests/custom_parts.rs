//! `examples/custom_parts.rs` in CI: a radial embedding, a tensor product and a loss term
//! defined outside the crates train an Allegro model (validation force error halves from
//! the untrained model's), also data-parallel over two ranks with the loss pooled; the saved model is refused by name while its parts are not
//! registered and, once they are, loads and predicts the same; the gated product equals
//! Allegro's at initialisation; the no-tape inference path agrees with the tape on the
//! custom embedding.

use approx::assert_abs_diff_eq;

#[allow(dead_code)]
#[path = "../examples/custom_parts.rs"]
mod custom_parts;

#[test]
fn user_defined_parts_train_save_and_reload() {
    let dir = std::env::temp_dir().join(format!("allegro-custom-parts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = custom_parts::run(8, &dir).unwrap();
    let (first, last) = (
        r.untrained_val_forces_rmse,
        *r.val_forces_rmse.last().unwrap(),
    );
    assert_eq!(r.val_forces_rmse.len(), 8);
    assert!(
        last < 0.5 * first,
        "validation force RMSE untrained {first} → {last}"
    );
    // The same loss, pooled across two data-parallel ranks, trains too (half the steps:
    // each rank takes a batch per step) and leaves the ranks with the same weights.
    let dp_last = *r.data_parallel_val_forces_rmse.last().unwrap();
    assert_eq!(r.data_parallel_val_forces_rmse.len(), 8);
    assert!(
        dp_last < 0.7 * first,
        "data-parallel: untrained {first} → {dp_last}"
    );
    assert!(r.data_parallel_ranks_agree);
    // Differences, so compared with 0 in absolute terms.
    assert_abs_diff_eq!(r.reload_energy_rel, 0.0, epsilon = 1e-12);
    assert_abs_diff_eq!(r.reload_force_abs, 0.0, epsilon = 1e-12);
    assert_abs_diff_eq!(r.tape_vs_no_tape, 0.0, epsilon = 1e-9);
    assert_abs_diff_eq!(r.gated_vs_allegro_at_init, 0.0, epsilon = 1e-12);
    // The product in use is the gated one: trained gates change the forces.
    assert!(
        r.gated_vs_allegro_trained > 1e-4,
        "{}",
        r.gated_vs_allegro_trained
    );
    // Either part may be the first the loader misses; it is named, with the way out.
    assert!(
        (r.without_part.contains("custom_parts.GaussianEmbedding")
            || r.without_part.contains("custom_parts.GatedProduct"))
            && r.without_part.contains("register"),
        "{}",
        r.without_part
    );
    let _ = std::fs::remove_dir_all(&dir);
}
