//! The `_target_` registry: every class a nequip config may name that allegro-rs maps,
//! with the role it plays. A class not listed here is an error naming the key path and
//! the class, never silently skipped.

use std::fmt;

use serde_json::Value;

use super::error::{ConfigError, ConfigResult};
use super::key_path::KeyPath;

/// What a class is used for: where in a config it may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// `data`.
    DataModule,
    /// `data.{train,val,test}_dataset`.
    Dataset,
    /// A dataset's `transforms` item.
    Transform,
    /// `data.*_dataloader`.
    DataLoader,
    /// `trainer`.
    Trainer,
    /// `trainer.strategy`.
    Strategy,
    /// A `trainer.callbacks` item.
    Callback,
    /// `trainer.logger`.
    Logger,
    /// `training_module`.
    TrainingModule,
    /// `loss`, `*_metrics`.
    MetricsManager,
    /// A metric's `field` when it is not a plain field name.
    FieldModifier,
    /// A metric's `metric`.
    Metric,
    /// `training_module.optimizer`.
    Optimizer,
    /// `training_module.lr_scheduler.scheduler`.
    LrScheduler,
    /// `training_module.model`.
    Model,
    /// `model.radial_chemical_embed`.
    RadialEmbedding,
    /// `model.pair_potential`.
    PairPotential,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Role::DataModule => "data module",
            Role::Dataset => "dataset",
            Role::Transform => "data transform",
            Role::DataLoader => "data loader",
            Role::Trainer => "trainer",
            Role::Strategy => "trainer strategy",
            Role::Callback => "callback",
            Role::Logger => "logger",
            Role::TrainingModule => "training module",
            Role::MetricsManager => "metrics manager",
            Role::FieldModifier => "field modifier",
            Role::Metric => "metric",
            Role::Optimizer => "optimizer",
            Role::LrScheduler => "learning-rate scheduler",
            Role::Model => "model",
            Role::RadialEmbedding => "radial-chemical embedding",
            Role::PairPotential => "pair potential",
        };
        f.write_str(s)
    }
}

/// A class a config names with `_target_`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `nequip.data.datamodule.NequIPDataModule`.
    NequipDataModule,
    /// `nequip.data.dataset.NequIPLMDBDataset`.
    NequipLmdbDataset,
    /// `nequip.data.dataset.ASEDataset` (read as extxyz).
    AseDataset,
    /// `nequip.data.transforms.NeighborListTransform`.
    NeighborListTransform,
    /// `nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper`.
    ChemicalSpeciesToAtomTypeMapper,
    /// `torch.utils.data.DataLoader`.
    DataLoader,
    /// `lightning.Trainer`.
    LightningTrainer,
    /// `nequip.train.SimpleDDPStrategy`.
    SimpleDdpStrategy,
    /// `lightning.pytorch.callbacks.LearningRateMonitor`.
    LearningRateMonitor,
    /// `nequip.train.callbacks.LossCoefficientMonitor`.
    LossCoefficientMonitor,
    /// `nequip.train.callbacks.TestTimeXYZFileWriter`.
    TestTimeXyzFileWriter,
    /// `lightning.pytorch.callbacks.EarlyStopping`.
    EarlyStopping,
    /// `lightning.pytorch.callbacks.ModelCheckpoint`.
    ModelCheckpoint,
    /// `lightning.pytorch.loggers.wandb.WandbLogger` (becomes the local CSV log).
    WandbLogger,
    /// `lightning.pytorch.loggers.CSVLogger`.
    CsvLogger,
    /// `nequip.train.EMALightningModule`.
    EmaLightningModule,
    /// `nequip.train.NequIPLightningModule`.
    NequipLightningModule,
    /// `nequip.train.MetricsManager`.
    MetricsManager,
    /// `nequip.data.PerAtomModifier`.
    PerAtomModifier,
    /// `nequip.train.MeanSquaredError`.
    MeanSquaredError,
    /// `nequip.train.RootMeanSquaredError`.
    RootMeanSquaredError,
    /// `nequip.train.MeanAbsoluteError`.
    MeanAbsoluteError,
    /// `torch.optim.AdamW`.
    AdamW,
    /// `torch.optim.Adam`.
    Adam,
    /// `torch.optim.lr_scheduler.ReduceLROnPlateau`.
    ReduceLrOnPlateau,
    /// `allegro.model.AllegroModel`.
    AllegroModel,
    /// `allegro.nn.TwoBodyBesselScalarEmbed`.
    TwoBodyBesselScalarEmbed,
    /// `allegro.nn.TwoBodySplineScalarEmbed`.
    TwoBodySplineScalarEmbed,
    /// `nequip.nn.pair_potential.ZBL`.
    Zbl,
}

impl Target {
    /// Every class, in config order.
    pub const ALL: [Target; 29] = [
        Target::NequipDataModule,
        Target::NequipLmdbDataset,
        Target::AseDataset,
        Target::NeighborListTransform,
        Target::ChemicalSpeciesToAtomTypeMapper,
        Target::DataLoader,
        Target::LightningTrainer,
        Target::SimpleDdpStrategy,
        Target::LearningRateMonitor,
        Target::LossCoefficientMonitor,
        Target::TestTimeXyzFileWriter,
        Target::EarlyStopping,
        Target::ModelCheckpoint,
        Target::WandbLogger,
        Target::CsvLogger,
        Target::EmaLightningModule,
        Target::NequipLightningModule,
        Target::MetricsManager,
        Target::PerAtomModifier,
        Target::MeanSquaredError,
        Target::RootMeanSquaredError,
        Target::MeanAbsoluteError,
        Target::AdamW,
        Target::Adam,
        Target::ReduceLrOnPlateau,
        Target::AllegroModel,
        Target::TwoBodyBesselScalarEmbed,
        Target::TwoBodySplineScalarEmbed,
        Target::Zbl,
    ];

    /// The class names that mean this class: the usual spelling first, then the other
    /// import paths of the same class (Lightning re-exports its classes in several
    /// modules).
    pub fn class_names(self) -> &'static [&'static str] {
        match self {
            Target::NequipDataModule => &["nequip.data.datamodule.NequIPDataModule"],
            Target::NequipLmdbDataset => &["nequip.data.dataset.NequIPLMDBDataset"],
            Target::AseDataset => &["nequip.data.dataset.ASEDataset"],
            Target::NeighborListTransform => &["nequip.data.transforms.NeighborListTransform"],
            Target::ChemicalSpeciesToAtomTypeMapper => {
                &["nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper"]
            }
            Target::DataLoader => &["torch.utils.data.DataLoader"],
            Target::LightningTrainer => &["lightning.Trainer", "lightning.pytorch.Trainer"],
            Target::SimpleDdpStrategy => &["nequip.train.SimpleDDPStrategy"],
            Target::LearningRateMonitor => &[
                "lightning.pytorch.callbacks.LearningRateMonitor",
                "lightning.pytorch.callbacks.lr_monitor.LearningRateMonitor",
            ],
            Target::LossCoefficientMonitor => &["nequip.train.callbacks.LossCoefficientMonitor"],
            Target::TestTimeXyzFileWriter => &["nequip.train.callbacks.TestTimeXYZFileWriter"],
            Target::EarlyStopping => &[
                "lightning.pytorch.callbacks.EarlyStopping",
                "lightning.pytorch.callbacks.early_stopping.EarlyStopping",
            ],
            Target::ModelCheckpoint => &[
                "lightning.pytorch.callbacks.ModelCheckpoint",
                "lightning.pytorch.callbacks.model_checkpoint.ModelCheckpoint",
            ],
            Target::WandbLogger => &[
                "lightning.pytorch.loggers.wandb.WandbLogger",
                "lightning.pytorch.loggers.WandbLogger",
            ],
            Target::CsvLogger => &[
                "lightning.pytorch.loggers.CSVLogger",
                "lightning.pytorch.loggers.csv_logs.CSVLogger",
            ],
            Target::EmaLightningModule => &["nequip.train.EMALightningModule"],
            Target::NequipLightningModule => &["nequip.train.NequIPLightningModule"],
            Target::MetricsManager => &["nequip.train.MetricsManager"],
            Target::PerAtomModifier => &["nequip.data.PerAtomModifier"],
            Target::MeanSquaredError => &["nequip.train.MeanSquaredError"],
            Target::RootMeanSquaredError => &["nequip.train.RootMeanSquaredError"],
            Target::MeanAbsoluteError => &["nequip.train.MeanAbsoluteError"],
            Target::AdamW => &["torch.optim.AdamW"],
            Target::Adam => &["torch.optim.Adam"],
            Target::ReduceLrOnPlateau => &["torch.optim.lr_scheduler.ReduceLROnPlateau"],
            Target::AllegroModel => &["allegro.model.AllegroModel"],
            Target::TwoBodyBesselScalarEmbed => &["allegro.nn.TwoBodyBesselScalarEmbed"],
            Target::TwoBodySplineScalarEmbed => &["allegro.nn.TwoBodySplineScalarEmbed"],
            Target::Zbl => &["nequip.nn.pair_potential.ZBL"],
        }
    }

    /// The usual class name.
    pub fn class_name(self) -> &'static str {
        self.class_names()[0]
    }

    /// The class called `name` (any of its [`class_names`](Self::class_names)).
    pub fn from_class(name: &str) -> Option<Target> {
        Target::ALL
            .into_iter()
            .find(|t| t.class_names().contains(&name))
    }

    /// Where the class may appear.
    pub fn role(self) -> Role {
        match self {
            Target::NequipDataModule => Role::DataModule,
            Target::NequipLmdbDataset | Target::AseDataset => Role::Dataset,
            Target::NeighborListTransform | Target::ChemicalSpeciesToAtomTypeMapper => {
                Role::Transform
            }
            Target::DataLoader => Role::DataLoader,
            Target::LightningTrainer => Role::Trainer,
            Target::SimpleDdpStrategy => Role::Strategy,
            Target::LearningRateMonitor
            | Target::LossCoefficientMonitor
            | Target::TestTimeXyzFileWriter
            | Target::EarlyStopping
            | Target::ModelCheckpoint => Role::Callback,
            Target::WandbLogger | Target::CsvLogger => Role::Logger,
            Target::EmaLightningModule | Target::NequipLightningModule => Role::TrainingModule,
            Target::MetricsManager => Role::MetricsManager,
            Target::PerAtomModifier => Role::FieldModifier,
            Target::MeanSquaredError | Target::RootMeanSquaredError | Target::MeanAbsoluteError => {
                Role::Metric
            }
            Target::AdamW | Target::Adam => Role::Optimizer,
            Target::ReduceLrOnPlateau => Role::LrScheduler,
            Target::AllegroModel => Role::Model,
            Target::TwoBodyBesselScalarEmbed | Target::TwoBodySplineScalarEmbed => {
                Role::RadialEmbedding
            }
            Target::Zbl => Role::PairPotential,
        }
    }

    /// The class of the mapping `node` at `path`, which must play `role`; errors name
    /// `path._target_` and the class.
    pub fn of(node: &Value, path: &KeyPath, role: Role) -> ConfigResult<Target> {
        let key = path.child("_target_");
        let class = match node.get("_target_") {
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(ConfigError::new(
                    key,
                    format!("`_target_` must be a class name, not `{other}`"),
                ));
            }
            None if node.is_object() => {
                return Err(ConfigError::new(
                    key,
                    format!("missing: a {role} needs a `_target_` class"),
                ));
            }
            None => {
                return Err(ConfigError::new(
                    path,
                    format!("expected a {role} (a mapping with `_target_`), found `{node}`"),
                ));
            }
        };
        check_class(class, role).map_err(|m| ConfigError::new(key, m))
    }
}

/// The class `class` when it is known and plays `role`; otherwise why not.
pub(crate) fn check_class(class: &str, role: Role) -> Result<Target, String> {
    let target = Target::from_class(class).ok_or_else(|| {
        let known: Vec<&str> = Target::ALL
            .iter()
            .filter(|t| t.role() == role)
            .map(|t| t.class_name())
            .collect();
        format!(
            "unknown class `{class}` for a {role} (allegro-rs maps: {})",
            known.join(", ")
        )
    })?;
    if target.role() != role {
        return Err(format!(
            "`{class}` is a {}, but a {role} is expected here",
            target.role()
        ));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registry_round_trips_and_names_errors() {
        for t in Target::ALL {
            for name in t.class_names() {
                assert_eq!(Target::from_class(name), Some(t));
            }
        }
        let path = KeyPath::parse("trainer.callbacks[2]").unwrap();
        let cb = json!({"_target_": "lightning.pytorch.callbacks.EarlyStopping"});
        assert_eq!(
            Target::of(&cb, &path, Role::Callback).unwrap(),
            Target::EarlyStopping
        );
        let e = Target::of(&json!({"_target_": "foo.Bar"}), &path, Role::Callback).unwrap_err();
        assert_eq!(e.key, "trainer.callbacks[2]._target_");
        assert!(e.message.contains("foo.Bar"), "{e}");
        let e = Target::of(&cb, &path, Role::Logger).unwrap_err();
        assert!(e.message.contains("is a callback"), "{e}");
        let e = Target::of(&json!({"a": 1}), &path, Role::Callback).unwrap_err();
        assert!(e.message.contains("missing"), "{e}");
    }
}
