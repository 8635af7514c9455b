//! When things happen in a run: the steps of `run` ([`RunStep`]) and how often callbacks
//! and schedulers act ([`Interval`]).

use super::error::ConfigResult;
use super::extract::Node;

/// One entry of `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunStep {
    /// Fit on the training set, validating on the validation sets.
    Train,
    /// Evaluate on the validation sets.
    Val,
    /// Evaluate on the test sets.
    Test,
}

impl RunStep {
    /// `train`, `val` or `test`.
    pub fn parse(text: &str) -> Option<RunStep> {
        match text {
            "train" => Some(RunStep::Train),
            "val" => Some(RunStep::Val),
            "test" => Some(RunStep::Test),
            _ => None,
        }
    }

    /// The name as nequip writes it.
    pub fn name(self) -> &'static str {
        match self {
            RunStep::Train => "train",
            RunStep::Val => "val",
            RunStep::Test => "test",
        }
    }
}

/// How often something happens: per epoch or per optimizer step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    /// Once per epoch.
    Epoch,
    /// Once per optimizer step.
    Step,
}

impl Interval {
    /// `epoch`, or `step` (Lightning's word) or `batch` (nequip callbacks' word).
    pub fn parse(text: &str) -> Option<Interval> {
        match text {
            "epoch" => Some(Interval::Epoch),
            "step" | "batch" => Some(Interval::Step),
            _ => None,
        }
    }
}

pub(crate) fn parse_interval(node: &Node<'_>) -> ConfigResult<Interval> {
    let t = node.str()?;
    Interval::parse(t).ok_or_else(|| node.err(format!("`{t}`: expected `epoch` or `step`/`batch`")))
}
