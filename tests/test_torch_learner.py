"""The PyTorch learner on real Fashion-MNIST subsets: it learns, dropout is really on in training
and off in evaluation, both engines and the low-memory mode agree, checkpoints round-trip and a
resumed run equals an uninterrupted one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from droplab import backends
from droplab import data as droplab_data
from droplab.backends.torch.fast import threads
from droplab.backends.torch.step import PlainStep
from droplab.config import MLPConfig, TrainConfig

tb = backends.get("torch")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # The CPU is shared with other jobs; one thread keeps these small runs quick. The tests that
    # are about threads set their own counts.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def full() -> droplab_data.Arrays:
    try:
        return droplab_data.arrays()
    except droplab_data.DataError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"Fashion-MNIST is not available: {error}")


@pytest.fixture(scope="module")
def small(full) -> droplab_data.Arrays:
    return full.subset(5000, 2000)


@pytest.fixture(scope="module")
def tiny(full) -> droplab_data.Arrays:
    return full.subset(1024, 512)


def config(model="scratch", seed=0, batch_size=256, kernels="auto", **mlp) -> TrainConfig:
    return TrainConfig(backend="torch", model=model, seed=seed, batch_size=batch_size,
                       kernels=kernels, mlp=MLPConfig(**mlp))


@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_manual_engine_equals_autograd(tiny, kind):
    """The hand-written step computes autograd's gradients through the same masks."""
    cfg = config(kind, weight_decay=1e-3, batch_size=100)  # a partial last batch too
    manual = tb.learner(cfg, tiny)
    auto = tb.learner(dataclasses.replace(cfg, kernels="off"), tiny)
    assert type(auto.step) is PlainStep and type(manual.step) is not PlainStep
    for epoch in range(2):
        assert manual.train_epoch(epoch) == pytest.approx(auto.train_epoch(epoch), rel=1e-5)
    for k, v in manual.state_dict().items():
        np.testing.assert_allclose(v, auto.state_dict()[k], rtol=1e-4, atol=1e-6, err_msg=k)


def test_low_memory_mode_trains_identically(tiny):
    normal = tb.learner(config(kernels="off"), tiny)
    low = tb.TorchLearner(config(), tiny, low_memory=True)
    assert type(low.step) is PlainStep  # low memory is a feature of the book's autograd step
    assert low.train_epoch(0) == normal.train_epoch(0)
    for k, v in low.state_dict().items():
        np.testing.assert_array_equal(v, normal.state_dict()[k], err_msg=k)


def test_weight_decay_is_applied_to_weights_only():
    """One SGD step (one batch): ``grad += wd * W`` on weight matrices, biases untouched by wd.

    Zero inputs give W1 no loss gradient, so W1 shrinks by exactly (1 - lr * wd); every other
    weight differs from the no-decay step by exactly -lr * wd * W; biases do not differ at all.
    """
    rng = np.random.default_rng(0)
    data = droplab_data.Arrays(np.zeros((4, 6), np.float32), np.array([0, 1, 2, 3]),
                               rng.uniform(size=(2, 6)).astype(np.float32), np.array([0, 1]))
    shape = {"num_hiddens_1": 5, "num_hiddens_2": 5, "num_outputs": 4, "lr": 0.1}
    for kernels in ("auto", "off"):
        for kind in ("scratch", "concise"):
            plain = tb.learner(config(kind, weight_decay=0.0, kernels=kernels, **shape), data)
            decayed = tb.learner(config(kind, weight_decay=0.5, kernels=kernels, **shape), data)
            before = plain.state_dict()
            plain.train_epoch(0)
            decayed.train_epoch(0)
            p, d = plain.state_dict(), decayed.state_dict()
            np.testing.assert_allclose(d["lin1.weight"], before["lin1.weight"] * 0.95, rtol=1e-6)
            for k in ("lin2.weight", "lin3.weight"):
                np.testing.assert_allclose(d[k], p[k] - 0.05 * before[k], rtol=1e-5, atol=1e-7)
            for k in ("lin1.bias", "lin2.bias", "lin3.bias"):
                np.testing.assert_allclose(d[k], p[k], rtol=1e-6, atol=1e-8)


def test_scratch_masks_are_droplabs_dropout_layer(tiny):
    """The learner's scratch dropout is dropout_layer's mask code: same generator, same mask."""
    learner = tb.learner(config(dropout_1=0.3), tiny)
    x = tiny.val_x[:32]
    acts = learner.activations(x, training=True, seed=9)
    expected = tb.dropout_layer(torch.from_numpy(acts["h1"]), 0.3, seed=9).numpy()
    np.testing.assert_array_equal(acts["h1_dropped"], expected)


@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_manual_engine_results_do_not_depend_on_the_thread_count(tiny, kind):
    """What lets the thread tuner switch counts between epochs without changing results."""
    cfg = config(kind, weight_decay=1e-3, batch_size=200)
    runs = []
    for n in (1, 2):
        learner = tb.TorchLearner(cfg, tiny, threads=n)
        runs.append(([learner.train_epoch(e) for e in range(2)], learner.state_dict()))
    assert runs[0][0] == runs[1][0]
    for k, v in runs[0][1].items():
        np.testing.assert_array_equal(v, runs[1][1][k], err_msg=k)


class FakeClock:
    """perf_counter for the tuner: each step costs 4 ticks with 2 threads and 1 with 1 (or the
    reverse), whatever the machine is doing."""

    def __init__(self, slow: int) -> None:
        self.now, self.slow, self.seen = 0.0, slow, []

    def __call__(self) -> float:
        return self.now

    def step(self, item) -> None:
        n = torch.get_num_threads()
        self.seen.append(n)
        self.now += 4.0 if n == self.slow else 1.0


@pytest.mark.parametrize("slow", [2, 1])
def test_thread_tuner_keeps_the_faster_count_then_restores_torchs(monkeypatch, slow):
    clock = FakeClock(slow)
    monkeypatch.setattr(threads.time, "perf_counter", clock)
    torch.set_num_threads(2)
    try:
        tuner = threads.ThreadTuner("cpu", probe=3)
        tuner.run(range(10), clock.step)
        fast = 3 - slow
        assert clock.seen == [2, 1, 2, 1, 2, 1] + [fast] * 4  # probes interleaved, then the best
        assert tuner.chosen == fast == tuner.threads()
        assert torch.get_num_threads() == 2
        off = threads.ThreadTuner("cpu", enabled=False)
        clock.seen.clear()
        off.run(range(3), clock.step)
        assert clock.seen == [2, 2, 2] and off.threads() is None
    finally:
        torch.set_num_threads(1)


def test_learner_leaves_the_global_rng_alone(tiny):
    state = torch.get_rng_state()
    learner = tb.learner(config("concise"), tiny)
    learner.train_epoch(0)
    learner.predict(tiny.val_x[:8], training=True, seed=1)
    assert torch.equal(torch.get_rng_state(), state)


def test_bad_arguments_are_rejected_with_one_message(tiny):
    with pytest.raises(ValueError, match=r"^Invalid value for `noise`: expected one of 'dropout'"):
        tb.learner(config(noise="shot_noise"), tiny)
    with pytest.raises(ValueError, match=r"^Invalid value for `kernels`: expected one of"):
        config(kernels="jit")
    with pytest.raises(ValueError, match=r"^Invalid value for `low_memory`: expected False"):
        tb.TorchLearner(config("concise"), tiny, low_memory=True)
    with pytest.raises(ValueError, match=r"^Invalid value for `threads`: expected 'auto'"):
        tb.TorchLearner(config(), tiny, threads=0)
    learner = tb.learner(config(), tiny)
    with pytest.raises(ValueError, match=r"^Invalid value for `state`"):
        learner.load_state_dict({"lin1.weight": np.zeros((256, 784))})


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_ten_epochs_reach_the_books_accuracy(full, kind):
    """The chapter's run: dropout 0.5/0.5, lr 0.1, batch 256, 10 epochs -> val acc >= 0.84."""
    accs = []
    for seed in range(3):
        learner = tb.learner(config(kind, seed=seed), full)
        for epoch in range(10):
            learner.train_epoch(epoch)
        accs.append(learner.evaluate()[1])
    assert np.mean(accs) >= 0.84, accs


@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_mixed_bfloat16_learns_like_float32_with_float32_parameters(small, kind):
    """bfloat16 products (8-bit mantissas) change the path a little, not where it goes: same
    seed, same masks, 2 epochs on 5k; the parameters and the loss stay float32."""
    f32 = tb.learner(config(kind), small)
    mixed = tb.learner(TrainConfig(backend="torch", model=kind, precision="mixed_bfloat16"), small)
    assert mixed.train_x.dtype == torch.bfloat16
    losses = {n: [lr.train_epoch(e) for e in range(2)] for n, lr in (("f32", f32), ("mx", mixed))}
    # Measured, seeds 0-2, both models: second-epoch training loss within 7e-4 relative, val loss
    # within 1.1e-3 relative, val accuracy within 0.0025. Tolerances: about 5x those.
    assert losses["mx"][1] == pytest.approx(losses["f32"][1], rel=4e-3)
    (l32, a32), (lmx, amx) = f32.evaluate(), mixed.evaluate()
    assert lmx == pytest.approx(l32, rel=5e-3) and abs(amx - a32) <= 0.0125
    state = mixed.state_dict()
    assert all(v.dtype == np.float32 for v in state.values())
    assert mixed.predict(small.val_x[:4]).dtype == np.float32


def test_mixed_bfloat16_engines_agree_and_results_do_not_depend_on_threads(tiny):
    """The hand-written mixed step and autograd under torch.autocast round at the same places
    (bfloat16 outputs of the hidden products): their losses agree closely; and the manual
    engine's bfloat16 products, like its float32 ones, split no summed dimension across
    threads."""
    cfg = TrainConfig(backend="torch", precision="mixed_bfloat16", batch_size=100)
    manual = tb.learner(cfg, tiny)
    auto = tb.learner(dataclasses.replace(cfg, kernels="off"), tiny)
    assert manual.train_epoch(0) == pytest.approx(auto.train_epoch(0), rel=1e-2)
    from droplab import precision

    # The tuner may switch thread counts only where bfloat16 products are native (and checked
    # bit-stable, below); where oneDNN emulates them, torch's count is left alone.
    native = precision.native_bf16()
    assert tb.learner(cfg, tiny).step.tuner.enabled == native
    # Where bfloat16 is native: one thread and two give the same run, bit for bit. Elsewhere
    # the count is never switched, and two runs on one thread must still agree bit for bit.
    runs = []
    for n in ((1, 2) if native else (1, 1)):
        learner = tb.TorchLearner(cfg, tiny, threads=n)
        runs.append((learner.train_epoch(0), learner.state_dict()))
    assert runs[0][0] == runs[1][0]
    for k, v in runs[0][1].items():
        np.testing.assert_array_equal(v, runs[1][1][k], err_msg=k)


def test_flat_mixed_step_matches_the_per_parameter_mixed_step(tiny):
    """FlatMixedMLP (one buffer, one cast, one add_) rounds where ManualMLP(compute=bfloat16)
    does, bar the bias gradients' sums (bfloat16 here): same masks, nearly the same run; and the
    learner's parameter tensors become views of its buffer, so checkpoints see every update."""
    from droplab.backends.torch.fast.manual import ManualMLP, scratch_drop
    from droplab.backends.torch.fast.mixed import FlatMixedMLP

    cfg = TrainConfig(backend="torch", precision="mixed_bfloat16")
    flat = tb.learner(cfg, tiny)
    flat.step.model = FlatMixedMLP(flat.params, cfg.mlp, 256)  # not the fused one it may pick
    assert type(flat.step.model) is FlatMixedMLP
    per_param = tb.learner(cfg, tiny)
    per_param.step.model = ManualMLP(per_param.params, cfg.mlp, 256, torch.bfloat16)
    for epoch in range(2):
        assert flat.train_epoch(epoch) == pytest.approx(per_param.train_epoch(epoch), rel=1e-3)
    for k, v in flat.state_dict().items():
        np.testing.assert_allclose(v, per_param.state_dict()[k], rtol=0.02, atol=2e-3, err_msg=k)
    master = flat.step.model.flat.master
    assert all(t.untyped_storage().data_ptr() == master.untyped_storage().data_ptr()
               for t in flat.params.values())
    state = flat.state_dict()
    flat.load_state_dict({k: np.zeros_like(v) for k, v in state.items()})
    assert float(master.abs().max()) == 0.0
    flat.load_state_dict(state)
    drop = scratch_drop(None)
    X, y = flat.train_x[:8], flat.train_y[:8]
    flat.step.model.step(X, y, drop, torch.zeros(()))
    assert not np.array_equal(flat.state_dict()["lin1.weight"], state["lin1.weight"])
