"""The tinygrad-edu command: help, errors without tracebacks, and each subcommand end to end."""

import subprocess
import sys

import pytest
from mnist_files import needs_mnist

import tinygrad_edu.data.mnist as mnist
import tinygrad_edu.proofs as proofs
from tinygrad_edu import Function, Tensor
from tinygrad_edu.cli import main


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tinygrad_edu", *args], capture_output=True,
                          text=True, timeout=600, env=env)


def test_help_lists_the_subcommands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("train", "evaluate", "gradcheck", "download"):
        assert command in result.stdout


@pytest.mark.parametrize("args, message", [
    (["train", "--epochs", "0"], "--epochs: must be >= 1, got 0"),
    (["train", "--lr", "fast"], "--lr: expected a number, got 'fast'"),
    (["train", "--model", "resnet"], "invalid choice: 'resnet'"),
    (["train", "--dropout", "1.5"], r"--dropout: must be in [0, 1), got 1.5"),
    (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["evaluate"], "the following arguments are required: --checkpoint"),
])
def test_bad_arguments_exit_2_with_one_message_and_no_traceback(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_is_one_clear_message(tmp_path):
    missing = tmp_path / "nowhere"
    result = run("train", "--data-dir", str(missing), "--no-verify")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(missing) in result.stderr


def test_corrupt_checkpoint_is_one_clear_message(tmp_path):
    bad = tmp_path / "checkpoint.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    result = run("evaluate", "--checkpoint", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(bad) in result.stderr


def test_gradcheck_prints_a_passing_row_per_rule(capsys):
    assert main(["gradcheck", "conv2d", "max_pool2d", "Linear", "cross_entropy"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    results = {row[0]: row[-1] for row in rows if row and row[-1] in ("pass", "FAIL")}
    assert results == {"conv2d": "pass", "max_pool2d": "pass", "Linear": "pass",
                       "cross_entropy": "pass"}


def test_gradcheck_rejects_unknown_rules(capsys):
    assert main(["gradcheck", "fft"]) == 1
    assert "unknown op(s) fft" in capsys.readouterr().err


def test_download_without_network_fails_clearly(tmp_path, monkeypatch, capsys):
    # A closed port on this machine stands in for an unreachable mirror: no internet is used.
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", ("http://127.0.0.1:9/mnist/",))
    assert main(["download", "--dest", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert "http://127.0.0.1:9/mnist/" in error
    assert list(tmp_path.iterdir()) == []


@needs_mnist
def test_train_then_evaluate_a_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "softmax", "--epochs", "1", "--limit", "2000",
                 "--out", str(out), "--no-verify"]) == 0
    printed = capsys.readouterr().out
    assert "epoch 1/1" in printed and "test accuracy" in printed
    assert (out / "metrics.json").is_file() and (out / "model.npz").is_file()
    assert main(["evaluate", "--checkpoint", str(out)]) == 0
    report = capsys.readouterr().out
    assert "per-class accuracy" in report and "confusion matrix" in report
    assert main(["evaluate", "--checkpoint", str(out / "model.npz")]) == 0


class WrongSquare(Function):
    """y = x^2 with a backward rule 1 % too large: dy/dx = 2.02 x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2.02 * x


def wrong_rule(rng):
    return WrongSquare.apply, (Tensor(rng.uniform(0.5, 1.0, (2, 2)), requires_grad=True),)


def test_a_wrong_rule_fails_the_gradcheck_command_with_its_report(monkeypatch, capsys):
    monkeypatch.setitem(proofs.CATALOGUE, "square", wrong_rule)
    assert main(["gradcheck", "square"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "analytic" in out and "numerical" in out


@needs_mnist
def test_a_wrong_rule_stops_training_before_the_first_epoch(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(proofs.CATALOGUE, "Linear", wrong_rule)
    assert main(["train", "--model", "softmax", "--limit", "256", "--epochs", "1",
                 "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "Linear" in captured.err
    assert "Traceback" not in captured.err
    assert not (tmp_path / "metrics.json").exists()
