"""The hand-written numpy backprop core. It imports numpy and nothing else.

``ops`` and ``losses`` hold each forward next to its hand-derived backward;
``tape`` composes them in reverse mode; ``mlp`` and ``stacks`` are whole
networks whose backward is written out layer by layer, without the tape.
"""

from . import losses, mlp, ops, stacks, tape
from .tape import Tensor, gradients

__all__ = ["Tensor", "gradients", "losses", "mlp", "ops", "stacks", "tape"]
