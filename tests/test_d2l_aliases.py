"""d2l 1.0's tensor aliases in each framework module, checked against their book meaning
(``reduce_sum`` sums, ``argmax`` finds the largest entry, ``astype`` converts, ...).

The MXNet run imports these tests from ``test_mxnet_d2l_aliases.py``.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from droplab.compat import aliases

VALUES = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


@pytest.fixture()
def d2l(framework):
    return importlib.import_module(f"droplab.{framework.NAME}")


def as_np(d2l, x) -> np.ndarray:
    out = d2l.numpy(x)
    assert isinstance(out, (np.ndarray, np.generic))
    return out


def test_tensor_numpy_and_dtypes(d2l):
    x = d2l.tensor(VALUES, dtype=d2l.float32)
    assert as_np(d2l, x).dtype == np.float32
    np.testing.assert_array_equal(as_np(d2l, x), VALUES)
    y = d2l.astype(x, d2l.int32)
    assert as_np(d2l, y).dtype == np.int32
    np.testing.assert_array_equal(as_np(d2l, y), np.array(VALUES, dtype=np.int32))
    assert int(d2l.size(x)) == 6


def test_reductions(d2l):
    x = d2l.tensor(VALUES, dtype=d2l.float32)
    assert float(as_np(d2l, d2l.reduce_sum(x))) == 21.0
    np.testing.assert_array_equal(as_np(d2l, d2l.reduce_sum(x, 0)), [5.0, 7.0, 9.0])
    np.testing.assert_array_equal(as_np(d2l, d2l.reduce_mean(x, 1)), [2.0, 5.0])
    np.testing.assert_array_equal(as_np(d2l, d2l.argmax(x, 1)), [2, 2])
    assert int(as_np(d2l, d2l.argmax(d2l.tensor([3.0, 9.0, 1.0])))) == 1


def test_shapes_and_products(d2l):
    x = d2l.tensor(VALUES, dtype=d2l.float32)
    np.testing.assert_array_equal(as_np(d2l, d2l.reshape(x, (3, 2))),
                                  np.reshape(VALUES, (3, 2)))
    np.testing.assert_array_equal(as_np(d2l, d2l.transpose(x)), np.transpose(VALUES))
    np.testing.assert_array_equal(as_np(d2l, d2l.matmul(x, d2l.transpose(x))),
                                  [[14.0, 32.0], [32.0, 77.0]])
    assert as_np(d2l, d2l.expand_dims(x, 0)).shape == (1, 2, 3)
    np.testing.assert_array_equal(as_np(d2l, d2l.concat([x, x], 0)), VALUES + VALUES)
    assert as_np(d2l, d2l.stack([x, x])).shape == (2, 2, 3)


def test_constructors(d2l):
    np.testing.assert_array_equal(as_np(d2l, d2l.arange(5)), [0, 1, 2, 3, 4])
    np.testing.assert_allclose(as_np(d2l, d2l.arange(0.0, 1.0, 0.25)), [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(as_np(d2l, d2l.ones((2, 3))), np.ones((2, 3)))
    np.testing.assert_array_equal(as_np(d2l, d2l.zeros((2, 3))), np.zeros((2, 3)))
    np.testing.assert_allclose(as_np(d2l, d2l.linspace(0.0, 1.0, 5)), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(as_np(d2l, d2l.eye(2)), np.eye(2))


def test_elementwise_functions(d2l):
    x = d2l.tensor([-1.5, 0.0, 0.5, 2.0], dtype=d2l.float32)
    ref = np.array([-1.5, 0.0, 0.5, 2.0], dtype=np.float32)
    for name, fn in [("exp", np.exp), ("sin", np.sin), ("cos", np.cos), ("tanh", np.tanh),
                     ("abs", np.abs)]:
        np.testing.assert_allclose(as_np(d2l, getattr(d2l, name)(x)), fn(ref), rtol=1e-6,
                                   err_msg=name)
    np.testing.assert_allclose(as_np(d2l, d2l.log(d2l.exp(x))), ref, rtol=1e-6, atol=1e-6)


def test_random_draws(d2l, framework):
    u = as_np(d2l, d2l.rand((200, 3)) if framework.NAME == "tensorflow" else d2l.rand(200, 3))
    assert u.shape == (200, 3) and 0.0 <= u.min() and u.max() < 1.0 and u.std() > 0.1
    if framework.NAME == "tensorflow":
        n = d2l.normal((400,), 3.0, 0.5)
    elif framework.NAME == "torch":
        n = d2l.normal(3.0, 0.5, size=(400,))
    else:
        n = d2l.normal(3.0, 0.5, (400,))
    n = as_np(d2l, n)
    assert n.shape == (400,) and abs(n.mean() - 3.0) < 0.2 and abs(n.std() - 0.5) < 0.15


def test_to_moves_to_the_cpu(d2l, framework):
    x = d2l.tensor(VALUES)
    if framework.NAME == "tensorflow":
        assert "to" not in aliases.table("tensorflow")  # d2l defines no `to` there
        return
    cpu = d2l.cpu()
    np.testing.assert_array_equal(as_np(d2l, d2l.to(x, cpu)), VALUES)


def test_every_framework_has_the_books_aliases(d2l, framework):
    names = {"reshape", "matmul", "reduce_sum", "reduce_mean", "argmax", "astype", "tensor",
             "float32", "int32", "rand", "exp", "log", "ones", "zeros", "arange", "normal",
             "sin", "cos", "linspace", "tanh", "abs", "concat", "stack", "numpy", "size",
             "expand_dims", "transpose"}
    assert names <= set(aliases.table(framework.NAME))
    assert all(callable(getattr(d2l, n)) or n in ("float32", "int32") for n in names)


def test_jax_seed_and_key(framework):
    if framework.NAME != "jax":
        return
    import jax

    from droplab import jax as d2l

    seeds = {d2l.get_seed() for _ in range(20)}
    assert all(isinstance(s, int) and 0 <= s <= 10**6 for s in seeds) and len(seeds) > 1
    draw = jax.random.normal(d2l.get_key(), (3,))
    assert draw.shape == (3,)


def test_unknown_framework_is_rejected():
    with pytest.raises(ValueError, match=r"^Invalid value for `framework`"):
        aliases.table("caffe")
