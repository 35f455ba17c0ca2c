"""JAX executors: a training step's gradients and its optimizer update compiled by ``jax.jit``.

JAX runs ``jax.numpy`` operations one at a time by compiling each for its shapes and dtypes; a
small network's first fit compiles a few hundred of them (seconds on a CPU).  Compiled whole, the
step is one program per architecture and batch shape, reused by every later fit of that
architecture.  The program is the portable definitions traced by JAX (:mod:`xdnn.backprop` over
the layers, :func:`xdnn.optimizers.apply_rule`): the same operations, which XLA may fuse (float64
results agree to about one rounding).

Only steps without Python side effects are compiled: networks of built-in :class:`xdnn.Dense` and
:class:`xdnn.Activation` layers with built-in activations and a built-in loss (no dropout masks or
running statistics), and the built-in optimizer rules.  A user's own layer, activation, loss or
rule runs eagerly, called every step as written.  Nothing here imports JAX until a JAX array is met.
"""

from __future__ import annotations

import functools
from typing import Any

from xdnn import backprop, optimizers, training_data
from xdnn.activations import ACTIVATIONS
from xdnn.executors import register
from xdnn.layers import Activation, Dense
from xdnn.losses import LOSSES

# Compiled programs kept for this many architectures (each holds its executables for every shape seen).
CACHED_ARCHITECTURES = 64


def _architecture(network: Any) -> tuple | None:
    """A hashable description of everything the traced step depends on, or ``None`` when the step
    is not free of side effects (see the module docstring)."""
    if LOSSES.get(network.loss.name) is not network.loss:
        return None
    described = []
    for layer in network.layers:
        if type(layer) not in (Dense, Activation):
            return None
        if ACTIVATIONS.get(layer.activation.name) is not layer.activation:
            return None
        names = (layer.W, layer.b) if isinstance(layer, Dense) else ()
        described.append((type(layer).__name__, layer.activation.name, names))
    return (tuple(described), network.loss.name)


# architecture -> the compiled step, in the order first compiled (the oldest is dropped past the limit)
_COMPILED_STEPS: dict[tuple, Any] = {}


def _compiled_step(architecture: tuple, layers: list, loss: Any, xp: Any) -> Any:
    """The ``jax.jit`` program of ``architecture``, built from the first network of it met: binding
    reads only what the architecture describes (layer types, activations, parameter names)."""
    key = (architecture, xp)
    compiled = _COMPILED_STEPS.get(key)
    if compiled is None:
        import jax

        bound = backprop.bind_layers(layers, loss, xp, outputs_private=False)

        def gradients(parameters, Xt, Yt):
            return backprop.cost_and_gradients(bound, parameters, None, Xt, Yt, None)

        compiled = _COMPILED_STEPS[key] = jax.jit(gradients)
        while len(_COMPILED_STEPS) > CACHED_ARCHITECTURES:
            del _COMPILED_STEPS[next(iter(_COMPILED_STEPS))]
    return compiled


@register(training_data.compiled_gradients, backend="jax")
def compiled_gradients(network: Any, *, xp: Any = None) -> Any:
    """:func:`xdnn.training_data.compiled_gradients` through ``jax.jit``, for a network whose step is free
    of side effects; one program per architecture, shared by every network of it."""
    architecture = _architecture(network)
    if architecture is None:
        return None
    return _compiled_step(architecture, list(network.layers), network.loss, xp)


# --- optimizer updates ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _compiled_rule(rule: Any, slots: tuple[str, ...], static: tuple) -> Any:
    import jax
    import jax.numpy as jnp

    def step(parameters, grads, state, scalars):
        parameters, state = dict(parameters), dict(state)
        optimizers.apply_rule(rule, slots, parameters, grads, state, xp=jnp, **scalars, **dict(static))
        return parameters, state

    return jax.jit(step)


def _jitted_update(rule: Any, slots: tuple[str, ...]) -> Any:
    def update(parameters: dict, grads: Any, state: dict, *, xp: Any = None, **settings: Any) -> None:
        # numbers that change from step to step are traced (one program for every step); flags are not
        scalars = {key: value for key, value in settings.items() if not isinstance(value, bool)}
        static = tuple(sorted((key, value) for key, value in settings.items() if isinstance(value, bool)))
        used = {"d" + key: grads["d" + key] for key in parameters}
        new_parameters, new_state = _compiled_rule(rule, slots, static)(dict(parameters), used, dict(state), scalars)
        parameters.update(new_parameters)
        state.update(new_state)

    update.__qualname__ = f"{rule.__name__}_compiled"
    update.__doc__ = f":func:`xdnn.optimizers.{rule.__name__}` of every parameter, compiled by ``jax.jit``."
    return update


for _optimizer in optimizers.OPTIMIZERS.values():
    register(_optimizer.rule, backend="jax", variant=optimizers.IN_PLACE)(
        _jitted_update(_optimizer.rule, _optimizer.slots)
    )
