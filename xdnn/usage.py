"""Who may use a :class:`xdnn.Network` at once: one training thread, or any number of readers.

A network's arrays change at every training step (in place on the CPU), so a thread that reads
them while another trains would see a mix of two steps.  :class:`UsageGuard` makes the rule
explicit instead of leaving it to chance:

* ``fit`` (and ``set_weights``, ``gradient_check``: calls that change the arrays) is *exclusive*:
  a second one while a fit runs -- from another thread, or from a callback of the running fit --
  raises :class:`NetworkBusyError`; it waits for reads already in progress to finish first;
* ``predict``, ``predict_proba``, ``evaluate``, ``save`` and ``get_weights`` are *reads*: any number
  run at once, from any threads; a read from another thread while a fit runs raises
  :class:`NetworkBusyError`, and a read from the training thread itself (a callback at an epoch's
  end) sees the parameters between two steps.

>>> guard = UsageGuard()
>>> with guard.exclusive("fit"):
...     with guard.reading("predict"):  # the training thread's own callbacks may read
...         pass
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator


class NetworkBusyError(RuntimeError):
    """A network was asked to train, or to be read from another thread, while it is training."""


class UsageGuard:
    """The training thread of one network (or ``None``) and how many reads are in progress."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._trainer: int | None = None  # the thread identifier of the running exclusive call
        self._trainer_call = ""
        self._readers: dict[int, int] = {}  # reads in progress per thread

    def __reduce__(self):
        """Copied and pickled as a fresh guard: a lock and who holds it belong to one process."""
        return (UsageGuard, ())

    def _busy(self, call: str) -> NetworkBusyError:
        return NetworkBusyError(
            f"{call}: this network is being trained ({self._trainer_call} is running in another thread or this "
            f"{call} was called from inside it); wait for it to return, or use a copy (copy.deepcopy(network))"
        )

    @contextmanager
    def exclusive(self, call: str) -> Iterator[None]:
        """Run ``call`` (``"fit"``, ``"set_weights"``, ...) as the only user that changes the network.

        A call from the training thread while it trains (a callback's ``set_weights``) runs as part
        of that training; any other exclusive call during a fit raises :class:`NetworkBusyError`.
        """
        me = threading.get_ident()
        with self._condition:
            if self._trainer == me and call != "fit":  # the fit's own callback: between two steps
                owner = False
            elif self._trainer is not None:
                raise self._busy(call)
            elif self._readers.get(me):
                raise NetworkBusyError(f"{call}: called while this thread is still reading the network")
            else:
                owner = True
                self._trainer, self._trainer_call = me, call
                while any(count for thread, count in self._readers.items() if thread != me):
                    self._condition.wait()  # reads that began before this call: let them finish
        try:
            yield
        finally:
            if owner:
                with self._condition:
                    self._trainer, self._trainer_call = None, ""
                    self._condition.notify_all()

    @contextmanager
    def reading(self, call: str) -> Iterator[None]:
        """Run ``call`` (``"predict"``, ``"save"``, ...) as one of any number of simultaneous reads."""
        me = threading.get_ident()
        with self._condition:
            if self._trainer is not None and self._trainer != me:
                raise self._busy(call)
            self._readers[me] = self._readers.get(me, 0) + 1
        try:
            yield
        finally:
            with self._condition:
                if self._readers[me] == 1:
                    del self._readers[me]
                else:
                    self._readers[me] -= 1
                self._condition.notify_all()


def _guarded_method(kind: str, call: str) -> Callable:
    """Decorate a method of a network (an object with a ``usage_guard``) to run inside the guard's
    ``kind`` (``"exclusive"`` or ``"reading"``) context for ``call``."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def guarded(network: Any, *arguments: Any, **keywords: Any) -> Any:
            with getattr(network.usage_guard, kind)(call):
                return method(network, *arguments, **keywords)

        return guarded

    return decorate


def exclusive_use(call: str) -> Callable:
    """Decorate a method of a network as an exclusive ``call`` (:meth:`UsageGuard.exclusive`)."""
    return _guarded_method("exclusive", call)


def shared_use(call: str) -> Callable:
    """Decorate a method of a network as a read, ``call`` (:meth:`UsageGuard.reading`)."""
    return _guarded_method("reading", call)
