"""The CLI's JAX compilation cache: on under droplab's cache unless the user configured one."""

from __future__ import annotations

import pytest

jax = pytest.importorskip("jax")

from droplab.backends.jax import compile_cache


@pytest.fixture
def restore_jax_config():
    keys = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
    before = {k: getattr(jax.config, k) for k in keys}
    yield
    for k, v in before.items():
        jax.config.update(k, v)


def test_enable_uses_droplabs_cache_and_respects_the_users_choice(
        tmp_path, monkeypatch, restore_jax_config):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("DROPLAB_JAX_CACHE", "0")
    assert compile_cache.enable(tmp_path / "off") is None
    monkeypatch.delenv("DROPLAB_JAX_CACHE")
    jax.config.update("jax_compilation_cache_dir", None)
    assert compile_cache.enable(tmp_path / "jax") == tmp_path / "jax"
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "jax")
    assert jax.config.jax_persistent_cache_min_compile_time_secs == pytest.approx(0.1)
    # A cache already configured (here: the one just set) is left as it is.
    assert compile_cache.enable(tmp_path / "other") is None
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "jax")
    jax.config.update("jax_compilation_cache_dir", None)
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "users"))
    assert compile_cache.enable(tmp_path / "mine") is None
