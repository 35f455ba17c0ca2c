"""Training callbacks: the per-epoch history, early stopping, progress display.

A callback is any object with (all optional) ``on_train_begin(network)``,
``on_epoch_end(network, epoch, logs)`` and ``on_train_end(network)``.  ``logs`` maps
metric names (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``) to floats;
setting ``network.stop_training = True`` ends training after the current epoch.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any, Sequence

from xdnn import _validation


class History(dict):
    """Per-epoch metrics, ``{"loss": [...], "accuracy": [...], "val_loss": [...], ...}``.

    A ``dict`` that also answers ``.history`` (as Keras' ``History`` object does) and
    ``.epoch`` (the 0-based epoch numbers recorded).  ``names`` start as empty lists, so that a
    fit that recorded no epoch (it diverged in its first) still answers ``history["loss"] == []``.
    """

    def __init__(self, names: Sequence[str] = ()) -> None:
        super().__init__({name: [] for name in names})
        self.epoch: list[int] = []

    @property
    def history(self) -> "History":
        return self

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.setdefault(name, []).append(value)

    def truncate(self, epochs: int) -> None:
        """Keep the first ``epochs`` records (epochs undone by a roll-back are forgotten)."""
        epochs = max(0, epochs)
        del self.epoch[epochs:]
        for values in self.values():
            del values[epochs:]


class Callback:
    """Base class with no-op hooks."""

    def check_logs(self, names: list[str]) -> None:
        """Called by ``fit`` before anything changes with the log names each epoch will have;
        raise ``ValueError`` if the callback cannot work with them."""

    def on_train_begin(self, network: Any) -> None:
        pass

    def on_epoch_end(self, network: Any, epoch: int, logs: dict[str, float]) -> None:
        pass

    def on_train_end(self, network: Any) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (``max`` for accuracy-like names).
    With ``restore_best_weights=True`` the network ends with the parameters of its
    best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.patience = _validation.check_count(patience, "patience", minimum=0)
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) or not math.isfinite(min_delta):
            raise ValueError(f"min_delta must be a finite number, got {min_delta!r}")
        self.min_delta = abs(float(min_delta))
        self.maximize = mode == "max" or (mode == "auto" and "acc" in monitor)
        self.restore_best_weights = restore_best_weights

    def check_logs(self, names):
        if self.monitor not in names:
            hint = (
                "pass validation_data=... to fit() to monitor val_* metrics"
                if self.monitor.startswith("val_") and not any(name.startswith("val_") for name in names)
                else "monitor one of those names"
            )
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r} but each epoch only logs {sorted(names)}; {hint}"
            )

    def on_train_begin(self, network):
        self.best = -math.inf if self.maximize else math.inf
        self.best_epoch = None
        self.best_weights = None
        self.wait = 0
        self.stopped_epoch = None

    def _improved(self, value: float) -> bool:
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, network, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r} but the logs only have {sorted(logs)}; "
                "pass validation_data=... to fit() to monitor val_* metrics"
            )
        value = logs[self.monitor]
        # The epoch's cost is read before its last update: weights that update made NaN/inf (the
        # network then rolls back) are never kept as the best.
        if self._improved(value) and (not self.restore_best_weights or network.parameters_finite()):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = network.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            network.stop_training = True

    def on_train_end(self, network):
        if self.restore_best_weights and self.best_weights is not None:
            network.set_weights(self.best_weights)


class ProgressBar(Callback):
    """One line per fit showing epoch, loss and accuracy: tqdm when installed, plain text otherwise.

    The plain text rewrites one line on a terminal (padded, so a shorter line leaves no stale
    characters); written to a file or pipe it prints about ten lines a fit, each on its own line.
    """

    def __init__(self, epochs: int, stream: Any = None) -> None:
        self.epochs = epochs
        self.stream = stream if stream is not None else sys.stderr
        self.bar = None
        self.width = 0

    def on_train_begin(self, network):
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self.bar = None
        else:
            self.bar = tqdm(total=self.epochs, unit="epoch", file=self.stream, leave=True, dynamic_ncols=True)

    def on_epoch_end(self, network, epoch, logs):
        summary = {name: f"{value:.4g}" for name, value in logs.items()}
        if self.bar is not None:
            self.bar.set_postfix(summary, refresh=False)
            self.bar.update(1)
            return
        text = " - ".join(f"{name}: {value}" for name, value in summary.items())
        line = f"epoch {epoch + 1}/{self.epochs} - {text}"
        last = epoch + 1 == self.epochs
        if self._on_terminal():
            self.stream.write("\r" + line.ljust(self.width) + ("\n" if last else ""))
            self.width = 0 if last else max(self.width, len(line))
        elif last or (epoch + 1) % max(1, self.epochs // 10) == 0 or network.stop_training:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _on_terminal(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except (OSError, ValueError):  # a closed or detached stream
            return False

    def on_train_end(self, network):
        if self.bar is not None:
            self.bar.close()
        elif self.width:  # stopped early on a terminal: end the rewritten line
            self.stream.write("\n")
            self.width = 0


class PrintCost(Callback):
    """The tutorial's ``print_cost``: ``Cost after iteration i: 0.123456`` every ``every`` epochs
    and after the last of ``epochs`` (when given), as ``functional.L_layer_model`` prints it.
    One epoch is one iteration of the tutorial when training full-batch."""

    def __init__(self, every: int = 100, stream: Any = None, epochs: int | None = None) -> None:
        self.every = max(1, int(every))
        self.stream = stream
        self.epochs = epochs

    def on_epoch_end(self, network, epoch, logs):
        if epoch % self.every == 0 or epoch + 1 == self.epochs:
            print("Cost after iteration %i: %f" % (epoch, logs["loss"]), file=self.stream or sys.stdout)
