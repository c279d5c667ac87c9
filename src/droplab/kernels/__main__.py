"""``python -m droplab.kernels``: build the compiled kernels of every installed backend ahead
(``make env`` does), printing where each is, or why it cannot be built (the backends then use
their dense products)."""

from __future__ import annotations

from droplab import backends


def main() -> None:
    if backends.installed("torch"):
        from droplab.backends.torch.fast import gated as torch_gated

        k = torch_gated.load()
        print(f"torch gated kernels: {k.path}" if k else
              f"torch gated kernels unavailable ({torch_gated.why_not}): dense products")
        import torch

        from droplab.backends.torch.fast import fused as torch_fused

        f = torch_fused.load(torch.bfloat16)
        print(f"torch fused kernels: {f.path} (bfloat16 gated products: "
              f"{'yes' if f.gated else 'no, this CPU has no AVX512_BF16'})" if f else
              f"torch fused kernels unavailable ({torch_fused.why_not}): PyTorch's ops")
    if backends.installed("jax"):
        from droplab.backends.jax import gated as jax_gated

        ok = jax_gated.available()
        print(f"jax gated kernels: {jax_gated.library_path()}" if ok else
              f"jax gated kernels unavailable ({jax_gated.why_not}): dense products")


if __name__ == "__main__":
    main()
