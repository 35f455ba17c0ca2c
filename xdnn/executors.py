"""Executors: backend-specific ways to run a portable definition, registered against it.

Every formula of xdnn has one portable definition (:mod:`xdnn.activations`, :mod:`xdnn.linear`,
:mod:`xdnn.losses`, :mod:`xdnn.optimizers`, ...).  A backend may run some of them faster -- in
place, fused into one kernel, through a cheaper entry point -- and registers such an *executor*
against the built-in object it accelerates, in its own module of :mod:`xdnn.backends`::

    @register(activations.relu, backend="numpy", variant="in_place")
    def relu_in_place(Z, *, xp=None): ...

The portable code never asks which backend it runs on.  It asks for the definition on ``xp``::

    forward = executors.resolve(activations.relu, xp)            # relu's executor, or relu itself
    in_place = executors.find(activations.relu, xp, "in_place")  # or None

Look-up is by the *identity* of the definition, never by a name: a user's own activation, loss
or optimizer rule (even one named "relu" or a subclass of a built-in) is never replaced.

An executor has its definition's signature, except that the namespace keyword ``xp`` is optional
(it knows its backend).  Variants say what an executor may do beyond its definition's contract:

* ``"fresh"``     -- the definition's signature and contract: new arrays, inputs untouched;
* ``"in_place"``  -- may overwrite the arrays it is given and named in its docstring;
* other names     -- a contract of their own, documented where they are registered.

``set_fast_paths(False)`` (or ``XDNN_FAST_PATHS=0``) turns every executor off: the portable
definitions run everywhere.  ``tests/test_executors.py`` compares each entry with its definition.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Callable

FRESH = "fresh"
IN_PLACE = "in_place"

_SWITCH = {"enabled": os.environ.get("XDNN_FAST_PATHS", "1").strip().lower() not in ("0", "false", "no", "off")}


@dataclasses.dataclass(frozen=True)
class Executor:
    """``function`` runs ``definition`` on ``backend`` under the contract of ``variant``."""

    definition: Any
    backend: str
    variant: str
    function: Callable[..., Any]

    def __repr__(self) -> str:
        name = getattr(self.definition, "__qualname__", None)
        if name is None:  # an object, such as a built-in Loss
            name = f"{type(self.definition).__name__}({getattr(self.definition, 'name', '')!r})"
        return f"Executor({name} on {self.backend}, {self.variant}: {self.function.__qualname__})"


# (id of the definition, backend, variant) -> Executor; the entry keeps the definition alive.
_REGISTRY: dict[tuple[int, str, str], Executor] = {}


def register(definition: Any, *, backend: str, variant: str = FRESH) -> Callable[[Callable], Callable]:
    """Decorator: register the decorated function as ``backend``'s ``variant`` of ``definition``."""

    def decorate(function: Callable) -> Callable:
        _REGISTRY[(id(definition), backend, variant)] = Executor(definition, backend, variant, function)
        return function

    return decorate


def set_fast_paths(enabled: bool) -> None:
    """Turn the backends' executors on (default) or off (portable Array API code everywhere)."""
    _SWITCH["enabled"] = bool(enabled)


def fast_paths_enabled() -> bool:
    """Whether the backends' executors are used."""
    return _SWITCH["enabled"]


def find(definition: Any, xp: Any, variant: str = FRESH) -> Callable[..., Any] | None:
    """The executor of ``definition`` of ``variant`` for namespace ``xp``, or ``None``."""
    if not _SWITCH["enabled"]:
        return None
    backend = _backend_of(xp)
    if backend is None:
        return None
    entry = _REGISTRY.get((id(definition), backend, variant))
    return None if entry is None or entry.definition is not definition else entry.function


def resolve(definition: Callable[..., Any], xp: Any) -> Callable[..., Any]:
    """The ``"fresh"`` executor of ``definition`` for ``xp`` where one is registered, else ``definition``."""
    return find(definition, xp) or definition


def bind(definition: Callable[..., Any], xp: Any, variant: str = FRESH) -> Callable[..., Any] | None:
    """``definition`` with ``xp`` bound, as a network's step calls it: the executor itself where one is
    registered (executors take ``xp`` as an optional keyword and need none), else
    ``functools.partial(definition, xp=xp)`` -- or, for a variant other than ``"fresh"``, ``None``."""
    function = find(definition, xp, variant)
    if function is not None:
        return function
    return functools.partial(definition, xp=xp) if variant == FRESH else None


def _backend_of(xp: Any) -> str | None:
    from xdnn.backends import backend_of  # (imported on first use: the backends import this module)

    globals()["_backend_of"] = backend_of
    return backend_of(xp)


def entries() -> list[Executor]:
    """Every registered executor (every backend module that imports here is loaded first)."""
    from xdnn.backends import load_all

    load_all()
    return list(_REGISTRY.values())
