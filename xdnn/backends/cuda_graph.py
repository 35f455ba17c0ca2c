"""CUDA-graph capture of a whole full-batch training step (CuPy): ``Network.fit(..., cuda_graph=True)``.

A training step of a small network is dozens of short kernels -- per layer a ``gemm``, a fused
activation, their backward kernels and the fused optimizer update -- and on a GPU launching
them from Python costs more than running them.  This module records the step once, as CuPy
runs it, into a CUDA graph (``cupy.cuda.Stream.begin_capture`` / ``end_capture``) and then
launches the whole graph once per epoch: one launch instead of dozens.

What a replay cannot see, and how it is handled:

* Python does not run.  Every value that changes from step to step lives in device memory the
  graph reads: the step size (the learning rate, with Adam's bias corrections) and Adam's
  second correction are 0-d device arrays, refilled before each launch
  (:func:`xdnn.backends.cupy.step_scalars`), and the optimizer's step count is advanced here.
* Addresses and host constants are fixed at capture.  The graph updates the parameter and
  optimizer-state arrays it was captured with, in place, with the optimizer's hyper-parameters
  and the L2 factor of that moment; if anything replaces one of those arrays, their dictionaries,
  the optimizer or the loss, or changes a hyper-parameter (``set_weights`` from a callback, say),
  the step is captured again before the next launch.  The temporaries of the step come from a
  memory pool of this capture alone, so no other allocation can reuse them between launches,
  and that pool never frees a block on a failed allocation (it would free memory the graph
  still uses: the capture fails instead); the cost and the output ``A`` are kept and
  overwritten by each launch.
* Random numbers and running statistics would be frozen: networks with active dropout or
  batch normalisation are refused (:func:`refusal`), as are mini-batches (a batch is a
  gather with host-chosen indices) and optimizers without a fused kernel.

* CuPy refuses to call cuBLAS inside a capture, so the step multiplies its matrices with a
  kernel of :mod:`xdnn.backends.cupy` (:func:`~xdnn.backends.cupy.graph_step`): the same sums
  as cuBLAS's, added in another order (about one rounding per product apart).

The first epoch of a fit runs the same step eagerly (it compiles the kernels, which must not
happen inside a capture); the capture happens at the second.  If capturing fails, a warning
says why and the fit goes on eagerly, with the same step.
This is the only module besides :mod:`xdnn.backends.cupy` with CuPy-specific code.
"""

from __future__ import annotations

import warnings
from typing import Any

from xdnn import optimizers, training_data
from xdnn.activations import ACTIVATIONS
from xdnn.backends import cupy as cupy_kernels
from xdnn.executors import register
from xdnn.layers import Activation, BatchNorm, Dense, Dropout
from xdnn.losses import LOSSES


@register(training_data.graph_step_factory, backend="cupy")
def graph_step_factory(network: Any, batch: int, m: int, weighted: bool, *, xp: Any = None):
    """``(None, CapturedStep)`` when ``network`` can train with ``cuda_graph=True`` in batches of
    ``batch`` of ``m`` samples (with sample weights if ``weighted``), else ``(why not, None)``."""
    reason = refusal(network, batch, m, weighted)
    return (reason, None) if reason is not None else (None, CapturedStep)


def refusal(network: Any, batch: int, m: int, weighted: bool = False) -> str | None:
    """Why ``network`` cannot train with ``cuda_graph=True`` in batches of ``batch`` of ``m``
    samples (with sample weights if ``weighted``), or ``None``."""
    if weighted:
        return "cuda_graph=True trains without sample weights: pass sample_weight=None"
    if batch < m:
        return (
            f"cuda_graph=True captures a full-batch step, but batch_size={batch} splits the {m} samples "
            "into mini-batches; use batch_size=None"
        )
    for layer in network.layers:
        if isinstance(layer, Dropout) and layer.rate > 0.0:
            return "cuda_graph=True cannot capture dropout: a graph replays the same random mask every step"
        if isinstance(layer, BatchNorm):
            return "cuda_graph=True cannot capture batch normalisation (its running statistics are replaced each step)"
        if type(layer) not in (Dense, Activation, Dropout):
            return f"cuda_graph=True captures built-in layers only, not {type(layer).__name__}"
        activation = getattr(layer, "activation", None)
        if activation is not None and ACTIVATIONS.get(activation.name) is not activation:
            return f"cuda_graph=True captures built-in activations only, not a custom {activation.name!r}"
    if LOSSES.get(network.loss.name) is not network.loss:
        return f"cuda_graph=True captures built-in losses only, not a custom {network.loss.name!r}"
    optimizer = network.optimizer
    # (a built-in class: a subclass's own settings() could change what the graph keeps as constants)
    if type(optimizer) not in optimizers.OPTIMIZERS.values() or type(optimizer).rule not in cupy_kernels.FUSED_RULES:
        return f"cuda_graph=True needs a built-in optimizer with a fused update, not {type(optimizer).__name__}"
    return None


class CapturedStep:
    """One full-batch training step of ``network`` on ``(Xt, Yt)`` as a CUDA graph.

    ``run(learning_rate) -> (cost, A)`` trains one step -- eagerly the first time, then captured
    once and launched -- and returns the device cost and output, valid until the next ``run``.
    """

    def __init__(self, network: Any, Xt: Any, Yt: Any, bound: Any) -> None:
        import cupy

        self._cupy = cupy
        self.network = network
        self.Xt, self.Yt, self.bound = Xt, Yt, bound
        dtype = next(iter(network.parameters.values())).dtype
        self.scalars = {key: cupy.zeros((), dtype) for key in ("lr", "c2")}
        self.graph = None
        self.outputs = None
        self.captured: tuple = ()  # what the graph was captured with (see _what_the_graph_uses)
        self.warmed_up = self.failed = False

    def run(self, learning_rate: float) -> tuple[Any, Any]:
        optimizer = self.network.optimizer
        t = optimizer.iterations + 1
        reason = refusal(self.network, 1, 1)  # (a callback may have replaced the optimizer or a layer)
        if reason is not None:
            raise ValueError(reason)
        optimizer.iterations = t  # the settings of step t (Adam's bias corrections count it)
        settings = optimizer.settings(learning_rate)
        optimizer.iterations = t - 1
        scalars = cupy_kernels.step_scalars(type(optimizer).rule, settings)
        self.settings = settings
        for key, value in scalars.items():
            self.scalars[key].fill(value)  # asynchronous, ordered before the step on this stream
        if self.graph is not None and not self._unchanged():
            self.graph = self.outputs = None  # something the graph uses was replaced: capture again
        if self.graph is None and self.warmed_up and not self.failed:
            self._capture()
        if self.graph is None:  # the first step (it compiles what the capture records), or no graph
            outputs = self._step()
            self.warmed_up = True
        else:
            self.graph.launch(stream=self._cupy.cuda.get_current_stream())
            outputs = self.outputs
        optimizer.iterations = t
        return outputs

    def _what_the_graph_uses(self) -> tuple:
        """``(objects, arrays, settings)``: compared by identity, by identity, and by value."""
        network, optimizer = self.network, self.network.optimizer
        groups = (network.parameters, optimizer.state)  # the arrays the graph updates in place
        objects = (*groups, optimizer, network.loss)
        arrays = tuple((group, name, array) for group in groups for name, array in group.items())
        return objects, arrays, (optimizer.config(), network.l2)

    def _unchanged(self) -> bool:
        objects, arrays, settings = self.captured
        now_objects, _, now_settings = self._what_the_graph_uses()
        return (
            all(a is b for a, b in zip(objects, now_objects, strict=True))
            and all(group.get(name) is array for group, name, array in arrays)
            and settings == now_settings
        )

    def _step(self) -> tuple[Any, Any]:
        """The step as the graph records it: forward, cost, backward, the fused update of each
        parameter with the device scalars (run eagerly too, before the capture and without one)."""
        network = self.network
        with cupy_kernels.graph_step():  # products without cuBLAS, which a capture cannot record
            cost, A, grads = network.cost_and_gradients(self.Xt, self.Yt, None, bound=self.bound)
        optimizer = network.optimizer
        rule = type(optimizer).rule
        for name in network.parameters:
            cupy_kernels.fused_update(
                rule, name, network.parameters, grads, optimizer.state, self.settings, self.scalars
            )
        return cost, A

    def _capture(self) -> None:
        cupy = self._cupy
        self.captured = self._what_the_graph_uses()
        cupy.get_default_memory_pool().free_all_blocks()  # cached blocks, returned to the device first
        pool = cupy.cuda.MemoryPool(_allocate_or_raise)  # this graph's own: nothing else reuses its blocks
        stream = cupy.cuda.Stream(non_blocking=True)
        error = outputs = graph = None
        # Anything a capture cannot record: train eagerly, same numbers (the first error is reported;
        # ending an invalidated capture raises one of its own).
        with cupy.cuda.using_allocator(pool.malloc), stream:
            try:
                stream.begin_capture()
            except Exception as raised:
                error = raised
            else:
                try:
                    outputs = self._step()
                except Exception as raised:
                    error = raised
                try:
                    graph = stream.end_capture()
                except Exception as raised:
                    error = error or raised
        if error is not None or graph is None:
            self.failed = True
            warnings.warn(
                f"CUDA-graph capture of the training step failed ({type(error).__name__}: {error}); "
                "training goes on without it",
                RuntimeWarning,
                stacklevel=6,  # the caller of fit
            )
            return
        self.graph, self.outputs, self.pool, self.stream = graph, outputs, pool, stream


def _allocate_or_raise(size: int) -> Any:
    """The private pool's device allocation: on a failure it raises ``MemoryError``, which the pool
    passes on -- CuPy's pool would otherwise free its cached blocks (memory the graph being
    captured already uses) and try again."""
    import cupy

    try:
        return cupy.cuda.MemoryPointer(cupy.cuda.Memory(size), 0)
    except cupy.cuda.runtime.CUDARuntimeError as failure:
        raise MemoryError(f"out of GPU memory while capturing a CUDA graph ({failure})") from None
