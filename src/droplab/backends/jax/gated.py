"""Gated products for JAX on the CPU: matrix products over the nonzeros of one operand.

Why: after ReLU and dropout at p = 0.5, 70-80% of a hidden layer's activations in the chapter's
MLP are exactly zero, and so is the gradient at the same entries. XLA's dense products multiply
the zeros all the same. droplab's C kernels (``droplab/kernels/gated.c``) skip them; here they run
as an XLA FFI custom call (``gated_xla.cc``) on XLA's own intra-op threads, inside the jitted
epoch scan like any other op. Two products use them, both with a custom VJP:

* :func:`input_matmul` ``x @ w`` for the first layer: the forward stays dense (about half of the
  pixels are nonzero: too many to gain), the backward runs gated on the gradient ``g``:
  ``dw = (g.T @ x).T``, ``dx = g @ w.T``;
* :func:`hidden_matmul` ``h @ w`` for the second layer, whose input is the dropped first layer:
  gated forward ``h @ w``, ``dw = h.T @ g`` and ``dx = g @ w.T``.

The sums run over the same nonzero terms in the order XLA's CPU product uses here, so the results
matched XLA's dense ones bit for bit on this project's machine (tested within float32 rounding).

Mixed precision: :func:`product_bf16` is the bfloat16 twin (``gated_bf16.c``: pairs of nonzeros,
two terms per AVX512_BF16 instruction, float32 sums and result), where the CPU has those
instructions (:func:`bf16_available`); :func:`mixed_input_matmul` and :func:`mixed_hidden_matmul`
are the two products above with bfloat16 operands and float32 results, as
:func:`droplab.backends.jax.mixed.matmul` computes them densely (for float32 ``x`` and ``w``, as
the learner holds them).

Built on first use into droplab's user cache with the system's C and C++ compilers
(:mod:`droplab.kernels`); where they cannot be built, or JAX has no ``jax.ffi``, :func:`available`
is False and the learner uses the dense products (as it does with ``TrainConfig.kernels="off"``).
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from droplab import _checks
from droplab import kernels as _kernels
from droplab.kernels import BuildError

TARGET = "droplab_gated_matmul"
TARGET_BF16 = "droplab_gated_matmul_bf16"
C_SOURCE = _kernels.source("gated.c")
BF16_SOURCE = _kernels.source("gated_bf16.c")
CC_SOURCE = _kernels.source("gated_xla.cc")
FLAG_SETS = (("-O3", "-march=native"), ("-O3",))

_state: dict[str, Any] = {}
why_not: str | None = None  # why available() is False, for messages


def build(directory: Path | None = None) -> Path:
    """The custom call's shared library, compiled unless cached. Raises BuildError."""
    cc, cxx = _kernels.compiler("CC", "cc"), _kernels.compiler("CXX", "c++")
    if cc is None or cxx is None:
        raise BuildError("no C and C++ compilers found (set CC and CXX, or install gcc and g++)")
    ffi = getattr(jax, "ffi", None)
    if ffi is None or not hasattr(ffi, "include_dir"):
        raise BuildError(f"JAX {jax.__version__} has no jax.ffi (JAX >= 0.4.38 has)")
    include = Path(ffi.include_dir())
    headers = b"".join((include / "xla" / "ffi" / "api" / h).read_bytes()
                       for h in ("ffi.h", "api.h", "c_api.h"))
    steps = [
        [cc, "{flags}", "-fPIC", "-c", str(C_SOURCE), "-o", "{tmp}/gated.o"],
        [cc, "{flags}", "-fPIC", "-c", str(BF16_SOURCE), "-o", "{tmp}/gated_bf16.o"],
        [cxx, "{flags}", "-std=c++17", "-fPIC", "-I", str(include), "-c", str(CC_SOURCE),
         "-o", "{tmp}/gated_xla.o"],
        [cxx, "-shared", "-o", "{out}", "{tmp}/gated.o", "{tmp}/gated_bf16.o",
         "{tmp}/gated_xla.o"],
    ]
    key = (C_SOURCE.read_bytes() + BF16_SOURCE.read_bytes() + CC_SOURCE.read_bytes() + headers
           + _kernels.HEADER.read_bytes()
           + f"{cc}|{cxx}".encode())
    return _kernels.build("gated-xla", steps, FLAG_SETS, key, directory)


def available() -> bool:
    """Whether the custom call is built and registered with XLA (done on the first call)."""
    global why_not
    if "ok" not in _state:
        try:
            path = build()
            lib = ctypes.cdll.LoadLibrary(str(path))
            jax.ffi.register_ffi_target(TARGET, jax.ffi.pycapsule(lib.droplab_gated_matmul),
                                        platform="cpu")
            jax.ffi.register_ffi_target(TARGET_BF16,
                                        jax.ffi.pycapsule(lib.droplab_gated_matmul_bf16),
                                        platform="cpu")
            _state.update(ok=True, path=path, lib=lib, bf16=bool(lib.gated_bf16_supported()))
        except (BuildError, OSError, AttributeError) as e:
            why_not = str(e)
            _state["ok"] = False
    return bool(_state["ok"])


def bf16_available() -> bool:
    """Whether the bfloat16 gated products are there too (built where the CPU has
    AVX512_BF16)."""
    return available() and bool(_state.get("bf16"))


def library_path() -> Path | None:
    return _state.get("path")


def _operands(a: jax.Array, b: jax.Array, dtype: Any, trans_a: bool) -> tuple[int, int]:
    """(m, k) of a product's operands, checked before the custom call (which checks again and
    returns InvalidArgument): 2-D arrays of ``dtype`` (else TypeError) whose inner sizes agree
    (else ValueError), in droplab's template, naming the argument."""
    for name, x in (("a", a), ("b", b)):
        if x.ndim != 2 or x.dtype != dtype:
            raise TypeError(_checks.invalid(name, f"a 2-D {jnp.dtype(dtype).name} array",
                                             f"{x.ndim}-D {x.dtype}, shape {tuple(x.shape)}"))
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    if b.shape[0] != k:
        raise ValueError(_checks.invalid("b", f"{k} rows (a's inner size)",
                                         tuple(b.shape)))
    return m, k


def product(a: jax.Array, b: jax.Array, *, trans_a: bool = False) -> jax.Array:
    """``a @ b`` (``a.T @ b`` with ``trans_a``) over the nonzeros of ``a``; 2-D float32, CPU."""
    m, _ = _operands(a, b, jnp.float32, trans_a)
    out = jax.ShapeDtypeStruct((m, b.shape[1]), jnp.float32)
    return jax.ffi.ffi_call(TARGET, out)(a, b, trans_a=trans_a)


def product_bf16(a: jax.Array, b: jax.Array, *, trans_a: bool = False) -> jax.Array:
    """``a @ b`` (``a.T @ b`` with ``trans_a``) over the nonzeros of ``a``: 2-D bfloat16 operands,
    float32 result (sums in float32, as XLA's and oneDNN's bfloat16 products), CPU."""
    m, _ = _operands(a, b, jnp.bfloat16, trans_a)
    out = jax.ShapeDtypeStruct((m, b.shape[1]), jnp.float32)
    return jax.ffi.ffi_call(TARGET_BF16, out)(a, b, trans_a=trans_a)


@jax.custom_vjp
def input_matmul(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x @ w`` for a layer whose input is not sparse: dense forward, gated backward."""
    return x @ w


def _input_fwd(x: jax.Array, w: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return x @ w, (x, w)


def _input_bwd(res: tuple[jax.Array, jax.Array], g: jax.Array) -> tuple[jax.Array, jax.Array]:
    x, w = res
    return product(g, w.T), product(g, x, trans_a=True).T


input_matmul.defvjp(_input_fwd, _input_bwd)


@jax.custom_vjp
def hidden_matmul(h: jax.Array, w: jax.Array) -> jax.Array:
    """``h @ w`` for a layer whose input ``h`` is a dropped hidden layer: gated both ways."""
    return product(h, w)


def _hidden_fwd(h: jax.Array, w: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return product(h, w), (h, w)


def _hidden_bwd(res: tuple[jax.Array, jax.Array], g: jax.Array) -> tuple[jax.Array, jax.Array]:
    h, w = res
    return product(g, w.T), product(h, g, trans_a=True)


hidden_matmul.defvjp(_hidden_fwd, _hidden_bwd)


# Mixed precision (bfloat16 operands, float32 results, as droplab.backends.jax.mixed.matmul):
# the same two products with the bfloat16 gated kernels wherever an operand is sparse.
_BF16 = jnp.bfloat16


def _dot_bf16(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.dot(a, b, preferred_element_type=jnp.float32)


@jax.custom_vjp
def mixed_input_matmul(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x @ w`` in mixed precision for the first layer: XLA's dense bfloat16 product forward,
    the weight gradient gated on the (sparse) gradient ``g``: ``dw = (g.T @ x).T``."""
    return _dot_bf16(x.astype(_BF16), w.astype(_BF16))


def _mixed_input_fwd(x: jax.Array, w: jax.Array) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    xb, wb = x.astype(_BF16), w.astype(_BF16)
    return _dot_bf16(xb, wb), (xb, wb)


def _mixed_input_bwd(res: tuple[jax.Array, ...], g: jax.Array) -> tuple[jax.Array, jax.Array]:
    xb, wb = res
    gb = g.astype(_BF16)
    # dx (the pixels' gradient) is dead code in training: XLA drops it.
    return _dot_bf16(gb, wb.T), product_bf16(gb, xb, trans_a=True).T


mixed_input_matmul.defvjp(_mixed_input_fwd, _mixed_input_bwd)


@jax.custom_vjp
def mixed_hidden_matmul(h: jax.Array, w: jax.Array) -> jax.Array:
    """``h @ w`` in mixed precision for a layer whose input ``h`` is a dropped hidden layer:
    gated on ``h`` forward, on the gradient ``g`` and on ``h.T`` backward."""
    return product_bf16(h.astype(_BF16), w.astype(_BF16))


def _mixed_hidden_fwd(h: jax.Array, w: jax.Array) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    hb, wb = h.astype(_BF16), w.astype(_BF16)
    return product_bf16(hb, wb), (hb, wb)


def _mixed_hidden_bwd(res: tuple[jax.Array, ...], g: jax.Array) -> tuple[jax.Array, jax.Array]:
    hb, wb = res
    gb = g.astype(_BF16)
    return product_bf16(gb, wb.T), product_bf16(hb, gb, trans_a=True)


mixed_hidden_matmul.defvjp(_mixed_hidden_fwd, _mixed_hidden_bwd)


def dot_general_for(matmul: Any) -> Any:
    """A ``lax.dot_general`` for ``flax.linen.Dense(dot_general=...)`` that sends Dense's 2-D
    product through ``matmul``; any other contraction is XLA's own."""

    def dot_general(lhs: jax.Array, rhs: jax.Array, dimension_numbers: Any,
                    precision: Any = None, preferred_element_type: Any = None) -> jax.Array:
        (lc, rc), (lb, rb) = dimension_numbers
        if lhs.ndim == 2 and rhs.ndim == 2 and tuple(lc) == (1,) and tuple(rc) == (0,) \
                and not lb and not rb and lhs.dtype == rhs.dtype == jnp.float32:
            return matmul(lhs, rhs)
        return lax.dot_general(lhs, rhs, dimension_numbers, precision=precision,
                               preferred_element_type=preferred_element_type)

    return dot_general


input_dot_general = dot_general_for(input_matmul)
hidden_dot_general = dot_general_for(hidden_matmul)
