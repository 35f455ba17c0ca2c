"""ONNX export: a fitted network's inference as an ONNX model, recorded by running its own forward.

ndonnx is an Array API namespace whose arrays record ONNX operations instead of computing them.
The network's layers are bound to it (:func:`xdnn.backprop.bind_layers`) and the same inference
forward that :meth:`xdnn.Network.predict` runs (:func:`xdnn.backprop.forward_pass`, ``training=False``)
is called on a symbolic input: the graph *is* the network's math, not a second copy of it.  No backend
registers executors for ndonnx, so the portable definitions are recorded.  Parameters and running
statistics become constants (host copies, in the network's dtype).

The model's signature (``N`` is the batch size, left free; ``k`` the output units; ``dtype`` the
network's, ``float32`` or ``float64``):

* input ``X`` of shape ``(N, n_features)``, in ``dtype``;
* classifiers: ``label`` -- ``predict``'s classes: ``argmax`` of a softmax, ``[p > 0.5]`` of one sigmoid
  unit (int64 ``(N,)``), or ``classes[index]`` when the network has ``classes_``; a multi-label network's
  0/1 matrix ``(N, k)`` -- and ``probabilities`` ``(N, k)``, ``predict_proba``'s output activations;
* regression (identity, exp outputs): ``prediction``, ``predict``'s ``(N,)`` for one output, else ``(N, k)``.

Batch normalisation uses its running statistics, dropout is the identity: inference mode, as
``predict``.  The model's ``metadata_props`` hold ``xdnn_version``, ``xdnn_task``, the class labels
(``xdnn_classes``, JSON) when there are any, and the network's ``metadata`` (``xdnn_metadata``, JSON).

Needs ``ndonnx`` and ``onnx`` (``pip install "xdnn-array[onnx]"``, which adds ``onnxruntime`` to run
the model).

>>> import numpy as np, xdnn                                       # doctest: +SKIP
>>> net = xdnn.Network([2, 8, 1], seed=0)                          # doctest: +SKIP
>>> _ = net.fit(np.random.rand(32, 2), np.arange(32) % 2, epochs=2, verbose=0)  # doctest: +SKIP
>>> model = net.to_onnx("model.onnx")                              # doctest: +SKIP
>>> [output.name for output in model.graph.output]                 # doctest: +SKIP
['label', 'probabilities']
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

from xdnn import backprop as _backprop
from xdnn import losses as _losses
from xdnn._backend import DIST_NAME
from xdnn._namespace import to_host
from xdnn.atomic_file import write_atomically

INSTALL_HINT = f'pip install "{DIST_NAME}[onnx]"'
CLASSIFICATION_LOSSES = ("binary_crossentropy", "categorical_crossentropy")


def require_ndonnx() -> tuple[Any, Any]:
    """``(ndonnx, onnx)`` imported, or an ``ImportError`` that says how to install them."""
    try:
        import ndonnx
        import onnx
    except ImportError as error:
        missing = getattr(error, "name", None) or "ndonnx"
        raise ImportError(
            f"ONNX export needs ndonnx and onnx ({missing} is not installed); install them with: {INSTALL_HINT}"
        ) from None
    return ndonnx, onnx


def export_network(
    network: Any,
    path: str | os.PathLike | None = None,
    *,
    classes: Any = None,
    feature_scaling: tuple[Sequence[float], Sequence[float]] | None = None,
    both_class_probabilities: bool = False,
    prediction_columns: bool = False,
) -> Any:
    """The ONNX model (``onnx.ModelProto``) of fitted ``network``'s inference, written to ``path`` if given.

    ``classes`` (shape ``(n_classes,)``: strings, numbers or booleans) turns a classifier's class index into
    ``classes[index]``: one label per softmax unit, two for one sigmoid unit; a multi-label network
    keeps its 0/1 matrix and records them only in the metadata.  ``feature_scaling = (mean, std)``
    (each ``(n_features,)``) standardises the input first, ``(X - mean) / std`` computed in float64,
    as ``xdnn predict`` does: ``X`` is then float64.  ``both_class_probabilities`` gives one sigmoid
    unit's ``probabilities`` as ``[1 - p, p]`` (scikit-learn's ``predict_proba``), and
    ``prediction_columns`` a one-output regression's ``prediction`` as ``(N, 1)``.  The file is written
    atomically; its folder must exist.

    Raises ``ValueError`` for a network without parameters, ``ImportError`` without ndonnx or onnx.
    """
    if not network.built:
        raise ValueError("this network has not been fitted yet: call fit(X, y) first, then export it")
    destination = None if path is None else _destination(os.fspath(path))
    label_classes = _checked_classes(network, classes)
    ndx, onnx = require_ndonnx()
    dtype = getattr(ndx, network.dtype_name)
    # with a standardisation the raw features come in float64, as `xdnn predict` scales them (a float32
    # input would round large raw values, 1.7e9 +- 2000 say, before they are centred)
    X = ndx.argument(shape=("N", network.n_features), dtype=dtype if feature_scaling is None else ndx.float64)
    inputs = X if feature_scaling is None else _standardised(X, feature_scaling, dtype, xp=ndx)
    try:
        A = inference_output(network, inputs, xp=ndx)
    except Exception as error:  # e.g. a layer of one's own whose forward uses what ndonnx lacks
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise ValueError(
            f"cannot record the network's forward as ONNX ({detail}): every layer's inference forward must use "
            f"Array API functions that this ndonnx ({ndx.__version__}) provides"
        ) from error
    outputs = named_outputs(
        network, A, label_classes, xp=ndx,
        both_class_probabilities=both_class_probabilities, prediction_columns=prediction_columns,
    )  # fmt: skip
    model = ndx.build({"X": X}, outputs)
    width = 2 if both_class_probabilities and network.output_units == 1 else network.output_units
    _declare_shapes(model, {name: ("N", width)[: array.ndim] for name, array in outputs.items()})
    _describe(model, network, classes, onnx=onnx)
    onnx.checker.check_model(model)
    if destination is not None:
        data = model.SerializeToString()
        write_atomically(destination, lambda stream: stream.write(data))
    return model


def inference_output(network: Any, X: Any, *, xp: Any) -> Any:
    """``A_L`` of shape ``(N, k)`` for ``X (N, n_features)`` of namespace ``xp``: the network's layers
    bound to ``xp`` and its parameters as ``xp`` constants, through the inference forward of ``predict``."""
    dtype = getattr(xp, network.dtype_name)

    def constants(arrays: dict) -> dict:
        return {name: xp.asarray(np.asarray(to_host(value)), dtype=dtype) for name, value in arrays.items()}

    bound = _backprop.bind_layers(network.layers, network.loss, xp, outputs_private=False)
    _, A, _ = _backprop.forward_pass(bound, constants(network.parameters), constants(network.state), X.T, False, None)
    return A.T


def named_outputs(
    network: Any,
    A: Any,
    classes: Any,
    *,
    xp: Any,
    both_class_probabilities: bool = False,
    prediction_columns: bool = False,
) -> dict[str, Any]:
    """``{"label", "probabilities"}`` of a classifier or ``{"prediction"}`` of a regression from its output
    ``A (N, k)``, as ``predict`` and ``predict_proba`` give them (see the module docstring)."""
    k = network.output_units
    loss = network.loss.name
    answer = _losses.predictions(A.T, loss, k, xp=xp)  # predict's own decision: (N,) or (k, N)
    answer = answer if k == 1 or loss == "categorical_crossentropy" else answer.T
    if loss not in CLASSIFICATION_LOSSES:
        return {"prediction": A if prediction_columns and k == 1 else answer}
    label = answer
    if classes is not None and label.ndim == 1:
        label = xp.take(xp.asarray(classes), label, axis=0)
    probabilities = xp.concat([1.0 - A, A], axis=1) if both_class_probabilities and k == 1 else A
    return {"label": label, "probabilities": probabilities}


def _standardised(X: Any, feature_scaling: tuple, dtype: Any, *, xp: Any) -> Any:
    """``(X - mean) / std`` in float64, then in ``dtype``."""
    mean, std = (np.asarray(values, dtype=np.float64).reshape(-1) for values in feature_scaling)
    n_features = X.shape[1]
    if mean.shape != (n_features,) or std.shape != (n_features,):
        raise ValueError(f"feature_scaling must be (mean, std), each of {n_features} values (one per feature)")
    scaled = (xp.astype(X, xp.float64) - xp.asarray(mean)) / xp.asarray(std)
    return xp.astype(scaled, dtype)


def _checked_classes(network: Any, classes: Any) -> np.ndarray | None:
    """``classes`` as a NumPy array an ONNX tensor can hold (strings, integers or floats), or ``None`` when
    there are none or the labels are a multi-label 0/1 matrix; ``ValueError`` when they do not fit."""
    if classes is None or network.loss.name not in CLASSIFICATION_LOSSES:
        return None
    k = network.output_units
    if network.loss.name == "binary_crossentropy" and k > 1:
        return None  # multi-label: one 0/1 column per label (the labels go to the metadata)
    labels = np.asarray(classes)
    if labels.dtype.kind == "O":  # e.g. Python strings in an object array: one dtype for all, if they share one
        labels = np.asarray(labels.tolist())
    if labels.dtype.kind not in "Uiufb" or labels.ndim != 1:
        raise ValueError(
            f"classes must be a 1-D list of strings, numbers or booleans (all of one kind) to become an ONNX "
            f"tensor, got {labels.dtype} of shape {labels.shape}"
        )
    expected = 2 if k == 1 else k
    if labels.shape[0] != expected:
        raise ValueError(f"classes has {labels.shape[0]} labels, but the network's output tells {expected} apart")
    return labels.astype(np.int64) if labels.dtype.kind in "iu" else labels


def _declare_shapes(model: Any, shapes: dict[str, tuple]) -> None:
    """Declare each output's shape (``"N"`` the batch, as ``X``'s): ndonnx leaves some dimensions unnamed."""
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        for dim, size in zip(dims, shapes[output.name], strict=True):
            if isinstance(size, str):
                dim.dim_param = size
            else:
                dim.dim_value = size


def _describe(model: Any, network: Any, classes: Any, *, onnx: Any) -> None:
    """Name xdnn as the producer and record its version, the task, the classes and the network's metadata."""
    from xdnn import __version__

    model.producer_name, model.producer_version = "xdnn", __version__
    model.doc_string = f"{network!r}: inference (batch norm on running statistics, no dropout)"
    task = "classification" if network.loss.name in CLASSIFICATION_LOSSES else "regression"
    properties = {"xdnn_version": __version__, "xdnn_task": task}
    if classes is not None:
        properties["xdnn_classes"] = json.dumps(np.asarray(classes).tolist())
    try:
        properties["xdnn_metadata"] = json.dumps(network.metadata)
    except (TypeError, ValueError):  # metadata JSON cannot hold is left out (save refuses it too)
        pass
    existing = {entry.key: entry.value for entry in model.metadata_props}
    onnx.helper.set_model_props(model, {**existing, **properties})


def _destination(path: str) -> str:
    """The regular file to replace (a symbolic link's target), in a folder that exists: checked before any work."""
    destination = os.path.realpath(path) if os.path.islink(path) else path
    if os.path.exists(destination) and not os.path.isfile(destination):
        raise ValueError(
            f"cannot write the ONNX model to {path}: it is not a regular file; choose a name like model.onnx"
        )
    folder = os.path.dirname(os.path.abspath(destination))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write the ONNX model to {path}: the folder {folder} does not exist")
    return destination
