"""A Lightning callback that prints the wall time of each epoch (train + validation), so
that nequip-train's epochs can be timed apart from its set-up and compilation.

tools/device-wave3-run.sh (stage train_ref) adds it to a copy of the reference config
(`trainer.callbacks`) and puts this folder on PYTHONPATH.
"""
import sys
import time

import lightning
import torch


class EpochTimer(lightning.Callback):
    """Prints `epoch N: train S s, train+val S s` when an epoch ends."""

    def on_train_epoch_start(self, trainer, module):
        torch.cuda.synchronize()
        self.t0 = time.perf_counter()
        self.t_val = None

    def on_validation_epoch_start(self, trainer, module):
        if not trainer.sanity_checking and getattr(self, "t0", None) is not None:
            torch.cuda.synchronize()
            self.t_val = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        torch.cuda.synchronize()
        t = time.perf_counter()
        train = (self.t_val or t) - self.t0
        print(f"epoch {trainer.current_epoch}: train {train:.2f} s, train+val {t - self.t0:.2f} s",
              file=sys.stderr, flush=True)


def timed_config(src, dst):
    """Copies the reference config `src` to `dst` with the timer among the callbacks."""
    import yaml
    with open(src) as f:
        cfg = yaml.safe_load(f)
    cfg["trainer"].setdefault("callbacks", []).append({"_target_": "ref_epoch_timer.EpochTimer"})
    with open(dst, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)


if __name__ == "__main__":
    timed_config(sys.argv[1], sys.argv[2])
