"""The client side of a data-parallel fit's cluster (:mod:`xdnn.dask.data_parallel`): the row
partitions computed where Dask puts them, one replica actor per worker that holds some, and the
exchange of one training step with them.

Where the rows are.  ``X``, ``y`` (and the sample weights) are cut into row partitions along
``X``'s row chunks; each partition's three blocks are computed together as one Dask task (as
``lightgbm.dask`` and ``xgboost.dask`` do), so they end up on one worker, and ``Client.who_has``
says which.  A :class:`~xdnn.dask.replica.PartitionReplica` actor is then made on each worker
that holds partitions, handed those partitions' futures: Dask gives it the blocks on that worker,
never through the client.  The partitions' futures are held for the whole fit, so that Dask
recomputes, from their graph, the partitions of a worker that dies.

One step.  The client sends every replica that holds rows of the batch its rows (spans or row
indices within its partitions) and the current parameters, all calls at once: one round trip per
step, at most one call per worker (a worker with no row of the batch is not called).  It waits
for every answer, polling the replicas' futures every :data:`POLL_SECONDS`, up to ``timeout``.

Faults.  A replica that cannot be reached, or whose future errs (its worker died; Dask marks an
actor's task as erred when it loses it), raises :class:`ReplicaLost`, before any parameter changed;
:meth:`Cluster._recovering` then releases every replica, waits for Dask to recompute the lost
partitions, places new replicas and runs the step (or the set-up) again, up to ``max_recoveries``
times a fit, and then raises :class:`WorkerLostError`.  No answer within ``timeout`` raises
:class:`WorkerLostError` at once (a worker that hangs is not a worker that died: nothing to recover from).
"""

from __future__ import annotations

import collections
import math
import time
import uuid
from typing import Any, Callable

import dask
import numpy as np
from distributed import wait

from xdnn.dask.replica import NetworkSpec, PartitionReplica

# How often a step's wait looks at the replicas' futures (a dead worker's shows at once).
POLL_SECONDS = 0.5
# How long a failed call waits for the scheduler to confirm that the replica's worker is gone
# (its actor future leaves "finished") before the failure counts as an error of its own.
NOTICE_SECONDS = 15.0


class WorkerLostError(RuntimeError):
    """A data-parallel fit lost a worker (or one stopped answering) and could not go on; the network
    is left at its last completed step, and a further fit resumes from there."""


class ReplicaLost(Exception):
    """A replica's worker died during a step (:meth:`Cluster.exchange`); the step was not applied."""

    def __init__(self, address: str, cause: BaseException | None) -> None:
        super().__init__(f"the worker {address} was lost" + (f" ({type(cause).__name__}: {cause})" if cause else ""))
        self.address, self.cause = address, cause


def _rows_of(X: Any, y: Any, weights: Any) -> tuple[Any, Any, Any]:
    """One partition's three blocks, as one task's result (so that they live on one worker)."""
    return X, y, weights


class RowPartitions:
    """``X``, ``y`` and the weights, Dask arrays of the same row chunks, as partitions (nothing computed):
    ``blocks`` of delayed ``(X, y, weights)`` triples and their rows ``[starts[i], stops[i])``
    (partitions without rows left out)."""

    def __init__(self, X: Any, y: Any, weights: Any) -> None:
        rows = X.chunks[0]  # (aligned by xdnn.dask.chunks.aligned_arrays: X one chunk wide, y and weights as X's rows)
        X_blocks = X.to_delayed().ravel()
        y_blocks = y.to_delayed().ravel()
        weight_blocks = [None] * len(rows) if weights is None else weights.to_delayed().ravel()
        bounds = np.cumsum((0, *rows))
        kept = [index for index, count in enumerate(rows) if count > 0]
        self.blocks = [dask.delayed(_rows_of, pure=True)(X_blocks[i], y_blocks[i], weight_blocks[i]) for i in kept]
        self.starts = bounds[:-1][kept].astype(np.int64)
        self.stops = bounds[1:][kept].astype(np.int64)
        self.m, self.n_features, self.weighted = int(bounds[-1]), int(X.shape[1]), weights is not None


class Placement:
    """Which replica holds which partition: ``owner[i]`` (a replica's index) and ``position[i]`` (the
    partition's index in that replica's list) of the partition of rows ``[starts[i], stops[i])``."""

    def __init__(self, starts: np.ndarray, stops: np.ndarray, owner: np.ndarray, position: np.ndarray) -> None:
        self.starts, self.stops, self.owner, self.position = starts, stops, owner, position

    def plans(self, batch: Any) -> dict[int, Any]:
        """``{replica: rows}`` for the replicas that hold rows of ``batch`` -- ``"all"`` (every row),
        a ``slice`` of rows (the data's own order) or an array of row indices (a shuffled batch) --
        each ``rows`` a list of ``(position, slice or local row indices)``, or ``"all"``."""
        if isinstance(batch, str):
            return {int(replica): "all" for replica in np.unique(self.owner)}
        plans: dict[int, list] = collections.defaultdict(list)
        if isinstance(batch, slice):
            for i in np.flatnonzero((self.starts < batch.stop) & (self.stops > batch.start)):
                start, stop = max(batch.start, self.starts[i]), min(batch.stop, self.stops[i])
                rows = slice(int(start - self.starts[i]), int(stop - self.starts[i]))
                plans[int(self.owner[i])].append((int(self.position[i]), rows))
            return dict(plans)
        indices = np.asarray(batch, dtype=np.int64)
        partition = np.searchsorted(self.starts, indices, side="right") - 1
        order = np.argsort(partition, kind="stable")  # grouped by partition, in the batch's order within each
        partition, indices = partition[order], indices[order]
        local = indices - self.starts[partition]
        cuts = np.flatnonzero(np.diff(partition)) + 1
        for first, rows in zip(np.split(partition, cuts), np.split(local, cuts), strict=True):
            i = first[0]
            plans[int(self.owner[i])].append((int(self.position[i]), rows))
        return dict(plans)


class Cluster:
    """A data-parallel fit's partitions and replicas on ``client`` (see the module docstring);
    :meth:`start` computes and places them, :meth:`close` releases everything."""

    def __init__(self, client: Any, network: Any, partitions: RowPartitions, *, timeout: float,
                 max_recoveries: int, stats: dict) -> None:  # fmt: skip
        self.client, self.network, self.partitions = client, network, partitions
        self.timeout, self.max_recoveries, self.stats = float(timeout), max_recoveries, stats
        self.spec = NetworkSpec.of(network, partitions.n_features)
        self.futures: list[Any] = []  # one per partition: its (X, y, weights) blocks on a worker
        self.actor_futures: list[Any] = []
        self.replicas: list[Any] = []
        self.addresses: list[str] = []
        self.placement: Placement | None = None  # (None: no replicas in place)
        self.summaries: list[dict] = []

    # --- set-up, recovery and release ----------------------------------------------------------

    def start(self) -> None:
        """Compute the partitions where Dask puts them and make a replica beside them on each worker."""
        began = time.perf_counter()
        self.futures = self.client.compute(self.partitions.blocks)
        self._recovering(lambda: None, "while the replicas were set up")
        self.stats["setup_seconds"] = time.perf_counter() - began

    def _recovering(self, action: Callable[[], Any], during: str) -> Any:
        """``action()`` with the replicas in place; when a replica's worker dies (:class:`ReplicaLost`),
        every replica is released, Dask recomputes the lost partitions, new replicas are placed and
        ``action`` runs again, up to ``max_recoveries`` times a fit; then :class:`WorkerLostError`."""
        while True:
            try:
                if self.placement is None:
                    self._wait_for(self.futures, "the data's partitions")
                    self._place()
                return action()
            except ReplicaLost as lost:
                self.release_replicas()
                if self.stats["recoveries"] >= self.max_recoveries:
                    raise WorkerLostError(
                        f"{lost} {during}; stopped after {self.stats['recoveries']} recoveries (max_recoveries="
                        f"{self.max_recoveries}), at the last completed step ({self.network.optimizer.iterations} "
                        "steps): fit again to resume"
                    ) from lost.cause
                self.stats["recoveries"] += 1

    def _wait_for(self, futures: list, what: str) -> None:
        """Wait for ``futures`` (up to ``timeout``); a computation's own error is raised as it is."""
        done, not_done = wait(futures, timeout=self.timeout, return_when="ALL_COMPLETED")
        if not_done:
            raise WorkerLostError(f"{what} were not ready within timeout={self.timeout:g} s")
        for future in futures:
            if future.status != "finished":
                future.result()  # raises the computation's error (a KilledWorker when its workers kept dying)

    def _place(self) -> None:
        """One replica on each worker holding partitions, handed the futures of those partitions."""
        holders = self.client.who_has(self.futures)
        groups: dict[str | None, list[int]] = collections.defaultdict(list)
        for index, future in enumerate(self.futures):
            addresses = sorted(holders.get(future.key, ()))
            groups[addresses[0] if addresses else None].append(index)
        owner = np.empty(len(self.futures), dtype=np.int64)
        position = np.empty(len(self.futures), dtype=np.int64)
        self.actor_futures, self.addresses = [], []
        starts = self.partitions.starts
        for replica, address in enumerate(sorted(groups, key=str)):
            members = groups[address]
            owner[members], position[members] = replica, np.arange(len(members))
            handed = [(int(starts[index]), self.futures[index]) for index in members]
            # (allowed elsewhere only if its worker dies meanwhile: the blocks then travel between workers)
            future = self.client.submit(
                PartitionReplica, self.spec, handed, actor=True, pure=False,
                workers=None if address is None else [address], allow_other_workers=True,
                key=f"xdnn-replica-{uuid.uuid4().hex}",
            )  # fmt: skip
            self.actor_futures.append(future)
            self.addresses.append(str(address))
        self._wait_for(self.actor_futures, "the replicas")
        self.replicas = [future.result() for future in self.actor_futures]
        # (where each replica is: its worker's, unless that worker died while it was made)
        where = self.client.who_has(self.actor_futures)
        self.addresses = [next(iter(where.get(future.key, ())), address) for future, address in
                          zip(self.actor_futures, self.addresses, strict=True)]  # fmt: skip
        self.summaries = self._collect({index: replica.summary() for index, replica in enumerate(self.replicas)})
        self.placement = Placement(self.partitions.starts, self.partitions.stops, owner, position)
        self.stats["workers"] = len(self.replicas)

    def release_replicas(self) -> None:
        """Delete every replica on its worker (with its copies of the data).

        Cancelled rather than released: each call of a replica leaves a reference cycle to its handle
        (in ``distributed.actor``), which would hold the actor until Python's collector ran; the keys
        are this fit's own."""
        if self.actor_futures:
            self.client.cancel(self.actor_futures)
        self.actor_futures, self.replicas, self.placement = [], [], None

    def close(self) -> None:
        """Release the replicas and the partitions."""
        self.release_replicas()
        for future in self.futures:
            future.release()
        self.futures = []

    # --- one step ------------------------------------------------------------------------------

    def exchange(self, batch: Any, parameters: dict[str, Any]) -> list[dict]:
        """Every involved replica's sums for ``batch`` at ``parameters`` (host arrays), in replica order,
        recovering from lost workers (:meth:`_recovering`).  Raises :class:`WorkerLostError` when that
        fails or a worker does not answer within ``timeout``; any other error of a replica as it is."""
        return self._recovering(lambda: self._exchange(batch, parameters), "during a step")

    def _exchange(self, batch: Any, parameters: dict[str, Any]) -> list[dict]:
        began = time.perf_counter()
        plans = self.placement.plans(batch)
        calls = {}
        for index, rows in plans.items():
            try:
                calls[index] = self.replicas[index].gradients(parameters, rows)
            except RuntimeError as error:  # ("Worker holding Actor was lost": its future erred)
                raise ReplicaLost(self.addresses[index], error) from error
        results = self._collect(calls)
        stats = self.stats
        stats["rounds"] += 1
        stats["actor_calls"] += len(calls)
        parameter_bytes = sum(value.nbytes for value in parameters.values())
        index_bytes = sum(
            rows.nbytes for plan in plans.values() if not isinstance(plan, str) for _, rows in plan
            if isinstance(rows, np.ndarray)
        )  # fmt: skip
        stats["bytes_sent"] += parameter_bytes * len(calls) + index_bytes
        stats["bytes_received"] += sum(g.nbytes for result in results for g in result["grads"].values())
        stats["exchange_seconds"] += time.perf_counter() - began
        stats["worker_seconds"] += max(result["seconds"] for result in results)
        return results

    def _collect(self, calls: dict[int, Any]) -> list:
        """The answers of ``calls`` (``{replica: actor future}``), in replica order."""
        deadline = time.monotonic() + self.timeout
        results: dict[int, Any] = {}
        pending = sorted(calls)
        while pending:
            for index in list(pending):
                if calls[index].done():
                    results[index] = self._answer(index, calls[index])
                    pending.remove(index)
            for index in pending:
                if self.actor_futures[index].status != "finished":
                    raise ReplicaLost(self.addresses[index], None)
            if not pending:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                late = ", ".join(self.addresses[index] for index in pending)
                raise WorkerLostError(
                    f"no answer from the worker(s) {late} within timeout={self.timeout:g} s (a worker that hangs, "
                    "or a step that takes longer: pass a larger timeout)"
                )
            try:  # (returns when the first pending call ends, or after POLL_SECONDS)
                calls[pending[0]].result(timeout=min(POLL_SECONDS, remaining))
            except Exception:  # a timeout, or the call's own error: raised by _answer, where it is told apart
                pass
        return [results[index] for index in sorted(results)]

    def _answer(self, index: int, call: Any) -> Any:
        """A finished call's result, or :class:`ReplicaLost` when it failed because its worker died."""
        try:
            return call.result()
        except OSError as error:  # ("Unable to contact Actor's worker", a closed comm)
            if self._worker_gone(index):
                raise ReplicaLost(self.addresses[index], error) from error
            raise

    def _worker_gone(self, index: int) -> bool:
        """Whether the scheduler confirms (within :data:`NOTICE_SECONDS`) that replica ``index`` was lost."""
        deadline = time.monotonic() + NOTICE_SECONDS
        while self.actor_futures[index].status == "finished":
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def new_stats() -> dict[str, Any]:
    """The counters a data-parallel fit keeps (see :func:`xdnn.dask.data_parallel.fit_data_parallel`)."""
    return {
        "workers": 0,
        "steps": 0,
        "rounds": 0,
        "actor_calls": 0,
        "bytes_sent": 0,
        "bytes_received": 0,
        "exchange_seconds": 0.0,
        "worker_seconds": 0.0,
        "recoveries": 0,
        "setup_seconds": math.nan,
    }
