"""Sparse ``X``: ``scipy.sparse`` on the NumPy backend, ``cupyx.scipy.sparse`` on CuPy, never densified.

A text or one-hot data set -- 20 newsgroups as TF-IDF, ``(11314, 130107)`` at 0.1% density -- is a
sparse matrix whose dense copy would not fit in memory.  Only the first layer ever reads ``X``, and
it reads it through one product each way (:mod:`xdnn.linear`, tutorial layout, ``X_b`` a batch's
rows ``(m, n[0])``):

    Z1 = W1 X_b^T + b1          (n[1], m)       forward
    dW1 = (1/m) dZ1 X_b         (n[1], n[0])    backward (the data needs no gradient: no dA0)

Both are sparse-times-dense products costing ``nnz(X_b) n[1]`` multiply-adds instead of
``m n[0] n[1]``.  The portable definitions compute them as written: ``W @ A_prev`` with a sparse
``A_prev`` is the sparse library's own product (both libraries take the reflected ``@`` from a dense
left operand), so nothing portable changes; the NumPy and CuPy executors of
:func:`xdnn.linear.linear_forward` / :func:`~xdnn.linear.linear_backward` run them with the sparse
operand first (:mod:`xdnn.backends.numpy`, :mod:`xdnn.backends.cupy`).  Everything after the first
product is dense, as in any fit.

What this module does, at the API boundary (host side):

* :func:`prepare_sparse_X` -- checks a sparse ``X`` as :func:`xdnn.inputs.prepare_X` checks a dense
  one (2-D, not empty, real numbers, finite -- its stored values -- the network's input size) and
  returns it as CSR in the network's dtype: other formats (CSC, COO, ...) are converted once, a cast
  copies only the stored values;
* :class:`SparseBatches` -- a fit's batches (a ``source`` of :class:`xdnn.training.Fit`): rows of
  the CSR gathered for each batch, in the very order of the in-memory fit (the same seeded
  permutations), so a sparse fit gives the dense fit's numbers (to rounding).

Backends without sparse matrices in their Array API namespace (PyTorch, JAX, array-api-strict)
refuse a sparse ``X`` with an error that names the way out (``X.toarray()``, or the NumPy backend):
converting batch by batch would hide a dense copy per step and a second, chunked inference path.
"""

from __future__ import annotations

from typing import Any, Iterator

import array_api_compat

from xdnn import _validation, training_data
from xdnn._namespace import ArrayContext, is_sparse, sparse_library
from xdnn.layers import Dense

Array = Any

__all__ = ["SparseBatches", "backend_takes_sparse", "is_sparse", "largest_magnitude", "prepare_sparse_X"]


def backend_takes_sparse(xp: Any) -> bool:
    """Whether a network on namespace ``xp`` trains on sparse ``X``: NumPy's (``scipy.sparse``) and
    CuPy's (``cupyx.scipy.sparse``; a ``scipy.sparse`` ``X`` is moved to it, as dense host data is)."""
    return array_api_compat.is_numpy_namespace(xp) or array_api_compat.is_cupy_namespace(xp)


def check_backend(X: Any, context: ArrayContext, name: str = "X") -> None:
    """Raise ``TypeError`` unless the sparse ``X`` can be multiplied on ``context``: ``scipy.sparse``
    on NumPy or CuPy (moved there), ``cupyx.scipy.sparse`` on CuPy."""
    library = sparse_library(X)
    xp = context.xp
    if array_api_compat.is_cupy_namespace(xp) or (library == "scipy.sparse" and backend_takes_sparse(xp)):
        return
    backend = context.backend_name
    if library == "scipy.sparse":
        way_out = (
            f"pass {name}.toarray() (dense, if it fits in memory), or train on the numpy or cupy backend "
            "(xdnn.set_backend('numpy') before the first fit, or network.to('numpy'))"
        )
    else:
        way_out = f"move the network with network.to('cupy'), or pass {name}.get() (a scipy.sparse matrix) on numpy"
    lacking = "" if backend_takes_sparse(xp) else ", whose Array API namespace has no sparse matrices"
    raise TypeError(
        f"{name} is a {library} matrix: sparse X needs the numpy backend (scipy.sparse) or cupy "
        f"(cupyx.scipy.sparse), whose products read only its stored values; this network runs on "
        f"{backend!r}{lacking}: {way_out}"
    )


def check_first_layer(network: Any, name: str = "X") -> None:
    """Raise ``TypeError`` unless the network's first layer is a :class:`xdnn.Dense` with its own
    forward passes: the one layer whose product takes a sparse ``X``."""
    first = network.layers[0]
    own_forward = type(first).forward is Dense.forward and type(first).forward_output is Dense.forward_output
    if not (isinstance(first, Dense) and own_forward):
        raise TypeError(
            f"a sparse {name} is multiplied by the first layer's weights, which needs a Dense layer first; "
            f"this network starts with {first!r}: put a Dense layer first, or pass {name}.toarray()"
        )


def prepare_sparse_X(network: Any, X: Any, context: ArrayContext, name: str = "X") -> Any:
    """The sparse ``X (n_samples, n_features)`` checked for ``network`` on ``context``, as a CSR matrix
    (or array: the kind given) of the network's dtype; changes nothing.

    The checks and their messages are :func:`xdnn.inputs.prepare_X`'s, on the stored values
    ``X.data`` (the implicit zeros are finite): 2-D, not empty, real numbers (complex refused), finite
    in the network's dtype, ``network.n_features`` columns.  A CSR ``X`` of that dtype comes back as
    it is; another format is converted once (``tocsr``), another dtype casts the stored values only.
    A ``scipy.sparse`` ``X`` for a network on CuPy is moved to its device once, as ``cupyx.scipy.sparse``.

    >>> import scipy.sparse, xdnn
    >>> net = xdnn.Network([3, 2, 1], dtype="float64", seed=0)
    >>> X = scipy.sparse.csc_matrix([[0, 1, 0], [2, 0, 0]])
    >>> prepared = prepare_sparse_X(net, X, net.context)
    >>> prepared.format, str(prepared.dtype), prepared.nnz
    ('csr', 'float64', 2)
    """
    check_backend(X, context, name)
    check_first_layer(network, name)
    _validation.check_rank(X, 2, name)
    _validation.check_not_empty(X, name)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (floats, integers or booleans), got dtype {X.dtype}")
    if network.n_features is not None and X.shape[1] != network.n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but this network was built for {network.n_features} features"
        )
    X = X if X.format == "csr" else X.tocsr()
    xp = array_api_compat.array_namespace(X.data)  # where the stored values are: NumPy's or CuPy's
    data = _validation.as_finite_dtype(X.data, getattr(xp, network.dtype_name), name, xp=xp, copy=False)
    if data is not X.data:
        X = type(X)((data, X.indices, X.indptr), shape=X.shape)
    if sparse_library(X) == "scipy.sparse" and array_api_compat.is_cupy_namespace(context.xp):
        import cupyx.scipy.sparse

        with context.device:
            X = cupyx.scipy.sparse.csr_matrix(X)
    return X


def largest_magnitude(X: Array, *, xp: Any) -> float:
    """``max |X_ij|`` of a dense ``X``, or of a sparse one's stored values (0 when it stores none)."""
    if not is_sparse(X):
        return float(xp.max(xp.abs(X)))
    return float(xp.max(xp.abs(X.data))) if X.nnz else 0.0


class SparseBatches:
    """The batches of a fit of a sparse ``X`` (a ``source`` of :class:`xdnn.training.Fit`).

    ``X (m, n_features)`` is the CSR from :func:`prepare_sparse_X`, ``Y (m, k)`` the prepared targets
    and ``weights (m,)`` the sample weights or ``None``, all on ``context``.  An epoch yields ``(Xt,
    Yt)`` in tutorial layout: ``Xt = X_b^T`` (a CSC view of the batch's rows, never densified) and
    ``Yt (k, m_b)`` -- with the weights as its last row when ``weighted``, as the in-memory fit carries
    them.  The batches are exactly the in-memory fit's (:func:`xdnn.training_data.epoch_batches`): the
    whole data set when ``batch >= m``, else consecutive spans of the epoch's permutation -- drawn by
    a :class:`~xdnn.training_data.PermutationFeed` from the network's ``shuffle_generator`` as the
    in-memory fit draws it -- or of the rows' own order without ``shuffle``.

    A CUDA-graph step (``cuda_graph=True``) records a dense full batch's products and is refused.
    """

    def __init__(
        self, network: Any, X: Any, Y: Array, weights: Array | None, context: ArrayContext, *, batch: int,
        epochs: int, cuda_graph: bool = False,
    ) -> None:  # fmt: skip
        if cuda_graph:
            raise ValueError(
                "cuda_graph=True records the training step of a dense full batch; a sparse X's first product "
                "is the sparse library's own, which is not recorded: fit with cuda_graph=False"
            )
        xp = context.xp
        if weights is not None:  # (carried as the targets' last column, as in the in-memory fit)
            Y = xp.concat([Y, xp.reshape(weights, (-1, 1))], axis=1)
        self.X, self.Y, self.xp = X, Y, xp
        self.weighted = weights is not None
        self.m, self.batch = int(X.shape[0]), int(batch)
        self.n_features = int(X.shape[1])
        epochs_per_transfer = epochs if training_data.on_accelerator(context.device) else 1
        self.permutations = training_data.PermutationFeed(
            network.shuffle_generator, self.m, context, epochs_per_transfer=epochs_per_transfer
        )

    def __repr__(self) -> str:
        return f"SparseBatches(m={self.m}, n_features={self.n_features}, nnz={self.X.nnz}, batch={self.batch})"

    def epoch(self, shuffle: bool) -> Iterator[tuple[Any, Array]]:
        """One epoch's ``(Xt, Yt)`` batches (see the class docstring)."""
        X, Y, m, batch = self.X, self.Y, self.m, self.batch
        if batch >= m:
            yield X.T, Y.T
            return
        permutation = self.permutations.next() if shuffle else None
        for start in range(0, m, batch):
            stop = min(start + batch, m)
            if permutation is None:
                yield X[start:stop].T, Y[start:stop, ...].T
            else:
                rows = permutation[start:stop]
                yield X[rows].T, self.xp.take(Y, rows, axis=0).T
