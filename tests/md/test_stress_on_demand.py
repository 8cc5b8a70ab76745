"""The driver asks a calculator with ``with_stress`` for the stress only where it is used.

solidion's CHGNet calculator computes the stress only when asked (issue #17: 550 → 820
atom-steps/s on 294 atoms). The driver sets ``calc.with_stress`` before each step: True on
every NPT step (the barostat reads the stress) and on the steps whose thermo line, frame or
dense-segment frame it stores (their pressure), so that neither costs a second model call.
"""

from __future__ import annotations

import h5py
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from solidion.md import Stage, run_protocol
from tests.md.conftest import argon, lj


class StressOnDemand(Calculator):
    """Lennard-Jones that, like solidion's CHGNet, adds the stress only when asked.

    ``calls`` holds one entry per evaluation: whether it computed the stress; ``first_set`` is
    the length of ``calls`` when the driver first set ``with_stress`` (before the first step).
    """

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, with_stress: bool = False) -> None:
        super().__init__()
        self.inner = lj()
        self.calls: list[bool] = []
        self.first_set: int | None = None
        self._with_stress = with_stress

    @property
    def with_stress(self) -> bool:
        return self._with_stress

    @with_stress.setter
    def with_stress(self, value: bool) -> None:
        if self.first_set is None:
            self.first_set = len(self.calls)
        self._with_stress = value

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.inner.calculate(atoms, ["energy", "forces", "stress"], system_changes)
        stress = self.with_stress or "stress" in properties
        # merged into the results, as CHGNetCalculator does (a later property of the same atoms)
        self.results.update(
            energy=self.inner.results["energy"], forces=self.inner.results["forces"]
        )
        if stress:
            self.results["stress"] = self.inner.results["stress"]
        self.calls.append(stress)


def _run(
    tmp_path, stage: Stage, with_stress: bool = False
) -> tuple[StressOnDemand, dict[int, list[bool]]]:
    """Run one stage; the model calls made in each MD step (from the end of the step before,
    or for the first step from the driver setting ``with_stress``, to the step hook)."""
    calc = StressOnDemand(with_stress)
    per_step: dict[int, list[bool]] = {}
    seen = [-1]

    def hook(stage, step, atoms):
        per_step[step] = calc.calls[calc.first_set if seen[0] < 0 else seen[0] :]
        seen[0] = len(calc.calls)

    run_protocol(argon(), [stage], calc, tmp_path / "run", rng=5, progress=False, step_hook=hook)
    return calc, per_step


def _stored_steps(tmp_path, stage_name: str) -> set[int]:
    """Steps with a thermo line or a frame (main or dense file) of the stage."""
    steps = set()
    for line in (tmp_path / "run" / "thermo.log").read_text().splitlines()[1:]:
        name, step = line.split()[:2]
        if name == stage_name:
            steps.add(int(step))
    for path in (tmp_path / "run").glob("*.h5"):
        with h5py.File(path) as f:
            steps.update(int(s) for s in f["particles/all/position/step"][()])
    return steps


def test_nvt_asks_for_the_stress_only_on_stored_steps(tmp_path):
    stage = Stage(
        "nvt",
        60,
        60,
        0.1,  # 50 steps of 2 fs
        2.0,
        name="prod",
        tdamp_fs=50,
        frame_interval_fs=10,  # every 5 steps
        equilibration_ps=0.014,  # 7 steps, logged every 5 steps but not stored
        vdos_ps=0.012,  # steps 7..13 of the dense segment
        vdos_interval_fs=4,  # every 2 steps
    )
    calc, per_step = _run(tmp_path, stage)
    stored = _stored_steps(tmp_path, "prod")
    assert {7, 9, 11, 13} <= stored and 5 in stored and 12 in stored and 6 not in stored
    assert sorted(per_step) == list(range(1, 51))
    # before the first step: energy and forces for the guards, the stress of step 0's log line
    assert calc.calls[: -len(per_step)] == [False, True]
    for step, calls in per_step.items():
        # one model call per step, with the stress exactly when the step is stored
        assert calls == [step in stored], step
    # the pressure of every logged step is in the log
    lines = (tmp_path / "run" / "thermo.log").read_text().splitlines()
    column = lines[0].split()[1:].index("pressure_GPa")
    assert all(np.isfinite(float(line.split()[column])) for line in lines[1:])


def test_npt_asks_for_the_stress_on_every_step(tmp_path):
    stage = Stage("npt", 60, 60, 0.06, 2.0, 0.1, name="npt", frame_interval_fs=10, pdamp_fs=100)
    calc, per_step = _run(tmp_path, stage)
    assert sorted(per_step) == list(range(1, 31))
    assert len(calc.calls) == 30 + 2
    assert all(calls == [True] for calls in per_step.values()), per_step


def test_calculators_without_the_attribute_are_left_alone(tmp_path):
    calc = lj()
    stage = Stage("nvt", 60, 60, 0.02, 2.0, name="prod", tdamp_fs=50, frame_interval_fs=10)
    run_protocol(argon(), [stage], calc, tmp_path / "run", rng=5, progress=False)
    assert not hasattr(calc, "with_stress")


def test_a_callers_with_stress_is_kept(tmp_path):
    stage = Stage("nvt", 60, 60, 0.02, 2.0, name="prod", tdamp_fs=50, frame_interval_fs=10)
    calc, per_step = _run(tmp_path, stage, with_stress=True)
    assert all(calls == [True] for calls in per_step.values())
    assert calc.with_stress is True
    calc, per_step = _run(tmp_path / "again", stage)
    assert calc.with_stress is False  # not left at the last step's value (a logged step)
