//! A batch split into shards (data-parallel ranks) differentiates exactly: the shards'
//! surrogate gradients, with weights from the pooled sums, add up to the gradient of
//! the whole batch's loss, for MSE, RMSE and MAE terms, a loss of one's own over two
//! pooled sums, per-type means (with and without per-type coefficients) and shards that
//! lack a type.

mod common;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::{Backend, Tensor};
use allegro_data::AtomicGraph;
use allegro_nn::predictor::inputs_from_graph;
use allegro_nn::{AllegroModel, Parameters};
use allegro_train::grads::gradients;
use allegro_train::{
    ErrorMap, ErrorStats, Field, Loss, Mae, MaxAbs, Metric, MetricEntry, MetricsManager, Mse,
    PooledForm, PooledMetric, Rmse,
};

/// `a·mean(e²) + (1 − a)·mean(|e|)`: a loss of one's own that reads two pooled sums.
#[derive(Clone, Copy, Debug)]
struct SquaredAbsMix(f64);

impl Metric for SquaredAbsMix {
    fn name(&self) -> &str {
        "sqabsmix"
    }
    fn compute(&self, s: &ErrorStats) -> f64 {
        (self.0 * s.sum_sq + (1.0 - self.0) * s.sum_abs) / s.count as f64
    }
}

impl PooledMetric for SquaredAbsMix {
    fn maps(&self) -> Vec<ErrorMap> {
        vec![ErrorMap::Square, ErrorMap::Abs]
    }
    fn value(&self, sums: &[f64], n: f64) -> f64 {
        (self.0 * sums[0] + (1.0 - self.0) * sums[1]) / n
    }
    fn gradient(&self, _sums: &[f64], n: f64) -> Vec<f64> {
        vec![self.0 / n, (1.0 - self.0) / n]
    }
}

impl<B: Backend> Loss<B> for SquaredAbsMix {
    fn loss(&self, e: &Tensor<B>) -> Tensor<B> {
        let sq = e.square().mean_all().mul_scalar(self.0);
        sq.add(&e.abs().mean_all().mul_scalar(1.0 - self.0))
    }
    fn pooled_form(&self) -> Option<PooledForm> {
        Some(PooledForm::custom(*self))
    }
}
use common::{dataset, tiny_model};

fn manager(names: &[String]) -> MetricsManager<Cpu> {
    let entries = vec![
        MetricEntry::new(Field::PerAtomEnergy, Mse).coeff(1.0),
        MetricEntry::new(Field::Forces, Rmse).coeff(1.0).per_type(),
        MetricEntry::new(Field::Forces, Mae)
            .named("forces_mae_weighted")
            .coeff(0.5)
            .per_type_coeffs(vec![1.0, 2.0, 3.0, 4.0]),
        MetricEntry::new(Field::TotalEnergy, Rmse).coeff(0.25),
        MetricEntry::new(Field::Forces, SquaredAbsMix(0.3))
            .coeff(0.7)
            .per_type(),
        // Report only: no pooled form needed.
        MetricEntry::new(Field::Forces, MaxAbs),
    ];
    MetricsManager::new(entries, names).unwrap()
}

/// Flat gradients of `loss` (a function of `tracked`).
fn flat(loss: &allegro_core::Tensor<Cpu>, tracked: &Parameters<Cpu>) -> Vec<f64> {
    gradients(loss, tracked)
        .into_iter()
        .flat_map(|(_, g)| g.to_vec_f64())
        .collect()
}

fn outputs(
    model: &AllegroModel,
    tracked: &Parameters<Cpu>,
    graph: &AtomicGraph,
) -> allegro_nn::Outputs<Cpu> {
    let inputs = inputs_from_graph::<Cpu>(graph, model.num_types(), &CpuDevice).unwrap();
    model.outputs(tracked, &inputs, true)
}

#[test]
fn shard_gradients_add_up_to_the_batch_gradient() {
    let data = dataset(8);
    let model = tiny_model(&data);
    let names = data.type_names.clone();
    let params = model.init_parameters::<Cpu>(&CpuDevice);

    let whole = AtomicGraph::batch(&data.graphs);
    let tracked = params.tracked();
    let out = outputs(&model, &tracked, &whole);
    let loss = manager(&names).loss(&out, &whole).unwrap().loss.unwrap();
    let want = flat(&loss, &tracked);

    // Uneven shards, the last a single molecule (not every type in it).
    for cut in [
        vec![0, 3, 7, 8],
        vec![0, 4, 8],
        vec![0, 1, 2, 3, 4, 5, 6, 7, 8],
    ] {
        let shards: Vec<AtomicGraph> = cut
            .windows(2)
            .map(|w| AtomicGraph::batch(&data.graphs[w[0]..w[1]]))
            .collect();
        let mut managers: Vec<_> = shards.iter().map(|_| manager(&names)).collect();
        let tracked: Vec<_> = shards.iter().map(|_| params.tracked()).collect();
        let sums: Vec<_> = shards
            .iter()
            .zip(&tracked)
            .zip(&mut managers)
            .map(|((g, t), m)| m.shard_sums(&outputs(&model, t, g), g).unwrap())
            .collect();
        let mut global = vec![0.0; sums[0].pooled().len()];
        for s in &sums {
            for (a, b) in global.iter_mut().zip(s.pooled()) {
                *a += b;
            }
        }
        let mut got = vec![0.0; want.len()];
        for ((s, m), t) in sums.iter().zip(&managers).zip(&tracked) {
            let (surrogate, value) = s.surrogate(m, &global).unwrap();
            let dl = (value - loss.item()).abs() / loss.item().abs();
            assert!(
                dl <= 1e-12,
                "shards {cut:?}: loss {value} vs {}",
                loss.item()
            );
            // A shard whose terms have no errors at all has no surrogate.
            if let Some(surrogate) = surrogate {
                for (a, b) in got.iter_mut().zip(flat(&surrogate, t)) {
                    *a += b;
                }
            }
        }
        let scale = want.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        let diff = got
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            diff <= 1e-12 * scale,
            "shards {cut:?}: gradient differs by {diff:e} (largest {scale:e})"
        );
    }
}

#[test]
fn a_loss_term_without_pooled_form_is_refused_by_name() {
    let data = dataset(2);
    let model = tiny_model(&data);
    let names = data.type_names.clone();
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let mut m = MetricsManager::new(
        vec![
            MetricEntry::new(Field::PerAtomEnergy, Mse).coeff(1.0),
            MetricEntry::new(Field::Forces, MaxAbs).coeff(1.0),
        ],
        &names,
    )
    .unwrap();
    let g = AtomicGraph::batch(&data.graphs);
    let e = m
        .shard_sums(&outputs(&model, &params.tracked(), &g), &g)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("forces_maxabserr") && e.contains("pooled"),
        "{e}"
    );
}
