"""PyTorch: every op bound to torch's own function, gradients by ``torch.autograd.grad``.

torch is imported on first use (``import torch`` below is absolute: it finds
the framework, never this module). The global default dtype and thread count
are left alone: every tensor is created in the dtype under test explicitly.
"""

from __future__ import annotations

import numpy as np

from ..vocabulary import Vocabulary
from .base import Backend, Evaluation, objective
from .framework import Recording, import_framework


class TorchVocabulary(Recording, Vocabulary):
    """``nn`` bound to ``torch.*`` and ``torch.nn.functional.*``."""

    backend = "torch"
    bindings = {
        # F.cross_entropy takes classes on dim 1 and averages over dim 0; ours are on the last axis,
        # averaged over every leading axis, so logits of rank > 2 are flattened to (rows, classes) first.
        "softmax_cross_entropy": "F.cross_entropy, probability targets (rank > 2 flattened to rows)",
    }

    def __init__(self, dtype):
        self.used = set()  # ops looked up so far (see Recording)
        import torch

        self.torch, self.F = torch, torch.nn.functional
        self.dtype = getattr(torch, np.dtype(dtype).name)

    array_name = "torch.Tensor"

    def is_native(self, x):
        return isinstance(x, self.torch.Tensor)

    def constant(self, array):
        return self.torch.tensor(np.asarray(array), dtype=self.dtype)  # a copy: never aliases the caller's array

    def _tensor(self, x):  # torch.maximum takes tensors only; a python number becomes one in our dtype
        return x if isinstance(x, self.torch.Tensor) else self.constant(x)

    def _dims(self, a, axis):
        return tuple(range(a.ndim)) if axis is None else axis

    def add(self, a, b): return self.torch.add(a, b)
    def subtract(self, a, b): return self.torch.subtract(a, b)
    def multiply(self, a, b): return self.torch.multiply(a, b)
    def divide(self, a, b): return self.torch.divide(a, b)
    def negative(self, a): return self.torch.negative(a)
    def power(self, a, exponent): return self.torch.pow(a, exponent)
    def exp(self, a): return self.torch.exp(a)
    def log(self, a): return self.torch.log(a)
    def sin(self, a): return self.torch.sin(a)
    def cos(self, a): return self.torch.cos(a)
    def tanh(self, a): return self.torch.tanh(a)
    def sigmoid(self, a): return self.torch.sigmoid(a)
    def relu(self, a): return self.torch.relu(a)
    def maximum(self, a, b): return self.torch.maximum(self._tensor(a), self._tensor(b))
    def matmul(self, a, b): return self.torch.matmul(a, b)
    def sum(self, a, axis=None, keepdims=False): return self.torch.sum(a, dim=self._dims(a, axis), keepdim=keepdims)
    def mean(self, a, axis=None, keepdims=False): return self.torch.mean(a, dim=self._dims(a, axis), keepdim=keepdims)

    def reshape(self, a, shape):
        return self.torch.reshape(a, (shape,) if np.isscalar(shape) else tuple(shape))

    def transpose(self, a, axes=None):
        # numpy's transpose is torch's permute (torch.transpose swaps two dims only)
        return self.torch.permute(a, tuple(reversed(range(a.ndim))) if axes is None else tuple(axes))

    def mean_squared_error(self, pred, target): return self.F.mse_loss(pred, target)
    def binary_cross_entropy(self, p, y): return self.F.binary_cross_entropy(p, y)

    def softmax_cross_entropy(self, logits, target):
        if logits.ndim > 2:
            classes = logits.shape[-1]
            logits, target = logits.reshape(-1, classes), target.reshape(-1, classes)
        return self.F.cross_entropy(logits, target)  # a 1-D logits vector is one unbatched row


class TorchBackend(Backend):
    """Gradients by PyTorch autograd (CPU)."""

    name = "torch"
    vocabulary = TorchVocabulary  # a subclass may rebind ops (the tests bind one wrongly on purpose)

    def unavailable(self):
        return import_framework("torch")[1]

    def evaluate(self, case, point, dtype):
        nn = self.vocabulary(dtype)
        torch = nn.torch
        leaves = {k: nn.constant(np.asarray(v, dtype=dtype)).requires_grad_(case.inputs[k].grad)
                  for k, v in point.items()}
        loss, _ = objective(case, nn, leaves, dtype)
        wrt = case.wrt
        # allow_unused: an input the output does not depend on has gradient zero, not an error
        grads = torch.autograd.grad(loss, [leaves[k] for k in wrt], allow_unused=True)
        out = {k: (torch.zeros_like(leaves[k]) if g is None else g).detach().numpy() for k, g in zip(wrt, grads)}
        return Evaluation(float(loss.detach()), out, nn.notes())
