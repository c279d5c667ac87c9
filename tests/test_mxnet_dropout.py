"""MXNet-specific dropout checks (the cross-backend ones are in test_dropout.py): legacy arrays,
where the randomness comes from, MXNet's own Dropout, the host mask statistics and the book's
own ``dropout_layer`` cell."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from droplab import backends, book

if not backends.installed("mxnet"):
    if "mxnet" in os.environ.get("DROPLAB_REQUIRE_BACKENDS", "").split(","):
        raise RuntimeError("mxnet is required in this run but not installed")
    pytest.skip("mxnet is not installed in this environment", allow_module_level=True)

from droplab.backends import mxnet as B
from droplab.backends.mxnet import dropout as D
from droplab.backends.mxnet._framework import context, mnp, mx

pytestmark = pytest.mark.mxnet

N_STAT = 1_000_000
Z = 5.0  # standard errors


def values(shape=(64, 64), dtype="float32"):
    return mnp.array(np.random.default_rng(0).uniform(0.5, 2.0, shape), dtype=dtype)


def test_legacy_ndarrays_go_in_and_come_out():
    X = mx.nd.array(np.ones((8, 8)))
    out = B.dropout_layer(X, 0.5, seed=3)
    assert type(out) is mx.nd.NDArray
    np.testing.assert_array_equal(out.asnumpy(), B.dropout_layer(X.as_np_ndarray(), 0.5,
                                                                 seed=3).asnumpy())
    out, grad = B.dropout_with_grad(X, 0.5, seed=3)
    assert type(grad) is mx.nd.NDArray
    np.testing.assert_array_equal(grad.asnumpy(), out.asnumpy())  # ones in: grad == out == mask*2


@pytest.mark.parametrize("seed", [5, None])
def test_dropout_layer_leaves_mxnets_generator_alone(seed):
    mx.random.seed(42)
    expected = mnp.random.uniform(size=5).asnumpy()
    mx.random.seed(42)
    B.dropout_layer(values(), 0.5, seed=seed)
    np.testing.assert_array_equal(mnp.random.uniform(size=5).asnumpy(), expected)


def test_dropped_elements_are_x_times_zero_and_survivors_exact():
    X = mnp.array([[-1.5, 2.0, -3.0, 4.0]] * 256, dtype="float16")
    out = B.dropout_layer(X, 0.3, seed=2).asnumpy()
    kept = out != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(out[kept], (X.asnumpy() * np.float16(1 / 0.7))[kept])


def test_a_numpy_generator_is_a_seed_and_advances():
    X = values()
    a = B.dropout_layer(X, 0.5, seed=np.random.default_rng(1)).asnumpy()
    np.testing.assert_array_equal(a, B.dropout_layer(X, 0.5, seed=1).asnumpy())
    rng = np.random.default_rng(1)
    first, second = (B.dropout_layer(X, 0.5, seed=rng).asnumpy() for _ in range(2))
    assert (first != second).any()


@pytest.mark.parametrize("p", [0.2, 0.25, 0.5, 0.8, 2**-9])  # 32, 8, 1, 32 and 16 bits
@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937])
def test_host_keep_rate_within_five_standard_errors(p, bit_generator):
    keep = D.host_keep((1000, N_STAT // 1000), p, np.random.Generator(bit_generator(3)))
    assert keep.dtype == bool and keep.shape == (1000, 1000)
    assert abs(keep.mean() - (1 - p)) < Z * math.sqrt(p * (1 - p) / N_STAT)


def test_resolution_is_exact_where_it_can_be():
    assert D.resolution(0.5) == (1, 1)
    assert D.resolution(0.25) == (8, 64)
    assert D.resolution(2**-9) == (16, 128)
    bits, threshold = D.resolution(0.3)
    assert bits == 32 and abs(threshold / 2**32 - 0.3) <= 2**-33


def test_host_keep_is_the_same_under_every_numpy_version():
    """The raw PCG64 stream is stable, so these bits hold under NumPy 1.23 and 2.x alike."""
    assert D.host_keep((2, 8), 0.5, 0).astype(int).tolist() == [[0, 1, 0, 1, 1, 1, 1, 1],
                                                                 [1, 0, 0, 0, 0, 0, 1, 0]]
    assert D.host_keep((2, 8), 0.3, 0).astype(int).tolist() == [[1, 1, 1, 0, 1, 0, 0, 0],
                                                                 [0, 1, 1, 1, 1, 1, 1, 1]]


def test_host_keep_near_one_drops_everything():
    assert not D.host_keep((100,), 1 - 1e-12, 0).any()
    assert D.host_keep((100,), 0.0, 0).all()


def test_scaled_keep_is_mask_over_keep_in_the_dtype():
    keep = np.array([True, False, True])
    out = D.scaled_keep(keep, 0.75, np.float16)
    assert out.dtype == np.float16 and out.tolist() == [4.0, 0.0, 4.0]


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_native_dropout_semantics_and_seed(p):
    X = values()
    a = B.native_dropout(X, p, seed=9).asnumpy()
    b = B.native_dropout(X, p, seed=9).asnumpy()
    np.testing.assert_array_equal(a, b)
    kept = a != 0
    if p == 1.0:
        assert not kept.any()
    else:
        np.testing.assert_allclose(a[kept], X.asnumpy()[kept] / (1 - p), rtol=1e-6)
        assert kept.all() if p == 0 else 0 < kept.mean() < 1


def test_native_dropout_keep_rate():
    out = B.native_dropout(mnp.ones((1000, 1000)), 0.3, seed=1).asnumpy()
    assert abs((out != 0).mean() - 0.7) < Z * math.sqrt(0.21 / N_STAT)


def test_bad_seeds_use_the_template():
    X = values()
    with pytest.raises(TypeError, match=r"^Invalid value for `seed`: expected None or an integer"):
        B.dropout_layer(X, 0.5, seed="1")
    with pytest.raises(ValueError, match=r"^Invalid value for `seed`: .* received seed=-1$"):
        B.dropout_layer(X, 0.5, seed=-1)
    with pytest.raises(TypeError, match=r"^Invalid value for `X`: expected an MXNet array"):
        B.dropout_layer(np.ones(3), 0.5)


def test_book_cell_runs_on_mxnet_1_9_1():
    """The section's own dropout_layer (np.random.uniform(0, 1, X.shape) > p, then astype)."""
    namespace: dict = {}
    exec("from mxnet import np\n" + book.cells("mxnet")[1], namespace)  # noqa: S102 - the book's cell
    X = mnp.arange(16).reshape(2, 8)
    assert X.dtype == np.float32  # MXNet's arange is float32 by default, unlike NumPy's
    out = namespace["dropout_layer"](X, 0.5).asnumpy()
    kept = out != 0
    np.testing.assert_array_equal(out[kept], 2 * X.asnumpy()[kept])
    assert not namespace["dropout_layer"](X, 1).asnumpy().any()


def test_integer_mxnet_arrays_become_float32():
    X = mnp.arange(16, dtype="int32").reshape(2, 8)
    assert B.dropout_layer(X, 0.5).dtype == np.float32
    assert B.dropout_layer(mnp.ones(4, dtype=bool), 0.0).dtype == np.float32


def test_asarray_keeps_numpys_dtype_and_devices_are_named():
    assert B.asarray([1, 2]).dtype == np.int64
    assert B.asarray(np.ones(2)).dtype == np.float64
    assert B.asarray([1, 2], "float16").dtype == np.float16
    assert B.device_of(B.asarray([1.0])) == "cpu"
    assert "bfloat16" not in B.DTYPES
    assert context("cpu") == mx.cpu() and context("cuda:1") == mx.gpu(1)
    with pytest.raises(ValueError, match=r"^Invalid value for `device`: .* received device='tpu'$"):
        context("tpu")
