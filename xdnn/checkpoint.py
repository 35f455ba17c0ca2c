"""A network's last known-finite training state, kept aside so that divergence can be undone.

:class:`Checkpoint` copies the parameters, running statistics and optimizer state of a
:class:`xdnn.Network` (and its step and epoch counters) into buffers of its own.  Where the
namespace allows writing into an array (:func:`array_api_compat.is_writeable_array`) the buffers
are allocated once and refilled in place; for immutable arrays (JAX) each capture keeps the arrays
themselves, which nothing can change.
"""

from __future__ import annotations

from typing import Any, Iterable

from array_api_compat import is_writeable_array

Array = Any


def all_finite(arrays: Iterable[Array], xp: Any) -> bool:
    """True when none of ``arrays`` holds NaN or inf (one device read for them all)."""
    arrays = list(arrays)
    if not arrays:
        return True
    return bool(xp.all(xp.stack([xp.all(xp.isfinite(array)) for array in arrays])))


class Checkpoint:
    """Last known-finite parameters, state and optimizer state of ``network``.

    ``capture()`` copies the network's arrays aside (in place where the arrays are writeable: no
    allocation, asynchronous on a GPU); ``restore()`` puts copies back.
    """

    def __init__(self, network: Any) -> None:
        self.network = network
        xp = network.context.xp
        self.buffers = [
            [group, name, xp.asarray(value, copy=True)]
            for group in (network.parameters, network.state, network.optimizer.state)
            for name, value in group.items()
        ]
        self.iterations = network.optimizer.iterations
        self.epochs_trained = network.epochs_trained

    def capture(self) -> None:
        """Copy the network's current arrays and counters into the checkpoint."""
        for entry in self.buffers:
            group, name, buffer = entry
            value = group[name]
            if is_writeable_array(buffer) and tuple(buffer.shape) == tuple(value.shape):
                buffer[...] = value
            else:  # an immutable array is its own snapshot
                entry[2] = value if not is_writeable_array(value) else self.network.context.xp.asarray(value, copy=True)
        self.iterations = self.network.optimizer.iterations
        self.epochs_trained = self.network.epochs_trained

    def finite(self) -> bool:
        """True when the captured parameters and running statistics hold no NaN or inf (one device read)."""
        network = self.network
        arrays = [buffer for group, _, buffer in self.buffers if group is network.parameters or group is network.state]
        return all_finite(arrays, network.context.xp)

    def restore(self) -> None:
        """Put copies of the captured arrays and counters back into the network."""
        xp = self.network.context.xp
        for group, name, buffer in self.buffers:
            group[name] = xp.asarray(buffer, copy=True)
        self.network.optimizer.iterations = self.iterations
        self.network.epochs_trained = self.epochs_trained
