"""The worker side of a data-parallel fit (:mod:`xdnn.dask.data_parallel`): a replica of the network
beside the row partitions its worker holds, kept between steps as a Dask actor.

A replica is built once from the network's architecture (:class:`NetworkSpec`), on the backend of
its partitions: NumPy for NumPy blocks, CuPy for CuPy blocks on a GPU worker.  Its parameters are
the client's, sent with every step, so every replica computes with exactly the client's parameters
and holds nothing that a lost worker could leave stale.  For the rows of a batch that its worker
holds (``n`` of them), a step returns the sums

    n J_w,        n dW_w,        n db_w        (J_w, dW_w, db_w: the means over its rows, without L2)

and the client divides their totals by the batch size: the batch's mean cost and gradients, the
same sums as an in-process step's, added in another order.  With sample weights ``w`` the sums are
weighted (``sum(w) J_w``, ...) and the client divides by the batch's total weight.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from xdnn import _validation, executors, inputs, training_data
from xdnn._backend import resolve_backend
from xdnn._namespace import ArrayContext, array_context, is_host_data, to_numpy
from xdnn.layers import layer_from_config

Array = Any


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """What a replica needs of the client's network: its layers' configurations, loss, dtype and
    input size (the parameters come with each step; the optimizer stays on the client)."""

    layers: tuple[dict, ...]
    loss: str
    dtype: str
    n_features: int
    count_correct: bool

    @classmethod
    def of(cls, network: Any, n_features: int) -> "NetworkSpec":
        return cls(
            layers=tuple(layer.config() for layer in network.layers),
            loss=network.loss.name,
            dtype=network.dtype_name,
            n_features=int(n_features),
            count_correct="accuracy" in network.metrics,
        )

    def build(self, context: ArrayContext) -> Any:
        """A network of these layers on ``context`` (initial parameters that the first step replaces)."""
        from xdnn.network import Network

        network = Network(
            [layer_from_config(config) for config in self.layers],
            loss=self.loss,
            dtype=self.dtype,
            optimizer="sgd",
            seed=0,
            metrics=[],
        )
        network.build(self.n_features, context)
        return network


def partition_context(block: Any) -> ArrayContext:
    """Where a replica of ``block``'s worker computes: NumPy for host data (whatever the worker's
    active backend), else the block's own library and device (CuPy on a GPU worker)."""
    if is_host_data(block):
        numpy_backend = resolve_backend("numpy")
        return ArrayContext(numpy_backend.xp, numpy_backend.device)
    return array_context(block)


def _checked_weights(replica: Any, weights: Any, n_samples: int, context: ArrayContext) -> Array:
    """One partition's sample weights ``(n_samples,)``, finite and non-negative (that they are not
    all zero is the whole data set's condition, checked by the client)."""
    xp = context.xp
    weights = inputs.as_named_array(weights, context, "sample_weight")
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have one weight per sample, got shape {tuple(weights.shape)}")
    weights = _validation.as_finite_dtype(weights, getattr(xp, replica.dtype_name), "sample_weight", xp=xp)
    if not bool(xp.all(weights >= 0)):
        raise ValueError("sample_weight must be non-negative")
    return weights


class PartitionReplica:
    """A Dask actor: the replica of one worker and that worker's row partitions.

    ``partitions`` is a list of ``(first_row, (X_block, y_block, weights_block or None))``, the
    blocks handed over by Dask on the worker that holds them (checked and converted here, as
    :meth:`xdnn.Network.fit` checks its data).
    """

    def __init__(self, spec: NetworkSpec, partitions: list[tuple[int, tuple[Any, Any, Any]]]) -> None:
        self.context = context = partition_context(partitions[0][1][0])
        self.replica = spec.build(context)
        self.count_correct = spec.count_correct
        self.dtype = getattr(context.xp, spec.dtype)
        self.X: list[Array] = []
        self.Y: list[Array] = []
        self.weights: list[Array | None] = []
        for first_row, (X, y, weights) in partitions:
            try:
                X, Y = inputs.prepare_data(self.replica, X, y, context)
                if weights is not None:
                    weights = _checked_weights(self.replica, weights, X.shape[0], context)
            except (TypeError, ValueError) as error:
                rows = f"rows {first_row} to {first_row + X.shape[0] - 1}"
                raise type(error)(f"{rows}: {error}") from None
            self.X.append(X)
            self.Y.append(Y)
            self.weights.append(weights)
        self.bound = self.replica.bind_layers()
        # what a fit sets up in its process (NumPy: freed arrays kept for the next step, unless the
        # environment tunes the allocator -- as Dask's nanny does, MALLOC_TRIM_THRESHOLD_=65536)
        executors.resolve(training_data.prepare_fit, context.xp)(xp=context.xp)
        self.full: tuple[Array, Array, Array | None] | None = None  # the full batch, made at its first step

    def summary(self) -> dict[str, Any]:
        """Rows and total sample weight held here, and where the replica computes."""
        xp = self.context.xp
        weight = None
        if all(weights is not None for weights in self.weights):
            weight = sum(float(xp.sum(weights)) for weights in self.weights)
        return {
            "rows": sum(X.shape[0] for X in self.X),
            "weight": weight,
            "backend": self.context.backend_name,
            "device": str(self.context.device),
        }

    def batch(self, rows: Any) -> tuple[Array, Array, Array | None]:
        """This worker's rows of a batch in tutorial layout: ``(Xt (n_features, n), Yt (k, n), weights
        (1, n) or None)``; ``rows`` is ``"all"`` or a list of ``(partition, slice or row indices)``."""
        if rows == "all":
            if self.full is None:
                self.full = self._gather([(position, slice(None)) for position in range(len(self.X))], copy=True)
            return self.full
        return self._gather(rows, copy=False)

    def _gather(self, rows: list[tuple[int, Any]], copy: bool) -> tuple[Array, Array, Array | None]:
        xp = self.context.xp
        pieces = []
        for position, selection in rows:
            arrays = (self.X[position], self.Y[position], self.weights[position])
            if isinstance(selection, slice):
                pieces.append([None if a is None else a[selection, ...] for a in arrays])
            else:
                indices = self.context.asarray(selection)
                pieces.append([None if a is None else xp.take(a, indices, axis=0) for a in arrays])
        columns = []
        for part in zip(*pieces, strict=True):
            if part[0] is None:
                columns.append(None)
            elif len(part) == 1 and not copy:
                columns.append(part[0])
            else:
                columns.append(xp.concat(part, axis=0))
        X, Y, weights = columns
        if copy:  # (a contiguous feature-major copy, as the in-process full batch)
            X, Y = (xp.reshape(A.T, (A.shape[1], A.shape[0]), copy=True) for A in (X, Y))
            return X, Y, None if weights is None else xp.reshape(weights, (1, -1))
        return X.T, Y.T, None if weights is None else xp.reshape(weights, (1, -1))

    def gradients(self, parameters: dict[str, Any], rows: Any) -> dict[str, Any]:
        """The sums of one step over this worker's ``rows`` of the batch (see the module docstring),
        at the client's ``parameters`` (host arrays): ``{"cost", "correct", "grads", "rows", "weight",
        "seconds"}``, the gradients as NumPy arrays, ``weight`` the sum of the rows' sample weights
        (their count without weights) by which the means were multiplied."""
        began = time.perf_counter()
        replica, context = self.replica, self.context
        replica.parameters = {name: context.asarray(value, dtype=self.dtype) for name, value in parameters.items()}
        Xt, Yt, weights = self.batch(rows)
        n = Xt.shape[1]
        scale = float(n) if weights is None else float(context.xp.sum(weights))
        cost, A, grads = replica.cost_and_gradients(
            Xt, Yt, None, update_state=False, bound=self.bound, weights=weights, l2=False
        )
        correct = float(replica.correct_count(A, Yt)) if self.count_correct else 0.0
        sums = {name: to_numpy(gradient * scale) for name, gradient in grads.items()}
        return {
            "cost": float(cost) * scale,
            "correct": correct,
            "grads": sums,
            "rows": n,
            "weight": scale,
            "seconds": time.perf_counter() - began,
        }
