"""state_dict / load_state_dict / save / load: names, all-or-nothing loading, safe files."""

from __future__ import annotations

import os
import re
import zipfile

import numpy as np
import pytest

from tinygrad_edu import Tensor, manual_seed, nn


def make_model(seed: int = 0) -> nn.Sequential:
    manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


KEYS = {
    "0.weight": (4, 3), "0.bias": (4,),
    "1.weight": (4,), "1.bias": (4,), "1.running_mean": (4,), "1.running_var": (4,),
    "1.num_batches_tracked": (),
    "3.weight": (2, 4), "3.bias": (2,),
}


def snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same_state(model: nn.Module, state: dict[str, np.ndarray]) -> None:
    current = model.state_dict()
    assert list(current) == list(state)
    for key, value in state.items():
        np.testing.assert_array_equal(current[key], value, err_msg=key)
        assert current[key].dtype == value.dtype, key


def test_keys_shapes_and_order_are_pytorchs():
    state = make_model().state_dict()
    assert list(state) == list(KEYS)
    assert {k: v.shape for k, v in state.items()} == KEYS
    assert state["1.num_batches_tracked"].dtype == np.int64
    assert state["0.weight"].dtype == np.float32


def test_state_dict_holds_copies():
    model = make_model()
    state = model.state_dict()
    state["0.weight"][...] = 123.0
    assert not np.any(model[0].weight.data == 123.0)


def test_round_trip_in_memory_and_through_a_file(tmp_path):
    source = make_model(seed=1)
    source(Tensor(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)))  # moves stats
    source.eval()
    path = tmp_path / "model.npz"
    assert source.save(path) is None
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(KEYS)

    target = make_model(seed=2).eval()
    x = Tensor(np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32))
    assert not np.allclose(target(x).data, source(x).data)
    assert target.load(path) is target
    assert_same_state(target, source.state_dict())
    np.testing.assert_array_equal(target(x).data, source(x).data)

    again = make_model(seed=3).eval()
    assert again.load_state_dict(source.state_dict()) == ([], [])
    np.testing.assert_array_equal(again(x).data, source(x).data)


def test_save_into_a_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder.*missing"):
        make_model().save(tmp_path / "missing" / "model.npz")


def test_save_writes_exactly_the_given_name(tmp_path):
    make_model().save(tmp_path / "weights")
    assert os.listdir(tmp_path) == ["weights"]
    make_model().load(str(tmp_path / "weights"))


def test_loaded_arrays_are_copies_cast_to_the_models_dtype():
    model = make_model()
    state = {k: v.astype(np.float64) if v.dtype == np.float32 else v
             for k, v in make_model(seed=5).state_dict().items()}
    model.load_state_dict(state)
    assert model[0].weight.dtype == np.float32
    np.testing.assert_allclose(model[0].weight.data, state["0.weight"], rtol=1e-6)
    state["0.weight"][...] = 0.0
    assert not np.all(model[0].weight.data == 0.0)
    model.load_state_dict({**state, "0.bias": Tensor(np.ones(4))})  # Tensors are fine too
    np.testing.assert_array_equal(model[0].bias.data, 1.0)


def test_strict_load_names_every_problem_and_changes_nothing():
    model = make_model()
    before = snapshot(model)
    bad = make_model(seed=9).state_dict()
    del bad["1.running_var"], bad["3.bias"]
    bad["extra.weight"] = np.zeros(2)
    bad["0.weight"] = np.zeros((3, 4))
    bad["1.bias"] = np.zeros(5)
    with pytest.raises(nn.StateDictError) as caught:
        model.load_state_dict(bad)
    message = str(caught.value)
    assert 'Missing key(s) in state_dict: "1.running_var", "3.bias".' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in message
    assert re.search(r"size mismatch for 0\.weight: .*shape \(3, 4\) .*current model is \(4, 3\)",
                     message)
    assert "size mismatch for 1.bias" in message
    assert "nothing was loaded" in message
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, RuntimeError)
    assert_same_state(model, before)


def test_non_strict_load_reports_keys_and_loads_what_matches():
    model = make_model()
    other = make_model(seed=4).state_dict()
    partial = {k: v for k, v in other.items() if k.startswith("0.")}
    partial["head.weight"] = np.zeros(1)
    result = model.load_state_dict(partial, strict=False)
    assert result.missing_keys == [k for k in KEYS if not k.startswith("0.")]
    assert result.unexpected_keys == ["head.weight"]
    np.testing.assert_array_equal(model[0].weight.data, other["0.weight"])
    assert not np.array_equal(model[3].weight.data, other["3.weight"])


def test_non_strict_load_still_refuses_shape_mismatches():
    model = make_model()
    before = snapshot(model)
    state = make_model(seed=6).state_dict()
    state["3.weight"] = np.zeros((4, 2))
    with pytest.raises(ValueError, match="size mismatch for 3.weight"):
        model.load_state_dict(state, strict=False)
    assert_same_state(model, before)  # 0.weight etc. were not loaded either


def test_non_numeric_values_are_refused():
    model = make_model()
    state = model.state_dict()
    state["0.bias"] = np.array(["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="0.bias has dtype <U1"):
        model.load_state_dict(state)
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([("0.bias", np.zeros(4))])


# ------------------------------------------------------------------------ files that are not right


def test_missing_file(tmp_path):
    path = tmp_path / "nothing.npz"
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        make_model().load(path)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_truncated_file_names_the_file_and_changes_nothing(tmp_path, fraction):
    path = tmp_path / "model.npz"
    make_model(seed=1).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    model = make_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match=re.escape(repr(str(path)))):
        model.load(path)
    assert_same_state(model, before)


def test_corrupted_member_is_reported(tmp_path):
    path = tmp_path / "model.npz"
    make_model(seed=1).save(path)
    data = bytearray(path.read_bytes())
    data[200:260] = bytes(60)  # inside the first array's bytes: the CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        make_model().load(path)


def test_foreign_files_name_the_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("these are not weights\n")
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, **{"0.weight": np.array([{"a": 1}], dtype=object)})
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    for path, pattern in [(text, "not a readable checkpoint"), (npy, "one .npy array"),
                          (pickled, "not a readable checkpoint"),
                          (other, '(?s)does not fit this module.*Unexpected key.*"weights"')]:
        model = make_model()
        before = snapshot(model)
        with pytest.raises(ValueError, match=pattern) as caught:
            model.load(path)
        assert str(path) in str(caught.value)
        assert_same_state(model, before)


# ------------------------------------------------------------------------ atomic save


@pytest.fixture
def failing_write(monkeypatch):
    """Make the third array written fail after some bytes are out (a full disk, say)."""
    original = np.lib.format.write_array
    calls = []

    def write_array(file, array, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            file.write(b"partial bytes")
            raise OSError(28, "No space left on device")
        return original(file, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)


def test_failed_save_leaves_no_file(tmp_path, failing_write):
    path = tmp_path / "model.npz"
    with pytest.raises(OSError, match="No space left"):
        make_model().save(path)
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    make_model(seed=1).save(path)
    old_bytes = path.read_bytes()
    original = np.lib.format.write_array

    def broken(file, array, **kwargs):
        raise KeyboardInterrupt  # even an interrupt must not leave a half-written file

    monkeypatch.setattr(np.lib.format, "write_array", broken)
    with pytest.raises(KeyboardInterrupt):
        make_model(seed=2).save(path)
    monkeypatch.setattr(np.lib.format, "write_array", original)
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["model.npz"]
    assert_same_state(make_model().load(path), make_model(seed=1).state_dict())


def test_saved_file_is_a_plain_npz_archive(tmp_path):
    path = tmp_path / "model.npz"
    make_model().save(path)
    assert zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(f"{k}.npy" for k in KEYS)
