"""``xdnn export MODEL.npz MODEL.onnx``: a saved model as an ONNX model that predicts as ``xdnn predict`` does.

The graph takes the raw features ``X (N, n_features)`` in the model's dtype, standardises them as its
training data were (when ``xdnn train`` recorded the statistics) and gives ``label`` (the class names of
its metadata) and ``probabilities``, or ``prediction`` for a regression (see :mod:`xdnn.onnx_export`).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from xdnn.cli.errors import InputError
from xdnn.cli.model_files import load_model
from xdnn.cli.output import check_output_file, print_line


def command_export(arguments: argparse.Namespace) -> int:
    """Write ``arguments.model`` as the ONNX model ``arguments.out`` and print its signature in one line."""
    from xdnn.onnx_export import export_network, require_ndonnx

    require_ndonnx()  # before any work: without it, the install hint (exit code 2)
    check_output_file(arguments.out, "ONNX_FILE", "model.onnx")
    if all(map(os.path.exists, (arguments.model, arguments.out))) and os.path.samefile(arguments.model, arguments.out):
        raise InputError(f"ONNX_FILE {arguments.out} is the model file itself; choose another name, e.g. model.onnx")
    network = load_model(arguments.model, "numpy")  # the export reads the parameters on the host
    metadata = network.metadata
    classes = getattr(network, "classes_", None)
    if classes is None and metadata.get("classes") is not None:
        classes = _class_array(metadata["classes"])
    scaling = (metadata["feature_mean"], metadata["feature_std"]) if "feature_mean" in metadata else None
    model = export_network(network, arguments.out, classes=classes, feature_scaling=scaling)
    print_line(f"wrote {arguments.out}: {_signature(model)}")
    return 0


def _class_array(classes: list) -> np.ndarray:
    """A model file's class labels as one array: text when any label is text (as ``xdnn predict`` writes them)."""
    if any(isinstance(label, str) for label in classes):
        return np.asarray([str(label) for label in classes])
    return np.asarray(classes)


def _signature(model) -> str:
    """``X (N, 2) float32 -> label (N,) string, probabilities (N, 1) float32``: the graph's inputs and outputs."""
    import onnx

    def describe(value) -> str:
        tensor = value.type.tensor_type
        dims = [dim.dim_param or str(dim.dim_value) for dim in tensor.shape.dim]
        shape = f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"
        element = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
        kind = "string" if element.kind == "O" else str(element)
        return f"{value.name} {shape} {kind}"

    inputs = ", ".join(describe(value) for value in model.graph.input)
    outputs = ", ".join(describe(value) for value in model.graph.output)
    return f"{inputs} -> {outputs}"
