"""Ctrl-C during training takes effect between two steps, never inside one.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be when SIGINT arrives:
inside an optimizer's update that would leave some parameters stepped and others not.
:class:`DeferredInterrupt` holds the signal for the duration of a fit and hands it to the previous
handler (Python's, which raises ``KeyboardInterrupt``, or the program's own) at :meth:`deliver`,
which the training loop calls before each step: the interrupt then stops training with every
step either applied in full or not begun.

It acts only in the main thread (the only one Python delivers signals to) and only over a handler
that is a Python callable: an ignored (``SIG_IGN``) or default (``SIG_DFL``) SIGINT keeps its meaning.

>>> with DeferredInterrupt() as interrupts:
...     interrupts.deliver()  # nothing pending: returns at once
"""

from __future__ import annotations

import signal
import threading
from typing import Any


class DeferredInterrupt:
    """Hold SIGINT inside the ``with`` block; :meth:`deliver` passes a held one on."""

    def __init__(self) -> None:
        self.previous: Any = None  # the handler replaced while the block runs (None: nothing replaced)
        self.held: tuple[int, Any] | None = None

    def __enter__(self) -> "DeferredInterrupt":
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):
                try:
                    signal.signal(signal.SIGINT, self._hold)
                except (ValueError, OSError):  # e.g. not the main interpreter
                    return self
                self.previous = previous
        return self

    def _hold(self, signum: int, frame: Any) -> None:
        self.held = (signum, frame)

    def deliver(self) -> None:
        """Hand a held interrupt to the previous handler (which raises ``KeyboardInterrupt``, usually)."""
        if self.held is not None:
            signum, frame = self.held
            self.held = None
            self.previous(signum, frame)

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if self.previous is None:
            return
        signal.signal(signal.SIGINT, self.previous)
        if kind is None:  # an interrupt that came after the last step: delivered now, as it would have been
            self.deliver()
        self.previous = None
