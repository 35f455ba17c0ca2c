"""How a fit's data reach its training steps: the full batch, shuffled mini-batches, per-fit setup.

The high-level API takes ``X (n_samples, n_features)`` and targets ``Y (n_samples, k)``; a step
works in the tutorial layout, one column per sample: ``Xt (n_features, m)``, ``Yt (k, m)``.

Each function here is the portable definition of its job.  A backend may register an executor
against it (:mod:`xdnn.executors`): NumPy keeps a large full batch samples-major and splits big
batches across threads, for example.
"""

from __future__ import annotations

from typing import Any, Iterator

from xdnn._namespace import ArrayContext

Array = Any


def full_batch(X: Array, Y: Array, *, xp: Any) -> tuple[Array, Array]:
    """The full batch in tutorial layout: row-major copies ``(n_features, m)`` and ``(k, m)`` of
    ``X.T`` and ``Y.T`` (a product with a contiguous operand dispatches faster than with a view)."""
    return tuple(xp.reshape(A.T, (A.shape[1], A.shape[0]), copy=True) for A in (X, Y))


def on_accelerator(device: Any) -> bool:
    """Whether ``device`` is a GPU's (a CUDA or ROCm device of any library), where reading a cost
    back to the host waits for the device: a fit then reads its costs every few epochs."""
    name = str(device).lower()
    return "cuda" in name or "gpu" in name or "rocm" in name


def prepare_fit(*, xp: Any) -> None:
    """What a backend sets up before a fit's steps (NumPy: its allocator); portably, nothing."""


def split_runner(batch_samples: int, multiply_adds_per_sample: float, *, xp: Any) -> Any:
    """A runner of one step's gradients over slices of a batch (``runner.run(gradients, Xt, Yt)``,
    closed with ``runner.close()``), or ``None``: portably each step runs on the whole batch."""
    return None


def compiled_gradients(network: Any, *, xp: Any) -> Any:
    """A compiled ``gradients(parameters, Xt, Yt) -> (cost, A, grads)`` of one step of ``network``
    (without its L2 term), or ``None``: portably every step runs operation by operation."""
    return None


def graph_step_factory(network: Any, batch: int, m: int, weighted: bool, *, xp: Any) -> tuple[str | None, Any]:
    """``(reason, None)``: a step recorded once and replayed (``fit(cuda_graph=True)``) needs a backend
    that registers it (CuPy's CUDA graphs); otherwise ``(None, factory)`` with
    ``factory(network, Xt, Yt, bound).run(learning_rate) -> (cost, A)``."""
    reason = (
        "cuda_graph=True needs a backend whose executors record a training step as a CUDA graph, with fast "
        f"paths on (xdnn.set_fast_paths(True)); this network runs on {network.backend or getattr(xp, '__name__', xp)!r}"
    )
    return reason, None


class PermutationFeed:
    """Each epoch's shuffle, drawn on the host from the seeded generator (the same order on
    every backend) and moved to the device up to ``epochs_per_transfer`` epochs at a time, so
    a GPU is not stopped by a host-to-device copy every epoch."""

    MAX_INDICES_PER_TRANSFER = 1 << 22

    def __init__(self, generator: Any, m: int, context: ArrayContext, epochs_per_transfer: int) -> None:
        self.generator, self.m, self.context = generator, m, context
        self.block = max(1, min(epochs_per_transfer, self.MAX_INDICES_PER_TRANSFER // max(m, 1)))
        self.queue: list[Array] = []

    def next(self) -> Array:
        """The next epoch's permutation of ``range(m)``, on the device."""
        if not self.queue:
            drawn = [self.generator.permutation(self.m) for _ in range(self.block)]
            moved = self.context.asarray(drawn)
            self.queue = [moved[row, ...] for row in range(self.block)]
        return self.queue.pop(0)


def epoch_batches(
    X: Array, Y: Array, batch: int, *, xp: Any, full: tuple[Array, Array] | None, permutation: Array | None
) -> Iterator[tuple[Array, Array]]:
    """One epoch's ``(Xt, Yt)`` batches in tutorial layout: ``full`` when the batch is the whole
    data set, else consecutive ``batch``-sized spans of ``permutation`` (or of the data's own order)."""
    m = X.shape[0]
    if batch >= m:
        yield full
        return
    for start in range(0, m, batch):
        stop = min(start + batch, m)
        if permutation is None:
            yield X[start:stop, ...].T, Y[start:stop, ...].T
        else:
            indices = permutation[start:stop]
            yield xp.take(X, indices, axis=0).T, xp.take(Y, indices, axis=0).T
