"""minitape bound to crosscheck: run with `crosscheck run --backend examples.minitape.crosscheck_backend:Minitape`."""
import numpy as np

from crosscheck.backends import Backend, Evaluation
from crosscheck.backends.base import objective
from crosscheck.vocabulary import Vocabulary

from . import tape as mt


class MinitapeOps(Vocabulary):  # an op not bound here is reported as missing (skipped rows naming it)
    backend = "minitape"

    def __init__(self, tape, dtype):
        self.tape, self.dtype = tape, dtype

    def constant(self, array): return self.tape.var(array, self.dtype)
    def is_native(self, x): return isinstance(x, mt.Var)
    def add(self, a, b): return a + b
    def subtract(self, a, b): return a - b
    def multiply(self, a, b): return a * b
    def divide(self, a, b): return a / b
    def negative(self, a): return -a
    def power(self, a, exponent): return a ** exponent
    def matmul(self, a, b): return a @ b
    exp, log, tanh, sigmoid, relu = (staticmethod(f) for f in (mt.exp, mt.log, mt.tanh, mt.sigmoid, mt.relu))
    sum, mean, reshape, transpose = (staticmethod(f) for f in (mt.sum, mt.mean, mt.reshape, mt.transpose))


class Minitape(Backend):
    name = "minitape"
    vocabulary = MinitapeOps  # also tells crosscheck which ops are bound (the conformance matrix)

    def evaluate(self, case, point, dtype):
        tape = mt.Tape()
        args = {k: tape.var(v, dtype) for k, v in point.items()}
        loss, _ = objective(case, self.vocabulary(tape, dtype), args, dtype)
        grads = tape.grad(loss, [args[k] for k in case.wrt])
        return Evaluation(float(loss.value), {k: np.asarray(g, dtype=dtype) for k, g in zip(case.wrt, grads)})
