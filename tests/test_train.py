"""The training entry point replaces model/ whole, or not at all (no real data needed)."""

import stat
from pathlib import Path
from typing import Any

import pytest

from training import train


def _fake_artifacts(content: str, *, fail: bool = False) -> Any:
    def write(dataset: object, out: Path) -> dict[str, Any]:
        (out / "serving.npz").write_text(content)
        if fail:
            raise RuntimeError("training failed half-way")
        return {"version": content}

    return write


def test_train_replaces_the_model_folder_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "stale.png").write_text("old")
    monkeypatch.setattr(train, "write_artifacts", _fake_artifacts("new"))
    assert train.train(object(), out) == {"version": "new"}  # type: ignore[arg-type]
    assert sorted(p.name for p in out.iterdir()) == ["serving.npz"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # readable by the Lambda runtime user
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging folder left behind


def test_failed_training_leaves_the_served_model_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "serving.npz").write_text("served")
    monkeypatch.setattr(train, "write_artifacts", _fake_artifacts("half", fail=True))
    with pytest.raises(RuntimeError, match="half-way"):
        train.train(object(), out)  # type: ignore[arg-type]
    assert (out / "serving.npz").read_text() == "served"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
