"""Data-parallel training on a Dask cluster: each worker computes the gradients of the rows it holds.

:func:`fit_data_parallel` trains ``network`` on Dask arrays (or DataFrames) where their partitions
live.  Each worker that holds partitions keeps a replica of the network beside them, as a Dask
actor (:mod:`xdnn.dask.replica`), on the backend of its blocks (NumPy, or CuPy on a GPU worker).
Each step the client draws the batch exactly as :meth:`xdnn.Network.fit` does -- each epoch a
permutation from ``network.shuffle_generator``, then consecutive ``batch_size`` spans of it -- and
asks every replica holding rows of the batch for its sums over those rows (``n_w J_w``, ``n_w dW_w``,
...); their totals divided by the batch size are the batch's mean cost and gradients, to which
the L2 term is added once and the optimizer applied on the client (:class:`xdnn.training.Fit`).
Data-parallel SGD is then the same algorithm as the in-process fit, not an approximation: the same
sums, added in another order (in float64 the tests' fits agree to 1e-15).

What travels per step (see :mod:`xdnn.dask.cluster`): to each involved replica, the current
parameters (all of them, in the network's dtype: sending them every step, rather than the previous
step's update, keeps the replicas identical by construction and leaves nothing to repair after a
fault) and its rows of the batch (spans, or 8 bytes a row when shuffled); back, its gradient sums
(the parameters' size again) and three numbers.  One round trip per step, the replicas called at
once; a worker without rows in the batch is not called.  The data never pass through the client.
(``bench/dask_data_parallel.py`` measures the step against the in-process one.)

Faults.  A worker that dies mid-fit is recovered from: the replicas are released, Dask recomputes
the lost partitions from their graph, new replicas are placed and the interrupted step is run again
(it was not applied: the optimizer steps only after every answer arrived), up to ``max_recoveries``
times per fit; the result is then still the in-process fit's.  Past that, or when a worker does not
answer within ``timeout``, :class:`~xdnn.dask.cluster.WorkerLostError` is raised with the network at
its last completed step (its history holds the completed epochs); fitting it again resumes.
Ctrl-C stops the fit at the next step boundary (:mod:`xdnn.interrupts`), and the replicas are
released however the fit ends.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from xdnn import _validation, training_data
from xdnn._backend import resolve_backend
from xdnn._namespace import ArrayContext, to_numpy
from xdnn.callbacks import History
from xdnn.dask.cluster import Cluster, RowPartitions, WorkerLostError, new_stats

__all__ = ["WorkerLostError", "fit_data_parallel"]

# A fit's exchanges with its workers (the partitions' computation, the replicas' set-up, each step)
# each wait at most this many seconds by default.
DEFAULT_TIMEOUT = 600.0
DEFAULT_RECOVERIES = 3


class ClusterBatches:
    """A remote batch source for :class:`xdnn.training.Fit`: ``epoch(shuffle)`` yields each batch's
    rows (``"all"``, a ``slice``, or row indices), ``gradients(batch)`` asks the cluster for them."""

    def __init__(self, network: Any, cluster: Cluster, batch: int, epochs: int, on_accelerator: bool) -> None:
        self.network, self.cluster, self.batch = network, cluster, batch
        self.m = cluster.partitions.m
        # (not named ``weighted``: to Fit, a weighted source is one whose Yt carry the weights)
        self.sample_weighted = cluster.partitions.weighted
        self.stats = cluster.stats
        # the permutations drawn as Fit draws them (a block of epochs at once for a network on a GPU)
        numpy_backend = resolve_backend("numpy")
        host = ArrayContext(numpy_backend.xp, numpy_backend.device)
        per_transfer = epochs if on_accelerator else 1
        self.permutations = training_data.PermutationFeed(network.shuffle_generator, self.m, host, per_transfer)

    def epoch(self, shuffle: bool) -> Iterator[tuple[Any, None]]:
        """One epoch's batches, in the order of :func:`xdnn.training_data.epoch_batches`."""
        m, batch = self.m, self.batch
        if batch >= m:
            yield "all", None
            return
        permutation = self.permutations.next() if shuffle else None
        for start in range(0, m, batch):
            stop = min(start + batch, m)
            yield (slice(start, stop) if permutation is None else permutation[start:stop]), None

    def gradients(self, batch: Any) -> tuple[Any, float, dict[str, Any], int]:
        """``(cost, correct, grads, size)`` of one batch: the means of the replicas' sums, without L2."""
        network = self.network
        parameters = {name: to_numpy(value) for name, value in network.parameters.items()}
        results = self.cluster.exchange(batch, parameters)
        size = sum(result["rows"] for result in results)
        total = sum(result["weight"] for result in results) if self.sample_weighted else float(size)
        divisor = total if total > 0 else 1.0  # (a batch of zero weights: every sum is 0, as in-process)
        context, dtype = network.context, network.dtype
        grads = {}
        for name in results[0]["grads"]:
            summed = results[0]["grads"][name]
            for result in results[1:]:
                summed = summed + result["grads"][name]
            grads[name] = context.asarray(summed / divisor, dtype=dtype)
        cost = sum(result["cost"] for result in results) / divisor
        correct = sum(result["correct"] for result in results)
        if self.sample_weighted and network.l2 and total > 0:
            cost = self._weighted_l2(cost, grads, total, size)
        self.stats["steps"] += 1
        return cost, correct, grads, size

    def _weighted_l2(self, cost: Any, grads: dict[str, Any], total_weight: float, size: int) -> Any:
        """With sample weights the L2 term's ``m`` is the batch's total weight (as in-process), but
        :class:`~xdnn.training.Fit` adds it over the batch's ``size``: the difference goes in here."""
        network, xp = self.network, self.network.context.xp
        cost = network.with_l2(cost, grads, total_weight)
        offsets = {name: xp.zeros_like(gradient) for name, gradient in grads.items()}
        cost = cost - network.with_l2(0.0, offsets, size)
        for name, offset in offsets.items():
            grads[name] = grads[name] - offset
        return cost


def _default_client(client: Any) -> Any:
    if client is not None:
        return client
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        raise ValueError(
            "fit_data_parallel needs a dask.distributed Client: create one (Client(...)) or pass client="
        ) from None


def fit_data_parallel(
    network: Any,
    X: Any,
    y: Any,
    *,
    client: Any = None,
    epochs: int = 100,
    batch_size: int | None = 32,
    shuffle: bool = True,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Iterable[Any] | None = None,
    verbose: int | bool = 1,
    print_cost: bool = False,
    print_every: int = 100,
    sample_weight: Any = None,
    cuda_graph: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    max_recoveries: int = DEFAULT_RECOVERIES,
    stats: dict | None = None,
) -> History:
    """Train ``network`` on ``X (n_samples, n_features)`` and ``y`` held by Dask, on the workers that
    hold them (see the module docstring); the arguments as :meth:`xdnn.Network.fit`'s.

    ``X`` is a Dask array (or DataFrame) with known row chunks, ``y`` and ``sample_weight`` Dask or
    in-memory arrays of as many rows; ``client`` defaults to the active ``dask.distributed`` client.
    The network must be one whose batch cost is a mean over its samples (``network.splits_exactly()``:
    :class:`~xdnn.layers.Dense` and :class:`~xdnn.layers.Activation` layers, a built-in loss); batch
    normalisation and dropout raise ``ValueError``, as ``cuda_graph=True`` does.  The result equals
    ``network.fit`` of the same data, seed, batch size and shuffling, within rounding.  The client's
    network steps on its own backend (an unbuilt one on the active backend, or that of in-memory
    validation data); a Dask ``validation_data`` is computed into memory once and evaluated there.

    ``timeout`` bounds each wait for the workers (seconds); ``max_recoveries`` the workers lost and
    recovered from in one fit; ``stats`` (a dict) receives the fit's counters: ``workers``,
    ``steps``, ``rounds`` (one per step, more after a recovery), ``actor_calls``, ``bytes_sent`` and
    ``bytes_received`` (arrays' payload), ``exchange_seconds`` (the steps' round trips, in all),
    ``worker_seconds`` (of which the slowest replica's computing), ``recoveries``, ``setup_seconds``.

    Returns the :class:`~xdnn.callbacks.History` (also ``network.history``).
    """
    from xdnn.dask import chunks, is_dask_collection

    client = _default_client(client)
    with network.usage_guard.exclusive("fit_data_parallel"):
        epochs = _validation.check_count(epochs, "epochs", minimum=0)
        if batch_size is not None:
            batch_size = _validation.check_count(batch_size, "batch_size (or None for full batch)", minimum=1)
        max_recoveries = _validation.check_count(max_recoveries, "max_recoveries", minimum=0)
        if not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if not network.splits_exactly():
            raise ValueError(
                "data-parallel training needs a network whose batch cost and gradients are means over its samples "
                "(Dense and Activation layers, a built-in loss): batch normalisation's statistics and dropout's masks "
                "belong to the whole batch; train this network with network.fit (or xdnn.dask's streaming)"
            )
        if cuda_graph:
            raise ValueError(
                "cuda_graph=True replays one full batch held on one device, but a data-parallel fit computes each "
                "step's gradients on the workers: fit without it"
            )
        if not any(is_dask_collection(value) for value in (X, y, sample_weight)):
            raise TypeError("a data-parallel fit trains on Dask-held data: X (or y) must be a Dask array or data frame")
        X, y, sample_weight = chunks.aligned_arrays(X, y, sample_weight, names=("X", "y", "sample_weight"))
        partitions = RowPartitions(X, y, sample_weight)
        if partitions.m == 0:
            raise ValueError("X has no samples")
        n_features = partitions.n_features
        if network.n_features is not None and n_features != network.n_features:
            raise ValueError(f"X has {n_features} features, but this network was built for {network.n_features}")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (X_val, y_val)")
            # (a Dask validation set: into memory, once -- it is evaluated here each epoch)
            validation_data = tuple(
                value.compute() if is_dask_collection(value) else value for value in validation_data
            )
        # The client's network steps where it lives (or on the active backend), whatever the workers compute on.
        context = network.resolve_context(*(validation_data or ()))
        validation = network.prepare_validation(validation_data, context, n_features)
        callback_list = network.checked_callbacks(callbacks, validation is not None)
        batch = partitions.m if batch_size is None else min(batch_size, partitions.m)
        counters = new_stats() if stats is None else stats
        counters.update(new_stats())
        cluster = Cluster(client, network, partitions, timeout=timeout, max_recoveries=max_recoveries, stats=counters)
        try:
            cluster.start()
            total_weight = sum(summary["weight"] or 0.0 for summary in cluster.summaries)
            if partitions.weighted and not total_weight > 0:
                raise ValueError("sample_weight must not be all zero: no sample would count")
            accelerator = training_data.on_accelerator(context.device)
            source = ClusterBatches(network, cluster, batch, epochs, accelerator)
            return network.train(
                context, n_features, None, None, None, source=source, epochs=epochs, batch=batch, shuffle=shuffle,
                validation=validation, callbacks=callback_list, verbose=verbose, print_cost=print_cost,
                print_every=print_every,
            )  # fmt: skip
        finally:
            cluster.close()
