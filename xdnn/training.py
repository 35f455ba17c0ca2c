"""The training loop of :meth:`xdnn.Network.fit`: epochs of batches, divergence, checkpoints, reports.

One :class:`Fit` is one call of ``fit``: it holds what lives only for that call (the layers bound
to the namespace, the full batch, the shuffles, a backend's split or captured step) so that the
network itself carries no half-made training state.

Divergence.  On the CPU a cost is read before each update, so a batch whose cost is NaN/inf is never
applied, and training rolls back to the last checkpoint (taken at an epoch's first finite cost,
about every :data:`CPU_CHECKPOINT_STEPS` steps).  On a GPU reading waits for the device: with
nothing to report each epoch the costs are read every :data:`ACCELERATOR_SYNC_EVERY` epochs, and a
checkpoint taken at each read (of finite parameters) is restored if training diverged in between.
With no callback and no validation data the history is written in blocks of epochs.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from xdnn import executors, training_data
from xdnn.callbacks import History, PrintCost, ProgressBar
from xdnn.checkpoint import Checkpoint, all_finite
from xdnn.interrupts import DeferredInterrupt
from xdnn.layers import Dense

Array = Any

ACCELERATOR_SYNC_EVERY = 32
CPU_CHECKPOINT_STEPS = 16
# Without callbacks or validation data, the CPU's (already read) epoch costs go into the history this
# many epochs at a time: per-epoch bookkeeping is a tenth of a tutorial network's step.
CPU_REPORT_EVERY = 64


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the cost (or, after a fit's last update, a parameter) became NaN or infinite."""


def call_hook(callback: Any, hook: str, *arguments: Any) -> None:
    """``callback.hook(*arguments)`` where the callback has that hook."""
    method = getattr(callback, hook, None)
    if method is not None:
        method(*arguments)


class Fit:
    """One ``fit`` of ``network`` on prepared data ``X (m, n_features)``, ``Y (m, k)`` (see
    :meth:`xdnn.Network.fit`, which checks everything before making one), or on a ``source`` of
    batches that lives elsewhere (``X``, ``Y`` and ``weights`` then ``None``).

    A source has ``m`` (samples per epoch) and ``epoch(shuffle)``, an iterator over one epoch's
    batches; it either yields ``(Xt, Yt)`` on the network's backend in tutorial layout (data streamed
    from outside memory), or yields ``(batch, None)`` and has ``gradients(batch) -> (cost, correct,
    grads, size)``, computed
    where the batch lives (the cost without its L2 term, which is added here; ``correct`` the batch's
    correct-prediction count).  A source of ``(Xt, Yt)`` whose ``weighted`` is true carries sample weights
    as each ``Yt``'s last row.  Everything else -- divergence, checkpoints, history, callbacks,
    interrupts -- is the same for both."""

    def __init__(self, network: Any, X: Array, Y: Array, weights: Array | None, *, epochs: int, batch: int,
                 shuffle: bool, validation: Any, callbacks: list, graph_step: Any = None,
                 interrupts: DeferredInterrupt | None = None, source: Any = None) -> None:  # fmt: skip
        self.network, self.epochs, self.batch, self.shuffle = network, epochs, batch, shuffle
        self.interrupts = interrupts if interrupts is not None else DeferredInterrupt()
        self.validation, self.callbacks = validation, callbacks
        self.source = source
        self.remote = source is not None and hasattr(source, "gradients")  # gradients computed where the data live
        context = network.context
        self.xp = xp = context.xp
        self.m = X.shape[0] if source is None else source.m
        self.on_accelerator = training_data.on_accelerator(context.device)
        per_epoch = bool(callbacks) or validation is not None
        self.sync_every = 1 if per_epoch else (ACCELERATOR_SYNC_EVERY if self.on_accelerator else CPU_REPORT_EVERY)
        self.checkpoint_every = max(1, CPU_CHECKPOINT_STEPS // -(-self.m // batch))  # in epochs
        # (a source with ``weighted`` true yields them as each Yt's last row already)
        self.weighted = weights is not None or bool(getattr(source, "weighted", False))
        if weights is not None:  # the weights ride along as the targets' last column: batched and shuffled with them
            Y = xp.concat([Y, xp.reshape(weights, (-1, 1))], axis=1)
        self.X, self.Y = X, Y
        executors.resolve(training_data.prepare_fit, xp)(xp=xp)
        in_memory_full = source is None and batch >= self.m
        self.full = executors.resolve(training_data.full_batch, xp)(X, Y, xp=xp) if in_memory_full else None
        self.bound = network.bind_layers()
        self.overwrite_grads = False  # asked once the callbacks have begun (one may replace the optimizer)
        # (graph_step: the factory Network.fit had from training_data.graph_step_factory, or None)
        self.captured_step = graph_step(network, *self.full, self.bound) if graph_step is not None else None
        self.permutations = training_data.PermutationFeed(
            network.shuffle_generator, self.m, context, epochs_per_transfer=epochs if self.on_accelerator else 1
        )
        self.compiled = self.split = None  # a backend's compiled or split step: unweighted, not a graph
        eager = not self.weighted and graph_step is None and not self.remote  # (a remote source computes its own)
        if eager:
            self.compiled = executors.resolve(training_data.compiled_gradients, xp)(network, xp=xp)
        if eager and network.splits_exactly():
            dense = [layer for layer in network.layers if isinstance(layer, Dense)]
            multiply_adds = sum(layer.n_inputs * layer.units for layer in dense) / max(len(dense), 1)
            self.split = executors.resolve(training_data.split_runner, xp)(min(batch, self.m), multiply_adds, xp=xp)
        self.history = History(network.log_names(validation is not None))
        self.pending: list[tuple[int, Any, Any]] = []  # epochs trained, costs not yet in the history

    def run(self) -> History:
        """Train; returns the history (also ``network.history``)."""
        network = self.network
        before = network.history, network.stop_training, network.diverged_epoch
        steps_before = network.optimizer.iterations
        network.history = self.history
        network.stop_training = False
        network.diverged_epoch = None
        try:
            for callback in self.callbacks:
                call_hook(callback, "on_train_begin", network)
            self.overwrite_grads = network.may_overwrite_grads()
            self.checkpoint = Checkpoint(network)
            self.epochs_before = network.epochs_trained
            self.epoch_loop()
        except BaseException:  # an exception or Ctrl-C: the finished epochs still go into the history
            if self.pending and not self.on_accelerator:  # (their costs are already read on the CPU)
                self.report(callbacks=[], validation=None, checkpoint=None)
            if not self.history.epoch and network.optimizer.iterations == steps_before:
                # nothing trained (a callback's on_train_begin or the first step failed): the network
                # keeps the history of its last fit
                network.history, network.stop_training, network.diverged_epoch = before
            raise
        finally:  # (a split step's threads end with the fit, however it ends)
            if self.split is not None:
                self.split.close()
        # No cost is read after the last update: one that made a parameter NaN or inf is undone too
        # (not parameters that were already so, e.g. a dead unit's bias set to -inf by the user).
        if self.epochs and network.diverged_epoch is None and not network.parameters_finite():
            if self.checkpoint.finite():
                last = network.epochs_trained - 1 - self.epochs_before
                self.roll_back(last, "its last update made a parameter or running statistic NaN or inf")
        for callback in self.callbacks:
            call_hook(callback, "on_train_end", network)
        return self.history

    def epoch_loop(self) -> None:
        """The epochs; ``pending`` holds the trained epochs not yet reported."""
        network = self.network
        for epoch in range(self.epochs):
            learning_rate = network.learning_rate(network.epochs_trained)
            capture = not self.on_accelerator and epoch % self.checkpoint_every == 0
            loss_sum, correct, diverged = self.train_epoch(learning_rate, self.checkpoint if capture else None)
            if diverged:  # (CPU) the epochs before it first go into the history, as they would have
                self.report(self.callbacks, self.validation, None)
                cause = loss_sum if isinstance(loss_sum, str) else f"the cost became {loss_sum}"
                self.roll_back(epoch, cause)
                break
            network.epochs_trained += 1
            self.pending.append((epoch, loss_sum, correct))
            if len(self.pending) < self.sync_every and epoch + 1 < self.epochs:
                continue
            checkpoint = self.checkpoint if self.on_accelerator else None
            if self.report(self.callbacks, self.validation, checkpoint):
                break

    def roll_back(self, epoch: int, cause: str) -> None:
        """Training diverged at ``epoch`` (``cause`` says how): restore the checkpoint (parameters
        whose cost read finite), drop the history of the epochs undone, record ``diverged_epoch`` and warn."""
        network, checkpoint = self.network, self.checkpoint
        undone = network.epochs_trained - checkpoint.epochs_trained
        checkpoint.restore()
        self.history.truncate(checkpoint.epochs_trained - self.epochs_before)
        network.diverged_epoch = epoch
        warnings.warn(
            f"training diverged at epoch {epoch} of this fit (0-based, as in the history): {cause}; stopped and "
            f"restored the parameters after {checkpoint.epochs_trained} epochs of training, the last checkpoint "
            f"whose cost was finite ({undone} completed epochs undone). Try a smaller learning rate.",
            DivergenceWarning,
            stacklevel=4,
        )

    def report(self, callbacks: list, validation: Any, checkpoint: Checkpoint | None) -> bool:
        """Read the pending epochs' costs, record them, run callbacks; True when training must stop.

        Each epoch leaves ``pending`` once it is recorded, so that what an exception leaves there is
        exactly what the history still lacks."""
        network, pending, m = self.network, self.pending, self.m
        while pending:
            epoch, loss_sum, correct = pending[0]
            loss = float(loss_sum) / m
            if not math.isfinite(loss):  # only reachable on an accelerator (see the module docstring)
                pending.clear()  # this epoch and those after it are undone
                self.roll_back(epoch, f"the cost became {loss}")
                return True
            logs = {"loss": loss}
            if "accuracy" in network.metrics:
                logs["accuracy"] = float(correct) / m
            if validation is not None:
                scores = network.evaluate_prepared(*validation, bound=self.bound)
                logs.update({f"val_{name}": value for name, value in scores.items()})
            self.history.record(epoch, logs)
            pending.pop(0)
            for callback in callbacks:
                call_hook(callback, "on_epoch_end", network, epoch, logs)
            if callbacks:  # (a callback may have replaced the optimizer)
                self.overwrite_grads = network.may_overwrite_grads()
            if network.stop_training:
                return True
        if checkpoint is not None and network.parameters_finite():  # not after an update that overflowed
            checkpoint.capture()
        return False

    def train_epoch(self, learning_rate: float, checkpoint: Checkpoint | None):
        """One pass over the data: ``(sum of batch costs x sizes, correct count, diverged)``.

        On the CPU each batch's cost is read before its update and a non-finite cost -- or a
        running statistic (batch norm's) that overflowed, checked at the epoch's end -- stops the
        epoch (``diverged=True``, first value the cost, whose batch is left unapplied, or for a
        statistic the cause); the parameters are captured into ``checkpoint`` (if given) when the
        epoch's first cost reads finite.  On an accelerator costs stay on the device.
        """
        network, xp, check = self.network, self.xp, not self.on_accelerator
        loss_sum, correct = 0.0, 0.0
        track_accuracy = "accuracy" in network.metrics
        if self.source is not None:
            batches = self.source.epoch(self.shuffle)
        else:
            permutation = self.permutations.next() if self.shuffle and self.batch < self.m else None
            batches = training_data.epoch_batches(
                self.X, self.Y, self.batch, xp=xp, full=self.full, permutation=permutation
            )
        for position, (Xt, Yt) in enumerate(batches):
            self.interrupts.deliver()  # a Ctrl-C that came during the last step stops training here, between steps
            weights = None
            if self.weighted:  # the sample weights travel as the targets' last row
                Yt, weights = Yt[:-1, ...], Yt[-1:, ...]
            statistics = dict(network.state) if network.state else None  # (a forward replaces these arrays)
            try:
                loss_sum, correct_here, diverged = self.step(
                    Xt, Yt, weights, learning_rate, loss_sum, checkpoint if position == 0 else None
                )
            except BaseException:  # a step that fails part-way is not applied: no parameter moved yet
                if statistics is not None:
                    network.state.update(statistics)
                raise
            if diverged:  # (loss_sum is the cost that was not finite, or the cause)
                return loss_sum, correct, True
            if track_accuracy:
                correct = correct + correct_here
        # Running statistics that overflowed (batch norm of finite inputs whose squares do not fit the
        # dtype) while every cost read finite: once an epoch, the checkpoint it goes back to is its start.
        if check and network.state and not all_finite(network.state.values(), xp):
            return "a batch-normalisation running statistic became NaN or inf", correct, True
        return loss_sum, correct, False

    def step(self, Xt: Array, Yt: Array, weights: Array | None, learning_rate: float, loss_sum: Any,
             checkpoint: Checkpoint | None):  # fmt: skip
        """One training step: ``(loss_sum + cost x batch size, correct count, False)``, or ``(non-finite
        cost or cause, None, True)`` when the step must not be applied (training diverged).

        Everything that can fail (the forward and backward, the cost's read) comes before the update,
        and the update is all-or-nothing (:meth:`xdnn.optimizers.Optimizer.update`).  On the CPU a
        cost, or the epoch's running sum of costs, that is not finite stops the step before its
        update; ``checkpoint`` (the epoch's first step) captures the parameters once the cost reads finite.
        """
        network, xp = self.network, self.xp
        remote = self.remote
        if self.captured_step is not None:  # forward, backward and update in one graph launch
            cost, A = self.captured_step.run(learning_rate)
            grads = None
        elif remote:  # (Xt is the source's batch: the gradients are computed where it lives)
            cost, correct, grads, size = self.source.gradients(Xt)
            cost = network.with_l2(cost, grads, size)
        else:
            cost, A, grads = self.step_gradients(Xt, Yt, weights)
        size = size if remote else Xt.shape[1]
        if self.on_accelerator:
            loss_sum = loss_sum + cost * size
        else:
            value = float(cost)
            if not math.isfinite(value):
                return value, None, True
            total = loss_sum + value * size
            if not math.isfinite(total):  # every cost finite, their sum too large for a float
                return f"the epoch's summed cost overflowed (a batch cost of {value:.4g})", None, True
            # (this batch's forward has updated the running statistics: a checkpoint keeps only finite ones)
            if checkpoint and all_finite(network.state.values(), xp):
                checkpoint.capture()
            loss_sum = total
        if not remote:
            correct = network.correct_count(A, Yt) if "accuracy" in network.metrics else None
        if grads is not None:
            if self.overwrite_grads:  # (an optimizer's own update may predate the keyword)
                network.optimizer.update(network.parameters, grads, learning_rate, xp=xp, overwrite_grads=True)
            else:
                network.optimizer.update(network.parameters, grads, learning_rate, xp=xp)
        return loss_sum, correct, False

    def step_gradients(self, Xt: Array, Yt: Array, weights: Array | None):
        """``(cost, A, grads)`` of one step; a large batch may be split across a backend's threads."""
        network, bound = self.network, self.bound
        if self.compiled is not None and weights is None:
            cost, A, grads = self.compiled(network.parameters, Xt, Yt)
            return network.with_l2(cost, grads, Xt.shape[1]), A, grads
        if self.split is not None and weights is None:

            def unpenalised(X_slice, Y_slice):
                # (no L2 for the slices: the L2 term is the whole batch's, added once below)
                return network.cost_and_gradients(X_slice, Y_slice, network.dropout_random, bound=bound, l2=False)

            split = self.split.run(unpenalised, Xt, Yt)
            if split is not None:
                cost, A, grads = split
                return network.with_l2(cost, grads, Xt.shape[1]), A, grads
        return network.cost_and_gradients(Xt, Yt, network.dropout_random, bound=bound, weights=weights)


def start_fit(network: Any, X: Array, Y: Array, weights: Array | None, *, epochs: int, batch: int, shuffle: bool,
              validation: Any, callbacks: list, verbose: Any, print_cost: bool, print_every: int,
              graph_step: Any = None, interrupts: DeferredInterrupt | None = None,
              source: Any = None) -> Fit:  # fmt: skip
    """A :class:`Fit` with the progress bar and cost printer in front of the user's callbacks."""
    callbacks = list(callbacks)
    if print_cost:
        callbacks.insert(0, PrintCost(print_every, epochs=epochs))
    if verbose:
        callbacks.insert(0, ProgressBar(epochs))
    return Fit(
        network, X, Y, weights, epochs=epochs, batch=batch, shuffle=shuffle, validation=validation,
        callbacks=callbacks, graph_step=graph_step, interrupts=interrupts, source=source,
    )  # fmt: skip
