"""Training an estimator's network: scikit-learn's stopping rules as callbacks, one call's training
run (Ctrl-C ends it as scikit-learn's does; any other error undoes it) and what the run leaves in the
fitted attributes."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from xdnn import optimizers
from xdnn.callbacks import Callback
from xdnn.checkpoint import Checkpoint
from xdnn.network import Network
from xdnn.serialization import random_state_of, restore_random_state

# The early-stopping attributes of a fit without it: scikit-learn sets them to None.
WITHOUT_VALIDATION = {
    "validation_loss_curve_": None,
    "best_validation_loss_": None,
    "validation_scores_": None,
    "best_validation_score_": None,
}


class AdaptiveLearningRate(Callback):
    """scikit-learn's ``learning_rate="adaptive"`` around a stopping rule (``stopper``, which keeps
    ``wait`` and ``stopped_epoch``): each time the rule would stop while the rate is above 1e-6,
    the rate is divided by 5 and training goes on; below it, the rule stops training."""

    SMALLEST_RATE = 1e-6

    def __init__(self, stopper: Callback) -> None:
        self.stopper = stopper

    def check_logs(self, names):
        check = getattr(self.stopper, "check_logs", None)
        if check is not None:
            check(names)

    def on_train_begin(self, network):
        self.stopper.on_train_begin(network)

    def on_epoch_end(self, network, epoch, logs):
        self.stopper.on_epoch_end(network, epoch, logs)
        rate = network.learning_rate(network.epochs_trained)
        if network.stop_training and rate > self.SMALLEST_RATE:
            network.stop_training = False
            network.learning_rate = optimizers.Schedule(rate / 5.0)
            self.stopper.wait, self.stopper.stopped_epoch = 0, None

    def on_train_end(self, network):
        self.stopper.on_train_end(network)


class NoImprovementStopping(Callback):
    """scikit-learn's stopping rule on a per-epoch score, higher is better (``score(network, logs)``,
    recorded in ``scores``): stop once it has failed to beat the best by ``tol`` for more than
    ``n_iter_no_change`` consecutive epochs.  For a plain ``fit`` the score is minus the training
    loss; with ``early_stopping`` the accuracy or R^2 on the held-out set, and with
    ``keep_best_weights`` training ends with the weights of the best score (``best``, at
    ``best_epoch``).  Keeps ``wait`` and ``stopped_epoch`` for :class:`AdaptiveLearningRate`."""

    def __init__(self, score, tol: float, n_iter_no_change: int, *, keep_best_weights: bool) -> None:
        self.score = score
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.keep_best_weights = keep_best_weights

    def on_train_begin(self, network):
        self.scores: list[float] = []
        self.best, self.best_epoch, self.best_weights = -math.inf, None, None
        self.wait = 0
        self.stopped_epoch = None

    def on_epoch_end(self, network, epoch, logs):
        score = float(self.score(network, logs))
        self.scores.append(score)
        self.wait = self.wait + 1 if score < self.best + self.tol else 0  # (a NaN score resets it, as there)
        # (weights that the epoch's last update made NaN/inf -- the network rolls them back -- are not kept)
        if score > self.best and (not self.keep_best_weights or network.parameters_finite()):
            self.best, self.best_epoch = score, epoch
            if self.keep_best_weights:
                self.best_weights = network.get_weights()
        if self.wait > self.n_iter_no_change:
            self.stopped_epoch = epoch
            network.stop_training = True

    def on_train_end(self, network):
        if self.best_weights is not None:
            network.set_weights(self.best_weights)


@dataclass
class TrainingRun:
    """What one ``fit`` / ``partial_fit`` call's training did: the network's ``history`` (``{}`` when
    Ctrl-C came before the first epoch), ``n_train`` samples per epoch, ``fit``'s stopping rule
    (``None`` for ``partial_fit``) and whether Ctrl-C ended it."""

    history: Any
    n_train: int
    stopper: NoImprovementStopping | None
    interrupted: bool

    def loss_attributes(self, loss_curve_before: list[float], t_before: int) -> dict[str, Any]:
        """``loss_curve_`` (continuing ``loss_curve_before``), ``n_iter_``, ``loss_`` and ``t_``."""
        new_losses = list(self.history.get("loss", []))
        loss_curve = [*loss_curve_before, *new_losses]
        return {
            "loss_curve_": loss_curve,
            "n_iter_": len(new_losses),  # this call's epochs, as scikit-learn >= 1.3 counts (loss_curve_ keeps all)
            "loss_": loss_curve[-1] if loss_curve else math.nan,
            "t_": t_before + self.n_train * len(new_losses),
        }

    def early_stopping_attributes(self) -> dict[str, Any]:
        """The validation curves and the best epoch's loss and score, for ``early_stopping``."""
        kept = self.stopper.best_epoch
        validation_losses = list(self.history.get("val_loss", []))
        return {
            "validation_loss_curve_": validation_losses,
            "best_validation_loss_": validation_losses[kept]
            if kept is not None and kept < len(validation_losses)
            else None,
            "validation_scores_": list(self.stopper.scores),
            "best_validation_score_": self.stopper.best if kept is not None else None,
        }

    def stopped_early(self) -> bool:
        """Whether the stopping rule ended training (before ``max_iter``)."""
        return self.stopper is not None and self.stopper.stopped_epoch is not None


def stopping_attributes(run: TrainingRun, loss_curve: list[float], *, first_call: bool, early_stopping: bool) -> dict:
    """``best_loss_`` (the smallest of ``loss_curve``; ``None`` with early stopping) and the
    early-stopping attributes, ``None`` without it as scikit-learn's (``partial_fit`` sets them
    only on its first call)."""
    best_loss = min(loss_curve) if loss_curve else None
    if run.stopper is None:  # partial_fit
        return {"best_loss_": best_loss, **(WITHOUT_VALIDATION if first_call else {})}
    if early_stopping:
        return {**run.early_stopping_attributes(), "best_loss_": None}
    return {**WITHOUT_VALIDATION, "best_loss_": best_loss}


def train(
    network: Network,
    X: Any,
    targets: Any,
    *,
    learning_rate: optimizers.Schedule,
    l2: float,
    optimizer: optimizers.Optimizer | None = None,
    stopper: NoImprovementStopping | None = None,
    adaptive: bool = False,
    undo_arrays: bool,
    **fit_options: Any,
) -> TrainingRun:
    """Train ``network`` in place: set its ``learning_rate``, ``l2`` and (a warm start's fresh solver)
    ``optimizer``, then ``network.fit(X, targets, **fit_options)`` under ``stopper`` (wrapped in
    :class:`AdaptiveLearningRate` when ``adaptive``).

    Ctrl-C ends training as scikit-learn's does, keeping the epochs finished (the network recorded
    them) and, with early stopping, the best of them.  Any other error (a callback's, a
    DivergenceWarning made an error) puts back the network's settings -- and with ``undo_arrays``,
    for a network trained before this call, its arrays and random streams -- and propagates.
    """
    callbacks = [] if stopper is None else [AdaptiveLearningRate(stopper) if adaptive else stopper]
    settings = (network.optimizer, network.learning_rate, network.l2, network.history, network.diverged_epoch)
    before = (Checkpoint(network), random_state_of(network)) if undo_arrays else None
    try:
        if optimizer is not None:
            network.optimizer = optimizer
            optimizer.initialize(network.parameters, xp=network.context.xp)
        network.learning_rate, network.l2 = learning_rate, l2
        history = network.fit(X, targets, callbacks=callbacks, **fit_options)
    except KeyboardInterrupt:
        history = network.history if network.history is not settings[3] else {}  # (before fit began)
        for callback in callbacks:
            callback.on_train_end(network)
        # (stacklevel: train, the estimator's training step, _fit, fit, then the user's call)
        warnings.warn("Training interrupted by user.", UserWarning, stacklevel=5)
        return TrainingRun(history, X.shape[0], stopper, interrupted=True)
    except BaseException:
        network.optimizer, network.learning_rate, network.l2, network.history, network.diverged_epoch = settings
        if before is not None:
            arrays, random_streams = before
            arrays.restore()
            restore_random_state(network, random_streams, network.backend)
        raise
    return TrainingRun(history, X.shape[0], stopper, interrupted=False)
