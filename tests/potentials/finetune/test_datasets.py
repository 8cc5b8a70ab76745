"""Labelled-data readers (extxyz, ASE db, vasprun.xml, OUTCAR), unit/sign conventions, splits."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from solidion.errors import InputError
from solidion.potentials.finetune import (
    LabelledDataset,
    LabelledStructure,
    read_labelled,
    read_many,
    split_dataset,
    stress_to_ase,
    write_labelled,
)

GPA = 1 / 160.21766208  # eV/Å³

# Numbers written into the VASP fixtures: a 2-atom LiCl cell, two ionic steps.
CELL = np.diag([4.0, 4.1, 4.2])
FRAC = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
FORCES = [
    np.array([[0.1, -0.2, 0.3], [-0.1, 0.2, -0.3]]),
    np.array([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]]),
]
# VASP stress in kBar, pressure sign (positive = compressed): XX YY ZZ and XY YZ ZX
KBAR = [(10.0, 20.0, 30.0, 1.0, 3.0, 2.0), (-5.0, -6.0, -7.0, 0.0, 0.5, 0.0)]
E_FR = [-7.10, -7.20]  # eV, force-consistent (free) energy
E_0 = [-7.095, -7.19]  # eV, sigma -> 0
VOIGT_ORDER = [0, 1, 2, 4, 5, 3]  # XX YY ZZ XY YZ ZX -> xx yy zz yz xz xy


def expected_ase_stress(step: int) -> np.ndarray:
    """VASP's kBar with pressure sign → ASE: eV/Å³, tension positive, Voigt order."""
    kbar = np.array(KBAR[step])[VOIGT_ORDER]
    return -0.1 * kbar * GPA


def _v(rows) -> str:
    return "\n".join("    <v>" + " ".join(f"{x:16.8f}" for x in r) + " </v>" for r in rows)


def vasprun_text(steps: int = 2) -> str:
    """A minimal vasprun.xml that ASE's vasp-xml reader accepts."""
    calcs = []
    for s in range(steps):
        xx, yy, zz, xy, yz, zx = KBAR[s]
        stress = [[xx, xy, zx], [xy, yy, yz], [zx, yz, zz]]
        energy = (
            f'   <energy>\n    <i name="e_fr_energy"> {E_FR[s]:.8f} </i>\n'
            f'    <i name="e_wo_entrp"> {E_0[s]:.8f} </i>\n'
            f'    <i name="e_0_energy"> {E_0[s]:.8f} </i>\n   </energy>'
        )
        calcs.append(
            f""" <calculation>
  <scstep>
{energy}
  </scstep>
  <structure>
   <crystal>
    <varray name="basis" >
{_v(CELL)}
    </varray>
   </crystal>
   <varray name="positions" >
{_v(FRAC)}
   </varray>
  </structure>
  <varray name="forces" >
{_v(FORCES[s])}
  </varray>
  <varray name="stress" >
{_v(stress)}
  </varray>
{energy}
 </calculation>"""
        )
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<modeling>
 <generator>
  <i name="program" type="string">vasp </i>
 </generator>
 <kpoints>
  <varray name="kpointlist" >
   <v>       0.00000000       0.00000000       0.00000000 </v>
  </varray>
  <varray name="weights" >
   <v>       1.00000000 </v>
  </varray>
 </kpoints>
 <parameters>
  <separator name="general" >
   <i type="string" name="SYSTEM">LiCl</i>
  </separator>
 </parameters>
 <atominfo>
  <atoms>       2 </atoms>
  <types>       2 </types>
  <array name="atoms" >
   <dimension dim="1">ion</dimension>
   <field type="string">element</field>
   <field type="int">atomtype</field>
   <set>
    <rc><c>Li</c><c>   1</c></rc>
    <rc><c>Cl</c><c>   2</c></rc>
   </set>
  </array>
 </atominfo>
 <structure name="initialpos" >
  <crystal>
   <varray name="basis" >
{_v(CELL)}
   </varray>
  </crystal>
  <varray name="positions" >
{_v(FRAC)}
  </varray>
 </structure>
{chr(10).join(calcs)}
</modeling>
"""


def outcar_text(steps: int = 2) -> str:
    """A minimal OUTCAR that ASE's vasp-out reader accepts."""
    head = """ vasp.6.4.2 18Apr23 (build Jun 01 2023) complex
 POTCAR:    PAW_PBE Li_sv 10Sep2004
 POTCAR:    PAW_PBE Cl 06Sep2000
 POTCAR:    PAW_PBE Li_sv 10Sep2004
 POTCAR:    PAW_PBE Cl 06Sep2000
   ISPIN  =      1    spin polarized calculation?
   ions per type =               1   1
"""
    cart = FRAC @ CELL
    chunks = []
    for s in range(steps):
        kb = "".join(f"{x:12.5f}" for x in KBAR[s])
        lat = "\n".join(
            "  " + " ".join(f"{x:12.9f}" for x in row) + "   " + " ".join(["0.25"] * 3)
            for row in CELL
        )
        pos = "\n".join(
            "     " + " ".join(f"{x:12.5f}" for x in p) + "   " + " ".join(f"{x:13.6f}" for x in f)
            for p, f in zip(cart, FORCES[s], strict=True)
        )
        chunks.append(
            f"""----------------------------------------- Iteration    {s + 1}(   1)  -----------------------
  FORCE on cell =-STRESS in cart. coord.  units (eV):
  Direction    XX          YY          ZZ          XY          YZ          ZX
  --------------------------------------------------------------------------------------
  in kB  {kb}
  external pressure =        0.00 kB  Pullay stress =        0.00 kB

      direct lattice vectors                 reciprocal lattice vectors
{lat}

 POSITION                                       TOTAL-FORCE (eV/Angst)
 -----------------------------------------------------------------------------------
{pos}
 -----------------------------------------------------------------------------------

  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)
  ---------------------------------------------------
  free  energy   TOTEN  =       {E_FR[s]:.8f} eV

  energy  without entropy=      {E_0[s]:.8f}  energy(sigma->0) =      {E_0[s]:.8f}

"""
        )
    return head + "".join(chunks)


# -- VASP ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,writer", [("vasprun.xml", vasprun_text), ("OUTCAR", outcar_text)])
def test_vasp_readers_convert_kbar_pressure_to_ase_stress(tmp_path, name, writer):
    path = tmp_path / name
    path.write_text(writer())
    ds = read_labelled(path)
    assert len(ds) == 2
    assert ds.groups == (str(path),)  # one VASP run is one trajectory
    for s, frame in enumerate(ds):
        assert frame.atoms.get_chemical_symbols() == ["Li", "Cl"]
        np.testing.assert_allclose(frame.atoms.cell.array, CELL, atol=1e-8)
        np.testing.assert_allclose(frame.forces_eV_A, FORCES[s], atol=1e-6)
        # sigma -> 0 energy, as ASE's get_potential_energy gives it
        assert frame.energy_eV == pytest.approx(E_0[s], abs=1e-7)
        np.testing.assert_allclose(frame.stress_eV_A3, expected_ase_stress(s), rtol=1e-6)
    # a compressed cell (positive VASP pressure) has a negative ASE stress
    assert np.all(ds[0].stress_eV_A3[:3] < 0) and np.all(ds[1].stress_eV_A3[:3] > 0)
    # 10 kBar = 1 GPa = 1/160.2 eV/Å³
    assert ds[0].stress_eV_A3[0] == pytest.approx(-1.0 / 160.21766208, rel=1e-6)
    # the reader equals our own conversion helper
    raw = np.array(KBAR[0])[VOIGT_ORDER]
    np.testing.assert_allclose(
        ds[0].stress_eV_A3, stress_to_ase(raw, unit="kbar", sign="pressure"), rtol=1e-9
    )


def test_vasp_refuses_stress_options(tmp_path):
    path = tmp_path / "vasprun.xml"
    path.write_text(vasprun_text())
    with pytest.raises(InputError, match="already converts VASP"):
        read_labelled(path, stress_unit="GPa")


def test_truncated_vasprun_names_the_file(tmp_path):
    path = tmp_path / "vasprun.xml"
    text = vasprun_text()
    path.write_text(text[: text.index("<calculation>") + 20])
    with pytest.raises(InputError) as err:
        read_labelled(path)
    assert str(path) in str(err.value)


def test_garbled_outcar_names_the_file(tmp_path):
    path = tmp_path / "OUTCAR"
    path.write_text(" POTCAR:    PAW_PBE Xx 1999\n garbage\n")
    with pytest.raises(InputError, match="cannot be read as vasp-out") as err:
        read_labelled(path)
    assert str(path) in str(err.value)


# -- extxyz ------------------------------------------------------------------------------------------


def handwritten_extxyz(stress: str, extra: str = "") -> str:
    return (
        "2\n"
        'Lattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3:forces:R:3 energy=-7.5 '
        f'{stress} {extra}pbc="T T T"\n'
        "Li 0 0 0 0.1 0 0\n"
        "Cl 2 2 2 -0.1 0 0\n"
    )


def test_extxyz_stress_is_ase_convention(tmp_path):
    path = tmp_path / "a.extxyz"
    path.write_text(handwritten_extxyz('stress="-0.01 0 0 0 -0.02 0.001 0 0.001 -0.03"'))
    (f,) = read_labelled(path)
    np.testing.assert_allclose(f.stress_eV_A3, [-0.01, -0.02, -0.03, 0.001, 0, 0])
    assert f.energy_eV == -7.5 and f.energy_eV_atom == -3.75
    np.testing.assert_allclose(f.forces_eV_A, [[0.1, 0, 0], [-0.1, 0, 0]])


def test_extxyz_in_gpa_is_refused_unless_declared(tmp_path):
    path = tmp_path / "gpa.extxyz"
    path.write_text(handwritten_extxyz('stress="5 0 0 0 5 0 0 0 5"'))
    with pytest.raises(InputError, match=r"implausible.*stress_unit='GPa'") as err:
        read_labelled(path)
    assert f"{path}, frame 0" in str(err.value)
    (f,) = read_labelled(path, stress_unit="GPa")
    np.testing.assert_allclose(f.stress_eV_A3[:3], 5 * GPA)
    (g,) = read_labelled(path, stress_unit="GPa", stress_sign="pressure")
    np.testing.assert_allclose(g.stress_eV_A3[:3], -5 * GPA)


def test_extxyz_virial_becomes_stress(tmp_path):
    path = tmp_path / "virial.extxyz"
    volume = 64.0
    path.write_text(handwritten_extxyz('virial="0.64 0 0 0 0.64 0 0 0 0.64"'))
    (f,) = read_labelled(path)
    np.testing.assert_allclose(f.stress_eV_A3, [-0.64 / volume] * 3 + [0, 0, 0])


def test_extxyz_custom_keys(tmp_path):
    path = tmp_path / "ref.extxyz"
    path.write_text(
        "1\n"
        'Lattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3:REF_forces:R:3 '
        'REF_energy=-1.25 pbc="T T T"\n'
        "Cu 0 0 0 0.0 0.0 0.0\n"
    )
    with pytest.raises(InputError, match="no energy label"):
        read_labelled(path)
    (f,) = read_labelled(path, energy_key="REF_energy", forces_key="REF_forces")
    assert f.energy_eV == -1.25 and f.stress_eV_A3 is None


def test_extxyz_missing_forces_and_truncation(tmp_path):
    nof = tmp_path / "noforces.xyz"
    nof.write_text('1\nLattice="3 0 0 0 3 0 0 0 3" energy=-1.0 pbc="T T T"\nCu 0 0 0\n')
    with pytest.raises(InputError, match=r"frame 0: no force labels"):
        read_labelled(nof)
    cut = tmp_path / "cut.extxyz"
    cut.write_text(
        handwritten_extxyz('stress="0 0 0 0 0 0 0 0 0"').replace("Cl 2 2 2 -0.1 0 0\n", "")
    )
    with pytest.raises(InputError) as err:
        read_labelled(cut)
    assert str(cut) in str(err.value)
    nan = tmp_path / "nan.extxyz"
    nan.write_text(
        handwritten_extxyz('stress="0 0 0 0 0 0 0 0 0"').replace("0.1 0 0\n", "nan 0 0\n")
    )
    with pytest.raises(InputError, match="NaN"):
        read_labelled(nan)


def test_unknown_and_missing_files(tmp_path):
    with pytest.raises(InputError, match="cannot tell the format"):
        read_labelled(tmp_path / "data.csv")
    with pytest.raises(InputError, match="no such file"):
        read_labelled(tmp_path / "absent.extxyz")
    with pytest.raises(InputError, match="at least one"):
        read_many([])


def _frame(seed: int, group: str, stress: bool = True) -> LabelledStructure:
    rng = np.random.default_rng(seed)
    atoms = Atoms("LiCl", positions=[[0, 0, 0], [2.1, 2.0, 1.9]], cell=[4.2] * 3, pbc=True)
    atoms.positions += rng.normal(0, 0.05, (2, 3))
    return LabelledStructure(
        atoms=atoms,
        energy_eV=float(rng.normal(-7, 0.1)),
        forces_eV_A=rng.normal(0, 0.3, (2, 3)),
        stress_eV_A3=rng.normal(0, 0.01, 6) if stress else None,
        group=group,
    )


def test_write_read_round_trip_extxyz(tmp_path):
    frames = [_frame(k, f"run{k % 2}", stress=k != 1) for k in range(4)]
    path = write_labelled(frames, tmp_path / "labelled.extxyz")
    back = read_labelled(path)
    assert back.groups == ("run0", "run1")
    for a, b in zip(frames, back, strict=True):
        assert b.energy_eV == pytest.approx(a.energy_eV, abs=1e-7)
        np.testing.assert_allclose(b.forces_eV_A, a.forces_eV_A, atol=1e-7)
        np.testing.assert_allclose(b.atoms.positions, a.atoms.positions, atol=1e-7)
        if a.stress_eV_A3 is None:
            assert b.stress_eV_A3 is None
        else:
            np.testing.assert_allclose(b.stress_eV_A3, a.stress_eV_A3, atol=1e-8)
    assert back.sha256() == read_labelled(path).sha256()
    assert back.sha256() != LabelledDataset(tuple(back.frames[:3])).sha256()


def test_ase_db_reader(tmp_path):
    import ase.db

    path = tmp_path / "labels.db"
    db = ase.db.connect(path)
    frames = [_frame(k, "x") for k in range(3)]
    for k, f in enumerate(frames):
        atoms = f.atoms.copy()
        atoms.calc = SinglePointCalculator(
            atoms, energy=f.energy_eV, forces=f.forces_eV_A, stress=f.stress_eV_A3
        )
        db.write(atoms, trajectory=f"md{k // 2}")
    back = read_labelled(path)
    assert back.groups == ("md0", "md1")
    for a, b in zip(frames, back, strict=True):
        assert b.energy_eV == pytest.approx(a.energy_eV)
        np.testing.assert_allclose(b.forces_eV_A, a.forces_eV_A)
        np.testing.assert_allclose(b.stress_eV_A3, a.stress_eV_A3)
    garbled = tmp_path / "bad.db"
    garbled.write_bytes(b"not a database" * 20)
    with pytest.raises(InputError, match="cannot be read as ase-db") as err:
        read_labelled(garbled)
    assert str(garbled) in str(err.value)


# -- splits ------------------------------------------------------------------------------------------


def _dataset(n_groups: int = 5, per_group: int = 4) -> LabelledDataset:
    return LabelledDataset(
        tuple(_frame(g * 100 + k, f"md{g}") for g in range(n_groups) for k in range(per_group))
    )


def test_split_by_structure_is_reproducible_and_disjoint():
    ds = _dataset()
    a = split_dataset(ds, (0.6, 0.2, 0.2), seed=3)
    b = split_dataset(ds, (0.6, 0.2, 0.2), seed=3)
    c = split_dataset(ds, (0.6, 0.2, 0.2), seed=4)
    ids = [[id(f) for f in part] for part in (a.train, a.validation, a.test)]
    assert [[id(f) for f in part] for part in (b.train, b.validation, b.test)] == ids
    assert [[id(f) for f in part] for part in (c.train, c.validation, c.test)] != ids
    assert (len(a.train), len(a.validation), len(a.test)) == (12, 4, 4)
    assert len({i for part in ids for i in part}) == len(ds)


def test_split_by_trajectory_keeps_runs_whole():
    ds = _dataset()
    s = split_dataset(ds, (0.6, 0.2, 0.2), by="trajectory", seed=0)
    parts = [set(p.groups) for p in (s.train, s.validation, s.test)]
    assert parts[0].isdisjoint(parts[1]) and parts[0].isdisjoint(parts[2])
    assert parts[1].isdisjoint(parts[2])
    assert (len(parts[0]), len(parts[1]), len(parts[2])) == (3, 1, 1)
    assert s.to_dict()["test"]["groups"] == list(s.test.groups)
    no_test = split_dataset(ds, (0.8, 0.2, 0.0), by="trajectory", seed=0)
    assert len(no_test.test) == 0 and len(no_test.validation) == 4


def test_split_errors():
    with pytest.raises(InputError, match="at least 3 trajectories"):
        split_dataset(_dataset(n_groups=2), by="trajectory")
    with pytest.raises(InputError, match="fractions"):
        split_dataset(_dataset(), (0.0, 0.5, 0.5))
    with pytest.raises(InputError, match="by"):
        split_dataset(_dataset(), by="element")
    with pytest.raises(InputError, match="cannot fill"):
        split_dataset(_dataset(1, 2), (0.8, 0.1, 0.1))
