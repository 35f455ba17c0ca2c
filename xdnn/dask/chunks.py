"""The layout of Dask-held data for xdnn, and its chunks computed one at a time.

xdnn reads a Dask ``X (n_samples, n_features)`` by *row chunks*: each chunk holds whole samples, so
``X`` is rechunked to a single chunk along the features (a lazy step; each row chunk then holds
``rows x n_features`` values), and ``y`` and ``sample_weight`` are rechunked to ``X``'s row chunks
(in-memory arrays given with a Dask ``X`` are cut into the same chunks).  Dask data frames and
series become arrays (``to_dask_array``).

:func:`computed_chunks` then computes the chunks in a given order on Dask's scheduler, each one in a
background thread while the caller works on the one before: at most two chunks are in memory, the
one in use and the one being computed (and, while a chunk is prepared, the temporaries of its
checks).  Each chunk is computed on its own (Dask culls the graph to what it needs, a cost that grows
slowly with the whole graph: about 10 ms a chunk for a graph of 2,000 chunks), so chunks of 10^4
rows or more keep that overhead small.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from itertools import accumulate
from typing import Any, Callable, Iterable, Iterator, Sequence

from xdnn._namespace import is_sparse, to_numpy

Array = Any


def as_dask_array(value: Any, name: str, *, lengths: bool = True) -> Any:
    """A Dask array of a Dask array, data frame or series (``to_dask_array(lengths=lengths)``: with
    ``lengths`` the partitions' lengths are computed, one pass over the data frame, so that the
    array's chunk sizes are known)."""
    import dask.array as da

    if isinstance(value, da.Array):
        return value
    convert = getattr(value, "to_dask_array", None)
    if convert is None:
        raise TypeError(f"{name} must be a dask array or a dask data frame / series, got {type(value).__name__}")
    return convert(lengths=True if lengths else None)


def check_known_chunks(array: Any, name: str) -> None:
    """Refuse an array whose row chunk sizes are unknown (NaN: a data frame's ``values``)."""
    if any(math.isnan(size) for size in array.chunks[0]):
        raise ValueError(
            f"{name} has unknown chunk sizes along the samples (chunks {array.chunks[0][:4]}...): compute them "
            f"first with {name}.compute_chunk_sizes(), or convert a data frame with to_dask_array(lengths=True)"
        )


def refuse_sparse(X: Any, name: str = "X") -> None:
    """Refuse sparse data with Dask (a Dask array of ``scipy.sparse`` blocks, or an in-memory sparse
    ``X`` beside Dask targets): chunks are read, checked, batched and predicted as dense arrays."""
    meta = getattr(X, "_meta", X)
    if is_sparse(meta):
        raise TypeError(
            f"{name} is sparse ({type(meta).__name__}{' blocks of a dask array' if meta is not X else ''}), which "
            "xdnn's Dask fits and predictions do not take (they move dense chunks): train on the in-memory sparse "
            f"matrix ({name}.compute() of a dask array, and y in memory), or give dense chunks "
            f"({name}.map_blocks(lambda block: block.toarray()))"
        )


def samples_chunked(X: Any, name: str = "X", *, known: bool = True) -> Any:
    """``X`` checked 2-D and dense (:func:`refuse_sparse`), with a single chunk along the features
    (rechunked lazily if it has several), and (``known``) known row chunk sizes."""
    refuse_sparse(X, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got a dask array of shape {X.shape}")
    if known:
        check_known_chunks(X, name)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})  # whole samples per chunk: (rows, n_features) blocks
    return X


def aligned_arrays(X: Any, *others: Any, names: Sequence[str]) -> tuple[Any, ...]:
    """``(X, *others)`` as Dask arrays with the same row chunks: ``X`` by :func:`samples_chunked`,
    each other (``None`` stays ``None``) rechunked to ``X``'s row chunks, with one chunk along its
    other axes.  In-memory arrays are cut into those chunks; when ``X`` itself is in memory it takes
    the row chunks of the first Dask array among ``others``."""
    import dask.array as da

    from xdnn.dask import is_dask_collection

    if is_dask_collection(X):
        X = samples_chunked(as_dask_array(X, names[0]), names[0])
    else:
        template, template_name = next(
            (samples_like(as_dask_array(value, name), name), name)
            for value, name in zip(others, names[1:], strict=True)
            if is_dask_collection(value)
        )
        refuse_sparse(X, names[0])
        host = to_numpy(X)
        if host.ndim != 2:
            raise ValueError(f"{names[0]} must be 2-D (n_samples, n_features), got an array of shape {host.shape}")
        check_samples(host.shape[0], template.shape[0], (names[0], template_name))
        X = da.from_array(host, chunks=(template.chunks[0], -1))
    rows = X.chunks[0]
    aligned = []
    for value, name in zip(others, names[1:], strict=True):
        if value is None:
            aligned.append(None)
            continue
        if is_dask_collection(value):
            value = samples_like(as_dask_array(value, name), name)
            check_samples(X.shape[0], value.shape[0], (names[0], name))
            value = value.rechunk((rows,) + (-1,) * (value.ndim - 1))
        else:
            host = to_numpy(value)
            if host.ndim == 0:
                raise ValueError(f"{name} must be an array with one entry per sample, got {host!r}")
            check_samples(X.shape[0], host.shape[0], (names[0], name))
            value = da.from_array(host, chunks=(rows,) + (-1,) * (host.ndim - 1))
        aligned.append(value)
    return (X, *aligned)


def samples_like(value: Any, name: str) -> Any:
    """A Dask array of samples along its first axis (``y``, weights) with known chunk sizes."""
    if value.ndim == 0:
        raise ValueError(f"{name} must be an array with one entry per sample, got a 0-d dask array")
    check_known_chunks(value, name)
    return value


def check_samples(expected: int, got: int, names: tuple[str, str]) -> None:
    if expected != got:
        raise ValueError(f"{names[0]} and {names[1]} have different numbers of samples: {expected} and {got}")


def row_starts(rows: Sequence[int]) -> list[int]:
    """The first row of each chunk, and the total last: ``[0, r0, r0 + r1, ..., m]``."""
    return [0, *accumulate(int(size) for size in rows)]


def chunk_tasks(arrays: Sequence[Any]) -> list[Any]:
    """Each of ``arrays`` (aligned, one chunk along every axis but the first) as a sequence of its row
    chunks' ``Delayed`` objects: computing one yields that chunk itself (computing a one-chunk slice
    of the array would copy it into a new array, twice the memory)."""
    return [array.to_delayed(optimize_graph=False).ravel() for array in arrays]


def compute_chunk(tasks: Sequence[Any], index: int) -> tuple[Array, ...]:
    """Row chunk ``index`` of each array of ``tasks`` (:func:`chunk_tasks`), computed together (one
    graph: work they share, e.g. a data frame both come from, is done once); host arrays (NumPy, or
    CuPy for CuPy-backed Dask arrays)."""
    import dask

    return dask.compute(*(chunks[index] for chunks in tasks))


def computed_chunks(
    arrays: Sequence[Any], order: Iterable[int], prepare: Callable[[int, tuple[Array, ...]], Any]
) -> Iterator[Any]:
    """``prepare(index, blocks)`` for each row chunk ``index`` in ``order`` of the aligned ``arrays``
    (``blocks``: the chunk of each array, computed): the next chunk is computed in a background thread
    while the caller uses the current one.  It is started once the current one is prepared (in the
    caller's thread: checked, moved to a device) and the caller has let go of the one before, so that
    at most two chunks are in memory -- the one in use and the one being computed -- if ``prepare``
    keeps nothing of ``blocks`` beyond what it returns.  An error computing a chunk is raised here,
    in the caller."""
    order = list(order)
    if not order:
        return
    tasks = chunk_tasks(arrays)
    pool = ThreadPoolExecutor(1, thread_name_prefix="xdnn-dask-prefetch")
    try:
        future = pool.submit(compute_chunk, tasks, order[0])
        for position, index in enumerate(order):
            prepared = prepare(index, future.result())
            future = pool.submit(compute_chunk, tasks, order[position + 1]) if position + 1 < len(order) else None
            yield prepared
            del prepared  # (the caller has let go of it too)
    finally:  # an abandoned epoch (an error, Ctrl-C) does not wait for the chunk being computed
        pool.shutdown(wait=False, cancel_futures=True)
