"""Checkpoints are data: round trip of metadata and trust reference; pickled code never runs."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from solidion import potentials
from solidion.errors import InputError
from solidion.potentials.finetune import (
    TrustReference,
    load_base_model,
    read_finetune_checkpoint,
    save_checkpoint,
    trust_block,
)


class TouchOnUnpickle:
    """A pickle payload whose unpickling would create ``marker``: it must never run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


class TinyModel:
    """Stands in for a CHGNet where only ``as_dict`` matters (no chgnet import)."""

    def as_dict(self):
        import torch

        return {"model_args": {"version": "test", "n_conv": 4}, "state_dict": {"w": torch.ones(3)}}


def reference() -> TrustReference:
    frames = []
    for k in range(5):
        a = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
        a.rattle(0.05, seed=k)
        frames.append(a)
    return TrustReference.build(frames[:3], frames[3:])


def test_round_trip_keeps_metadata_and_trust_reference(tmp_path):
    ref = reference()
    meta = {"base_model": "0.3.0", "dataset": {"sha256": "ab" * 32}, "mae": np.float32(0.5)}
    path = save_checkpoint(tmp_path / "model.pt", TinyModel(), metadata=meta, trust_reference=ref)
    ckpt = read_finetune_checkpoint(path)
    assert ckpt.metadata["base_model"] == "0.3.0" and ckpt.metadata["mae"] == 0.5
    assert ckpt.model_dict["model_args"]["n_conv"] == 4
    assert ckpt.trust_reference.thresholds == pytest.approx(ref.thresholds)
    assert list(tmp_path.iterdir()) == [path]  # written atomically, no temporary left
    # the same file is an ordinary weights-only torch file
    import torch

    state = torch.load(path, weights_only=True)
    assert set(state) == {"model", "solidion"}


def test_metadata_must_be_plain_data(tmp_path):
    with pytest.raises(InputError, match=r"metadata\.bad: object is not plain data"):
        save_checkpoint(tmp_path / "m.pt", TinyModel(), metadata={"bad": object()})
    assert not list(tmp_path.iterdir())
    with pytest.raises(InputError, match="does not exist"):
        save_checkpoint(tmp_path / "no" / "m.pt", TinyModel())


def test_malformed_solidion_block(tmp_path):
    import torch

    path = tmp_path / "m.pt"
    torch.save({"model": TinyModel().as_dict(), "solidion": {"format": "other/9"}}, path)
    with pytest.raises(InputError, match="not a solidion.finetune/1 block") as err:
        read_finetune_checkpoint(path)
    assert str(path) in str(err.value)
    torch.save(
        {
            "model": TinyModel().as_dict(),
            "solidion": {"format": "solidion.finetune/1", "trust_reference": {"format": "x"}},
        },
        path,
    )
    with pytest.raises(InputError, match="trust reference"):
        read_finetune_checkpoint(path)
    plain = tmp_path / "plain.pt"
    torch.save({"model": TinyModel().as_dict()}, plain)
    ckpt = read_finetune_checkpoint(plain)
    assert ckpt.metadata == {} and ckpt.trust_reference is None
    assert "holds no training-domain reference" in trust_block(str(plain), [])["reason"]


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
@pytest.mark.parametrize("where", ["model", "solidion"])
def test_pickled_code_is_refused_on_every_finetune_path(tmp_path, writer, where):
    import torch

    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.pt"
    payload = {"model": TinyModel().as_dict(), "solidion": {"format": "solidion.finetune/1"}}
    payload[where] = TouchOnUnpickle(marker)
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump(payload, fh)
    loaders = {
        "read_finetune_checkpoint": lambda: read_finetune_checkpoint(path),
        "trust_block": lambda: trust_block(str(path), []),
        "load_base_model": lambda: load_base_model(path),
        "potentials.get": lambda: potentials.get(path),
    }
    for name, load in loaders.items():
        with pytest.raises(InputError, match="weights_only=True") as err:
            load()
        assert str(path) in str(err.value), name
        assert not marker.exists(), f"{name} ran the pickled payload"
    # control: an unsafe load of the same bytes would have run it
    control = tmp_path / "control-ran"
    pickle.loads(pickle.dumps(TouchOnUnpickle(control)))
    assert control.exists()


def test_missing_checkpoint_and_unknown_base(tmp_path):
    with pytest.raises(InputError, match="checkpoint file not found"):
        read_finetune_checkpoint(tmp_path / "absent.pt")
    with pytest.raises(InputError, match="neither a pretrained CHGNet"):
        load_base_model("9.9.9")
