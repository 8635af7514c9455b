//! `examples/custom_parts.rs` in CI: a radial embedding and a loss term defined outside
//! the crates train an Allegro model (validation force error halves from the untrained
//! model's), the saved model
//! reloads with the part and predicts the same, refuses to load without it, and the
//! no-tape inference path agrees with the tape on the custom part.

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
    // Differences, so compared with 0 in absolute terms.
    assert_abs_diff_eq!(r.reload_energy_rel, 0.0, epsilon = 1e-12);
    assert_abs_diff_eq!(r.reload_force_abs, 0.0, epsilon = 1e-12);
    assert_abs_diff_eq!(r.tape_vs_no_tape, 0.0, epsilon = 1e-9);
    assert!(
        r.without_part.contains("custom_parts.GaussianEmbedding")
            && r.without_part.contains("with_radial_embedding"),
        "{}",
        r.without_part
    );
    let _ = std::fs::remove_dir_all(&dir);
}
