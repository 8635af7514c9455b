//! Data-parallel training: ranks that each take a share of every batch
//! (`Trainer::train_step_sharded`) end with the weights of one process that takes the
//! whole batch (`Trainer::train_step`), float64, and every rank holds the same weights;
//! validation split across ranks gives the metrics of the whole set.
//! Ranks here are threads of this process (`ThreadGroup`); the arithmetic does not
//! depend on how ranks talk.

mod common;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::AtomicGraph;
use allegro_nn::{AllegroModel, Parameters};
use allegro_train::{
    AdamW, AdamWConfig, Communicator, Field, FitConfig, GradClip, MetricEntry, MetricsManager, Mse,
    Rmse, SingleProcess, ThreadGroup, Trainer,
};
use common::{dataset, tiny_model};

const STEPS: usize = 5;
const BATCH: usize = 8;
/// Validation frames after the training ones.
const VAL: usize = 10;

fn trainer(model: &AllegroModel) -> Trainer<Cpu> {
    let names = model.config().type_names.clone();
    let loss = MetricsManager::new(
        vec![
            MetricEntry::new(Field::PerAtomEnergy, Mse).coeff(1.0),
            MetricEntry::new(Field::Forces, Rmse).coeff(3.0).per_type(),
        ],
        &names,
    )
    .unwrap();
    let val = MetricsManager::new(
        vec![MetricEntry::new(Field::Forces, Rmse).coeff(1.0)],
        &names,
    )
    .unwrap();
    let opt = AdamW::new(AdamWConfig {
        lr: 5e-3,
        weight_decay: 1e-4,
        ..Default::default()
    })
    .unwrap();
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    Trainer::new(model.clone(), params, opt, loss, val, CpuDevice)
        .unwrap()
        .with_ema(0.9)
        .unwrap()
        .with_clip(GradClip::Norm(10.0))
}

/// Largest relative difference over all trainable weights.
fn max_rel_diff(a: &Parameters<Cpu>, b: &Parameters<Cpu>) -> f64 {
    let mut worst = 0.0f64;
    for name in a.trainable_names() {
        let (x, y) = (a.get(&name).to_vec_f64(), b.get(&name).to_vec_f64());
        let scale = x.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
        for (p, q) in x.iter().zip(&y) {
            worst = worst.max((p - q).abs() / scale);
        }
    }
    worst
}

#[test]
fn two_ranks_with_half_batches_equal_one_process() {
    let data = dataset(STEPS * BATCH + VAL);
    let model = tiny_model(&data);
    let val = &data.graphs[STEPS * BATCH..];
    let batch = |k: usize, range: std::ops::Range<usize>| {
        AtomicGraph::batch(&data.graphs[k * BATCH + range.start..k * BATCH + range.end])
    };

    let mut one = trainer(&model);
    for k in 0..STEPS {
        one.train_step(&batch(k, 0..BATCH)).unwrap();
    }
    let val_one = one.validate(val.chunks(3).map(AtomicGraph::batch)).unwrap();

    let group = ThreadGroup::new(2);
    let ranks: Vec<(Trainer<Cpu>, allegro_train::EpochMetrics)> = std::thread::scope(|s| {
        let handles: Vec<_> = group
            .iter()
            .map(|comm| {
                let (model, batch) = (&model, &batch);
                s.spawn(move || {
                    let mut t = trainer(model);
                    let r = comm.rank();
                    let half = BATCH / comm.size();
                    for k in 0..STEPS {
                        t.train_step_sharded(&batch(k, r * half..(r + 1) * half), comm)
                            .unwrap();
                    }
                    // Uneven shares of the validation set: 7 frames and 3.
                    let mine = if r == 0 { &val[..7] } else { &val[7..] };
                    let metrics = t
                        .validate_sharded(mine.chunks(2).map(AtomicGraph::batch), comm)
                        .unwrap();
                    (t, metrics)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (_, metrics) in &ranks {
        for (name, v) in &val_one.values {
            let got = metrics.get(name).unwrap();
            assert!(
                (got - v).abs() <= 1e-12 * v.abs(),
                "validation {name}: {got} on the ranks, {v} in one process"
            );
        }
    }
    let ranks: Vec<Trainer<Cpu>> = ranks.into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        max_rel_diff(&ranks[0].params, &ranks[1].params),
        0.0,
        "the ranks' weights differ"
    );
    let d = max_rel_diff(&ranks[0].params, &one.params);
    let d_ema = max_rel_diff(ranks[0].eval_params(), one.eval_params());
    println!(
        "2 ranks x {} vs 1 x {BATCH}, {STEPS} steps: weights {d:.1e}, EMA {d_ema:.1e}",
        BATCH / 2
    );
    assert!(d <= 1e-9 && d_ema <= 1e-9, "weights {d:e}, EMA {d_ema:e}");
    assert_eq!(ranks[0].global_step, STEPS as u64);
}

/// `batch` as one plain step of `plain` and one sharded step of `sharded` on a rank that
/// is alone in `comm`: the losses agree to 1e-12.
fn same_step_alone(
    plain: &mut Trainer<Cpu>,
    sharded: &mut Trainer<Cpu>,
    batch: &AtomicGraph,
    comm: &dyn Communicator,
) {
    let a = plain.train_step(batch).unwrap().weighted_sum().unwrap();
    let b = sharded
        .train_step_sharded(batch, comm)
        .unwrap()
        .weighted_sum()
        .unwrap();
    assert!((a - b).abs() <= 1e-12 * a.abs(), "loss {a} vs {b}");
}

#[test]
fn one_rank_sharded_step_equals_the_plain_step() {
    let data = dataset(BATCH);
    let model = tiny_model(&data);
    let batch = AtomicGraph::batch(&data.graphs);
    let (mut plain, mut sharded) = (trainer(&model), trainer(&model));
    same_step_alone(&mut plain, &mut sharded, &batch, &SingleProcess);
    let d = max_rel_diff(&plain.params, &sharded.params);
    assert!(d <= 1e-12, "weights {d:e}");
}

#[test]
fn a_rank_without_frames_takes_part_with_zero_gradients() {
    let data = dataset(4);
    let model = tiny_model(&data);
    let whole = AtomicGraph::batch(&data.graphs);
    let mut one = trainer(&model);
    one.train_step(&whole).unwrap();
    let group = ThreadGroup::new(2);
    let ranks: Vec<Trainer<Cpu>> = std::thread::scope(|s| {
        let handles: Vec<_> = group
            .iter()
            .map(|comm| {
                let (model, whole) = (&model, &whole);
                s.spawn(move || {
                    let mut t = trainer(model);
                    let shard = if comm.rank() == 0 {
                        whole.clone()
                    } else {
                        AtomicGraph::batch(&[])
                    };
                    t.train_step_sharded(&shard, comm).unwrap();
                    t
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for t in &ranks {
        let d = max_rel_diff(&t.params, &one.params);
        assert!(d <= 1e-12, "rank weights {d:e}");
    }
}

/// `fit_on` over 2 thread ranks with batch 4 each equals `fit` in one process with batch 8
/// for 2 shuffled epochs: the same training and validation metrics every epoch (so the
/// same learning-rate and early-stopping decisions) and the same weights; only rank 0
/// writes its run directory.
#[test]
fn fit_on_two_ranks_equals_fit_in_one_process() {
    let data = dataset(36);
    let model = tiny_model(&data);
    let train: Vec<usize> = (0..26).collect();
    let val: Vec<usize> = (26..36).collect();
    // The ranks build their batches on 2 loader threads each, the single process on
    // its training thread: the batches, and so the results, must not depend on it.
    let config = |batch_size: usize, dir: &str, loader_threads: usize| FitConfig {
        max_epochs: 2,
        batch_size,
        val_batch_size: 3,
        shuffle: true,
        seed: 5,
        monitor: "weighted_sum".into(),
        out_dir: Some(
            std::env::temp_dir().join(format!("allegro-fit-{dir}-{}", std::process::id())),
        ),
        loader_threads,
        ..Default::default()
    };
    let mut one = trainer(&model);
    one.fit(
        &data,
        &train,
        &data,
        &val,
        &config(8, "one", 0),
        &mut |_| {},
    )
    .unwrap();
    let group = ThreadGroup::new(2);
    let ranks: Vec<Trainer<Cpu>> = std::thread::scope(|s| {
        let handles: Vec<_> = group
            .iter()
            .map(|comm| {
                let (model, data, train, val, config) = (&model, &data, &train, &val, &config);
                s.spawn(move || {
                    let mut t = trainer(model);
                    let c = config(4, &format!("rank{}", comm.rank()), 2);
                    t.fit_on(data, train, data, val, &c, comm, &mut |_| {})
                        .unwrap();
                    t
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for t in &ranks {
        assert_eq!(t.history.len(), 2);
        for (a, b) in t.history.iter().zip(&one.history) {
            for (which, x, y) in [("train", &a.train, &b.train), ("val", &a.val, &b.val)] {
                for (name, v) in &y.values {
                    let got = x.get(name).unwrap();
                    // A type absent from every batch is NaN in both.
                    assert!(
                        (got.is_nan() && v.is_nan()) || (got - v).abs() <= 1e-12 * v.abs(),
                        "epoch {} {which} {name}: {got} vs {v}",
                        a.epoch
                    );
                }
            }
        }
        let d = max_rel_diff(&t.params, &one.params);
        assert!(d <= 1e-9, "weights {d:e}");
    }
    assert!(
        config(4, "rank0", 2)
            .out_dir
            .unwrap()
            .join("last.ckpt")
            .exists()
    );
    assert!(
        !config(4, "rank1", 2).out_dir.unwrap().exists(),
        "rank 1 wrote files"
    );
}

/// Fits `ranks` thread ranks × `batch` frames each up to `max_epochs`, every rank first
/// resuming from `resume` when given; returns rank 0's trainer (rank 0 writes `out`).
#[allow(clippy::too_many_arguments)]
fn fit_ranks(
    model: &AllegroModel,
    data: &allegro_data::GraphDataset,
    train: &[usize],
    val: &[usize],
    ranks: usize,
    batch: usize,
    max_epochs: u64,
    resume: Option<&std::path::Path>,
    out: &std::path::Path,
) -> Trainer<Cpu> {
    let config = FitConfig {
        max_epochs,
        batch_size: batch,
        val_batch_size: 3,
        seed: 11,
        out_dir: Some(out.to_path_buf()),
        ..Default::default()
    };
    let group = ThreadGroup::new(ranks);
    let mut trained: Vec<Trainer<Cpu>> = std::thread::scope(|s| {
        let handles: Vec<_> = group
            .iter()
            .map(|comm| {
                let config = &config;
                s.spawn(move || {
                    let mut t = trainer(model);
                    if let Some(dir) = resume {
                        assert!(t.resume_from_dir(dir).unwrap(), "no last.ckpt in {dir:?}");
                    }
                    t.fit_on(data, train, data, val, config, comm, &mut |_| {})
                        .unwrap();
                    t
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    trained.swap_remove(0)
}

/// A run checkpointed by 2 ranks continues on 1, and one checkpointed by 1 continues on
/// 2 (global batch 8 throughout): both end where 2 uninterrupted epochs on 1 rank end.
#[test]
fn restart_with_another_rank_count_continues_the_same_run() {
    let data = dataset(30);
    let model = tiny_model(&data);
    let train: Vec<usize> = (0..22).collect();
    let val: Vec<usize> = (22..30).collect();
    let dir = |name: &str| {
        let d = std::env::temp_dir().join(format!("allegro-restart-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    };
    let fit = |ranks, batch, epochs, resume: Option<&std::path::Path>, out: &std::path::Path| {
        fit_ranks(
            &model, &data, &train, &val, ranks, batch, epochs, resume, out,
        )
    };
    let whole = fit(1, 8, 2, None, &dir("whole"));
    let (two, one) = (dir("two-then-one"), dir("one-then-two"));
    fit(2, 4, 1, None, &two);
    let from_two = fit(1, 8, 2, Some(&two), &two);
    fit(1, 8, 1, None, &one);
    let from_one = fit(2, 4, 2, Some(&one), &one);
    for (what, t) in [("2 ranks then 1", &from_two), ("1 rank then 2", &from_one)] {
        assert_eq!(t.epoch, 2, "{what}");
        assert_eq!(t.history.len(), 2, "{what}: the history continues");
        let (got, want) = (&t.history[1].val, &whole.history[1].val);
        for (name, v) in &want.values {
            let g = got.get(name).unwrap();
            assert!(
                (g.is_nan() && v.is_nan()) || (g - v).abs() <= 1e-12 * v.abs(),
                "{what}: epoch 1 val {name}: {g} vs {v}"
            );
        }
        let d = max_rel_diff(&t.params, &whole.params);
        assert!(d <= 1e-9, "{what}: weights {d:e}");
    }
    for d in [dir("whole"), two, one] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The weights one MPI rank ends with, as the `mpi_rank_trains_its_shares` entry point
/// writes them: every trainable tensor flattened, little-endian f64.
#[cfg(feature = "mpi")]
fn flat_weights(p: &Parameters<Cpu>) -> Vec<f64> {
    p.trainable_names()
        .iter()
        .flat_map(|n| p.get(n).to_vec_f64())
        .collect()
}

/// `mpirun -np 2` of this test binary running the test `entry` on each rank, with
/// `ALLEGRO_MPI_RANK_DIR` set to a fresh folder; returns the exit status, stdout + stderr
/// and that folder, or `None` (printing SKIPPED) without `mpirun`. `mpirun` comes from
/// `$ALLEGRO_MPI_PREFIX/bin`, `.ci/pydeps/bin` of the repository, or `PATH`; with
/// `ALLEGRO_REQUIRE_MPI` set (CI) a missing one fails the test. A run longer than
/// `limit` is killed and fails the test.
#[cfg(feature = "mpi")]
fn mpirun_two(
    entry: &str,
    limit: std::time::Duration,
) -> Option<(std::process::ExitStatus, String, std::path::PathBuf)> {
    use std::path::PathBuf;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mpirun = std::env::var_os("ALLEGRO_MPI_PREFIX")
        .map(|p| PathBuf::from(p).join("bin/mpirun"))
        .into_iter()
        .chain([repo.join(".ci/pydeps/bin/mpirun")])
        .find(|p| p.exists())
        .or_else(|| {
            std::process::Command::new("mpirun")
                .arg("--version")
                .output()
                .ok()
                .map(|_| PathBuf::from("mpirun"))
        });
    let Some(mpirun) = mpirun else {
        assert!(
            std::env::var_os("ALLEGRO_REQUIRE_MPI").is_none(),
            "no mpirun found (install the mpich wheel into .ci/pydeps or set ALLEGRO_MPI_PREFIX)"
        );
        println!("SKIPPED: no mpirun");
        return None;
    };
    let dir = std::env::temp_dir().join(format!("allegro-mpi-{entry}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(bin) = mpirun.parent().filter(|p| !p.as_os_str().is_empty()) {
        path = std::env::join_paths(
            std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path)),
        )
        .unwrap();
    }
    let (stdout, stderr) = (dir.join("mpirun.out"), dir.join("mpirun.err"));
    let mut child = std::process::Command::new(&mpirun)
        .args(["-np", "2"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", entry, "--nocapture", "--test-threads", "1"])
        .env("ALLEGRO_MPI_RANK_DIR", &dir)
        .env("PATH", path)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "mpirun -np 2 {entry} still ran after {limit:?}:\n{}{}",
                std::fs::read_to_string(&stdout).unwrap_or_default(),
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let log = format!(
        "{}{}",
        std::fs::read_to_string(&stdout).unwrap_or_default(),
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    Some((status, log, dir))
}

/// `mpirun -np 2` of this test binary, each rank running `mpi_rank_trains_its_shares`
/// (batch 4 per rank, 5 steps), ends with the weights and validation metrics of one
/// process with batch 8 (see [`mpirun_two`] for where `mpirun` comes from).
#[cfg(feature = "mpi")]
#[test]
fn mpirun_two_ranks_with_half_batches_equal_one_process() {
    let Some((status, log, dir)) = mpirun_two(
        "mpi_rank_trains_its_shares",
        std::time::Duration::from_secs(600),
    ) else {
        return;
    };
    assert!(status.success(), "mpirun failed:\n{log}");

    let data = dataset(STEPS * BATCH + VAL);
    let model = tiny_model(&data);
    let mut one = trainer(&model);
    for k in 0..STEPS {
        let b = AtomicGraph::batch(&data.graphs[k * BATCH..(k + 1) * BATCH]);
        one.train_step(&b).unwrap();
    }
    let val_one = one
        .validate(
            data.graphs[STEPS * BATCH..]
                .chunks(3)
                .map(AtomicGraph::batch),
        )
        .unwrap();
    let want = flat_weights(&one.params);
    let scale = want.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    let mut ranks = Vec::new();
    for r in 0..2 {
        let bytes = std::fs::read(dir.join(format!("rank{r}.bin"))).unwrap();
        let got: Vec<f64> = bytes
            .chunks(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(got.len(), want.len());
        let d = got
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs() / scale));
        println!("MPI rank {r} (batch 4) vs one process (batch 8), {STEPS} steps: weights {d:.1e}");
        assert!(d <= 1e-9, "rank {r}: weights differ by {d:e}");
        let metrics = std::fs::read_to_string(dir.join(format!("rank{r}-val.json"))).unwrap();
        let metrics: Vec<(String, f64)> = serde_json::from_str(&metrics).unwrap();
        for (name, v) in &val_one.values {
            let got = metrics.iter().find(|(n, _)| n == name).unwrap().1;
            assert!((got - v).abs() <= 1e-12 * v.abs(), "{name}: {got} vs {v}");
        }
        ranks.push(got);
    }
    assert_eq!(ranks[0], ranks[1], "the ranks' weights differ");
}

/// One MPI rank of `mpirun_two_ranks_with_half_batches_equal_one_process` (does nothing
/// unless that test launched it: `ALLEGRO_MPI_RANK_DIR` names where to write).
#[cfg(feature = "mpi")]
#[test]
fn mpi_rank_trains_its_shares() {
    let Some(dir) = std::env::var_os("ALLEGRO_MPI_RANK_DIR").map(std::path::PathBuf::from) else {
        return;
    };
    let comm = allegro_train::MpiCommunicator::init().unwrap();
    assert_eq!(comm.size(), 2, "run with mpirun -np 2");
    let data = dataset(STEPS * BATCH + VAL);
    let model = tiny_model(&data);
    let mut t = trainer(&model);
    let (r, half) = (comm.rank(), BATCH / 2);
    for k in 0..STEPS {
        let shard = &data.graphs[k * BATCH + r * half..k * BATCH + (r + 1) * half];
        t.train_step_sharded(&AtomicGraph::batch(shard), &comm)
            .unwrap();
    }
    let val = &data.graphs[STEPS * BATCH..];
    let mine = if r == 0 { &val[..7] } else { &val[7..] };
    let metrics = t
        .validate_sharded(mine.chunks(2).map(AtomicGraph::batch), &comm)
        .unwrap();
    let bytes: Vec<u8> = flat_weights(&t.params)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(dir.join(format!("rank{r}.bin")), bytes).unwrap();
    std::fs::write(
        dir.join(format!("rank{r}-val.json")),
        serde_json::to_string(&metrics.values).unwrap(),
    )
    .unwrap();
}

/// A rank that dies mid-run stops the other one, which is waiting in an all-reduce:
/// `mpirun` ends within 60 s, unsuccessfully, with a message. Twice: rank 1 exits with an
/// error of its own before its second step, and rank 1 is killed (SIGKILL, as the
/// out-of-memory killer or a scheduler does), when the message is the launcher's.
#[cfg(feature = "mpi")]
#[test]
fn mpirun_a_failed_rank_stops_every_rank() {
    let start = std::time::Instant::now();
    let Some((status, log, _)) =
        mpirun_two("mpi_rank_that_fails", std::time::Duration::from_secs(60))
    else {
        return;
    };
    println!(
        "mpirun with a failed rank ended after {:?}",
        start.elapsed()
    );
    assert!(!status.success(), "mpirun succeeded:\n{log}");
    assert!(log.contains("rank 1 stops on purpose"), "{log}");

    let start = std::time::Instant::now();
    let Some((status, log, _)) = mpirun_two(
        "mpi_rank_that_is_killed",
        std::time::Duration::from_secs(60),
    ) else {
        return;
    };
    println!(
        "mpirun with a killed rank ended after {:?}:\n{log}",
        start.elapsed()
    );
    assert!(!status.success(), "mpirun succeeded:\n{log}");
    assert!(log.to_lowercase().contains("signal"), "{log}");
}

/// The ranks of `mpirun_a_failed_rank_stops_every_rank` (does nothing unless that test
/// launched it): both train; rank 1 exits with status 3 before its second step.
#[cfg(feature = "mpi")]
#[test]
fn mpi_rank_that_fails() {
    train_until_rank_1_dies(|| {
        eprintln!("rank 1 stops on purpose before step 1");
        std::process::exit(3);
    });
}

/// The ranks of the second half of `mpirun_a_failed_rank_stops_every_rank`: rank 1
/// sends itself SIGKILL before its second step.
#[cfg(feature = "mpi")]
#[test]
fn mpi_rank_that_is_killed() {
    train_until_rank_1_dies(|| {
        let me = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-9", &me])
            .status();
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
}

/// Sharded training steps on two MPI ranks, rank 1 calling `die` before its second step
/// (nothing unless `mpirun_two` launched this process).
#[cfg(feature = "mpi")]
fn train_until_rank_1_dies(die: impl Fn()) {
    if std::env::var_os("ALLEGRO_MPI_RANK_DIR").is_none() {
        return;
    }
    let comm = allegro_train::MpiCommunicator::init().unwrap();
    let data = dataset(STEPS * BATCH);
    let model = tiny_model(&data);
    let mut t = trainer(&model);
    let (r, half) = (comm.rank(), BATCH / 2);
    for k in 0..STEPS {
        if r == 1 && k == 1 {
            die();
        }
        let shard = &data.graphs[k * BATCH + r * half..k * BATCH + (r + 1) * half];
        t.train_step_sharded(&AtomicGraph::batch(shard), &comm)
            .unwrap();
    }
}

/// NCCL as the all-reduce (feature `nccl`: a CUDA GPU and `libnccl.so.2` on the library
/// path at run time), one MPI rank (MPICH's singleton start, no launcher) on GPU 0: sums
/// come back bit for bit whatever their length (the device staging buffer grows and is
/// reused), maxima carry NaN, and sharded training steps summed over NCCL equal the plain
/// steps. Several ranks need a GPU each (NCCL refuses two ranks on one): the device runs
/// of issue 11. Without a CUDA device or NCCL the test prints SKIPPED, unless
/// `ALLEGRO_REQUIRE_NCCL` is set, when it fails.
#[cfg(feature = "nccl")]
#[test]
fn nccl_one_rank_sums_and_trains() {
    if std::env::var_os("ALLEGRO_MPI_RANK_DIR").is_some() {
        return; // a rank of the mpirun test above: MPI is that test's
    }
    let world = allegro_train::MpiCommunicator::init().unwrap();
    let comm = match allegro_train::NcclCommunicator::new(world, 0) {
        Ok(c) => c,
        Err(e) => {
            assert!(std::env::var_os("ALLEGRO_REQUIRE_NCCL").is_none(), "{e}");
            println!("SKIPPED (no CUDA device or NCCL here): {e}");
            return;
        }
    };
    println!("{comm:?}");
    assert_eq!((comm.rank(), comm.size()), (0, 1));
    let mut rng = allegro_core::SplitMix64::new(11);
    for len in [1usize, 3, 4097, 20, 100_000, 5] {
        let mut values: Vec<f64> = (0..len).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
        values[0] = -0.0;
        if len > 2 {
            values[1] = f64::MIN_POSITIVE / 8.0; // subnormal
        }
        let want: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        comm.all_reduce_sum(&mut values).unwrap();
        let got: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        assert!(
            got == want,
            "a sum over one rank changed the values (length {len})"
        );
    }
    comm.all_reduce_sum(&mut []).unwrap();
    let mut maxima = [1.0, f64::NAN, -3.0];
    comm.all_reduce_max(&mut maxima).unwrap();
    assert!(maxima[0] == 1.0 && maxima[1].is_nan() && maxima[2] == -3.0);

    let data = dataset(STEPS * BATCH);
    let model = tiny_model(&data);
    let (mut plain, mut sharded) = (trainer(&model), trainer(&model));
    for batch in data.graphs.chunks(BATCH).map(AtomicGraph::batch) {
        same_step_alone(&mut plain, &mut sharded, &batch, &comm);
    }
    let d = max_rel_diff(&plain.params, &sharded.params);
    println!("{STEPS} steps, NCCL sums vs none: weights {d:.1e}");
    assert!(d <= 1e-12, "weights {d:e}");
}
