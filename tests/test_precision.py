"""droplab.precision and TrainConfig.precision, framework-free: what "auto" resolves to, which
backends accept mixed_bfloat16, and that old run folders (no precision field) load as float32."""

from __future__ import annotations

import json

import pytest

from droplab import precision
from droplab.cli.main import main
from droplab.config import TrainConfig


@pytest.fixture
def cpu_has_bf16(monkeypatch):
    def set_to(value: bool) -> None:
        monkeypatch.setattr(precision, "native_bf16", lambda: value)
    return set_to


@pytest.mark.parametrize(("native", "backend", "device", "expected"), [
    (True, "torch", "cpu", "mixed_bfloat16"),
    (True, "jax", "cpu", "mixed_bfloat16"),
    (True, "tensorflow", "cpu", "float32"),  # no mixed learner there
    (True, "mxnet", "cpu", "float32"),
    (True, "torch", "cuda:0", "float32"),  # auto decides for CPUs only
    (False, "torch", "cpu", "float32"),
    (False, "jax", "cpu", "float32"),
])
def test_auto_picks_mixed_only_where_the_cpu_and_backend_have_it(
        cpu_has_bf16, native, backend, device, expected):
    cpu_has_bf16(native)
    assert precision.resolve("auto", backend, device) == expected


def test_an_explicit_precision_is_kept_or_refused_in_one_message(cpu_has_bf16):
    cpu_has_bf16(False)
    assert precision.resolve("mixed_bfloat16", "torch") == "mixed_bfloat16"  # the user's call
    assert precision.resolve("float32", "jax") == "float32"
    with pytest.raises(ValueError, match=r"^Invalid value for `precision`: expected 'float32' "
                                         r"for backend 'tensorflow'"):
        precision.resolve("mixed_bfloat16", "tensorflow")
    with pytest.raises(ValueError, match=r"^Invalid value for `precision`: expected one of"):
        precision.resolve("float16", "torch")


def test_train_config_checks_and_round_trips_the_precision(tmp_path):
    cfg = TrainConfig(backend="jax", precision="mixed_bfloat16")
    cfg.save(tmp_path / "config.json")
    assert TrainConfig.load(tmp_path / "config.json") == cfg
    with pytest.raises(ValueError, match="Invalid value for `precision`"):
        TrainConfig(backend="mxnet", precision="mixed_bfloat16")
    with pytest.raises(ValueError, match="Invalid value for `precision`"):
        TrainConfig(precision="auto")  # auto is resolved before a config exists


def test_a_config_saved_before_precision_existed_loads_as_float32(tmp_path):
    old = TrainConfig().to_dict()
    old.pop("precision")
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert TrainConfig.load(tmp_path / "config.json").precision == "float32"


def test_native_bf16_reads_the_cpu_flags(monkeypatch, tmp_path):
    import platform
    from pathlib import Path

    precision.native_bf16.cache_clear()
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    for flags, expected in (("fpu avx2 fma", False), ("fpu avx512f avx512_bf16", True),
                            ("fpu amx_bf16 amx_tile", True)):
        text = f"processor\t: 0\nflags\t\t: {flags}\n"
        monkeypatch.setattr(Path, "read_text", lambda self, errors=None, t=text: t)
        precision.native_bf16.cache_clear()
        assert precision.native_bf16() is expected, flags
    precision.native_bf16.cache_clear()


def test_cli_refuses_mixed_for_a_backend_without_it_in_one_line(capsys):
    assert main(["train", "--backend", "tensorflow", "--precision", "mixed_bfloat16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("droplab: error: Invalid value for `precision`")
