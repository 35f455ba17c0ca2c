"""Fitting Dask-held data in one process, out of core: the chunks stream through the network.

:meth:`xdnn.Network.fit` of a ``dask.array.Array`` (or data frame) ``X`` and ``y`` without a
``distributed`` client comes here (:func:`stream_fit`).  The fit is the ordinary one
(:class:`xdnn.training.Fit`: the same steps, divergence checks, checkpoints, history, callbacks and
Ctrl-C handling); only its batches come from a :class:`ChunkSource`, which computes one row chunk at
a time (the next one in a background thread while the current one trains, see
:mod:`xdnn.dask.chunks`) and moves it to the network's backend.  Peak memory is about two chunks
(plus the network), not the data set.

>>> import dask.array as da, numpy as np, xdnn
>>> X = da.from_array(np.random.default_rng(0).normal(size=(300, 2)), chunks=(70, 2))
>>> y = (X[:, 0] > 0).astype("int64")
>>> net = xdnn.Network([2, 8, 1], seed=0)
>>> history = net.fit(X, y, epochs=20, batch_size=32, verbose=0)
>>> net.evaluate(X, y)["accuracy"] > 0.9
True
"""

from __future__ import annotations

from typing import Any, Iterator

import array_api_compat

from xdnn import _validation
from xdnn._namespace import ArrayContext, to_numpy
from xdnn.callbacks import History
from xdnn.dask.chunks import aligned_arrays, computed_chunks, row_starts
from xdnn.inputs import as_named_array, prepare_data

Array = Any


class ChunkSource:
    """The batches of one streamed fit (a ``source`` of :class:`xdnn.training.Fit`): ``X
    (n_samples, n_features)``, targets ``y`` and optional ``sample_weight``, held by Dask (or in
    memory beside a Dask array), read row chunk by row chunk (:func:`xdnn.dask.chunks.aligned_arrays`
    sets the layout: ``X`` rechunked to one chunk along the features, ``y`` and the weights to
    ``X``'s row chunks).

    ``m`` is the number of samples, ``n_features`` that of features, ``batch`` the rows per step
    (``None``: all ``m``, one full batch -- which holds the data set in memory).

    Each chunk is checked as in-memory data is (:func:`xdnn.inputs.prepare_data`: ``X`` finite in
    the network's dtype, labels or targets fit for its output; the weights finite and non-negative),
    and an error names the chunk and its rows.  :meth:`check` runs these checks over every chunk
    before training (a pass that computes each chunk once and keeps none).

    An epoch (:meth:`epoch`) with ``shuffle`` visits the chunks in an order drawn from the network's
    seeded ``shuffle_generator`` (the one a model file saves, so a loaded model continues the same
    sequence), and each chunk's rows in a permutation drawn from it when the chunk is reached (both on
    the host, the same on every backend).  Batches hold ``batch`` rows: the rows left at a chunk's
    end open the next chunk's first batch, so only the epoch's last batch may be smaller.  Without
    ``shuffle`` (or with one full batch) chunks and rows come in order, so the batches are exactly
    those of an in-memory ``fit(..., shuffle=False)`` of the same data, and so are the results.

    With weights, each ``Yt`` carries them as its last row (``weighted`` is true), as the in-memory
    fit's targets do.
    """

    def __init__(
        self, network: Any, X: Any, y: Any, context: ArrayContext, *, batch: int | None = None,
        sample_weight: Any = None,
    ) -> None:  # fmt: skip
        scalar_weight = sample_weight is not None and to_numpy_scalar(sample_weight) is not None
        X, y, weights = aligned_arrays(
            X, y, None if scalar_weight else sample_weight, names=("X", "y", "sample_weight")
        )
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got an array of shape {tuple(y.shape)}")
        self.network, self.context = network, context
        self.m, self.n_features = int(X.shape[0]), int(X.shape[1])
        if self.m == 0 or self.n_features == 0:
            raise ValueError(f"X is empty (shape {tuple(X.shape)}); need at least one sample and feature")
        if scalar_weight:  # a number weights every sample alike
            import dask.array as da

            weights = da.full((self.m,), to_numpy_scalar(sample_weight), chunks=(X.chunks[0],))
        self.weighted = weights is not None
        self.arrays = (X, y) if weights is None else (X, y, weights)
        self.starts = row_starts(X.chunks[0])
        self.chunk_indices = [index for index, rows in enumerate(X.chunks[0]) if rows > 0]
        self.batch = self.m if batch is None else min(int(batch), self.m)

    def prepare(self, index: int, blocks: tuple[Array, ...]) -> tuple[Array, Array]:
        """Chunk ``index`` (its computed ``blocks``) checked and on the context: ``X (rows, n_features)``
        and ``Y (rows, k)``, the weights as ``Y``'s last column when ``weighted``."""
        network, context = self.network, self.context
        try:
            X, Y = prepare_data(network, blocks[0], blocks[1], context)
            if self.weighted:
                weights = prepare_chunk_weights(network, blocks[2], context)
                Y = context.xp.concat([Y, context.xp.reshape(weights, (-1, 1))], axis=1)
        except (TypeError, ValueError) as error:
            start, stop = self.starts[index], self.starts[index + 1]
            raise type(error)(f"{error} (in rows {start}:{stop}, row chunk {index} of the dask array)") from None
        return X, Y

    def prepared_chunks(self) -> Iterator[tuple[Array, Array]]:
        """Every chunk in order, :meth:`prepare`-d (the next one computed while the caller uses this one;
        the caller lets go of a chunk before asking for the next)."""
        return computed_chunks(self.arrays, self.chunk_indices, self.prepare)

    def check(self) -> None:
        """Check every chunk (:meth:`prepare`) -- and that the weights are not all zero -- keeping none:
        an error is raised before training changes anything.  It computes the data once more (a first
        epoch reads it twice)."""
        xp = self.context.xp
        any_weight = not self.weighted
        for X, Y in self.prepared_chunks():
            if not any_weight:
                any_weight = bool(xp.any(Y[:, -1] > 0))
            del X, Y
        if not any_weight:
            raise ValueError("sample_weight must not be all zero: no sample would count")

    def epoch(self, shuffle: bool) -> Iterator[tuple[Array, Array]]:
        """One epoch's ``(Xt (n_features, b), Yt (k, b))`` batches in tutorial layout (see the class)."""
        xp, batch = self.context.xp, self.batch
        generator = self.network.shuffle_generator
        shuffle = shuffle and batch < self.m  # (one full batch: the in-memory fit draws nothing either)
        order = self.chunk_indices
        if shuffle:
            order = [order[position] for position in generator.permutation(len(order))]
        pending: list[tuple[Array, Array]] = []  # rows carried into the next batch (copies)
        pending_rows = 0
        for X, Y in computed_chunks(self.arrays, order, self.prepare):
            rows = X.shape[0]
            permutation = self.context.asarray(generator.permutation(rows)) if shuffle else None
            start = 0
            while start < rows:
                stop = min(rows, start + batch - pending_rows)
                if permutation is None:
                    piece = X[start:stop, ...], Y[start:stop, ...]
                else:
                    piece = xp.take(X, permutation[start:stop], axis=0), xp.take(Y, permutation[start:stop], axis=0)
                if permutation is None and rows - stop < batch:  # the chunk's last rows or last full batch:
                    piece = tuple(xp.asarray(part, copy=True) for part in piece)  # a view would keep it alive
                taken, start = stop - start, stop
                if pending_rows + taken < batch:  # the chunk ends inside this batch: carried over
                    pending.append(piece)
                    pending_rows += taken
                elif pending:
                    pending.append(piece)
                    yield joined(pending, xp)
                    pending, pending_rows = [], 0
                else:
                    yield piece[0].T, piece[1].T
                del piece
            del X, Y, permutation  # let go of this chunk before the next is prepared and the one after computed
        if pending:
            yield joined(pending, xp)


def joined(pieces: list[tuple[Array, Array]], xp: Any) -> tuple[Array, Array]:
    """One batch ``(Xt, Yt)`` in tutorial layout from row pieces ``(X (r, f), Y (r, k))``."""
    return tuple(xp.concat([piece[part] for piece in pieces], axis=0).T for part in (0, 1))


def to_numpy_scalar(value: Any) -> Any:
    """``value`` as a host scalar when it is one number (a 0-d array included), else ``None``."""
    from xdnn.dask import is_dask_collection

    if is_dask_collection(value) or isinstance(value, (list, tuple)):
        return None
    host = to_numpy(value)
    return host[()] if host.ndim == 0 else None


def prepare_chunk_weights(network: Any, weights: Any, context: ArrayContext) -> Array:
    """One chunk's sample weights ``(rows,)`` checked -- real, finite in the network's dtype,
    non-negative -- on ``context`` (that not all of them are zero is checked over the whole data)."""
    xp = context.xp
    weights = as_named_array(weights, context, "sample_weight")
    if not xp.isdtype(weights.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"sample_weight must hold real numbers, got dtype {weights.dtype}")
    if weights.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, one weight per sample, got shape {tuple(weights.shape)}")
    weights = _validation.as_finite_dtype(weights, getattr(xp, network.dtype_name), "sample_weight", xp=xp)
    if not bool(xp.all(weights >= 0)):
        raise ValueError("sample_weight must be non-negative")
    return weights


def deciding_values(*values: Any) -> list[Any]:
    """What decides the backend of a call on Dask-held ``values`` (for :meth:`xdnn.Network.resolve_context`):
    in-memory values as they are, and a Dask array's chunk type (its empty ``_meta``: CuPy-backed arrays go
    to CuPy); host chunks decide nothing (they go to the network's backend, or the active one)."""
    from xdnn.dask import is_dask_collection

    deciding = []
    for value in values:
        if array_api_compat.is_dask_array(value):
            deciding.append(getattr(value, "_meta", None))
        elif not is_dask_collection(value):
            deciding.append(value)
    return deciding


def stream_fit(
    network: Any, X: Any, y: Any, *, epochs: int, batch_size: int | None, validation_data: Any = None,
    callbacks: Any = None, verbose: Any = 1, print_cost: bool = False, print_every: int = 100,
    shuffle: bool = True, cuda_graph: bool = False, sample_weight: Any = None,
) -> History:  # fmt: skip
    """:meth:`xdnn.Network.fit` of Dask-held data in this process (``epochs`` and ``batch_size``
    already checked by ``fit``; the other options are ``fit``'s).

    Everything is checked before training changes anything: the layout, ``validation_data`` (in
    memory: ``fit`` computes a Dask validation set, once), the callbacks, then every chunk
    (:meth:`ChunkSource.check`, which reads the data once more).  Then the network is built (for
    ``X.shape[1]`` features) if needed and trained on the chunks (:class:`ChunkSource`).
    ``cuda_graph=True`` replays one full batch held on the device and is refused here.
    """
    if cuda_graph:
        raise ValueError(
            "cuda_graph=True replays one full batch held on the device, but a dask fit streams its data chunk by "
            "chunk: fit without it, or compute X and y into memory first"
        )
    context = network.resolve_context(*deciding_values(X, y, sample_weight, *(validation_data or ())))
    source = ChunkSource(network, X, y, context, batch=batch_size, sample_weight=sample_weight)
    validation = network.prepare_validation(validation_data, context, source.n_features)
    callback_list = network.checked_callbacks(callbacks, validation is not None)
    source.check()
    return network.train(
        context, source.n_features, None, None, None, source=source, epochs=epochs, batch=source.batch,
        shuffle=shuffle, validation=validation, callbacks=callback_list, verbose=verbose, print_cost=print_cost,
        print_every=print_every,
    )  # fmt: skip
