"""PyTorch: every op bound to torch's own function, gradients by ``torch.autograd.grad``.

torch is imported on first use (``import torch`` below is absolute: it finds
the framework, never this module). The global default dtype and thread count
are left alone: every tensor is created in the dtype under test explicitly.
"""

from __future__ import annotations

import numpy as np

from ..vocabulary import Vocabulary
from .base import Backend, Evaluation, objective, output_shape
from .framework import Recording, import_framework


class TorchVocabulary(Recording, Vocabulary):
    """``nn`` bound to ``torch.*`` and ``torch.nn.functional.*``."""

    backend = "torch"
    bindings = {
        # F.cross_entropy takes classes on dim 1 and averages over dim 0; ours are on the last axis,
        # averaged over every leading axis, so logits of rank > 2 are flattened to (rows, classes) first.
        "softmax_cross_entropy": "F.cross_entropy, probability targets (rank > 2 flattened to rows)",
        "trace": "torch.diagonal(a, dim1=-2, dim2=-1).sum(-1) (torch.trace takes 2-D input only)",
        "pad": "F.pad, numpy's pad_width reordered to torch's last-axis-first pairs",
        "cross_entropy": "F.cross_entropy with class indices (rank > 2 flattened to rows)",
        "nll": "F.nll_loss (rank > 2 flattened to rows)",
        # --- layers (issue 11)
        "dropout": "a·(mask/(1 - p)) (F.dropout draws its own mask; with the mask given, dropout is this product)",
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


    # ------------------------------------------------ element-wise
    def abs(self, a): return self.torch.abs(a)
    def sign(self, a): return self.torch.sign(a)
    def floor(self, a): return self.torch.floor(a)
    def round(self, a): return self.torch.round(a)
    def sqrt(self, a): return self.torch.sqrt(a)
    def rsqrt(self, a): return self.torch.rsqrt(a)
    def square(self, a): return self.torch.square(a)
    def reciprocal(self, a): return self.torch.reciprocal(a)
    def expm1(self, a): return self.torch.expm1(a)
    def log1p(self, a): return self.torch.log1p(a)
    def tan(self, a): return self.torch.tan(a)
    def arcsin(self, a): return self.torch.asin(a)
    def arccos(self, a): return self.torch.acos(a)
    def arctan(self, a): return self.torch.atan(a)
    def sinh(self, a): return self.torch.sinh(a)
    def cosh(self, a): return self.torch.cosh(a)
    def erf(self, a): return self.torch.erf(a)
    def clip(self, a, lo, hi): return self.torch.clamp(a, lo, hi)

    def where(self, cond, a, b):
        cond = cond if cond.dtype == self.torch.bool else cond != 0
        return self.torch.where(cond, a, b)

    def minimum(self, a, b): return self.torch.minimum(self._tensor(a), self._tensor(b))
    def atan2(self, y, x): return self.torch.atan2(self._tensor(y), self._tensor(x))
    def logaddexp(self, a, b): return self.torch.logaddexp(self._tensor(a), self._tensor(b))
    def fmod(self, a, b): return self.torch.fmod(a, b)
    def remainder(self, a, b): return self.torch.remainder(a, b)
    def xlogy(self, x, y): return self.torch.xlogy(x, y)
    def pow(self, a, b): return self.torch.pow(a, b)

    # ------------------------------------------------ activations
    def softplus(self, a, beta=1.0, threshold=20.0): return self.F.softplus(a, beta=beta, threshold=threshold)
    def log_sigmoid(self, a): return self.F.logsigmoid(a)
    def relu6(self, a): return self.F.relu6(a)
    def leaky_relu(self, a, negative_slope=0.01): return self.F.leaky_relu(a, negative_slope)
    def elu(self, a, alpha=1.0): return self.F.elu(a, alpha)
    def selu(self, a): return self.F.selu(a)
    def celu(self, a, alpha=1.0): return self.F.celu(a, alpha)
    def gelu(self, a): return self.F.gelu(a)
    def gelu_tanh(self, a): return self.F.gelu(a, approximate="tanh")
    def silu(self, a): return self.F.silu(a)
    def mish(self, a): return self.F.mish(a)
    def hardtanh(self, a, min_val=-1.0, max_val=1.0): return self.F.hardtanh(a, min_val, max_val)
    def hard_sigmoid(self, a): return self.F.hardsigmoid(a)
    def hard_swish(self, a): return self.F.hardswish(a)
    def softsign(self, a): return self.F.softsign(a)

    # ------------------------------------------------ reductions and scans
    def max(self, a, axis=None, keepdims=False): return self.torch.amax(a, dim=self._dims(a, axis), keepdim=keepdims)
    def min(self, a, axis=None, keepdims=False): return self.torch.amin(a, dim=self._dims(a, axis), keepdim=keepdims)

    def prod(self, a, axis=None, keepdims=False):
        if axis is None:
            out = self.torch.prod(a)
            return out.reshape((1,) * a.ndim) if keepdims else out
        return self.torch.prod(a, dim=axis, keepdim=keepdims)

    def logsumexp(self, a, axis=None, keepdims=False):
        return self.torch.logsumexp(a, dim=self._dims(a, axis), keepdim=keepdims)

    def var(self, a, axis=None, ddof=0, keepdims=False):
        return self.torch.var(a, dim=axis, correction=ddof, keepdim=keepdims)

    def std(self, a, axis=None, ddof=0, keepdims=False):
        return self.torch.std(a, dim=axis, correction=ddof, keepdim=keepdims)

    def norm(self, a, ord=2):  # noqa: A002
        if ord == "fro":
            return self.torch.linalg.matrix_norm(a, "fro") if a.ndim == 2 else self.torch.linalg.vector_norm(a, 2)
        return self.torch.linalg.vector_norm(a, float("inf") if ord == "inf" else ord)

    def cumsum(self, a, axis): return self.torch.cumsum(a, dim=axis)
    def cumprod(self, a, axis): return self.torch.cumprod(a, dim=axis)
    def cummax(self, a, axis): return self.torch.cummax(a, dim=axis).values
    def sort(self, a, axis=-1): return self.torch.sort(a, dim=axis, stable=True).values

    def median(self, a, axis=None):
        return self.torch.median(a) if axis is None else self.torch.median(a, dim=axis).values

    def softmax(self, a, axis=-1): return self.torch.softmax(a, dim=axis)
    def log_softmax(self, a, axis=-1): return self.F.log_softmax(a, dim=axis)

    # ------------------------------------------------ shape and indexing
    def take_along_axis(self, a, indices, axis): return self.torch.take_along_dim(a, indices.long(), dim=axis)
    def concatenate(self, arrays, axis=0): return self.torch.cat(list(arrays), dim=axis)
    def stack(self, arrays, axis=0): return self.torch.stack(list(arrays), dim=axis)

    def pad(self, a, pad_width, value=0.0):
        width = np.broadcast_to(np.asarray(pad_width, dtype=int), (a.ndim, 2))
        return self.F.pad(a, tuple(int(w) for pair in reversed(width) for w in pair), value=value)

    def squeeze(self, a, axis): return self.torch.squeeze(a, axis)
    def expand_dims(self, a, axis): return self.torch.unsqueeze(a, axis)
    def broadcast_to(self, a, shape): return self.torch.broadcast_to(a, tuple(np.atleast_1d(shape)))
    def flip(self, a, axis): return self.torch.flip(a, dims=(axis,))
    def tile(self, a, reps): return self.torch.tile(a, tuple(np.atleast_1d(reps).tolist()))
    def repeat(self, a, repeats, axis): return self.torch.repeat_interleave(a, repeats, dim=axis)

    def index_add(self, a, index, source):
        return self.torch.index_add(a, 0, self.torch.tensor(np.asarray(index, dtype=np.int64)), source)

    def einsum(self, subscripts, *operands): return self.torch.einsum(subscripts, *operands)

    # ------------------------------------------------ linear algebra
    def det(self, a): return self.torch.linalg.det(a)
    def slogdet(self, a): return self.torch.linalg.slogdet(a).logabsdet
    def inv(self, a): return self.torch.linalg.inv(a)
    def solve(self, a, b): return self.torch.linalg.solve(a, b)
    def cholesky(self, a): return self.torch.linalg.cholesky(a)
    def eigh(self, a): return self.torch.linalg.eigvalsh(a)
    def eigh_vectors(self, a): return self.torch.linalg.eigh(a).eigenvectors
    def svdvals(self, a): return self.torch.linalg.svdvals(a)
    def trace(self, a): return self.torch.diagonal(a, dim1=-2, dim2=-1).sum(-1)
    def diagonal(self, a): return self.torch.diagonal(a, dim1=-2, dim2=-1)

    # ------------------------------------------------ losses
    def binary_cross_entropy_with_logits(self, z, y): return self.F.binary_cross_entropy_with_logits(z, y)

    def cross_entropy(self, logits, labels):
        return self.F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long())

    def nll(self, logp, labels):
        return self.F.nll_loss(logp.reshape(-1, logp.shape[-1]), labels.reshape(-1).long())

    def l1(self, pred, target): return self.F.l1_loss(pred, target)
    def huber(self, pred, target, delta=1.0): return self.F.huber_loss(pred, target, delta=delta)
    def smooth_l1(self, pred, target, beta=1.0): return self.F.smooth_l1_loss(pred, target, beta=beta)
    def kl_div(self, log_q, p): return self.F.kl_div(log_q, p, reduction="batchmean")

    def cosine_similarity(self, a, b, axis=-1, eps=1e-8):
        return self.F.cosine_similarity(a, b, dim=axis, eps=eps)

    # --- layers: attention and recurrent (issue 11)
    def scaled_dot_product_attention(self, q, k, v, causal=False):
        return self.F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    # --- end of layers: attention and recurrent (issue 11)


    # --- layers: normalisation, dropout, convolution, pooling, embedding (issue 11) -----------------------------
    def layer_norm(self, a, weight, bias, eps=1e-5): return self.F.layer_norm(a, a.shape[-1:], weight, bias, eps)
    def rms_norm(self, a, weight, eps=1e-6): return self.F.rms_norm(a, a.shape[-1:], weight, eps)

    def batch_norm(self, a, weight, bias, eps=1e-5):
        return self.F.batch_norm(a, None, None, weight, bias, training=True, eps=eps)

    def group_norm(self, a, weight, bias, num_groups, eps=1e-5): return self.F.group_norm(a, num_groups, weight, bias, eps)
    def dropout(self, a, mask, p=0.5): return a * (mask / (1 - p))

    def conv1d(self, a, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        return self.F.conv1d(a, weight, bias, stride, padding, dilation, groups)

    def conv2d(self, a, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        return self.F.conv2d(a, weight, bias, stride, padding, dilation, groups)

    def conv_transpose2d(self, a, weight, bias, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        return self.F.conv_transpose2d(a, weight, bias, stride, padding, output_padding, groups, dilation)

    def max_pool2d(self, a, kernel_size, stride=None): return self.F.max_pool2d(a, kernel_size, stride)
    def avg_pool2d(self, a, kernel_size, stride=None): return self.F.avg_pool2d(a, kernel_size, stride)
    def embedding(self, indices, weight): return self.F.embedding(indices.long(), weight)
    # --- end of layers (issue 11)

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

    # --- forward mode and second order (issue 13) ---------------------------------------------------------------
    # J·v by torch.func.jvp (each op's forward-AD formula, torch's dual tensors); H·v by double backward:
    # torch.autograd.grad(create_graph=True), then the gradient of Σ⟨g_p, v_p⟩ (each op's backward differentiated);
    # hvp_forward_over_reverse by torch.func.jvp(torch.func.grad(...)) for the studies that compare the two.
    modes = ("rev", "fwd", "hvp")

    def _arrays(self, nn, point, dtype):
        return {k: nn.constant(np.asarray(v, dtype=dtype)) for k, v in point.items()}

    def jvp(self, case, point, dtype, param, tangent):
        nn = self.vocabulary(dtype)
        torch = nn.torch
        arrays = self._arrays(nn, point, dtype)

        def output(x):
            out = case.fn(nn, **{**arrays, param: x})
            output_shape(out, nn)
            return out

        with _second_order_errors("forward mode (torch.func.jvp)"):
            _, jv = torch.func.jvp(output, (arrays[param],), (nn.constant(np.asarray(tangent, dtype=dtype)),))
        return _numpy(jv, jv)

    def hvp(self, case, point, dtype, tangents):
        nn = self.vocabulary(dtype)
        torch = nn.torch
        leaves = {k: nn.constant(np.asarray(v, dtype=dtype)).requires_grad_(case.inputs[k].grad)
                  for k, v in point.items()}
        wrt = case.wrt
        with _second_order_errors("double backward (torch.autograd.grad, create_graph=True)"):
            loss, _ = objective(case, nn, leaves, dtype)
            grads = torch.autograd.grad(loss, [leaves[k] for k in wrt], create_graph=True, allow_unused=True)
            # a gradient that is constant (no graph: the objective is linear in every input it meets) has H·v = 0
            terms = [(g * nn.constant(np.asarray(tangents[k], dtype=dtype))).sum()
                     for k, g in zip(wrt, grads) if g is not None and g.requires_grad]
            if not terms:
                return {k: np.zeros(np.shape(point[k]), dtype=dtype) for k in wrt}
            hv = torch.autograd.grad(torch.stack(terms).sum(), [leaves[k] for k in wrt], allow_unused=True)
        return {k: _numpy(h, leaves[k]) for k, h in zip(wrt, hv)}

    def hvp_forward_over_reverse(self, case, point, dtype, tangents):
        """H·v by torch.func.jvp of torch.func.grad (forward over reverse): each op's backward carried through
        forward AD, where :meth:`hvp` differentiates it in reverse."""
        nn = self.vocabulary(dtype)
        torch = nn.torch
        arrays = self._arrays(nn, point, dtype)
        wrt = case.wrt
        data = {k: v for k, v in arrays.items() if k not in wrt}

        def loss(params):
            return objective(case, nn, {**params, **data}, dtype)[0]

        params = {k: arrays[k] for k in wrt}
        v = {k: nn.constant(np.asarray(tangents[k], dtype=dtype)) for k in wrt}
        with _second_order_errors("forward over reverse (torch.func.jvp of torch.func.grad)"):
            _, hv = torch.func.jvp(torch.func.grad(loss), (params,), (v,))
        return {k: _numpy(hv[k], params[k]) for k in wrt}


#: torch's words where an op has no forward-AD formula, no derivative of its backward, or a once-differentiable one
_NO_RULE = ("forward ad", "forward-mode ad", "is not implemented", "not implemented yet", "once_differentiable",
            "differentiate twice")


class _second_order_errors:
    """A RuntimeError of torch saying an op has no forward-mode formula (or its backward no derivative) becomes
    NotImplementedError with torch's words (the row is ``skipped``, naming the op); any other passes through."""

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None and issubclass(kind, RuntimeError):  # NotImplementedError is one
            words = str(exc).strip().splitlines()[0] if str(exc).strip() else kind.__name__
            if issubclass(kind, NotImplementedError) or any(w in words.lower() for w in _NO_RULE):
                raise NotImplementedError(f"torch has no rule for {self.what} of an op in this case: {words}") from exc
        return False


def _numpy(h, like):
    """A second-order result as numpy: None (no path) and torch's efficient zero tensors (ZeroTensor, what some
    double-backward formulas return for a derivative that is identically 0: abs, l1, the inf-norm) as zeros."""
    if h is None or h._is_zerotensor():
        return np.zeros(tuple(like.shape), dtype=str(like.dtype).replace("torch.", ""))
    return h.detach().numpy()

