"""Nothing lost, nothing silent (issue 14): the trainer's and the CLI's promises, each reproduced.

The run-folder tests train :mod:`reliability_learner` (a small deterministic NumPy learner) in
child processes, so a kill is a real kill; the label checks run every framework.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from droplab.cli.main import main
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays, DataValueError, UnscaledDataWarning
from droplab.train import ResumeError, RunFolderBusy, fit
from droplab.train.lock import FolderLock

HERE = Path(__file__).parent
SCRIPT = str(HERE / "reliability_learner.py")
sys.path.insert(0, str(HERE))
import reliability_learner


def train(out: Path, epochs: int, *extra: str, env: dict | None = None,
          umask: int | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, SCRIPT, str(out), str(epochs), *extra]
    if umask is not None:  # set by a shell, not preexec_fn: a fork beside JAX's threads warns
        argv = ["sh", "-c", f'umask {umask:03o}; exec "$0" "$@"', *argv]
    return subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})


def final_state(out: Path) -> tuple[bytes, list]:
    with np.load(out / "checkpoint.npz") as ckpt:
        w = ckpt["w"].tobytes()
    rows = json.loads((out / "metrics.json").read_text())
    return w, [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("droplab: error: "), err
    return lines[0]


# -- 1. labels and pixels ------------------------------------------------------------------------

def images(n: int = 6) -> np.ndarray:
    return np.random.default_rng(0).random((n, 784), dtype=np.float32)


@pytest.mark.parametrize("label", [10, 255, -1, 1_000_000_000])
def test_a_label_out_of_range_is_refused_with_its_index(label):
    y = np.array([0, 1, 2, label, 4, 5])
    with pytest.raises(DataValueError, match=rf"`train_y`: expected labels in \[0, 10\), "
                                             rf"received train_y\[3\]={label}$"):
        Arrays(images(), y, images(), np.zeros(6, np.int64))


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_every_backend_refuses_a_1e9_label_before_its_kernels(framework, precision):
    """The check comes first whatever the backend and precision: fit raises, nothing crashes.
    With num_outputs=5 the labels 5-9 of valid data are out of range for the model."""
    if precision == "mixed_bfloat16" and framework.NAME not in ("torch", "jax"):
        precision = "float32"
    y = np.array([0, 1, 2, 3, 4, 9])
    data = Arrays(images(), y, images(), np.zeros(6, np.int64))
    config = TrainConfig(backend=framework.NAME, epochs=1, precision=precision,
                         mlp=MLPConfig(num_outputs=5))
    with pytest.raises(DataValueError, match=r"received train_y\[5\]=9"):
        fit(config, data, quiet=True)
    with pytest.raises(DataValueError, match=r"train_y\[0\]=1000000000"):
        Arrays(images(), np.array([1_000_000_000, 0, 0, 0, 0, 0]), images(),
               np.zeros(6, np.int64))


def test_nan_pixels_empty_splits_and_mismatched_features_are_refused():
    x = images()
    x[2, 17] = np.nan
    with pytest.raises(DataValueError, match=r"expected finite pixels, received train_x\[2, 17\]"):
        Arrays(x, np.zeros(6, np.int64), images(), np.zeros(6, np.int64))
    with pytest.raises(DataValueError, match="the val split is empty"):
        Arrays(images(), np.zeros(6, np.int64), images(0), np.zeros(0, np.int64))
    with pytest.raises(DataValueError, match="expected 784 features"):
        Arrays(images(), np.zeros(6, np.int64), images()[:, :700], np.zeros(6, np.int64))
    with pytest.raises(DataValueError, match="expected integer class labels"):
        Arrays(images(), np.zeros(6), images(), np.zeros(6, np.int64))


def test_unscaled_pixels_warn_naming_the_likely_cause():
    with pytest.warns(UnscaledDataWarning, match=r"0-255 images not divided by 255"):
        Arrays(images() * 255, np.zeros(6, np.int64), images(), np.zeros(6, np.int64))


# -- 2. one owner per run folder -----------------------------------------------------------------

def test_two_trainings_on_one_folder_one_wins_the_other_refuses(tmp_path):
    out = tmp_path / "run"
    procs = [subprocess.Popen([sys.executable, SCRIPT, str(out), "3", "--sleep", "0.5"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        results.append((p.returncode, err))
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "is in use by another droplab run (pid " in one_error_line(loser)
    assert len(json.loads((out / "metrics.json").read_text())) == 3
    assert TrainConfig.load(out / "config.json").epochs == 3


def test_a_held_folder_is_refused_and_a_dead_owner_leaves_no_stale_lock(tmp_path, monkeypatch):
    reliability_learner.install(monkeypatch)
    with FolderLock(tmp_path), pytest.raises(RunFolderBusy, match=f"pid {os.getpid()}"):
        fit(TrainConfig(epochs=1), reliability_learner.tiny_data(), tmp_path, quiet=True)
    # A killed owner: the kernel drops its flock, so the next run proceeds.
    proc = subprocess.Popen([sys.executable, SCRIPT, str(tmp_path / "k"), "50", "--sleep", "1"])
    time.sleep(3)
    proc.kill()
    proc.wait()
    assert (tmp_path / "k" / ".lock").exists()
    assert train(tmp_path / "k", 50, "--resume").returncode == 0


# -- 3. epochs committed whole: a kill at every write point --------------------------------------

def test_a_kill_at_every_write_point_then_resume_ends_bit_identical(tmp_path):
    epochs = 3
    reference = tmp_path / "reference"
    log = tmp_path / "points.txt"
    assert train(reference, epochs, env={"DROPLAB_FAULT_LOG": str(log)}).returncode == 0
    points = log.read_text().splitlines()
    assert len(points) >= 2 + 8 * epochs  # config, then per epoch checkpoint/metrics/run, twice
    expected = final_state(reference)
    for n, point in enumerate(points, start=1):
        out = tmp_path / f"kill{n}"
        killed = train(out, epochs, env={"DROPLAB_FAULT_AT": str(n)})
        assert killed.returncode == 86, (point, killed.stderr)
        again = ["--resume"] if (out / "config.json").exists() else []
        resumed = train(out, epochs, *again)
        assert resumed.returncode == 0, (point, resumed.stderr)
        assert final_state(out) == expected, point
        assert json.loads((out / "run.json").read_text())["status"] == "finished"
        assert not list(out.glob(".*.tmp")), "the killed writer's temporary copy is cleaned up"


# -- 4. files respect the umask ------------------------------------------------------------------

@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_files_respect_the_umask(tmp_path, umask, mode):
    out = tmp_path / "run"
    assert train(out, 1, umask=umask).returncode == 0
    for name in ("config.json", "metrics.json", "metrics.csv", "run.json", "checkpoint.npz",
                 "curves.png", "curves.svg"):
        assert (out / name).stat().st_mode & 0o777 == mode, name


# -- 5, 6, 8. one line and exit 2 for what the user can fix --------------------------------------

def test_out_at_a_file_or_under_one_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out, says in ((blocker, "is a file, not a folder"),
                      (blocker / "run", "lies under a file")):
        done = train(out, 1)
        assert done.returncode == 2 and says in one_error_line(done.stderr)
    assert blocker.read_text() == "x"


@pytest.mark.parametrize(("device", "says"), [
    ("cuda", "--device cuda: {backend} sees no GPU on this machine"),
    ("tpu", ("Invalid value for `device`: expected 'cpu', 'cuda' or 'cuda:N', received "
            "device='tpu'")),
])
def test_an_unusable_device_is_one_line(device, says, tmp_path, capsys):
    from droplab import backends

    backend = "torch" if backends.installed("torch") else "mxnet"  # the MXNet environment's
    assert main(["train", "--backend", backend, "--device", device, "--out", str(tmp_path / "r"),
                 "--quiet"]) == 2
    assert says.format(backend=backend) in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "r").exists()


def test_resume_with_damaged_or_missing_files_is_one_line_that_says_what_to_do(tmp_path):
    out = tmp_path / "run"
    assert train(out, 2).returncode == 0
    good = {n: (out / n).read_bytes() for n in ("config.json", "metrics.json", "checkpoint.npz")}

    (out / "config.json").write_text('{"backend": "torch", "epo')
    done = train(out, 3, "--resume")
    assert done.returncode == 2
    assert "config.json is damaged" in one_error_line(done.stderr)
    (out / "config.json").write_bytes(good["config.json"])

    (out / "checkpoint.npz").write_bytes(good["checkpoint.npz"][:100])
    done = train(out, 3, "--resume")
    assert done.returncode == 2 and "checkpoint.npz is damaged" in one_error_line(done.stderr)

    (out / "checkpoint.npz").unlink()
    done = train(out, 3, "--resume")
    assert done.returncode == 2 and "checkpoint.npz is missing" in one_error_line(done.stderr)
    (out / "checkpoint.npz").write_bytes(good["checkpoint.npz"])

    # metrics.json is a view of the checkpoint: a damaged one is rebuilt, nothing is refused.
    (out / "metrics.json").write_text("[{")
    assert train(out, 3, "--resume").returncode == 0
    assert [r["epoch"] for r in json.loads((out / "metrics.json").read_text())] == [1, 2, 3]


def test_resume_with_fewer_epochs_than_done_refuses(tmp_path):
    out = tmp_path / "run"
    assert train(out, 3).returncode == 0
    done = train(out, 2, "--resume")
    assert done.returncode == 2
    assert "already holds 3 finished epochs; pass --epochs 3 or more" in one_error_line(
        done.stderr)
    assert TrainConfig.load(out / "config.json").epochs == 3


def test_resume_mismatch_names_only_the_differing_key(tmp_path, monkeypatch):
    reliability_learner.install(monkeypatch)
    data = reliability_learner.tiny_data()
    fit(TrainConfig(epochs=1), data, tmp_path, quiet=True)
    with pytest.raises(ResumeError) as info:
        fit(TrainConfig(epochs=2, mlp=MLPConfig(lr=0.3)), data, tmp_path, resume=True, quiet=True)
    message = str(info.value)
    assert "mlp.lr (saved 0.1, requested 0.3)" in message and "dropout" not in message
    assert len(message) < 250


# -- 7. divergence -------------------------------------------------------------------------------

def test_divergence_stops_with_its_own_status_exit_3_and_strict_json(tmp_path):
    out = tmp_path / "run"
    done = train(out, 5, "--diverge-at", "1")
    assert done.returncode == 3
    assert "try a lower learning rate than --lr 0.5" in done.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "diverged" and run["epochs_done"] == 2

    def refuse(token):
        raise ValueError(f"non-strict JSON: {token}")

    rows = json.loads((out / "metrics.json").read_text(), parse_constant=refuse)
    assert rows[1]["train_loss"] is None and rows[0]["train_loss"] is not None


# -- 8. SIGTERM ----------------------------------------------------------------------------------

def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, SCRIPT, str(out), "50", "--sleep", "0.4"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "metrics.json").exists() and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "terminated" and run["epochs_done"] >= 1
    assert (out / "curves.png").exists()
    assert "--resume" in err


# -- sweeps: damaged files, one owner, one experiment, arguments checked first -------------------

def experiment(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "droplab.cli.experiment_cmd", *args],
                          capture_output=True, text=True, check=False)


def smoke(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return experiment("experiment", "run", "smoke", "--quick", "--out", str(out), "--workers",
                      "1", "--quiet", *extra)


def test_a_damaged_run_file_is_named_moved_aside_and_redone(tmp_path):
    out = tmp_path / "sweep"
    assert smoke(out).returncode == 0
    runs = sorted((out / "runs").glob("*.json"))
    before = runs[0].read_text()
    runs[0].write_text(before[: len(before) // 2])
    again = smoke(out)
    assert again.returncode == 0, again.stderr
    assert f"{runs[0]} is damaged (JSONDecodeError)" in again.stderr
    assert "1 runs done now" in again.stdout
    assert json.loads(runs[0].read_text())["metrics"] == json.loads(before)["metrics"]
    assert runs[0].with_name(runs[0].name + ".damaged").exists()


def test_report_rebuilds_a_results_csv_cut_mid_line(tmp_path):
    out = tmp_path / "sweep"
    assert smoke(out).returncode == 0
    whole = (out / "results.csv").read_text()
    (out / "results.csv").write_text(whole[: len(whole) - 7])
    done = experiment("report", str(out))
    assert done.returncode == 0, done.stderr
    assert "rebuilt from" in done.stderr
    assert (out / "results.csv").read_text() == whole
    (out / "experiment.json").write_text('{"experiment": "sm')  # the manifest only adds detail
    done = experiment("report", str(out))
    assert done.returncode == 0, done.stderr
    done = experiment("report", str(out / "results.csv"))
    assert done.returncode == 2
    assert "results.csv is a file, not an experiment folder" in one_error_line(done.stderr)


def test_workers_0_is_refused_before_anything_is_printed_or_written(tmp_path):
    done = smoke(tmp_path / "sweep", "--workers", "0")
    assert done.returncode == 2 and done.stdout == ""
    assert "Invalid value for `workers`" in one_error_line(done.stderr)
    assert not (tmp_path / "sweep").exists()


def test_another_experiment_cannot_share_a_folder(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "experiment.json").write_text('{"experiment": "weight-decay"}')
    done = smoke(out)
    assert done.returncode == 2
    assert "holds experiment 'weight-decay'; 'smoke' cannot share its folder" in one_error_line(
        done.stderr)
    assert json.loads((out / "experiment.json").read_text()) == {"experiment": "weight-decay"}


def test_a_second_sweep_on_a_held_folder_is_refused(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    with FolderLock(out, what="experiment"):
        done = smoke(out)
    assert done.returncode == 2
    assert "is in use by another droplab experiment" in one_error_line(done.stderr)


def test_a_directory_where_a_data_file_should_be_is_named_with_the_fix(tmp_path, capsys):
    (tmp_path / "train-images-idx3-ubyte.gz").mkdir()
    assert main(["data", "verify", "--data-dir", str(tmp_path)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "train-images-idx3-ubyte.gz: is a directory where the data file should be" in line
    assert "droplab data fetch" in line and "not found" not in line
