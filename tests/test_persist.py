"""ihomer.save / ihomer.load: a reloaded model predicts and learns exactly like the original; a
corrupt, truncated, foreign or wrongly keyed file is one clear error; writes are atomic."""

from __future__ import annotations

import pytest
from river import datasets

import ihomer
from ihomer.checkpoint import save_checkpoint
from ihomer.persist import ModelFileError, saved_info


@pytest.fixture(scope="module")
def yeast():
    return list(datasets.Yeast().take(700))


def _trained(data):
    model = ihomer.IHOMER()
    for x, y in data:
        model.predict_one(x)
        model.learn_one(x, y)
    return model


def test_a_loaded_model_predicts_and_keeps_learning_identically(tmp_path, yeast):
    model = _trained(yeast[:400])
    path = tmp_path / "sub" / "yeast.ihomer"
    assert ihomer.save(model, path) == path.stat().st_size
    again = ihomer.load(path)
    assert type(again) is ihomer.IHOMER and again is not model
    assert again.partition == model.partition and again.n_learned == 400
    for x, y in yeast[400:]:
        assert again.predict_proba_one(x) == model.predict_proba_one(x)
        assert again.predict_one(x) == model.predict_one(x)
        again.learn_one(x, y)
        model.learn_one(x, y)
    info = saved_info(path)
    assert info["kind"] == "ihomer-model" and info["class"] == "ihomer.model.IHOMER"
    assert info["n_learned"] == 400 and info["labels"][:2] == ["Class1", "Class2"]
    assert info["ihomer_version"] == ihomer.__version__


def test_an_untrained_model_and_any_river_model_round_trip(tmp_path, yeast):
    ihomer.save(ihomer.IHOMER(n_min=30), tmp_path / "u")
    fresh = ihomer.load(tmp_path / "u")
    assert fresh.n_min == 30 and fresh.predict_one({"a": 1.0}) == {}
    fresh.learn_one(*yeast[0])
    from river import multioutput, tree

    river_model = multioutput.PerOutputClassifier(tree.HoeffdingTreeClassifier())
    for x, y in yeast[:50]:
        river_model.learn_one(x, y)
    ihomer.save(river_model, tmp_path / "r")
    assert ihomer.load(tmp_path / "r").predict_one(yeast[60][0]) == river_model.predict_one(
        yeast[60][0]
    )


def test_bad_files_are_one_clear_error(tmp_path, yeast):
    path = tmp_path / "m.ihomer"
    ihomer.save(_trained(yeast[:50]), path)
    data = path.read_bytes()
    cases = {
        "flipped.ihomer": (data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:], "checksum"),
        "cut.ihomer": (data[: len(data) - 100], "truncated payload"),
        "text.ihomer": (b"hello, I am a CSV file\n", "not an ihomer checkpoint"),
        "empty.ihomer": (b"", "not an ihomer checkpoint"),
    }
    for name, (content, reason) in cases.items():
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(ModelFileError, match=reason) as info:
            ihomer.load(p)
        assert str(info.value).startswith(str(p)) and "\n" not in str(info.value)
        assert isinstance(info.value, ValueError)
    with pytest.raises(ModelFileError, match="cannot read"):
        ihomer.load(tmp_path / "missing.ihomer")
    save_checkpoint(tmp_path / "other", [1, 2, 3])
    with pytest.raises(ModelFileError, match="neither a saved model nor a daemon checkpoint"):
        ihomer.load(tmp_path / "other")


def test_keys_and_daemon_checkpoints(tmp_path, yeast):
    model = _trained(yeast[:50])
    ihomer.save(model, tmp_path / "k", key=b"secret")
    assert ihomer.load(tmp_path / "k", key=b"secret").n_learned == 50
    with pytest.raises(ModelFileError, match="HMAC mismatch"):
        ihomer.load(tmp_path / "k", key=b"other")
    save_checkpoint(tmp_path / "daemon.ckpt", {"model": model, "report": None}, {"offsets": {}})
    assert ihomer.load(tmp_path / "daemon.ckpt").n_learned == 50


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, yeast):
    path = tmp_path / "m.ihomer"
    ihomer.save(_trained(yeast[:50]), path)
    before = path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - a lambda does not pickle
        ihomer.save(lambda: 0, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "m.ihomer"
    ]
