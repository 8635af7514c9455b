//! What a long run meets: a batch whose loss is not finite (stop or skip, as configured,
//! naming the epoch, the batch and its frames; `last.ckpt` stays good and resumes) and a
//! disk that fills up during a checkpoint write (the previous checkpoint stays intact).

mod common;

use std::path::{Path, PathBuf};

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::GraphDataset;
use allegro_nn::AllegroModel;
use allegro_train::{
    AdamW, AdamWConfig, Checkpoint, Error, FitConfig, GradClip, LossCoeffs, NonFinitePolicy,
    Progress, Trainer, energy_force_loss, energy_force_metrics,
};
use common::{dataset, tiny_model};

fn trainer(model: &AllegroModel) -> Trainer<Cpu> {
    let names = model.config().type_names.clone();
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let opt = AdamW::new(AdamWConfig {
        lr: 5e-3,
        ..Default::default()
    })
    .unwrap();
    let loss = energy_force_loss(LossCoeffs::default(), true, &names, vec![]).unwrap();
    let val = energy_force_metrics(&[("forces_rmse", 1.0)], false, &names, vec![]).unwrap();
    Trainer::new(model.clone(), params, opt, loss, val, CpuDevice)
        .unwrap()
        .with_clip(GradClip::Norm(50.0))
}

fn out_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("allegro-long-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Batches of 3 in order (no shuffle): frames 3, 4, 5 are batch 1 of every epoch.
fn fit(epochs: u64, dir: &Path, policy: NonFinitePolicy) -> FitConfig {
    FitConfig {
        max_epochs: epochs,
        batch_size: 3,
        val_batch_size: 3,
        shuffle: false,
        out_dir: Some(dir.to_path_buf()),
        non_finite: policy,
        ..Default::default()
    }
}

/// `data` with frame 4's energy label at 1e200 eV: its squared error overflows, so the
/// loss of the batch holding it is infinite.
fn with_bad_frame(data: &GraphDataset) -> GraphDataset {
    let mut bad = data.clone();
    bad.graphs[4].labels.total_energy[0] = Some(1e200);
    bad
}

const TRAIN: [usize; 7] = [0, 1, 2, 3, 4, 5, 6];
const VAL: [usize; 3] = [7, 8, 9];

#[test]
fn non_finite_loss_stops_naming_the_batch_and_last_checkpoint_resumes() {
    let data = dataset(10);
    let model = tiny_model(&data);
    let dir = out_dir("stop");
    let stop = NonFinitePolicy::Stop;
    let mut a = trainer(&model);
    a.fit(&data, &TRAIN, &data, &VAL, &fit(1, &dir, stop), &mut |_| {})
        .unwrap();
    let good = Checkpoint::load(dir.join("last.ckpt")).unwrap();
    assert_eq!(good.epoch, 1);

    // Epoch 1 meets the bad frame in its second batch and stops there.
    let bad = with_bad_frame(&data);
    let mut b = trainer(&model);
    assert!(b.resume_from_dir(&dir).unwrap());
    let err = b
        .fit(&bad, &TRAIN, &bad, &VAL, &fit(3, &dir, stop), &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { what: "loss", .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("the loss is inf")
            && message.contains("epoch 1, batch 1 (frames 3, 4, 5)"),
        "{message}"
    );
    // The step was not taken, and last.ckpt is still the good one of epoch 0.
    assert_eq!(
        b.global_step,
        good.global_step + 1,
        "only batch 0 of epoch 1 ran"
    );
    assert_eq!(Checkpoint::load(dir.join("last.ckpt")).unwrap(), good);

    // Resuming from it on clean data goes on.
    let mut c = trainer(&model);
    assert!(c.resume_from_dir(&dir).unwrap());
    let summary = c
        .fit(&data, &TRAIN, &data, &VAL, &fit(2, &dir, stop), &mut |_| {})
        .unwrap();
    assert_eq!(summary.epochs, 2);
    assert_eq!(Checkpoint::load(dir.join("last.ckpt")).unwrap().epoch, 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn skip_batch_leaves_the_bad_batch_out_and_goes_on() {
    let data = dataset(10);
    let model = tiny_model(&data);
    let bad = with_bad_frame(&data);
    let dir = out_dir("skip");
    let mut skipped = Vec::new();
    let mut t = trainer(&model);
    t.fit(
        &bad,
        &TRAIN,
        &bad,
        &VAL,
        &fit(2, &dir, NonFinitePolicy::SkipBatch),
        &mut |p| {
            if let Progress::SkippedBatch {
                epoch,
                batch,
                reason,
            } = p
            {
                skipped.push((epoch, batch, reason));
            }
        },
    )
    .unwrap();
    assert_eq!(
        skipped.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
        vec![(0, 1), (1, 1)]
    );
    assert!(skipped[0].2.contains("frames 3, 4, 5"), "{}", skipped[0].2);
    // Two of three batches per epoch were steps; the epochs' metrics leave the skipped
    // batch out, so they are finite.
    assert_eq!(t.global_step, 4);
    for record in &t.history {
        for (name, v) in &record.train.values {
            assert!(v.is_finite(), "epoch {}: train {name} = {v}", record.epoch);
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A full disk when `last.ckpt` is written (its temporary file is a link to `/dev/full`,
/// so the kernel answers ENOSPC): the run stops with an error that names the file and
/// says the previous one is intact, and it is.
#[cfg(target_os = "linux")]
#[test]
fn full_disk_during_a_checkpoint_keeps_the_previous_one() {
    let data = dataset(10);
    let model = tiny_model(&data);
    let dir = out_dir("full");
    let stop = NonFinitePolicy::Stop;
    let mut t = trainer(&model);
    t.fit(&data, &TRAIN, &data, &VAL, &fit(1, &dir, stop), &mut |_| {})
        .unwrap();
    let good = Checkpoint::load(dir.join("last.ckpt")).unwrap();
    // The temporary name `write_atomic` uses: `.last.ckpt.tmp-<pid>` beside the file.
    let tmp = dir.join(format!(".last.ckpt.tmp-{}", std::process::id()));
    std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
    let err = t
        .fit(&data, &TRAIN, &data, &VAL, &fit(2, &dir, stop), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("last.ckpt")
            && err.contains("previous file is intact")
            && err.contains("No space left"),
        "{err}"
    );
    assert_eq!(Checkpoint::load(dir.join("last.ckpt")).unwrap(), good);
    assert!(!tmp.exists(), "the temporary link is removed");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A damaged `last.ckpt` is refused on resume, naming `best.ckpt` (and its epoch) as the
/// fallback; copied over `last.ckpt`, the fallback resumes.
#[test]
fn damaged_last_checkpoint_names_best_as_the_fallback() {
    let data = dataset(10);
    let model = tiny_model(&data);
    let dir = out_dir("damaged");
    let stop = NonFinitePolicy::Stop;
    let mut t = trainer(&model);
    t.fit(&data, &TRAIN, &data, &VAL, &fit(2, &dir, stop), &mut |_| {})
        .unwrap();
    let last = dir.join("last.ckpt");
    let mut bytes = std::fs::read(&last).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&last, &bytes).unwrap();
    let mut r = trainer(&model);
    let err = r.resume_from_dir(&dir).unwrap_err().to_string();
    let best = Checkpoint::load(dir.join("best.ckpt")).unwrap();
    assert!(
        err.contains("last.ckpt")
            && err.contains("best.ckpt")
            && err.contains(&format!("epoch {}", best.epoch)),
        "{err}"
    );
    std::fs::copy(dir.join("best.ckpt"), &last).unwrap();
    assert!(r.resume_from_dir(&dir).unwrap());
    assert_eq!(r.epoch, best.epoch);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The batches 0–2 of `TRAIN` in order, three frames each.
fn batches(data: &GraphDataset) -> Vec<allegro_data::AtomicGraph> {
    use allegro_data::GraphSource;
    TRAIN.chunks(3).map(|c| data.batch(c).unwrap()).collect()
}

/// Every parameter of `a` and `b` within `tol` (relative to the largest entry).
fn same_params(a: &Trainer<Cpu>, b: &Trainer<Cpu>, tol: f64, what: &str) {
    for ((name, x), (_, y)) in a.params.iter().zip(b.params.iter()) {
        let (x, y) = (x.tensor.to_vec_f64(), y.tensor.to_vec_f64());
        let scale = x.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
        let d = x
            .iter()
            .zip(&y)
            .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
        assert!(d <= tol * scale, "{what}: `{name}` differs by {d:e}");
    }
}

/// Enqueued steps read back at once give the synchronous steps' metrics and weights;
/// at a non-finite step, `settle` names it, and that step and the later ones were not
/// taken: the weights are those after the steps before it.
#[test]
fn enqueued_steps_match_synchronous_ones_and_stop_at_the_first_non_finite() {
    let data = dataset(10);
    let model = tiny_model(&data);
    let mut sync = trainer(&model).with_ema(0.99).unwrap();
    let mut queued = trainer(&model).with_ema(0.99).unwrap();
    let mut sync_values = Vec::new();
    for b in batches(&data) {
        sync_values.push(sync.train_step(&b).unwrap());
        queued.enqueue_step(&b).unwrap();
    }
    assert_eq!(queued.pending_steps(), 3);
    let queued_values = queued.settle().unwrap();
    assert_eq!(queued.pending_steps(), 0);
    for (s, q) in sync_values.iter().zip(&queued_values) {
        let (s, q) = (s.weighted_sum().unwrap(), q.weighted_sum().unwrap());
        assert!((s - q).abs() <= 1e-12 * s.abs(), "loss {q} vs {s}");
    }
    same_params(&sync, &queued, 1e-12, "after three steps");
    assert_eq!(queued.global_step, 3);

    // Batch 1 holds the bad frame: batch 0 is taken, batches 1 and 2 are not.
    let bad = batches(&with_bad_frame(&data));
    let mut first = trainer(&model).with_ema(0.99).unwrap();
    first.train_step(&bad[0]).unwrap();
    let mut stopped = trainer(&model).with_ema(0.99).unwrap();
    for b in &bad {
        stopped.enqueue_step(b).unwrap();
    }
    let err = stopped.settle().unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFinite {
                what: "loss",
                step: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(stopped.global_step, 1);
    same_params(&first, &stopped, 0.0, "after the non-finite step");
    let (e1, e2) = (first.eval_params(), stopped.eval_params());
    for ((name, x), (_, y)) in e1.iter().zip(e2.iter()) {
        assert_eq!(x.tensor.to_vec_f64(), y.tensor.to_vec_f64(), "EMA `{name}`");
    }
    // Enqueueing goes on from there.
    stopped.enqueue_step(&bad[0]).unwrap();
    assert_eq!(stopped.settle().unwrap().len(), 1);
}
