"""Every op of the vocabulary, defined once: signature, theme, bindings, random inputs and special points.

This is the one place an op is described. From it come:

- the vocabulary's list of ops (``crosscheck.vocabulary.OPS``);
- the catalogue's cases for each op, at random points and at every special point
  (``cases/ops.py`` generates them at import: none is copied by hand);
- the README's op table (``scripts/op_table.py``) and the conventions table
  (``crosscheck.conventions``, written by ``crosscheck report``).

Each op's forward and hand-derived backward live in the core (``core`` names the function: module.function
under ``crosscheck/core/``); each framework's binding is in its backend module (``torch``/``jax`` here are what
the README shows; a composition says so and why).

A special point is a small input where something happens: a kink, a tie, a domain edge, a saturation, a
framework's threshold. ``maths`` states the mathematics there: the derivative, its left and right
derivatives, or "undefined". ``expect`` attaches a genuine, explained disagreement of a framework with the
mathematics (an :class:`~crosscheck.catalogue.Expected` with the reason); ``judge_v2`` marks a point whose
right verdict needs the judge's one-sided/unjudged handling (a jump, a domain edge where the reference's
central difference leaves the domain): until that judge lands, its rows are held as expected with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import inputs

R_STD = ("jnp.std is sqrt(jnp.var): at a constant input the chain rule multiplies sqrt's infinite derivative "
         "at 0 by var's zero derivative, inf·0 = NaN. torch's std backward masks the zero deviation to 0, a "
         "subgradient (PyTorch's autograd note 'Gradients for non-differentiable functions': the minimum-norm "
         "subgradient)")
R_NORM = ("jnp.linalg.norm / vector_norm is sqrt(sum(x·x)): at the origin its derivative x/‖x‖ is 0/0 = NaN in "
          "jax. torch's norm backward returns 0 there, the minimum-norm subgradient of the unit ball (PyTorch's"
          " autograd note 'Gradients for non-differentiable functions')")
R_DET = ("torch.linalg.det's backward solves with the LU factors; at an exactly singular matrix (a zero pivot)"
         " it returns 0 instead of the cofactor matrix, which is det's derivative everywhere (det is a "
         "polynomial). Reported upstream: pytorch/pytorch#104675; the singular case is noted as future work in"
         " torch's FunctionsManual.cpp (linalg_det_backward)")
R_POW = ("jnp.power with an array exponent takes lax.pow's rule b·a^(b-1) in the base: at a = 0, b = 0 that is"
         " 0·0^(-1) = 0·inf = NaN, where a^0 = 1 has derivative 0 (torch masks exponent == 0 to 0)")
R_COSINE = ("jax has no cosine similarity: the composition clamps jnp.linalg.vector_norm(a) with jnp.maximum(·, ε), "
            "but at a = 0 the norm's derivative a/‖a‖ is 0/0 = NaN and maximum's zero weight does not stop it "
            "(0·NaN = NaN); F.cosine_similarity's own backward is finite there")

# TensorFlow's (tf.* 2.21) disagreements with the mathematics, found by its rows
T_POW = ("TF's pow gradient (math_grad._PowGrad) is grad·y·pow(x, y - 1) with no mask: at x = 0, y = 0 that is "
         "0·0^(-1) = 0·inf = NaN, where x^0 = 1 has derivative 0")
T_ERF = ("tf.math.erf in float64 returns NaN at ±inf (float32 gives ±1): the forward value is NaN, and so the "
         "gradient's contraction")
T_LOGADDEXP = ("tf.experimental.numpy.logaddexp (TF's only logaddexp) is maximum(a, b) + log1p(exp(-|a - b|)): at a "
               "tie TF's maximum sends the whole gradient to a and |·|'s derivative at 0 is 0, so it returns (1, 0) "
               "where logaddexp is smooth with derivative (½, ½)")
T_XLOGY = ("TF's xlogy gradient (math_grad._XLogyGrad) is xlogy(x ≠ 0, y): it masks d/dx to 0 where x = 0, but x·log y "
           "is linear in x there, with derivative log y (log 2 here); torch and jax return log y")
T_STD = ("tf.math.reduce_std is sqrt(reduce_variance): at a constant input sqrt's infinite derivative at 0 times the "
         "variance's zero derivative is inf·0 = NaN (as jnp.std)")
T_NORM = ("tf.norm('euclidean') is sqrt(Σ x·x): at the origin its derivative x/‖x‖ is 0/0 = NaN (as jax); torch "
          "returns 0, the minimum-norm subgradient")
T_CUMPROD = ("TF's cumprod gradient (math_grad._CumprodGrad) divides cumsum(cumprod·g, reverse) by x with div_no_nan: "
             "at a zero element it returns 0 instead of the products of the other elements")
T_DET = ("TF's det gradient (linalg_grad._MatrixDeterminantGrad) is grad·det·inv(a)ᴴ: at a singular matrix "
         "matrix_inverse raises InvalidArgumentError 'Input is not invertible' instead of returning the cofactor "
         "matrix, det's derivative everywhere")
T_FLOAT32_CONST = ("in float64 {op} carries a float32-rounded constant ({what}): its gradient is off by ~1e-8 "
                   "relative, beyond float64's tolerance (float32 runs are unaffected)")
T_LEAKY = T_FLOAT32_CONST.format(op="tf.nn.leaky_relu", what="its alpha is a float32 op attribute: 0.01 becomes "
                                 "0.0099999998")
T_GELU = T_FLOAT32_CONST.format(op="tf.nn.gelu", what="math_ops.cast(0.7071067811865476, float64) makes a float32 "
                                "tensor first, so 1/√2 is rounded to float32")
T_GELU_TANH = T_FLOAT32_CONST.format(op="tf.nn.gelu(approximate=True)", what="math_ops.cast(0.044715, float64) "
                                     "goes through float32")
TF = "tensorflow"

# Second order (issue 13): where a framework's H·v (double backward, or forward over reverse) disagrees with the
# mathematics, found by the hvp rows. Each holds for the H·v rows only (``second=`` at a point).
S_INF = ("the second derivative at ±inf is the limit 0, but the framework's second order evaluates the formula of "
         "the derivative's derivative there ({formula}), which is inf/inf or 0·inf = NaN; the first derivative's "
         "formula gives 0 (its rows pass)")
S_ARCTAN = S_INF.format(formula="-2a/(1 + a²)² for arctan")
S_ERF = S_INF.format(formula="-2a·(2/√π)e^(-a²) for erf: inf·0")
S_RECIPROCAL = S_INF.format(formula="2/a³ through autograd's VJP -g/a², whose own VJP takes a² at inf: inf·0")
S_RSQRT = S_INF.format(formula="through autograd's VJP of a^(-1/2), -½a^(-3/2), at inf: inf·0")
S_SATURATED = ("autograd's second derivative overflows for |a| ≳ 710: tanh's VJP is g / cosh(a)² (numpy_vjps.py), "
               "whose own derivative -2g·sinh(a)/cosh(a)³ is inf/inf = NaN where cosh(a) = inf (σ here is "
               "(tanh(a/2) + 1)/2, the same rule); the mathematics gives 0, and the first derivative's formula too")
S_LOGADDEXP = ("torch's double backward of logaddexp at a = -inf returns NaN where the second derivative is 0 (the "
               "softmax weight e^(a - y) and its derivative vanish): its backward formula is differentiated at -inf "
               "through terms that are inf - inf there; the first derivative is right (its rows pass)")
S_POW = ("torch's pow derivative in the exponent is a^b·log a; its derivative in the base at a = 0 meets "
         "0·log 0 = 0·(-inf) = NaN, where the mixed second derivative a^(b-1)(1 + b log a) tends to 0 for b = 2")
S_DET = ("torch.linalg.det's double backward at the zero matrix: its backward (linalg_det_backward) solves with the "
         "LU factors, and at a singular matrix the second-order path divides by the zero pivots (NaN); det is a "
         "polynomial, with second derivative the constant [[0, 1], [1, 0]]-type cofactor map (see R_DET, first order)")
S_EIGH = ("at a repeated eigenvalue the eigenvalues' second derivative involves 1/(λᵢ - λⱼ) (the eigenvectors' "
          "derivative): the framework evaluates it as 0·(1/0) = NaN; the sorted eigenvalues have a kink there, so "
          "the reference itself has no second derivative to give (the core's eigenbasis rule drops the tied pair's "
          "coupling and gives the one-sided value 0)")
S_COSINE = ("the second derivative through ‖·‖'s derivative x/‖x‖ at the zero vector is 0/0 = NaN (the norm is "
            "clamped to ε after it is computed); the function is linear within ε of the origin, so H·v exists")
S_MOMENTS = ("tf.nn.moments computes the variance as reduce_mean(squared_difference(x, stop_gradient(mean))) "
             "(nn_impl.py; its comment: stop_gradient does not change the gradient that reaches the mean from the "
             "variance, because that gradient is zero). True to first order, not to second: the mean's own "
             "curvature term is cut, so TF's H·v of a layer, batch or group norm in its input is wrong (up to 6× "
             "here) while every first derivative passes")
S_PROD = ("TF's prod gradient (math_grad._ProdGrad) is built from exclusive cumprods, and the gradient of cumprod "
          "(math_grad._CumprodGrad) divides by x with div_no_nan (see T_CUMPROD): at a zero element the second "
          "derivative comes out 0 instead of the product of the other elements")
S_XLOGY = ("TF's xlogy gradient in y is xdivy(x, y), whose gradient in x (math_grad._XDivyGrad) masks x = 0 as "
           "xlogy does: the mixed second derivative ∂²(x log y)/∂x∂y = 1/y comes out 0 at x = 0, so H·v's y block "
           "misses v_x/y")
S_ABS = ("autograd's abs VJP is g·x/|x| (numpy_vjps.py: conj(x) / replace_zero(ans, 1)); its H·v differentiates "
         "that quotient, 1/|x| - x·sign(x)/|x|², which is 0 but cancels in float32 to rounding of size eps/|x|: "
         "1.5e-5 where |x| is small (calibration draw 6), beyond the 1e-5 an H·v of 0 is allowed")
S_ABS_L1 = ("l1 is mean |pred - target|, and autograd's abs VJP is g·d/|d| (numpy_vjps.py: conj(x) / "
            "replace_zero(ans, 1)); its H·v differentiates that quotient, which is 0 but cancels in float32 to "
            "rounding of size eps/|d|: 3.7e-5 where |pred - target| = 7e-5 (calibration draw 57), beyond the 1e-5 "
            "an H·v of 0 is allowed (as S_ABS)")
S_CUMPROD = ("torch and TF take cumprod's gradient as a reversed cumulative sum of g·out divided by x (TF: "
             "math_grad._CumprodGrad, out / x with div_no_nan; torch: cumprod_backward for an input without zeros); "
             "its derivative, the quotient's, is two terms of size 1/x² that cancel: at x = 1.9e-5 (calibration "
             "draw 12) their float32 H·v is 0.443359375 (the same on both) where it is 0.444062, 3× the tolerance")
S_STANDARDIZE = ("jax.nn.standardize's default algorithm 'fast' takes the variance as mean(x²) - mean(x)², clipped at "
                 "0: on the constant row it is exactly 0, at clip's boundary, and H·v through rsqrt(var + ε) "
                 "amplifies its float32 rounding by ε^(-3/2) ≈ 3e7 (7e-4 relative here; float64 passes)")

# HIPS autograd's (autograd.numpy's hand-written VJPs, numpy_vjps.py / linalg.py)
A_PROD = ("autograd's prod gradient (numpy_vjps.grad_np_prod) is g·prod/x: at a zero element 0/0 = NaN, where the "
          "derivative is the product of the other elements")
A_STD = ("autograd's std gradient (numpy_vjps.grad_np_std) is (g/std)·(x - mean)/(n - ddof): at a constant input "
         "g/0 = inf times x - mean = 0 is NaN (as jnp.std)")
A_NORM = ("autograd's norm gradient (linalg.norm_vjp) is g·x/‖x‖: at the origin 0/0 = NaN (as jax)")
A_DET = ("autograd's det gradient (linalg.py) is g·det·inv(a)ᵀ: at a singular matrix numpy's inv raises "
         "LinAlgError 'Singular matrix' instead of returning the cofactor matrix, det's derivative everywhere")
A_COSINE = ("autograd has no cosine similarity: the composition clamps sqrt(Σa²) with anp.maximum(·, ε), but at a = 0 "
            "sqrt's derivative is infinite and maximum's zero weight does not stop it (0·inf = NaN), as in jax")
AG = "autograd"

# The frameworks' rules where they pick different valid subgradients (shown in the conventions table).
W_ABS = ("torch.abs's backward is grad·sign(x): 0 at 0, the minimum-norm subgradient (PyTorch autograd note "
         "'Gradients for non-differentiable functions'); jnp.abs's derivative takes the x ≥ 0 side: 1 at 0. Both "
         "lie in [-1, 1]")
W_CLIP = ("torch.clamp passes the gradient to x wherever lo ≤ x ≤ hi (1 at a bound, 0 to the bound); jnp.clip is "
          "minimum(maximum(x, lo), hi), whose ties split the gradient ½/½ between x and the bound")
W_LEAKY = ("torch's leaky_relu backward tests x > 0 (the slope at 0); jax.nn.leaky_relu is "
           "where(x >= 0, x, slope·x) (1 at 0)")
W_HARDTANH = ("torch's hardtanh backward passes the gradient strictly inside (min, max): 0 at both kinks; "
              "jax.nn.hard_tanh is where(x > 1, 1, where(x < -1, -1, x)): 1 at ±1")
W_L1NORM = ("torch's vector_norm(ord=1) backward is sign(x) (0 at a zero element); jnp.linalg.vector_norm(ord=1) "
            "differentiates jnp.abs (1 at 0)")
W_CUMMAX = ("torch.cummax sends each gradient to the index of the running maximum (the latest of tied values); "
            "jax.lax.cummax is differentiated through max, which splits a tie evenly")
W_L1 = ("F.l1_loss's backward is sign(pred - target) (0 at a tie); the jax composition differentiates jnp.abs "
        "(1 at 0)")
W_ATAN2 = ("undefined at the origin: torch's atan2 backward returns 0 there, jax and the core compute "
           "x/(x²+y²) = 0/0 = NaN")

THEMES = ("elementwise", "activations", "reductions", "shape", "linalg", "losses", "layers")
INF = float("inf")
NAN = float("nan")


@dataclass(frozen=True)
class Point:
    label: str
    values: dict  # input name -> value (a number or nested list)
    maths: str  # the mathematics at the point
    expect: dict = field(default_factory=dict)  # backend or (backend, param) -> reason: a genuine disagreement
    judge_v2: str = ""  # why the verdict waits for the new judge (empty: it does not)
    v2_params: tuple = ()  # the inputs judge_v2 concerns (empty: all)
    why: str = ""  # the frameworks' rules here, where they pick different valid subgradients
    dtypes: tuple = ("float64", "float32")
    attrs: dict = field(default_factory=dict)  # op attributes at this point, overriding the op's
    second: dict = field(default_factory=dict)  # as expect, for the H·v rows only (issue 13: second order)

    def expectations(self):
        """(backend, param, dtype, reason) for each declared disagreement."""
        out = _expectations(self.expect)
        return out

    def second_order(self):
        """(backend, param, dtype, reason) for each declared disagreement of the H·v rows."""
        return _expectations(self.second)


def _expectations(expect):
    """(backend, param, dtype, reason) from ``expect``'s keys: a backend, (backend, param) or (backend, param,
    dtype)."""
    return [(((k,) if isinstance(k, str) else tuple(k)) + (None, None))[:3] + (reason,) for k, reason in expect.items()]


def P(label, maths, *, expect=None, judge_v2="", v2_params=(), why="", dtypes=("float64", "float32"), attrs=None,
      second=None, **values):
    return Point(label, values, maths, dict(expect or {}), judge_v2, tuple(v2_params), why, tuple(dtypes),
                 dict(attrs or {}), dict(second or {}))


@dataclass(frozen=True)
class Op:
    name: str
    signature: str
    theme: str
    core: str  # "module.function" under crosscheck/core/ ("tape" for an operator of the Tensor)
    torch: str
    jax: str
    random: dict  # input name -> InputSpec, in call order
    points: tuple = ()
    attrs: dict = field(default_factory=dict)  # keyword attributes passed by the generated cases
    call: object = None  # (nn, **inputs) -> output; default: getattr(nn, name)(*inputs, **attrs)
    data: tuple = ()  # inputs that are data (not differentiated) at special points
    note: str = ""  # why a binding is a composition, or anything a reader must know
    random_cases: bool = True  # False: the op's random cases are hand-written in cases/local_gradients.py
    tolerance: object = None
    of: str = ""  # a variant of another op (e.g. clip with python-number bounds): not a vocabulary entry
    syntax: bool = False  # not an nn method but array syntax (indexing)
    #: disagreements that hold at every point of the op, random ones included: (backend, dtype, reason)
    expect_everywhere: tuple = ()
    expect: dict = field(default_factory=dict)  # as a Point's expect, for the op's random case
    second: dict = field(default_factory=dict)  # as a Point's second: the random case's H·v disagreements

    def expectations(self):
        """(backend, param, dtype, reason) for the random case's declared disagreements."""
        return _expectations(self.expect)

    def second_order(self):
        return _expectations(self.second)

    def invoke(self, nn, values, attrs=None):
        attrs = {**self.attrs, **(attrs or {})}
        if self.call is not None:
            return self.call(nn, **values, **attrs)
        # in the op's declared order (a backend hands the inputs over in an order of its own)
        return getattr(nn, self.name)(*(values[k] for k in self.random if k in values), **attrs)


#: torch's float64 hardsigmoid/hardswish backward (found by the complex-step oracle's float64 tolerance)
R_HARD_SIXTH = ("torch's float64 backward of hardsigmoid multiplies by 1/6 rounded to float32 (0.1666666716, "
                "checked: F.hardsigmoid at 0.3 in float64 gives gradient 0.1666666716337204): a relative error of "
                "3e-8, beyond the float64 tolerance against the exact derivative")
R_SOFTPLUS_THRESHOLD = ("torch's softplus is linear above β·a > threshold (20): its derivative there is exactly 1, "
                        "where the mathematics gives σ(βa) = 1 - 2e-9 at βa = 20 (documented: F.softplus's "
                        "'threshold' reverts to the linear function for numerical stability)")

#: the judge_v2 reason of a C1 point (the derivative exists, the second does not)
C1 = ("a C1 point whose two sides have different second derivatives: the central difference is off by O(h) "
      "(~1e-6), beyond float64's tolerance; the judge will take it as smooth")

N, U, D = inputs.normal, inputs.uniform, inputs.data
AFZ = inputs.away_from_zero
_OPS = []


def op(name, signature, theme, core, torch, jax, random, points=(), **kw):
    _OPS.append(Op(name, signature, theme, core, torch, jax, dict(random), tuple(points), **kw))


def _ew(name, torch, jax, random=None, points=(), core=None, **kw):
    """An element-wise unary op ``name(a)``."""
    op(name, f"{name}(a)", "elementwise", core or f"elementwise.{name}", torch, jax,
       random or {"a": N(3, 4)}, points, **kw)


def _act(name, torch, jax, points=(), random=None, signature=None, core=None, **kw):
    op(name, signature or f"{name}(a)", "activations", core or f"elementwise.{name}", torch, jax,
       random or {"a": N(3, 4, scale=2.0)}, points, **kw)


# ================================================================== element-wise
BIN = {"a": N(3, 4), "b": N(4)}  # binary ops broadcast a (3, 4) against b (4,)
op("add", "add(a, b)", "elementwise", "ops.add", "torch.add", "jnp.add", BIN, random_cases=False)
op("subtract", "subtract(a, b)", "elementwise", "ops.subtract", "torch.subtract", "jnp.subtract", BIN,
   random_cases=False)
op("multiply", "multiply(a, b)", "elementwise", "ops.multiply", "torch.multiply", "jnp.multiply", BIN,
   random_cases=False)
op("divide", "divide(a, b)", "elementwise", "ops.divide", "torch.divide", "jnp.divide", BIN, random_cases=False)
_ew("negative", "torch.negative", "jnp.negative", core="ops.negative", random_cases=False)
op("power", "power(a, exponent)  # exponent a python number", "elementwise", "ops.power", "torch.pow",
   "jnp.power", {"a": U(3, 4, low=0.5, high=2.0)}, [
       P("square_at_zero", "derivative 0", a=[0.0], attrs={"exponent": 2}),
       P("exponent_zero_at_zero", "derivative 0 (a^0 = 1 for every a)", a=[0.0], attrs={"exponent": 0},
         expect={TF: T_POW}),
       P("sqrt_at_zero", "right derivative +inf; undefined from the left (outside the domain)", a=[0.0],
         attrs={"exponent": 0.5}, judge_v2="domain edge: the central difference steps to a < 0"),
   ], attrs={"exponent": 3}, random_cases=False)
_ew("exp", "torch.exp", "jnp.exp", core="ops.exp", random_cases=False,
    points=[P("minus_inf", "derivative 0 (e^a → 0)", a=[-INF, 0.0])])
_ew("log", "torch.log", "jnp.log", core="ops.log", random_cases=False, random={"a": U(3, 4, low=0.5, high=3.0)},
    points=[P("one", "derivative 1", a=[1.0])])
_ew("sin", "torch.sin", "jnp.sin", core="ops.sin", random_cases=False)
_ew("cos", "torch.cos", "jnp.cos", core="ops.cos", random_cases=False,
    points=[P("zero", "derivative 0 (a maximum)", a=[0.0])])
_ew("tanh", "torch.tanh", "jnp.tanh", core="ops.tanh", random_cases=False, points=[
    P("zero", "derivative 1", a=[0.0]),
    P("saturated", "derivative 1 - tanh² ≈ 8e-9 at 10, 0 at ±inf", a=[10.0, -10.0, INF, -INF],
      second={AG: S_SATURATED}),
])
_ew("sigmoid", "torch.sigmoid", "jax.nn.sigmoid", core="ops.sigmoid", random_cases=False, points=[
    P("zero", "derivative 1/4", a=[0.0]),
    P("saturated", "derivative σ(1-σ): 2e-9 at ±20, 0 at ±inf", a=[20.0, -20.0, INF, -INF],
      second={AG: S_SATURATED}),
])
_ew("relu", "torch.relu", "jax.nn.relu", core="ops.relu", random_cases=False, points=[
    P("zero", "left 0, right 1", a=[0.0]),
    P("infinite", "derivative 0 at -inf (relu is 0 there)", a=[-INF, 1.0]),
])
op("maximum", "maximum(a, b)", "elementwise", "ops.maximum", "torch.maximum", "jnp.maximum", BIN, [
    P("tie", "a: left 0, right 1; b the same (a joint kink: the pair's subdifferential is {(t, 1-t)})",
      a=[1.0], b=[1.0]),
], random_cases=False)

_ew("abs", "torch.abs", "jnp.abs", points=[P("zero", "left -1, right 1", a=[0.0], why=W_ABS)],
    second={(AG, "a", "float32"): S_ABS})
_ew("sign", "torch.sign", "jnp.sign", points=[
    P("zero", "undefined (a jump from -1 to 1); 0 on both sides", a=[0.0],
      judge_v2="a jump: both one-sided differences are ±1/h, no derivative exists"),
])
_ew("floor", "torch.floor", "jnp.floor", random={"a": N(3, 4, scale=3.0)}, points=[
    P("integer", "undefined (a jump); 0 on both sides", a=[1.0], judge_v2="a jump: one-sided difference 1/h"),
])
_ew("round", "torch.round", "jnp.round", random={"a": N(3, 4, scale=3.0)}, points=[
    P("half", "undefined (a jump at .5; half to even); 0 on both sides", a=[0.5],
      judge_v2="a jump: one-sided difference 1/h"),
])
_ew("sqrt", "torch.sqrt", "jnp.sqrt", random={"a": U(3, 4, low=0.5, high=3.0)}, points=[
    P("zero", "right derivative +inf; no left (domain edge)", a=[0.0],
      judge_v2="domain edge: the central difference steps to a < 0 (NaN)"),
])
_ew("rsqrt", "torch.rsqrt", "jax.lax.rsqrt", random={"a": U(3, 4, low=0.5, high=3.0)}, points=[
    P("inf", "derivative 0", a=[INF, 1.0], second={AG: S_RSQRT}),
])
_ew("square", "torch.square", "jnp.square", points=[P("zero", "derivative 0", a=[0.0])])
_ew("reciprocal", "torch.reciprocal", "jnp.reciprocal", random={"a": AFZ(3, 4, low=0.5)}, points=[
    P("inf", "derivative 0 (-1/a²)", a=[INF, 2.0], second={AG: S_RECIPROCAL}),
])
_ew("expm1", "torch.expm1", "jnp.expm1", points=[
    P("zero", "derivative 1", a=[0.0]), P("minus_inf", "derivative 0", a=[-INF, 0.5]),
])
_ew("log1p", "torch.log1p", "jnp.log1p", random={"a": U(3, 4, low=-0.5, high=2.0)}, points=[
    P("zero", "derivative 1", a=[0.0]),
])
_ew("tan", "torch.tan", "jnp.tan", random={"a": U(3, 4, low=-1.2, high=1.2)}, points=[
    P("zero", "derivative 1", a=[0.0]),
])
_ew("arcsin", "torch.asin", "jnp.arcsin", random={"a": U(3, 4, low=-0.9, high=0.9)}, points=[
    P("zero", "derivative 1", a=[0.0]),
    P("edges", "+inf at ±1 (one-sided, from inside the domain)", a=[1.0, -1.0],
      judge_v2="domain edge: the central difference steps outside [-1, 1] (NaN)"),
])
_ew("arccos", "torch.acos", "jnp.arccos", random={"a": U(3, 4, low=-0.9, high=0.9)}, points=[
    P("zero", "derivative -1", a=[0.0]),
    P("edges", "-inf at ±1 (one-sided, from inside the domain)", a=[1.0, -1.0],
      judge_v2="domain edge: the central difference steps outside [-1, 1] (NaN)"),
])
_ew("arctan", "torch.atan", "jnp.arctan", points=[
    P("zero", "derivative 1", a=[0.0]),
    P("inf", "derivative 0", a=[INF, -INF], second={b: S_ARCTAN for b in ("torch", "jax", TF, AG)}),
])
_ew("sinh", "torch.sinh", "jnp.sinh", points=[P("zero", "derivative 1", a=[0.0])])
_ew("cosh", "torch.cosh", "jnp.cosh", points=[P("zero", "derivative 0", a=[0.0])])
_ew("erf", "torch.erf", "jax.lax.erf", points=[
    P("zero", "derivative 2/√π", a=[0.0]),
    P("inf", "derivative 0", a=[INF, -INF], expect={(TF, "a", "float64"): T_ERF},
      second={"torch": S_ERF, "jax": S_ERF, AG: S_ERF, (TF, "a", "float32"): S_ERF}),
])
op("clip", "clip(a, lo, hi)  # lo, hi arrays or python numbers", "elementwise", "elementwise.clip", "torch.clamp",
   "jnp.clip", {"a": N(3, 4), "lo": U(4, low=-1.0, high=-0.5), "hi": U(4, low=0.5, high=1.0)}, [
       P("at_bounds", "a at lo: left 0, right 1; a at hi: left 1, right 0 (joint kinks with the bounds)",
         a=[-1.0, 1.0], lo=[-1.0], hi=[1.0], why=W_CLIP),
       P("inside", "derivative 1 inside, 0 outside", a=[-2.0, 0.3, 2.0], lo=[-1.0], hi=[1.0]),
       P("infinite", "a: 0 at ±inf (clipped); lo gets 1 from -inf, hi 1 from +inf", a=[-INF, INF], lo=[-1.0],
         hi=[1.0]),
   ])
op("clip_scalar", "clip(a, -1.0, 1.0)  # python-number bounds (the clip op)", "elementwise", "elementwise.clip",
   "torch.clamp", "jnp.clip", {"a": N(3, 4)}, [
       P("at_bounds", "left 0 / right 1 at -1; left 1 / right 0 at 1", a=[-1.0, 1.0], why=W_CLIP),
   ], call=lambda nn, a: nn.clip(a, -1.0, 1.0), note="the clip op with python-number bounds", of="clip")
op("where", "where(cond, a, b)  # cond data (or a comparison of arrays)", "elementwise", "elementwise.where",
   "torch.where", "jnp.where",
   {"cond": D([[1.0, 0.0, 1.0, 0.0]] * 3), "a": N(3, 4), "b": N(4)}, [
       P("nan_unselected", "a: 1 where selected, 0 elsewhere (the unselected NaN and inf are never used)",
         cond=[1.0, 0.0, 1.0], a=[1.0, NAN, 2.0], b=[INF, 3.0, NAN]),
   ], data=("cond",), call=lambda nn, cond, a, b: nn.where(cond > 0.5, a, b))
op("minimum", "minimum(a, b)", "elementwise", "elementwise.minimum", "torch.minimum", "jnp.minimum", BIN, [
    P("tie", "a: left 1, right 0; b the same (joint kink)", a=[1.0], b=[1.0]),
    P("infinite", "da = 0 where a = +inf (b is the minimum), db = 0 where b = +inf", a=[INF, 1.0], b=[2.0]),
])
op("atan2", "atan2(y, x)", "elementwise", "elementwise.atan2", "torch.atan2", "jnp.arctan2",
   {"y": N(3, 4), "x": AFZ(4, low=0.5)}, [
       P("axis", "dy = x/(x²+y²) = 1, dx = 0 on the positive x axis", y=[0.0], x=[1.0]),
       P("origin", "undefined (atan2 jumps around the origin)", y=[0.0], x=[0.0],
         judge_v2="a jump: one-sided differences ±(π/2)/h; no derivative", why=W_ATAN2,
         expect={b: "no derivative exists at the origin: this backend computes x/(x² + y²) = 0/0 = NaN where "
                    "torch returns 0 (the reference cannot judge either: unjudged)"
                 for b in ("core", "jax", "tensorflow", "autograd")}),
       P("branch_cut", "dy undefined (a jump of 2π across the negative x axis); dx = 0", y=[0.0], x=[-1.0],
         judge_v2="a jump in y across the branch cut", v2_params=("y",)),
   ])
op("logaddexp", "logaddexp(a, b)", "elementwise", "elementwise.logaddexp", "torch.logaddexp", "jnp.logaddexp",
   BIN, [
       P("tie", "derivative ½ each (smooth)", a=[1.0], b=[1.0], expect={TF: T_LOGADDEXP}),
       P("minus_inf", "da = 0, db = 1", a=[-INF], b=[0.0], second={"torch": S_LOGADDEXP}),
   ])
op("fmod", "fmod(a, b)", "elementwise", "elementwise.fmod", "torch.fmod", "jnp.fmod",
   {"a": N(3, 4, scale=3.0), "b": U(4, low=0.7, high=2.0)}, [
       P("multiple", "undefined in a and b (a jump where a/b is an integer)", a=[2.0], b=[1.0],
         judge_v2="a jump: one-sided difference ~1/h"),
   ])
op("remainder", "remainder(a, b)", "elementwise", "elementwise.remainder", "torch.remainder", "jnp.remainder",
   {"a": N(3, 4, scale=3.0), "b": U(4, low=0.7, high=2.0)}, [
       P("multiple", "undefined in a and b (a jump where a/b is an integer)", a=[2.0], b=[1.0],
         judge_v2="a jump: one-sided difference ~1/h"),
   ])
op("xlogy", "xlogy(x, y)  # x·log y, 0 where x = 0", "elementwise", "elementwise.xlogy", "torch.xlogy",
   "jax.scipy.special.xlogy", {"x": N(3, 4), "y": U(4, low=0.5, high=2.0)}, [
       P("x_zero", "dx = log y = log 2 ≈ 0.693 (x log 2 is linear in x), dy = x/y = 0", x=[0.0], y=[2.0],
         expect={(TF, "x"): T_XLOGY}, second={(TF, "y"): S_XLOGY}),
       P("both_zero", "dx undefined (x·log 0 is -inf for x > 0, 0 at 0); dy = 0 along x = 0", x=[0.0], y=[0.0],
         judge_v2="the reference is -inf/NaN on one side",
         expect={**{(b, "y"): "d/dy xlogy(x, y) = x/y is 0/0 = NaN here on every framework, though xlogy(0, y) = 0 "
                              "for every y (the derivative along y is 0)"
                    for b in ("core", "torch", "jax", "tensorflow", "autograd")},
                 **{(b, "x"): "d/dx = log y = -inf at y = 0: this backend returns NaN or -inf where another "
                              "returns a finite value (the reference cannot judge: unjudged)"
                    for b in ("jax", "tensorflow", "autograd")}}),
   ], note="jax has no xlogy in jnp: jax.scipy.special.xlogy is its own kernel")
op("pow", "pow(a, b)  # a tensor exponent", "elementwise", "elementwise.pow", "torch.pow", "jnp.power",
   {"a": U(3, 4, low=0.5, high=2.0), "b": N(4)}, [
       P("base_zero", "da = b·0^(b-1) = 0, db = 0 (0^b = 0 for b > 0)", a=[0.0], b=[2.0],
         second={("torch", "a"): S_POW}),
       P("negative_base", "da = b·a^(b-1) = -4; db undefined ((-2)^b is not real for non-integer b)", a=[-2.0],
         b=[2.0], judge_v2="db: the reference's steps leave the real numbers (NaN)", v2_params=("b",),
         expect={(b, "b"): "db = a^b·log a: the log of a negative base is NaN (a real power of a negative base "
                           "exists at integer exponents only); tensorflow returns a finite value instead, so this "
                           "backend's NaN is a row of its own (the reference cannot judge either: unjudged)"
                 for b in ("core", "torch", "jax", "autograd")}),
       P("zero_zero", "da = 0 (a^0 = 1), db undefined (0^b jumps at b = 0)", a=[0.0], b=[0.0],
         judge_v2="db: 0^b is inf for b < 0, 1 at 0, 0 for b > 0", v2_params=("b",),
         expect={("jax", "a"): R_POW, (TF, "a"): T_POW}),
   ])

# ================================================================== activations
_act("softplus", "F.softplus(a, beta, threshold=20): linear above βa > 20",
     "jax.nn.softplus (β = 1: no β, no threshold)", points=[
         P("zero", "derivative ½", a=[0.0]),
         P("threshold", "derivative σ(20) = 1 - 2.1e-9 at 20; σ(20.5) at 20.5 (torch: exactly 1 above 20)",
           a=[20.0, 20.5], expect={"torch": R_SOFTPLUS_THRESHOLD}),
         P("saturated", "derivative 1 - 9e-14 at 30, 0 at -inf", a=[30.0, -30.0, -INF]),
     ], signature="softplus(a, beta=1.0)")
op("softplus_beta", "softplus(a, beta=2.0)", "activations", "elementwise.softplus",
   "F.softplus(a, beta=2.0)", "composition: jax.nn.softplus(β a)/β", {"a": N(3, 4, scale=2.0)}, [
       P("threshold", "derivative σ(βa): σ(20) at a = 10, σ(21) at 10.5 (torch: exactly 1 above βa > 20)",
         a=[10.0, 10.5], expect={"torch": R_SOFTPLUS_THRESHOLD}),
   ], attrs={"beta": 2.0}, call=lambda nn, a, beta: nn.softplus(a, beta=beta),
   note="jax.nn.softplus has no β: composed as softplus(βa)/β", of="softplus")
_act("log_sigmoid", "F.logsigmoid", "jax.nn.log_sigmoid", points=[
    P("zero", "derivative ½", a=[0.0]),
    P("saturated", "derivative 1 - σ(a): ≈1 at -30, 9e-14 at 30, 0 at inf", a=[-30.0, 30.0, INF]),
])
_act("relu6", "F.relu6", "jax.nn.relu6", points=[
    P("kinks", "at 0: left 0, right 1; at 6: left 1, right 0", a=[0.0, 6.0]),
])
_act("leaky_relu", "F.leaky_relu(a, 0.01)", "jax.nn.leaky_relu(a, 0.01)", points=[
    P("zero", "left 0.01, right 1", a=[0.0], why=W_LEAKY),
], signature="leaky_relu(a, negative_slope=0.01)", expect={(TF, "a", "float64"): T_LEAKY})
_act("elu", "F.elu", "jax.nn.elu", points=[
    P("zero", "derivative 1 (α = 1: C1 at 0)", a=[0.0], judge_v2=C1),
    P("zero_alpha_half", "left α = 0.5, right 1", a=[0.0], attrs={"alpha": 0.5}),
    P("minus_inf", "derivative 0", a=[-INF, 1.0]),
], signature="elu(a, alpha=1.0)")
_act("selu", "F.selu", "jax.nn.selu", points=[P("zero", "left λα ≈ 1.7581, right λ ≈ 1.0507", a=[0.0])])
_act("celu", "F.celu", "jax.nn.celu", points=[P("zero", "derivative 1 (C1)", a=[0.0], judge_v2=C1)],
     signature="celu(a, alpha=1.0)")
_act("gelu", "F.gelu (exact, erf)", "jax.nn.gelu(a, approximate=False)", points=[
    P("zero", "derivative ½", a=[0.0]), P("far", "derivative ≈ 1 at 10, ≈ 0 at -10", a=[10.0, -10.0]),
], expect={(TF, "a", "float64"): T_GELU})
_act("gelu_tanh", "F.gelu(a, approximate='tanh')", "jax.nn.gelu(a, approximate=True)", points=[
    P("zero", "derivative ½", a=[0.0]),
], expect={(TF, "a", "float64"): T_GELU_TANH})
_act("silu", "F.silu", "jax.nn.silu", points=[P("zero", "derivative ½", a=[0.0])])
_act("mish", "F.mish", "jax.nn.mish", points=[P("zero", "derivative tanh(log 2) = 0.6", a=[0.0])])
_act("hardtanh", "F.hardtanh", "jax.nn.hard_tanh", points=[
    P("kinks", "at -1: left 0, right 1; at 1: left 1, right 0", a=[-1.0, 1.0], why=W_HARDTANH),
    P("infinite", "derivative 0 at ±inf", a=[-INF, INF]),
])
_act("hard_sigmoid", "F.hardsigmoid", "jax.nn.hard_sigmoid", points=[
    P("kinks", "at -3: left 0, right 1/6; at 3: left 1/6, right 0", a=[-3.0, 3.0]),
], expect_everywhere=(("torch", "float64", R_HARD_SIXTH),))
_act("hard_swish", "F.hardswish", "jax.nn.hard_swish", points=[
    P("kinks", "at -3: left 0, right -1/2; at 3: left 3/2, right 1", a=[-3.0, 3.0]),
    P("zero", "derivative ½", a=[0.0]),
])
_act("softsign", "F.softsign", "jax.nn.soft_sign", points=[
    P("zero", "derivative 1 (C1)", a=[0.0], judge_v2=C1),
])

# ================================================================== reductions and scans
_R = {"a": N(3, 4)}


def _red(name, signature, torch, jax, points=(), random=None, core=None, **kw):
    op(name, signature, "reductions", core or f"reductions.{name}", torch, jax, random or _R, points, **kw)


_red("sum", "sum(a, axis=None, keepdims=False)", "torch.sum", "jnp.sum", core="ops.sum", random_cases=False)
_red("mean", "mean(a, axis=None, keepdims=False)", "torch.mean", "jnp.mean", core="ops.mean", random_cases=False)
_red("max", "max(a, axis=None, keepdims=False)", "torch.amax", "jnp.max", [
    P("tie2", "a kink: left/right differ per tied element; the subdifferential is the simplex on the ties",
      a=[1.0, 1.0, 0.5]),
    P("tie3", "three-way tie: the simplex on the three", a=[2.0, 2.0, 2.0]),
], attrs={"axis": -1})
_red("min", "min(a, axis=None, keepdims=False)", "torch.amin", "jnp.min", [
    P("tie2", "two-way tie: the simplex on the ties", a=[0.5, 0.5, 1.0]),
], attrs={"axis": 0})
_red("prod", "prod(a, axis=None, keepdims=False)", "torch.prod", "jnp.prod", [
    P("one_zero", "derivative: the product of the others (6 at the zero, 0 elsewhere)", a=[2.0, 0.0, 3.0],
      expect={AG: A_PROD}, second={TF: S_PROD}),
    P("two_zeros", "derivative 0 everywhere", a=[0.0, 0.0, 3.0], expect={AG: A_PROD}, second={TF: S_PROD}),
], attrs={"axis": -1})
_red("logsumexp", "logsumexp(a, axis=None, keepdims=False)", "torch.logsumexp", "jax.nn.logsumexp", [
    P("minus_inf", "softmax weights: 0 at -inf", a=[-INF, 0.0, 1.0]),
    P("tie", "derivative ⅓ each", a=[1.0, 1.0, 1.0]),
], attrs={"axis": -1})
_red("var", "var(a, axis=None, ddof=0, keepdims=False)", "torch.var(correction=ddof)", "jnp.var(ddof=ddof)", [
    P("constant", "derivative 0", a=[1.0, 1.0, 1.0]),
], attrs={"axis": -1, "ddof": 1})
_red("std", "std(a, axis=None, ddof=0, keepdims=False)", "torch.std(correction=ddof)", "jnp.std(ddof=ddof)", [
    P("constant", "a kink: std(c + t·e_i) ∝ |t|, left -k, right +k per element (k = √((n-1)/n)/√(n-ddof))",
      a=[1.0, 1.0, 1.0], expect={"jax": R_STD, TF: T_STD, AG: A_STD}),
], attrs={"axis": -1, "ddof": 1})
_red("norm", "norm(a, ord=2)  # over all elements: ord 1, 2, inf or 'fro'", "torch.linalg.vector_norm / "
     "torch.linalg.matrix_norm('fro')", "jnp.linalg.vector_norm / jnp.linalg.norm('fro')", [
         P("l2_zero", "a kink at the origin: the subdifferential is the unit ball", a=[0.0, 0.0, 0.0],
           expect={"jax": R_NORM, TF: T_NORM, AG: A_NORM}),
         P("l1_zero_element", "at the zero element: left -1, right 1", a=[0.0, 2.0, -1.0], attrs={"ord": 1},
           why=W_L1NORM),
         P("inf_tie", "a tie of |a|: the subdifferential is the hull of ±e_i at the ties", a=[1.0, -1.0, 0.5],
           attrs={"ord": INF}),
     ])
_red("norm_fro", "norm(a, ord='fro')  # the norm op on a matrix", "torch.linalg.matrix_norm(a, 'fro')",
     "jnp.linalg.norm(a, 'fro')", [P("zero", "a kink at the origin (the unit ball)", a=[[0.0, 0.0], [0.0, 0.0]],
                                     expect={"jax": R_NORM, TF: T_NORM, AG: A_NORM})],
     core="reductions.norm", attrs={"ord": "fro"}, call=lambda nn, a, ord: nn.norm(a, ord=ord),
     note="the norm op with ord='fro'", of="norm")
_red("norm_inf", "norm(a, ord=inf)", "torch.linalg.vector_norm(a, inf)", "jnp.linalg.vector_norm(a, ord=inf)", [],
     core="reductions.norm", attrs={"ord": INF}, call=lambda nn, a, ord: nn.norm(a, ord=ord),
     note="the norm op with ord=inf", of="norm")
_red("cumsum", "cumsum(a, axis)", "torch.cumsum", "jnp.cumsum", attrs={"axis": 1})
_red("cumprod", "cumprod(a, axis)", "torch.cumprod", "jnp.cumprod", [
    P("one_zero", "exact: products of the others up to each position", a=[2.0, 0.0, 3.0], expect={TF: T_CUMPROD}),
    P("two_zeros", "derivative 0 except at the first zero (product before it)", a=[2.0, 0.0, 0.0, 3.0],
      expect={TF: T_CUMPROD}),
], attrs={"axis": -1}, second={("torch", "a", "float32"): S_CUMPROD, (TF, "a", "float32"): S_CUMPROD})
_red("cummax", "cummax(a, axis)", "torch.cummax (values)", "jax.lax.cummax", [
    P("tie", "a kink at the tie: the running max's gradient may go to either tied element",
      a=[1.0, 1.0, 0.5, 2.0], why=W_CUMMAX),
], attrs={"axis": -1})
_red("sort", "sort(a, axis=-1)", "torch.sort (values)", "jnp.sort", [
    P("tie", "a kink: the tied values swap places on either side", a=[1.0, 1.0, 0.0]),
])
_red("median", "median(a, axis=None)  # an odd count", "torch.median", "jnp.median", [
    P("tie", "a kink: the middle value is held by either tied element", a=[3.0, 1.0, 1.0]),
], random={"a": N(3, 5)}, attrs={"axis": -1})
_red("softmax", "softmax(a, axis=-1)", "torch.softmax", "jax.nn.softmax", [
    P("tie", "smooth: y(δ - y)", a=[1.0, 1.0, 1.0]),
    P("minus_inf", "0 at the -inf logit", a=[-INF, 0.0, 1.0]),
    P("large", "saturated in float32: derivative ≈ 0", a=[100.0, 0.0, -100.0]),
])
_red("log_softmax", "log_softmax(a, axis=-1)", "F.log_softmax", "jax.nn.log_softmax", [
    P("tie", "smooth", a=[1.0, 1.0, 1.0]),
    P("large", "derivative δ - softmax: finite at ±100", a=[100.0, 0.0, -100.0]),
])

# ================================================================== shape and indexing


_MASK = np.arange(20).reshape(4, 5) % 3 == 0  # a boolean mask (constant: jax cannot trace a data-dependent one)


def _sh(name, signature, torch, jax, random, points=(), core=None, **kw):
    op(name, signature, "shape", core or f"shape.{name}", torch, jax, random, points, **kw)


_sh("reshape", "reshape(a, shape)", "torch.reshape", "jnp.reshape", _R, core="ops.reshape", random_cases=False)
_sh("transpose", "transpose(a, axes=None)", "torch.permute", "jnp.transpose", _R, core="ops.transpose",
    random_cases=False)
_sh("getitem", "a[index]  # slices, integers, integer arrays, boolean masks", "Tensor.__getitem__",
    "jax.Array.__getitem__", {"a": N(4, 5)}, [
        P("repeated", "each picked element gets the sum of its copies' gradients", a=[1.0, 2.0, 3.0]),
    ], core="shape.getitem", call=lambda nn, a: a[np.array([0, 2, 2])] if a.ndim == 1 else
    a[1:3] * 2 + a[:2, 0][:, None] + a[np.array([0, 0, 3])][:2] - a[_MASK].sum()
    + a.T[:, 0].reshape(5, 1)[:2, 0].mean(),
    note="indexing syntax, not an nn method: basic slices, x[:, 0], integer arrays (repeats add) and masks",
    syntax=True)
_sh("take_along_axis", "take_along_axis(a, indices, axis)  # indices data", "torch.take_along_dim",
    "jnp.take_along_axis", {"a": N(3, 4), "indices": D([[0, 0], [3, 1], [2, 2]])}, [
        P("repeated", "an index taken twice gets both gradients", a=[[1.0, 2.0, 3.0]], indices=[[1, 1, 1]]),
    ], attrs={"axis": 1}, data=("indices",))
_sh("concatenate", "concatenate(arrays, axis=0)", "torch.cat", "jnp.concatenate", {"a": N(2, 3), "b": N(4, 3)},
    call=lambda nn, a, b: nn.concatenate([a, b, a], axis=0))
_sh("stack", "stack(arrays, axis=0)", "torch.stack", "jnp.stack", {"a": N(2, 3), "b": N(2, 3)},
    call=lambda nn, a, b: nn.stack([a, b], axis=1))
_sh("pad", "pad(a, pad_width, value=0.0)  # constant padding, numpy's pad_width", "F.pad (widths reordered)",
    "jnp.pad", {"a": N(2, 3)}, attrs={"pad_width": ((1, 0), (2, 1))})
_sh("squeeze", "squeeze(a, axis)", "torch.squeeze", "jnp.squeeze", {"a": N(3, 1, 4)}, attrs={"axis": 1})
_sh("expand_dims", "expand_dims(a, axis)", "torch.unsqueeze", "jnp.expand_dims", _R, attrs={"axis": 1})
_sh("broadcast_to", "broadcast_to(a, shape)", "torch.broadcast_to", "jnp.broadcast_to", {"a": N(1, 4)},
    attrs={"shape": (3, 4)})
_sh("flip", "flip(a, axis)", "torch.flip", "jnp.flip", _R, attrs={"axis": 1})
_sh("tile", "tile(a, reps)", "torch.tile", "jnp.tile", {"a": N(2, 3)}, attrs={"reps": (2, 3)})
_sh("repeat", "repeat(a, repeats, axis)", "torch.repeat_interleave", "jnp.repeat", {"a": N(2, 3)},
    attrs={"repeats": 2, "axis": 1})
_sh("index_add", "index_add(a, index, source)  # along axis 0; index data, repeats add",
    "torch.index_add", "a.at[index].add(source)", {"a": N(4, 3), "source": N(3, 3)}, [
        P("repeated", "source rows sent to the same row add up", a=[[1.0], [2.0]], source=[[5.0], [6.0], [7.0]],
          attrs={"index": (0, 0, 0)}),
    ], attrs={"index": (1, 3, 1)}, call=lambda nn, a, source, index: nn.index_add(a, index, source))
_sh("einsum", "einsum(subscripts, *operands)", "torch.einsum", "jnp.einsum", {"a": N(2, 3, 4), "b": N(4, 5)},
    call=lambda nn, a, b: nn.einsum("bij,jk->bik", a, b) * 1.5 + nn.einsum("bij,jk->k", a, b))

# ================================================================== linear algebra
_SQ = {"a": N(3, 3)}
_SPD = lambda nn, a: a @ nn.transpose(a) + 3.0 * nn.constant(np.eye(a.shape[-1]))  # noqa: E731
_SYM = lambda nn, a: a + nn.transpose(a)  # noqa: E731


def _la(name, signature, torch, jax, random=None, points=(), **kw):
    op(name, signature, "linalg", kw.pop("core", f"linalg.{name}"), torch, jax, random or _SQ, points, **kw)


_la("matmul", "matmul(a, b)", "torch.matmul", "jnp.matmul", {"a": N(3, 4), "b": N(4, 2)}, core="ops.matmul",
    random_cases=False)
_la("det", "det(a)", "torch.linalg.det", "jnp.linalg.det", points=[
    P("singular", "derivative: the cofactor matrix [[4, -2], [-2, 1]] (det is a polynomial)",
      a=[[1.0, 2.0], [2.0, 4.0]], expect={"torch": R_DET, TF: T_DET, AG: A_DET}),
    P("zero_matrix_2x2", "derivative 0 (cofactors of 0)", a=[[0.0, 0.0], [0.0, 0.0]], expect={TF: T_DET, AG: A_DET},
      second={"torch": S_DET}),
])
_la("slogdet", "slogdet(a)  # log|det a| (the sign has no gradient)", "torch.linalg.slogdet (logabsdet)",
    "jnp.linalg.slogdet (logabsdet)")
_la("inv", "inv(a)", "torch.linalg.inv", "jnp.linalg.inv", random={"a": N(3, 3)},
    call=lambda nn, a: nn.inv(a + 3.0 * nn.constant(np.eye(3))))
_la("solve", "solve(a, b)  # b a vector or a matrix of columns", "torch.linalg.solve", "jnp.linalg.solve",
    {"a": N(3, 3), "b": N(3, 2)}, call=lambda nn, a, b: nn.solve(a + 3.0 * nn.constant(np.eye(3)), b))
_la("cholesky", "cholesky(a)  # lower factor of a symmetric positive definite a", "torch.linalg.cholesky",
    "jnp.linalg.cholesky", call=lambda nn, a: nn.cholesky(_SPD(nn, a)))
_la("eigh", "eigh(a)  # the eigenvalues of a symmetric a, ascending", "torch.linalg.eigvalsh",
    "jnp.linalg.eigvalsh", points=[
        P("repeated", "a kink: at a repeated eigenvalue the sorted eigenvalues are not differentiable",
          a=[[1.0, 0.0], [0.0, 1.0]], second={b: S_EIGH for b in ("torch", "jax", AG)}),
    ], call=lambda nn, a: nn.eigh(_SYM(nn, a)))
_la("eigh_vectors", "eigh_vectors(a)  # the eigenvectors of a symmetric a (columns)", "torch.linalg.eigh",
    "jnp.linalg.eigh", points=[
        P("repeated", "undefined: the eigenvectors of a repeated eigenvalue are not unique",
          a=[[1.0, 0.0], [0.0, 1.0]], judge_v2="the reference's differences jump between eigenbases",
          expect={b: "the eigenvectors of a repeated eigenvalue have no derivative: the backward divides by "
                     "λi − λj = 0 (inf/NaN on every framework)"
                  for b in ("core", "torch", "jax", "tensorflow", "autograd")}),
    ], call=lambda nn, a: nn.eigh_vectors(_SYM(nn, a)) ** 2,
    note="cases use V² (sign-invariant: an eigenvector's sign is arbitrary)")
_la("svdvals", "svdvals(a)  # singular values, descending", "torch.linalg.svdvals", "jnp.linalg.svd(a, "
    "compute_uv=False)", {"a": N(3, 2)}, [
        P("repeated", "a kink: at a repeated singular value", a=[[1.0, 0.0], [0.0, 1.0]]),
        P("rank_deficient", "a kink: the zero singular value is |·|-like", a=[[1.0, 0.0], [0.0, 0.0]]),
    ])
_la("trace", "trace(a)", "torch.trace (2-D) / torch.diagonal(...).sum(-1)", "jnp.trace")
_la("diagonal", "diagonal(a)  # the main diagonal of the last two axes", "torch.diagonal(dim1=-2, dim2=-1)",
    "jnp.diagonal(axis1=-2, axis2=-1)")

# ================================================================== losses
_PT = {"pred": N(4, 3), "target": N(4, 3)}


def _loss(name, signature, torch, jax, random, points=(), core=None, **kw):
    op(name, signature, "losses", core or f"losses.{name}", torch, jax, random, points, **kw)


_loss("mean_squared_error", "mean_squared_error(pred, target)", "F.mse_loss",
      "composition: jnp.mean(jnp.square(pred - target))", _PT, random_cases=False,
      note="jax has no loss functions")
_loss("binary_cross_entropy", "binary_cross_entropy(p, y)  # probabilities p", "F.binary_cross_entropy",
      "composition: -mean(y log p + (1-y) log1p(-p))", {"p": U(6, low=0.05, high=0.95), "y": N(6)},
      random_cases=False, note="jax has no loss functions")
_loss("softmax_cross_entropy", "softmax_cross_entropy(logits, target)  # probability targets",
      "F.cross_entropy (probability targets)", "composition: -mean(Σ target · jax.nn.log_softmax(logits))",
      {"logits": N(4, 5), "target": N(4, 5)}, random_cases=False, note="jax has no loss functions")
_loss("binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits(z, y)",
      "F.binary_cross_entropy_with_logits", "composition: mean(jax.nn.softplus(z) - y z)",
      {"z": N(4, 3, scale=2.0), "y": U(4, 3, low=0.0, high=1.0)}, [
          P("zero", "dz = (½ - y)/n", z=[0.0], y=[1.0]),
          P("saturated", "dz = (σ(z) - y)/n: ≈0 at z = 30, y = 1; ≈ -1/n... at z = -30, y = 1", z=[30.0, -30.0],
            y=[1.0, 1.0]),
      ], note="jax has no loss functions")
_loss("cross_entropy", "cross_entropy(logits, labels)  # integer class labels (data), mean over rows",
      "F.cross_entropy (class indices)", "composition: -mean(take_along_axis(jax.nn.log_softmax(z), labels))",
      {"logits": N(4, 5, scale=2.0), "labels": D([1, 0, 4, 2])}, [
          P("tie", "dz = (softmax - onehot)/m: ⅓ - 1 at the label", logits=[[1.0, 1.0, 1.0]], labels=[0]),
          P("minus_inf", "0 at a -inf logit (not the label)", logits=[[-INF, 0.0, 1.0]], labels=[2]),
      ], data=("labels",), note="jax has no loss functions")
_loss("nll", "nll(logp, labels)  # log-probabilities, integer labels (data)", "F.nll_loss",
      "composition: -mean(take_along_axis(logp, labels))", {"logp": N(4, 5), "labels": D([1, 0, 4, 2])},
      data=("labels",), note="jax has no loss functions")
_loss("l1", "l1(pred, target)  # mean |pred - target|", "F.l1_loss", "composition: jnp.mean(jnp.abs(pred - target))",
      _PT, [P("tie", "left -1/n, right 1/n (pred = target)", pred=[1.0, 2.0], target=[1.0, 0.0], why=W_L1)],
      note="jax has no loss functions", second={(AG, p, "float32"): S_ABS_L1 for p in ("pred", "target")})
_loss("huber", "huber(pred, target, delta=1.0)", "F.huber_loss",
      "composition: mean(where(|d| ≤ δ, ½d², δ(|d| - ½δ)))", _PT, [
          P("at_delta", "derivative clip(d, -δ, δ)/n: C1 at |d| = δ", pred=[1.0, -1.0], target=[0.0, 0.0],
            judge_v2=C1),
          P("tie", "derivative 0", pred=[1.0], target=[1.0]),
      ], note="jax (without optax) has no Huber loss")
_loss("smooth_l1", "smooth_l1(pred, target, beta=1.0)", "F.smooth_l1_loss",
      "composition: mean(where(|d| < β, ½d²/β, |d| - ½β))", _PT, [
          P("at_beta", "derivative clip(d/β, -1, 1)/n: C1 at |d| = β", pred=[1.0, -1.0], target=[0.0, 0.0],
            judge_v2=C1),
      ], note="jax has no smooth-L1 loss")
_loss("kl_div", "kl_div(log_q, p)  # KL(p ‖ q), p data, mean over rows", "F.kl_div(reduction='batchmean')",
      "composition: Σ (xlogy(p, p) - p log_q) / rows", {"log_q": N(3, 4), "p": D([[0.1, 0.2, 0.3, 0.4]] * 3)}, [
          P("p_zero", "d log_q = -p/m: 0 where p = 0", log_q=[[-1.0, -2.0, -0.5]], p=[[0.0, 0.5, 0.5]]),
      ], data=("p",), note="jax has no KL loss")
_loss("cosine_similarity", "cosine_similarity(a, b, axis=-1, eps=1e-8)", "F.cosine_similarity",
      "composition: Σab / (max(‖a‖, ε) max(‖b‖, ε))", {"a": N(3, 4), "b": N(3, 4)}, [
          P("parallel", "da = b/(‖a‖‖b‖) - c a/‖a‖² = 0 for parallel vectors", a=[1.0, 2.0], b=[2.0, 4.0]),
          P("zero_vector", "da = b/(ε‖b‖) ≈ [4.5e7, 8.9e7] (the norm is clamped to ε: linear near 0), db = 0",
            a=[0.0, 0.0], b=[1.0, 2.0], expect={("jax", "a"): R_COSINE, (AG, "a"): A_COSINE},
            second={"torch": S_COSINE, "jax": S_COSINE, AG: S_COSINE},
            judge_v2="the function is linear only within ε = 1e-8 of the origin, far inside the step",
            v2_params=("a",)),
      ], note="jax has no cosine similarity")

# --- layers: normalisation, dropout, convolution, pooling, embedding (issue 11) ---------------------------
#: max-pool at a tie inside a window: the subgradient set is every convex combination of the tied elements
#: where the judge's per-element test is too narrow for a max-pool: an element tied in two overlapping windows
J_OVERLAP = ("a valid subgradient the judge's per-element test cannot see: a[1, 0] ties in two overlapping windows "
             "whose cotangents c₁, c₂ differ in sign; the first-maximum rule gives it c₂ alone (it is first in one "
             "window, second in the other), a point of the sum of the windows' subdifferentials [0, c₁] + [c₂, 0]. "
             "The judge's hull for one element is its one-sided derivatives along that coordinate, [0, c₁ + c₂], "
             "which moves both windows at once and misses it")
W_MAXPOOL = ("torch's max_pool2d, XLA's reduce_window max (jax, via select_and_scatter) and TF's MaxPoolGrad send "
             "the whole gradient to the first maximum of the window in row-major order (so does the core); HIPS "
             "autograd's anp.max splits it evenly between the tied elements. Both are subgradients")
_IMG = {"a": N(2, 4, 5, 5), "weight": N(4, 2, 3, 3, scale=0.5), "bias": N(4)}


def _layer(name, signature, torch, jax, random, points=(), **kw):
    op(name, signature, "layers", f"layers.{name}", torch, jax, random, points, **kw)


_layer("layer_norm", "layer_norm(a, weight, bias, eps=1e-5)  # over the last axis", "F.layer_norm",
       "composition: jax.nn.standardize(a, axis=-1)·weight + bias", {"a": N(3, 5), "weight": N(5), "bias": N(5)}, [
           P("constant_row", "smooth: x̂ = 0 on the constant row, its gradient (ḡw - mean(ḡw))/√ε is finite",
             a=[[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 2.0, 4.0]], weight=[1.0, 2.0, 0.5, -1.0], bias=[0.0, 0.1, 0.2, 0.3],
             second={(TF, "a"): S_MOMENTS, ("jax", "a", "float32"): S_STANDARDIZE}),
       ], note="jax has no layer-norm layer (flax's is a module)", second={(TF, "a"): S_MOMENTS})
_layer("rms_norm", "rms_norm(a, weight, eps=1e-6)  # over the last axis", "F.rms_norm",
       "composition: a·jax.lax.rsqrt(mean(a²) + eps)·weight", {"a": N(3, 5), "weight": N(5)},
       note="jax has no RMS-norm layer")
_layer("batch_norm", "batch_norm(a, weight, bias, eps=1e-5)  # training mode: batch statistics per channel (axis 1)",
       "F.batch_norm(training=True)", "composition: jax.nn.standardize over (0, 2, ...)·weight + bias",
       {"a": N(4, 3, 2, 2), "weight": N(3), "bias": N(3)}, note="jax has no batch-norm layer",
       second={(TF, "a"): S_MOMENTS})
_layer("group_norm", "group_norm(a, weight, bias, num_groups, eps=1e-5)", "F.group_norm",
       "composition: jax.nn.standardize over each group·weight + bias",
       {"a": N(2, 4, 3, 3), "weight": N(4), "bias": N(4)}, attrs={"num_groups": 2},
       note="jax has no group-norm layer", second={(TF, "a"): S_MOMENTS})
_layer("dropout", "dropout(a, mask, p)  # a given 0/1 mask (data): a·mask/(1 - p)", "composition: a·mask/(1 - p)",
       "composition: a·mask/(1 - p)", {"a": N(3, 4), "mask": D([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 1]])},
       attrs={"p": 0.25}, data=("mask",),
       note="every framework's dropout draws its own mask; with the mask given, dropout is this product")
_layer("conv1d", "conv1d(a, weight, bias, stride=1, padding=0, dilation=1, groups=1)  # (N, C, L)", "F.conv1d",
       "jax.lax.conv_general_dilated", {"a": N(2, 4, 9), "weight": N(6, 2, 3, scale=0.5), "bias": N(6)},
       attrs={"stride": 2, "padding": 2, "dilation": 2, "groups": 2})
_layer("conv2d", "conv2d(a, weight, bias, stride=1, padding=0, dilation=1, groups=1)  # (N, C, H, W)", "F.conv2d",
       "jax.lax.conv_general_dilated", _IMG, attrs={"stride": 2, "padding": 1, "dilation": 1, "groups": 2})
_layer("conv_transpose2d", "conv_transpose2d(a, weight, bias, stride=1, padding=0, output_padding=0, groups=1, "
       "dilation=1)  # weight (C_in, C_out/groups, kh, kw)", "F.conv_transpose2d",
       "jax.lax.conv_general_dilated with lhs_dilation (the flipped, channel-transposed kernel)",
       {"a": N(2, 4, 3, 3), "weight": N(4, 3, 3, 3, scale=0.5), "bias": N(6)},
       attrs={"stride": 2, "padding": 1, "output_padding": 1, "groups": 2},
       note="jax.lax.conv_transpose has no groups: the fractionally strided conv is written out")
_layer("max_pool2d", "max_pool2d(a, kernel_size, stride=None)  # no padding", "F.max_pool2d",
       "jax.lax.reduce_window(max)", {"a": N(2, 3, 5, 5)}, [
           P("tie", "a kink: the tied maxima of a window share its gradient in any convex combination",
             a=[[[[1.0, 1.0, 0.0, 2.0], [0.5, 1.0, 2.0, 2.0], [3.0, -1.0, 0.0, 0.0], [-2.0, 3.0, 0.0, 0.0]]]],
             attrs={"kernel_size": 2, "stride": 2}, why=W_MAXPOOL),
           P("overlap_tie", "a kink: overlapping windows (stride 1) whose tied maxima are shared",
             a=[[[[0.0, 2.0, 0.0], [2.0, 1.0, 2.0], [0.0, 2.0, 0.0]]]], attrs={"kernel_size": 2, "stride": 1},
             why=W_MAXPOOL, expect={b: J_OVERLAP for b in ("core", "torch", "jax", TF)}),
       ], attrs={"kernel_size": 2, "stride": 1})
_layer("avg_pool2d", "avg_pool2d(a, kernel_size, stride=None)  # no padding", "F.avg_pool2d",
       "jax.lax.reduce_window(add)/window size", {"a": N(2, 3, 5, 5)}, attrs={"kernel_size": 3, "stride": 2})
_layer("embedding", "embedding(indices, weight)  # integer indices (data): weight[indices]", "F.embedding",
       "composition: jnp.take(weight, indices, axis=0)", {"indices": D([[0, 2, 2], [4, 0, 2]]), "weight": N(5, 3)}, [
           P("repeated", "each row's gradient is the sum of the gradients of its copies", indices=[1, 1, 1, 3],
             weight=[[0.5, -1.0], [1.0, 2.0], [0.0, 3.0], [-1.5, 0.25]]),
       ], data=("indices",), note="jax.nn has no embedding layer")
# --- end of layers (issue 11) --------------------------------------------------------------------------------
# --- layers: attention and recurrent (issue 11) ------------------------------------------------------------
# Attention is an op (torch and jax have a kernel of their own); the recurrent cells are not: only torch has a
# functional cell (torch.lstm_cell / gru_cell / rnn_tanh_cell), and on the CPU that is an ATen composite of
# linear, sigmoid and tanh (the fused cell is CUDA-only), so cases/layers_sequence.py builds the RNN, LSTM and GRU
# from matmul, sigmoid, tanh and multiply on every backend.
THEMES = THEMES + ("attention",)
R_SDPA_FLOAT32_SOFTMAX = ("jax.nn.dot_product_attention computes its softmax in float32 whatever the input dtype "
                          "(jax/_src/nn/functions.py, _dot_product_attention_core: 'Softmax ... is always carried out "
                          "in fp32', padded_logits.astype(np.float32)): in float64 its values and gradients are off by "
                          "~1e-7 relative, beyond float64's tolerance (float32 runs are unaffected)")
_QKV = {"q": N(2, 4, 3), "k": N(2, 4, 3), "v": N(2, 4, 3)}
op("scaled_dot_product_attention", "scaled_dot_product_attention(q, k, v, causal=False)  # q (..., L, E), k and v "
   "(..., S, E); softmax(q kᵀ/√E) v", "attention", "sequence.scaled_dot_product_attention",
   "F.scaled_dot_product_attention", "jax.nn.dot_product_attention (axes moved to (B, L, heads, E))", _QKV, [
       P("causal", "smooth: a masked score is -inf, its probability 0 and its gradient 0 (query 0 sees key 0 only)",
         q=[[0.5, -1.0], [1.0, 0.3], [-0.2, 0.8]], k=[[1.0, 0.2], [-0.5, 0.4], [0.3, -1.2]],
         v=[[0.7, -0.1], [0.2, 0.9], [-1.1, 0.4]], attrs={"causal": True}),
       P("equal_scores", "q = 0: every score is 0, P is uniform (1/S); smooth, dq = Σ_j P_j (dP_j - P·dP) k_j/√E",
         q=[[0.0, 0.0], [0.0, 0.0]], k=[[1.0, -2.0], [0.5, 0.5], [-1.0, 0.0]], v=[[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]]),
   ], note="tensorflow and autograd have no attention kernel: softmax(q kᵀ/√E + mask) v of their own ops",
   expect_everywhere=(("jax", "float64", R_SDPA_FLOAT32_SOFTMAX),))
# --- end of layers: attention and recurrent (issue 11) -----------------------------------------------------

OPS = {o.name: o for o in _OPS}
#: the vocabulary: op names an ``nn`` binds (variants like clip_scalar are cases of another op)
VOCABULARY = {o.name: o.signature for o in _OPS if not o.of and not o.syntax}


def special_points():
    """(op, point) for every special point of every op, in definition order."""
    return [(o, p) for o in _OPS for p in o.points]


def case_name(o, point=None):
    """``op_<op>__<point>`` (``op_<op>__random`` for the random point)."""
    return f"op_{o.name}__{point.label if point is not None else 'random'}"


# ------------------------------------------------------------------ the README's op table

TABLE_START = "<!-- op-table: generated by scripts/op_table.py from crosscheck/ops_spec.py; do not edit -->"
TABLE_END = "<!-- op-table end -->"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table():
    """The README's op table: one row per op (and per variant a case exercises), grouped by theme."""
    lines = [TABLE_START, ""]
    for theme in THEMES:
        ops = [o for o in _OPS if o.theme == theme]
        lines += [f"**{theme}** ({len([o for o in ops if not o.of and not o.syntax])} ops)", "",
                  "| op | signature | torch | jax | core | special points | note |",
                  "|---|---|---|---|---|---|---|"]
        for o in ops:
            module, _, fn = o.core.partition(".")
            points = ", ".join(p.label for p in o.points) or "—"
            name = f"`{o.name}`" + (f" (the `{o.of}` op)" if o.of else "")
            lines.append("| " + " | ".join(_cell(c) for c in (
                name, f"`{o.signature.split('  #')[0]}`", o.torch, o.jax, f"core/{module}.py `{fn}`", points,
                o.note)) + " |")
        lines.append("")
    lines.append(TABLE_END)
    return "\n".join(lines)


def readme_with_table(readme):
    """``readme`` (text) with the op table between its markers replaced by :func:`markdown_table`."""
    start, end = readme.index(TABLE_START), readme.index(TABLE_END) + len(TABLE_END)
    return readme[:start] + markdown_table() + readme[end:]
