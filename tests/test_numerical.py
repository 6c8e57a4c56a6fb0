"""Finite differences: steps, exactness, vectorisation, one-sided derivatives at kinks."""

import numpy as np
import pytest

from crosscheck.numerical import CENTRAL_STEP, central_difference, one_sided_differences, steps


def test_steps_are_powers_of_two_so_x_plus_h_is_exact():
    x = np.array([0.3, -7.5, 1e3, 2.0])
    h = steps(x, CENTRAL_STEP["float64"])
    assert np.all(np.log2(h) == np.round(np.log2(h)))
    assert np.all((x + h) - x == h) and np.all(x - (x - h) == h)


def test_central_difference_is_exact_on_quadratics():
    a = np.array([[1.0, -2.0], [0.5, 3.0]])
    f = lambda x: float(np.sum(a * x * x))
    x = np.array([[0.25, 1.5], [-2.0, 0.125]])
    np.testing.assert_allclose(central_difference(f, x), 2 * a * x, rtol=1e-10)


def test_batched_and_looped_agree_to_the_bit():
    w = np.linspace(-1, 1, 12).reshape(3, 4)
    f = lambda x: float(np.sum(np.sin(x @ w.T)))
    fb = lambda xs: np.sum(np.sin(xs @ w.T), axis=(1, 2))
    x = np.random.default_rng(0).standard_normal((2, 4))
    np.testing.assert_array_equal(central_difference(f, x), central_difference(fb, x, batched=True))


def test_only_requested_indices_are_computed():
    calls = []
    f = lambda x: calls.append(1) or float(np.sum(x**2))
    g = central_difference(f, np.ones(10), indices=[3])
    assert len(calls) == 2 and g[3] == pytest.approx(2.0) and np.count_nonzero(g) == 1


def test_one_sided_differences_split_at_a_kink():
    f = lambda x: float(np.sum(np.maximum(x, 0) * np.array([1.0, 2.0, 3.0])))
    right, left, noise = one_sided_differences(f, np.array([0.0, 1.0, -1.0]))
    np.testing.assert_allclose(right, [1.0, 2.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(left, [0.0, 2.0, 0.0], atol=1e-9)
    assert np.all(noise < 1e-9)


def test_unsupported_dtype_is_named():
    with pytest.raises(TypeError, match="float16"):
        central_difference(lambda x: float(x.sum()), np.ones(2, np.float16))


def test_rademacher_directions_are_plus_and_minus_one_and_seeded():
    """issue 16: entries of magnitude one in both signs (a wrong element of size d moves each projection by d)."""
    from crosscheck.numerical import rademacher_direction, rademacher_directions

    v = rademacher_direction((1000,), 7, 3)
    assert v.dtype == np.int8 and set(np.unique(v)) == {-1, 1}
    assert np.array_equal(v, rademacher_direction((1000,), 7, 3))
    assert not np.array_equal(v, rademacher_direction((1000,), 7, 4))
    assert set(np.unique(rademacher_directions((50,), 4, 1))) == {-1.0, 1.0}
