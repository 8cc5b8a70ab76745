"""solidion.potentials: names, the per-process cache, safe checkpoints, CHGNet units."""

from __future__ import annotations

import hashlib
import importlib.util
import pickle
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from solidion import potentials
from solidion.errors import InputError
from solidion.potentials import registry

# ---------------------------------------------------------------------------------------------
# helpers


class TouchOnUnpickle:
    """A pickle payload whose unpickling would create ``marker``: it must never run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


class ModelCalculator(Calculator):
    """A stand-in backend calculator with a ``model`` attribute, as real ones have."""

    implemented_properties = ("energy",)

    def __init__(self, model: object) -> None:
        super().__init__()
        self.model = model

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": 0.0}


@pytest.fixture
def sandbox():
    """Restore the registry and the model cache after a test that edits them."""
    backends, cache = dict(registry.BACKENDS), dict(registry._CACHE)
    yield registry
    registry.BACKENDS.clear()
    registry.BACKENDS.update(backends)
    registry._CACHE.clear()
    registry._CACHE.update(cache)


def tiny_cell(a: float = 5.0, seed: int = 2):
    """Four atoms, Li/Na/Cl rock salt, rattled, slightly compressed (non-zero stress)."""
    atoms = bulk("NaCl", "rocksalt", a=a).repeat((1, 1, 2))
    atoms.symbols[0] = "Li"
    atoms.rattle(0.05, seed=seed)
    return atoms


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# ---------------------------------------------------------------------------------------------
# names, imports, passthrough (no model loaded)


def test_import_does_not_import_torch_or_chgnet():
    code = (
        "import sys, solidion.potentials; "
        "print('torch' in sys.modules, 'chgnet' in sys.modules, 'sevenn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_available_lists_registered_backends():
    names = potentials.available()
    assert list(names)[:2] == ["chgnet", "sevennet"]
    assert names["chgnet"] is True
    assert names["sevennet"] is (importlib.util.find_spec("sevenn") is not None)


def test_unknown_name_lists_registered_names():
    with pytest.raises(InputError, match=r"spec: unknown potential 'nequip-xl'") as err:
        potentials.get("nequip-xl")
    assert "chgnet" in str(err.value) and "sevennet" in str(err.value)


def test_bad_spec_type_is_an_input_error():
    with pytest.raises(InputError, match="spec"):
        potentials.get(42)


@pytest.mark.skipif(importlib.util.find_spec("sevenn") is not None, reason="sevenn is installed")
def test_sevennet_without_extra_names_the_extra():
    with pytest.raises(InputError) as err:
        potentials.get("sevennet")
    assert "pip install 'solidion[sevennet]'" in str(err.value)
    assert "sevennet" in str(err.value)


def test_calculator_is_passed_through():
    calc = EMT()
    assert potentials.get(calc) is calc
    with pytest.raises(InputError, match="Calculator instance"):
        potentials.get(calc, device="cpu")


def test_describe_foreign_calculator():
    record = potentials.describe(EMT())
    assert record["name"] == "EMT"
    assert record["spec"] is None
    assert record["calculator"] == "ase.calculators.emt.EMT"


def test_device_errors_name_the_argument():
    with pytest.raises(InputError, match=r"device: 'banana'"):
        potentials.get("chgnet", device="banana")
    with pytest.raises(InputError, match="device"):
        potentials.get("chgnet", device="xpu")


@pytest.mark.skipif("cuda_available()", reason="this machine has CUDA")
def test_cuda_on_a_cpu_machine_is_an_input_error():
    with pytest.raises(InputError, match="CUDA is not available"):
        potentials.get("chgnet", device="cuda")
    assert potentials.resolve_device(None) == "cpu"


def test_unknown_option_is_named():
    with pytest.raises(InputError, match=r"'bogus'.*accepted: model_name"):
        potentials.get("chgnet", bogus=1)
    with pytest.raises(InputError, match=r"model_name: unknown pretrained CHGNet '9\.9'"):
        potentials.get("chgnet", model_name="9.9")


# ---------------------------------------------------------------------------------------------
# the cache, with a counting fake backend


def test_cache_loads_once_and_hands_out_fresh_calculators(sandbox):
    calls: list[tuple[str, int]] = []

    def loader(device: str, *, size: int = 1) -> potentials.LoadedModel:
        calls.append((device, size))
        model = object()
        return potentials.LoadedModel(
            model, lambda: ModelCalculator(model), {"name": "fake", "spec": "fake"}
        )

    potentials.register("Fake", loader, description="test double")
    first, second = potentials.get("fake"), potentials.get("FAKE", device="cpu")
    assert first is not second
    assert first.model is second.model
    assert calls == [("cpu", 1)] or calls[0][0].startswith("cuda")
    assert len(calls) == 1
    potentials.get("fake", size=1)  # the default spelled out: the same model
    assert len(calls) == 1
    potentials.get("fake", size=2)
    assert len(calls) == 2  # different options: another model
    assert potentials.load_model("fake", size=2) is potentials.load_model("fake", size=2)
    assert len(calls) == 2
    assert potentials.describe(first) == {"name": "fake", "spec": "fake"}
    with pytest.raises(InputError, match=r"'colour'"):
        potentials.get("fake", colour="red")
    potentials.clear_cache()
    potentials.get("fake")
    assert len(calls) == 3


def test_loader_returning_a_calculator_gives_copies_sharing_its_model(sandbox):
    shared = object()
    potentials.register("plain", lambda device: ModelCalculator(shared))
    a, b = potentials.get("plain"), potentials.get("plain")
    assert a is not b and a.model is b.model is shared
    atoms = bulk("Cu")
    atoms.calc = a
    assert atoms.get_potential_energy() == 0.0
    assert b.results == {} and b.atoms is None


def test_register_refuses_duplicates_and_paths(sandbox):
    with pytest.raises(InputError, match="already registered"):
        potentials.register("chgnet", lambda device: EMT())
    with pytest.raises(InputError, match="name"):
        potentials.register("models/x.pth", lambda device: EMT())
    potentials.register("chgnet", lambda device: EMT(), overwrite=True)
    assert potentials.BACKENDS["chgnet"].requires is None


# ---------------------------------------------------------------------------------------------
# checkpoints that must be refused (torch only; chgnet is not needed to refuse them)


def test_missing_checkpoint_names_the_path(tmp_path):
    missing = tmp_path / "finetuned.pth.tar"
    for spec in (missing, str(missing)):
        with pytest.raises(InputError, match="checkpoint file not found") as err:
            potentials.get(spec)
        assert str(missing) in str(err.value)
    with pytest.raises(InputError, match="not a file"):
        potentials.get(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\x00garbage\xff" * 40, b"PK\x03\x04broken zip"])
def test_garbage_checkpoint_is_an_input_error(tmp_path, content):
    path = tmp_path / "garbage.pth.tar"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        potentials.get(path)
    assert str(path) in str(err.value)
    assert "weights_only=True" in str(err.value)


def test_checkpoint_missing_keys_says_which(tmp_path):
    import torch

    cases = {
        "no_args.pth.tar": ({"model": {"state_dict": {}}}, r"lacks 'model_args'"),
        "other.pth.tar": ({"weights": torch.zeros(2)}, r"lacks 'model_args', 'state_dict'"),
        "tensor.pth.tar": (torch.zeros(3), r"holds a Tensor, not a dictionary"),
        "nested.pth.tar": ({"model": [1, 2]}, r"\['model'\] is a list"),
        "strings.pth.tar": (
            {"model_args": {}, "state_dict": {"w": "not a tensor"}},
            "not a dictionary of tensors",
        ),
    }
    for name, (payload, message) in cases.items():
        path = tmp_path / name
        torch.save(payload, path)
        with pytest.raises(InputError, match=message) as err:
            potentials.get(path)
        assert str(path) in str(err.value)


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_pickled_code_is_refused_and_never_runs(tmp_path, writer):
    import torch

    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.pth.tar"
    payload = {"model": TouchOnUnpickle(marker)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump(payload, fh)
    with pytest.raises(InputError) as err:
        potentials.get(path)
    assert str(path) in str(err.value)
    assert not isinstance(err.value, pickle.UnpicklingError)
    assert not marker.exists()
    # control: an unsafe load of the same bytes would have run it
    control = tmp_path / "control-ran"
    pickle.loads(pickle.dumps(TouchOnUnpickle(control)))
    assert control.exists()


def test_checkpoint_path_takes_no_options(tmp_path):
    path = tmp_path / "x.pth.tar"
    path.write_bytes(b"x")
    with pytest.raises(InputError, match="takes no options"):
        potentials.get(path, model_name="0.3.0")


# ---------------------------------------------------------------------------------------------
# real CHGNet (slow: imports chgnet, a few evaluations of 2–8 atoms)


@pytest.mark.slow
def test_chgnet_loads_once_from_the_wheel_without_network(sandbox, monkeypatch):
    from chgnet.model import CHGNet

    original = CHGNet.load
    calls = []

    def counting_load(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    def no_network(self, *args, **kwargs):
        raise OSError("network access during a potential load")

    monkeypatch.setattr(CHGNet, "load", counting_load)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    potentials.clear_cache()
    first = potentials.get()
    second = potentials.get("chgnet")
    assert len(calls) == 1
    assert first is not second
    assert first.model is second.model  # the same torch module
    assert potentials.load_model("chgnet").model is first.model
    record = potentials.describe(first)
    assert record["name"] == "chgnet" and record["source"] == "pretrained"
    assert record["model_version"] == "0.3.0"
    assert record["weights_file"].endswith(".pth.tar")
    assert len(record["sha256"]) == 64
    assert record["device"] == potentials.resolve_device(None)
    assert potentials.get("chgnet", model_name="0.3.0").model is first.model
    if not cuda_available():
        assert potentials.get("chgnet", device="cpu").model is first.model
    assert len(calls) == 1


@pytest.mark.slow
def test_chgnet_units_energy_forces_stress():
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = tiny_cell()
    calc = potentials.get("chgnet")
    atoms.calc = calc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        energy = float(atoms.get_potential_energy())
        forces = atoms.get_forces()
        stress = atoms.get_stress(voigt=False)
        raw = calc.model.predict_structure(AseAtomsAdaptor.get_structure(atoms), task="efs")

    # CHGNet predicts eV/atom and GPa; the calculator gives eV, eV/Å and eV/Å³.
    assert energy == pytest.approx(float(raw["e"]) * len(atoms), abs=1e-4)
    assert -10.0 < energy / len(atoms) < -1.0
    np.testing.assert_allclose(forces, raw["f"], atol=1e-6)
    # (ASE's get_stress goes through Voigt form, which symmetrises the tensor)
    expected_gpa = (raw["s"] + raw["s"].T) / 2
    np.testing.assert_allclose(stress, expected_gpa / 160.21766208, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(calc.results["stress"], raw["s"] / 160.21766208, rtol=1e-6)
    assert np.abs(stress).max() > 1e-3  # compressed cell: a stress worth checking

    def energy_of(a) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a.calc = potentials.get("chgnet")
            return float(a.get_potential_energy())

    # forces are -dE/dx (central difference on one coordinate)
    h = 2e-3
    plus, minus = atoms.copy(), atoms.copy()
    plus.positions[1, 2] += h
    minus.positions[1, 2] -= h
    assert forces[1, 2] == pytest.approx(
        -(energy_of(plus) - energy_of(minus)) / (2 * h), abs=1.5e-3
    )

    # stress is (1/V) dE/dε with ASE's sign: check a normal and a shear component
    volume = atoms.get_volume()
    eps = 1e-3
    for i, j in ((0, 0), (0, 1)):
        strained = []
        for sign in (1, -1):
            deformation = np.eye(3)
            deformation[i, j] += sign * eps / (1 if i == j else 2)
            deformation[j, i] += 0 if i == j else sign * eps / 2
            a = atoms.copy()
            a.set_cell(atoms.cell.array @ deformation.T, scale_atoms=True)
            strained.append(energy_of(a))
        numeric = (strained[0] - strained[1]) / (2 * eps) / volume
        assert stress[i, j] == pytest.approx(numeric, abs=1e-4)


@pytest.mark.slow
def test_checkpoint_round_trip_matches_pretrained(tmp_path):
    import torch

    pretrained = potentials.load_model("chgnet").model
    trainer_style = tmp_path / "finetuned.pth.tar"
    torch.save(
        {"model": pretrained.as_dict(), "optimizer": {}, "scheduler": {}, "trainer_args": {}},
        trainer_style,
    )
    bare = tmp_path / "as_dict.pt"
    torch.save(pretrained.as_dict(), bare)

    atoms = tiny_cell()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        atoms.calc = potentials.get("chgnet")
        reference = float(atoms.get_potential_energy())
        for path in (trainer_style, str(bare)):
            calc = potentials.get(path)
            assert calc.model is not pretrained
            assert potentials.get(path).model is calc.model  # cached per path
            atoms.calc = calc
            assert float(atoms.get_potential_energy()) == pytest.approx(reference, abs=1e-5)
            record = potentials.describe(calc)
            assert record["source"] == "checkpoint"
            assert record["spec"] == str(Path(path).resolve())
            assert record["sha256"] == hashlib.sha256(Path(path).read_bytes()).hexdigest()
            assert record["model_version"] == "0.3.0"

    # the wheel's own trainer file reads through the safe path too
    wheel_file = Path(potentials.describe(potentials.get())["weights_file"])
    from solidion.potentials._chgnet import pretrained_weights_file

    assert pretrained_weights_file("0.3.0").name == wheel_file.name
    atoms.calc = potentials.get(pretrained_weights_file("0.3.0"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert float(atoms.get_potential_energy()) == pytest.approx(reference, abs=1e-5)


@pytest.mark.slow
def test_checkpoint_whose_weights_do_not_fit_is_an_input_error(tmp_path):
    import torch

    dct = potentials.load_model("chgnet").model.as_dict()
    state = dict(dct["state_dict"])
    state.pop(next(iter(state)))
    path = tmp_path / "truncated.pth.tar"
    torch.save({"model": {"model_args": dct["model_args"], "state_dict": state}}, path)
    with pytest.raises(InputError, match="do not build a CHGNet") as err:
        potentials.get(path)
    assert str(path) in str(err.value)


@pytest.mark.slow
def test_rewritten_checkpoint_is_reloaded(tmp_path):
    import os

    import torch

    dct = potentials.load_model("chgnet").model.as_dict()
    path = tmp_path / "ft.pth.tar"
    torch.save({"model": dct}, path)
    first = potentials.get(path).model
    assert potentials.get(path).model is first
    torch.save({"model": dct}, path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert potentials.get(path).model is not first
    assert (
        sum(1 for key in registry._CACHE if key[0] == "path" and key[1] == str(path.resolve())) == 1
    )
