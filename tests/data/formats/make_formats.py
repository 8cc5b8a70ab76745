"""Write the small MD output files in this folder, in the layouts the codes themselves write.

The positions are a reproducible random walk of a Li4Cl4 rock-salt cell (a = 5.14 Å), with
fractional steps large enough that atoms cross the cell faces, so the readers' unwrapping is
exercised. Each writer follows its code's own output routine:

* ``vasprun.xml`` — VASP 6.3.2 AIMD (IBRION = 0, POTIM = 2, TEBEG = TEEND = 600 K, NBLOCK = 5):
  ``<incar>``, ``<parameters>``, ``<atominfo>``, ``<structure name="initialpos">`` and one
  ``<calculation>`` per ionic step with ``<scstep>``, ``<structure>``, forces, stress and
  energy, as in pymatgen's ``tests/files/vasprun.xml.md``. VASP writes every ionic step to
  vasprun.xml whatever NBLOCK is (NBLOCK only thins XDATCAR/PCDAT; VASP wiki, "Output interval
  options"), so NBLOCK = 5 here checks that a reader does not multiply by it.
* ``vasprun_npt.xml`` — the same for an NpT run (ISIF = 3, MDALGO = 3): a cell per step, and a
  temperature ramp TEBEG = 500 K → TEEND = 700 K.
* ``vasprun_mlff.xml`` — VASP 6.4.3 machine-learned force-field MD (ML_LMLFF, ML_MODE = run,
  ML_OUTBLOCK = 10): each stored step is a top-level ``<structure>``/forces/stress/
  ``<energy>`` group, not a ``<calculation>``, and VASP ≥ 6.4.3 stores one every ML_OUTBLOCK
  steps.
* ``espresso_md.pwo`` — Quantum ESPRESSO pw.x 7.2 ``calculation='md'`` output (dt = 20 Ry a.u.,
  tempw = 600 K, ``ATOMIC_POSITIONS (angstrom)``) with the lines of ``dynamics_module.f90``.
* ``cp2k_md-pos-1.dcd`` — CP2K 2023.1 MD with ``&TRAJECTORY FORMAT DCD_ALIGNED_CELL``,
  ``&EACH MD 2`` and TIMESTEP 0.5 fs: the binary layout of ``motion_utils.F`` and
  ``particle_methods.F`` (record ``CORD, 0, it, iskip, 0×6, dt[fs] (float32), 1, 0×8, 24``;
  per frame the cell ``a, γ, b, β, α, c`` as float64 and x, y, z as float32 in Å);
  ``cp2k_md.xyz`` holds the element symbols (its first frame), as CP2K users keep them.

Run from the repository root to regenerate (deterministic, well under a second)::

    .venv/bin/python tests/data/formats/make_formats.py
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SYMBOLS = ("Li", "Li", "Li", "Li", "Cl", "Cl", "Cl", "Cl")
A_LICL = 5.14
#: Rock-salt fractional sites: Li on (0,0,0)+fcc, Cl shifted by (½,0,0).
_FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]], dtype=np.float64)
SITES = np.vstack([_FCC, _FCC + np.array([0.5, 0.0, 0.0])]) % 1.0


def random_walk_frac(n_frames: int, seed: int, step: float = 0.03) -> np.ndarray:
    """Unwrapped fractional positions (n_frames, 8, 3): Li walk with ``step``, Cl with a third."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, step, size=(n_frames, len(SYMBOLS), 3))
    steps[:, 4:] /= 3.0
    steps[0] = 0.0
    # Push atom 0 steadily along +x so that it crosses the cell face more than once.
    steps[1:, 0, 0] += 0.09
    return SITES + np.cumsum(steps, axis=0)


def wrap(frac: np.ndarray) -> np.ndarray:
    """Fractional coordinates in [0, 1), as VASP writes them."""
    out = frac - np.floor(frac)
    out[out >= 1.0] = 0.0
    return out


# -- VASP vasprun.xml -------------------------------------------------------------------------


def _v(row: np.ndarray) -> str:
    return "<v>" + "".join(f"{x:16.8f}" for x in row) + " </v>"


def _crystal(cell: np.ndarray, indent: str) -> str:
    rec = np.linalg.inv(cell).T
    lines = [f"{indent}<crystal>", f'{indent} <varray name="basis" >']
    lines += [f"{indent}  {_v(r)}" for r in cell]
    lines += [
        f"{indent} </varray>",
        f'{indent} <i name="volume">{abs(np.linalg.det(cell)):16.8f} </i>',
    ]
    lines += [f'{indent} <varray name="rec_basis" >']
    lines += [f"{indent}  {_v(r)}" for r in rec]
    lines += [f"{indent} </varray>", f"{indent}</crystal>"]
    return "\n".join(lines)


def _structure(cell: np.ndarray, frac: np.ndarray, indent: str, name: str | None = None) -> str:
    head = f'{indent}<structure name="{name}" >' if name else f"{indent}<structure>"
    lines = [head, _crystal(cell, indent + " "), f'{indent} <varray name="positions" >']
    lines += [f"{indent}  {_v(r)}" for r in frac]
    lines += [f"{indent} </varray>", f"{indent}</structure>"]
    return "\n".join(lines)


def _energy(indent: str, e: float, kinetic: float | None = None) -> str:
    lines = [f"{indent}<energy>"]
    lines += [
        f'{indent} <i name="e_fr_energy">{e:16.8f} </i>',
        f'{indent} <i name="e_wo_entrp">{e + 1e-5:16.8f} </i>',
        f'{indent} <i name="e_0_energy">{e + 5e-6:16.8f} </i>',
    ]
    if kinetic is not None:
        lines += [
            f'{indent} <i name="kinetic">{kinetic:16.8f} </i>',
            f'{indent} <i name="lattice kinetic">{0.0:16.8f} </i>',
            f'{indent} <i name="nosepot">{0.0:16.8f} </i>',
            f'{indent} <i name="nosekinetic">{0.0:16.8f} </i>',
            f'{indent} <i name="total">{e + kinetic:16.8f} </i>',
        ]
    lines.append(f"{indent}</energy>")
    return "\n".join(lines)


def _varray(name: str, rows: np.ndarray, indent: str) -> str:
    lines = [f'{indent}<varray name="{name}" >'] + [f"{indent} {_v(r)}" for r in rows]
    return "\n".join([*lines, f"{indent}</varray>"])


def vasprun_xml(
    symbols: tuple[str, ...],
    frac: np.ndarray,
    cells: np.ndarray,
    *,
    potim: float,
    tebeg: float,
    teend: float,
    nblock: int,
    isif: int = 2,
    mdalgo: int = 2,
    version: str = "6.3.2",
    mlff_outblock: int | None = None,
    ml_mode: str = "run",
    seed: int = 0,
) -> str:
    """A vasprun.xml of an MD run through the wrapped fractional positions ``frac``.

    Args:
        symbols: Element of each atom, grouped by species as in a POSCAR.
        frac: Fractional coordinates (n_frames, n_atoms, 3); written wrapped into [0, 1).
        cells: Lattice vectors (n_frames, 3, 3), rows in Å.
        potim: POTIM, fs.
        tebeg: TEBEG, K.
        teend: TEEND, K.
        nblock: NBLOCK.
        isif: ISIF.
        mdalgo: MDALGO.
        version: VASP version in ``<generator>``.
        mlff_outblock: Write a machine-learned force-field run (ML_LMLFF) with
            this ML_OUTBLOCK: top-level step groups instead of ``<calculation>`` blocks.
        ml_mode: ML_MODE of such a run.
        seed: For the made-up energies, forces and stresses.
    """
    rng = np.random.default_rng(seed)
    n_frames, n_atoms, _ = frac.shape
    species = list(dict.fromkeys(symbols))
    counts = [symbols.count(s) for s in species]
    masses = {"Li": 6.941, "Cl": 35.453}
    titel = {"Li": "PAW_PBE Li_sv 10Sep2004", "Cl": "PAW_PBE Cl 06Sep2000"}
    wrapped = wrap(frac)
    ml = mlff_outblock is not None
    incar = [
        ' <i type="string" name="PREC">Normal</i>',
        ' <i type="int" name="IBRION">     0</i>',
        f' <i type="int" name="NSW">{(n_frames - 1) * (mlff_outblock or 1) + 1:6d}</i>',
        f' <i type="int" name="ISIF">{isif:6d}</i>',
        f' <i name="POTIM">{potim:16.8f}</i>',
        f' <i name="TEBEG">{tebeg:16.8f}</i>',
        f' <i name="TEEND">{teend:16.8f}</i>',
        f' <i type="int" name="NBLOCK">{nblock:6d}</i>',
        f' <i type="int" name="MDALGO">{mdalgo:6d}</i>',
    ]
    if ml:
        incar += [
            ' <i type="logical" name="ML_LMLFF"> T  </i>',
            f' <i type="string" name="ML_MODE">{ml_mode}</i>',
            f' <i type="int" name="ML_OUTBLOCK">{mlff_outblock:6d}</i>',
        ]
    out = [
        '<?xml version="1.0" encoding="ISO-8859-1"?>',
        "<modeling>",
        " <generator>",
        '  <i name="program" type="string">vasp </i>',
        f'  <i name="version" type="string">{version}  </i>',
        '  <i name="subversion" type="string">(build Jan 03 2023) complex parallel </i>',
        '  <i name="platform" type="string">LinuxIFC </i>',
        '  <i name="date" type="string">2024 03 01 </i>',
        '  <i name="time" type="string">10:00:00 </i>',
        " </generator>",
        " <incar>",
        *[" " + line for line in incar],
        " </incar>",
        " <kpoints>",
        '  <generation param="Gamma">',
        '   <v type="int" name="divisions">       1        1        1 </v>',
        '   <v name="usershift">      0.00000000       0.00000000       0.00000000 </v>',
        "  </generation>",
        '  <varray name="kpointlist" >',
        "   <v>       0.00000000       0.00000000       0.00000000 </v>",
        "  </varray>",
        '  <varray name="weights" >',
        "   <v>       1.00000000 </v>",
        "  </varray>",
        " </kpoints>",
        " <parameters>",
        '  <separator name="general" >',
        '   <i type="string" name="SYSTEM">LiCl</i>',
        "  </separator>",
        '  <separator name="electronic" >',
        '   <i name="ENMAX">    400.00000000</i>',
        '   <i name="NELECT">     44.00000000</i>',
        '   <i type="int" name="NELM">    60</i>',
        '   <i name="EDIFF">      0.00001000</i>',
        '   <i type="int" name="ISPIN">     1</i>',
        "  </separator>",
        '  <separator name="ionic" >',
        f'   <i type="int" name="NSW">{(n_frames - 1) * (mlff_outblock or 1) + 1:6d}</i>',
        '   <i type="int" name="IBRION">     0</i>',
        f'   <i type="int" name="MDALGO">{mdalgo:6d}</i>',
        f'   <i type="int" name="ISIF">{isif:6d}</i>',
        '   <i name="PSTRESS">      0.00000000</i>',
        f'   <i name="POTIM">{potim:16.8f}</i>',
        '   <i name="SMASS">      0.00000000</i>',
        "  </separator>",
        '  <separator name="ionic md" >',
        f'   <i name="TEBEG">{tebeg:16.8f}</i>',
        f'   <i name="TEEND">{teend:16.8f}</i>',
        f'   <i type="int" name="NBLOCK">{nblock:6d}</i>',
        '   <i type="int" name="KBLOCK">    10</i>',
        "  </separator>",
    ]
    if ml:
        out += [
            '  <separator name="machine learning" >',
            '   <i type="logical" name="ML_LMLFF"> T  </i>',
            f'   <i type="string" name="ML_MODE">{ml_mode}</i>',
            f'   <i type="int" name="ML_OUTBLOCK">{mlff_outblock:6d}</i>',
            "  </separator>",
        ]
    out += [" </parameters>", " <atominfo>", f"  <atoms>{n_atoms:8d} </atoms>"]
    out += [f"  <types>{len(species):8d} </types>", '  <array name="atoms" >']
    out += ['   <dimension dim="1">ion</dimension>', '   <field type="string">element</field>']
    out += ['   <field type="int">atomtype</field>', "   <set>"]
    out += [f"    <rc><c>{s:<2s}</c><c>{species.index(s) + 1:4d}</c></rc>" for s in symbols]
    out += ["   </set>", "  </array>", '  <array name="atomtypes" >']
    out += ['   <dimension dim="1">type</dimension>', '   <field type="int">atomspertype</field>']
    out += ['   <field type="string">element</field>', "   <field>mass</field>"]
    out += ["   <field>valence</field>", '   <field type="string">pseudopotential</field>']
    out += ["   <set>"]
    out += [
        f"    <rc><c>{c:4d}</c><c>{s:<2s}</c><c>{masses[s]:16.8f}</c><c>{7.0:16.8f}</c>"
        f"<c>  {titel[s]:<38s}</c></rc>"
        for s, c in zip(species, counts, strict=True)
    ]
    out += ["   </set>", "  </array>", " </atominfo>"]
    out.append(_structure(cells[0], wrapped[0], " ", "initialpos"))
    for t in range(n_frames):
        e = -3.7 * n_atoms + rng.normal(0.0, 0.05)
        forces = rng.normal(0.0, 0.3, size=(n_atoms, 3))
        stress = np.diag(rng.normal(5.0, 2.0, size=3))
        kinetic = 1.5 * n_atoms * 8.617e-5 * tebeg
        if ml:
            out.append(_structure(cells[t], wrapped[t], " "))
            out.append(_varray("forces", forces, " "))
            out.append(_varray("stress", stress, " "))
            out.append(_energy(" ", e, kinetic))
            continue
        out.append(" <calculation>")
        for k in range(2):
            out += ["  <scstep>", '   <time name="dav">    0.77    0.77</time>']
            out += [_energy("   ", e + 0.1 / (k + 1)), "  </scstep>"]
        out.append(_structure(cells[t], wrapped[t], "  "))
        out.append(_varray("forces", forces, "  "))
        out.append(_varray("stress", stress, "  "))
        out.append(_energy("  ", e, kinetic))
        out += ['  <time name="totalsc">   12.07   12.68</time>', " </calculation>"]
    out.append(_structure(cells[-1], wrapped[-1], " ", "finalpos"))
    out.append("</modeling>")
    return "\n".join(out) + "\n"


# -- Quantum ESPRESSO pw.x --------------------------------------------------------------------

#: Hartree atomic unit of time in fs (CODATA 2018), QE's ``AU_PS`` × 1000.
_HARTREE_AU_FS = 2.4188843265857e-2
_BOHR_A = 0.529177210903


def espresso_md_output(
    symbols: tuple[str, ...], frac: np.ndarray, cell: np.ndarray, *, dt_ry: float, tempw: float
) -> str:
    """pw.x output of ``calculation='md'`` through the (unwrapped) positions ``frac``.

    The first configuration is printed in the header (``positions (alat units)``); each later
    one as ``ATOMIC_POSITIONS (angstrom)`` after ``Entering Dynamics``, followed by its SCF. The
    last configuration after ``End of molecular dynamics calculation`` has no SCF, as pw.x
    writes it, so readers drop it.
    """
    n_frames, n_atoms, _ = frac.shape
    alat_bohr = float(np.linalg.norm(cell[0])) / _BOHR_A
    alat_a = alat_bohr * _BOHR_A
    cart = frac @ cell
    species = list(dict.fromkeys(symbols))
    masses = {"Li": 6.941, "Cl": 35.453}
    dt_fs = dt_ry * 2.0 * _HARTREE_AU_FS
    rng = np.random.default_rng(5)
    lines = [
        "",
        "     Program PWSCF v.7.2 starts on  1Mar2024 at 10: 0: 0 ",
        "",
        "     This program is part of the open-source Quantum ESPRESSO suite",
        "",
        "     Current dimensions of program PWSCF are:",
        "     Max number of different atomic species (ntypx) = 10",
        "",
        f"     bravais-lattice index     = {0:12d}",
        f"     lattice parameter (alat)  = {alat_bohr:12.4f}  a.u.",
        f"     unit-cell volume          = {abs(np.linalg.det(cell)) / _BOHR_A**3:12.4f} (a.u.)^3",
        f"     number of atoms/cell      = {n_atoms:12d}",
        f"     number of atomic types    = {len(species):12d}",
        f"     number of electrons       = {44.0:12.2f}",
        "     kinetic-energy cutoff     =      60.0000  Ry",
        "",
        f"     celldm(1)= {alat_bohr:11.6f}  celldm(2)=   0.000000  celldm(3)=   0.000000",
        "     celldm(4)=   0.000000  celldm(5)=   0.000000  celldm(6)=   0.000000",
        "",
        "     crystal axes: (cart. coord. in units of alat)",
    ]
    for k, row in enumerate(cell / alat_a):
        lines.append(
            f"               a({k + 1}) = ( " + "".join(f"{x:11.6f}" for x in row) + " )  "
        )
    lines += [
        "",
        "   Cartesian axes",
        "",
        "     site n.     atom                  positions (alat units)",
    ]
    for i, (s, r) in enumerate(zip(symbols, cart[0] / alat_a, strict=True)):
        lines.append(
            f"{i + 1:10d}           {s:<5s}tau({i + 1:4d}) = ("
            + "".join(f"{x:12.7f}" for x in r)
            + "  )"
        )
    lines += ["", "     number of k points=     1"]
    lines += [f"{'':23s}cart. coord. in units 2pi/alat"]
    lines += [f"        k(    1) = ({0.0:12.7f}{0.0:12.7f}{0.0:12.7f}), wk ={2.0:12.7f}", ""]

    def scf(t: int) -> list[str]:
        e = -120.0 + rng.normal(0.0, 0.01)
        out = [
            "",
            "     Self-consistent Calculation",
            "",
            "     End of self-consistent calculation",
        ]
        out += ["", f"{'':10s}k = 0.0000 0.0000 0.0000 (  4337 PWs)   bands (ev):", ""]
        bands = np.sort(rng.uniform(-45.0, 2.0, size=24))
        out += ["  " + "".join(f"{x:9.4f}" for x in bands[k : k + 8]) for k in range(0, 24, 8)]
        out += ["", f"     highest occupied level (ev):{bands[-1]:11.4f}"]
        out += ["", f"!    total energy              = {e:17.8f} Ry"]
        out += ["", "     convergence has been achieved in   8 iterations", ""]
        out += ["     Forces acting on atoms (cartesian axes, Ry/au):", ""]
        for i in range(n_atoms):
            f = rng.normal(0.0, 0.01, size=3)
            out.append(
                f"     atom {i + 1:4d} type {species.index(symbols[i]) + 1:2d}   force = "
                + "".join(f"{x:14.8f}" for x in f)
            )
        out += ["", f"     Total force = {0.05:14.6f}     Total SCF correction = {0.0:12.6f}", ""]
        return out

    def positions(t: int) -> list[str]:
        out = ["ATOMIC_POSITIONS (angstrom)"]
        out += [
            f"{s:<3s}" + "".join(f"{x:20.10f}" for x in r)
            for s, r in zip(symbols, cart[t], strict=True)
        ]
        return out

    for t in range(n_frames):
        lines += scf(t)
        if t == 0:
            lines += ["", "     Molecular Dynamics Calculation", ""]
            lines += [f"     Starting temperature{'':3s} = {tempw:8.2f} K", ""]
            lines += ["     temperature is controlled by soft (Berendsen) velocity rescaling"]
            lines += ["     Characteristic time = 20*timestep", ""]
            lines += [f"     mass {s:<2s}{'':18s} = {masses[s]:8.2f}" for s in species]
            lines += [f"     Time step{'':13s} = {dt_ry:8.2f} a.u.,{dt_fs:8.4f} femto-seconds", ""]
        lines += ["", f"     Entering Dynamics:{'':4s}iteration = {t + 1:5d}"]
        lines += [f"{'':27s}time{'':5s} = {(t + 1) * dt_fs / 1000.0:8.4f} pico-seconds", ""]
        if t + 1 < n_frames:
            lines += positions(t + 1)
        else:
            lines += ["", "     End of molecular dynamics calculation", ""]
            lines += positions(t)  # pw.x prints the final positions again, with no SCF after
        lines += ["", f"     kinetic energy (Ekin) = {0.02:20.8f} Ry"]
        lines += [f"     temperature           = {tempw + rng.normal(0, 20):20.8f} K "]
        lines += [f"     Ekin + Etot (const)   = {-119.98:20.8f} Ry"]
    lines += ["", "     JOB DONE.", ""]
    return "\n".join(lines) + "\n"


# -- CP2K DCD -------------------------------------------------------------------------------


def _record(payload: bytes) -> bytes:
    """One Fortran unformatted sequential record: length, payload, length (int32)."""
    n = struct.pack("<i", len(payload))
    return n + payload + n


def cp2k_dcd(
    cart: np.ndarray, cell: np.ndarray, *, dt_fs: float, each: int, first_step: int
) -> bytes:
    """A CP2K ``DCD_ALIGNED_CELL`` trajectory of Cartesian positions (Å, aligned cell)."""
    n_frames, n_atoms, _ = cart.shape
    header = struct.pack(
        "<4s9if10i", b"CORD", 0, first_step, each, 0, 0, 0, 0, 0, 0, dt_fs, 1, *([0] * 8), 24
    )
    remark1 = b"REMARK CORD DCD file created by CP2K version 2023.1 (revision git:abcdef0)".ljust(
        80
    )
    remark2 = b"REMARK user@host".ljust(80)
    out = [_record(header), _record(struct.pack("<i", 2) + remark1 + remark2)]
    out.append(_record(struct.pack("<i", n_atoms)))
    a, b, c = np.linalg.norm(cell, axis=1)
    alpha = np.degrees(np.arccos(cell[1] @ cell[2] / (b * c)))
    beta = np.degrees(np.arccos(cell[0] @ cell[2] / (a * c)))
    gamma = np.degrees(np.arccos(cell[0] @ cell[1] / (a * b)))
    for t in range(n_frames):
        out.append(_record(struct.pack("<6d", a, gamma, b, beta, alpha, c)))
        for k in range(3):
            out.append(_record(cart[t, :, k].astype("<f4").tobytes()))
    return b"".join(out)


def xyz_frame(symbols: tuple[str, ...], cart: np.ndarray, comment: str) -> str:
    lines = [f"{len(symbols):8d}", comment]
    lines += [
        f" {s:<2s}" + "".join(f"{x:20.10f}" for x in r) for s, r in zip(symbols, cart, strict=True)
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    cell = np.eye(3) * A_LICL
    frac = random_walk_frac(12, seed=1)
    text = vasprun_xml(
        SYMBOLS,
        frac,
        np.broadcast_to(cell, (12, 3, 3)),
        potim=2.0,
        tebeg=600.0,
        teend=600.0,
        nblock=5,
    )
    (HERE / "vasprun.xml").write_text(text, encoding="ascii")

    frac = random_walk_frac(10, seed=2)
    scale = 1.0 + 0.01 * np.sin(np.arange(10) / 2.0)
    cells = np.array([np.diag([A_LICL * s, A_LICL, A_LICL / s]) for s in scale])
    cells[:, 1, 0] = 0.15  # a slight shear: a triclinic cell
    text = vasprun_xml(
        SYMBOLS,
        frac,
        cells,
        potim=1.5,
        tebeg=500.0,
        teend=700.0,
        nblock=1,
        isif=3,
        mdalgo=3,
        seed=3,
    )
    (HERE / "vasprun_npt.xml").write_text(text, encoding="ascii")

    frac = random_walk_frac(9, seed=4)
    text = vasprun_xml(
        SYMBOLS,
        frac,
        np.broadcast_to(cell, (9, 3, 3)),
        potim=1.0,
        tebeg=800.0,
        teend=800.0,
        nblock=1,
        version="6.4.3",
        mlff_outblock=10,
        seed=5,
    )
    (HERE / "vasprun_mlff.xml").write_text(text, encoding="ascii")

    frac = random_walk_frac(8, seed=6, step=0.02)
    text = espresso_md_output(SYMBOLS, frac, cell, dt_ry=20.0, tempw=600.0)
    (HERE / "espresso_md.pwo").write_text(text, encoding="ascii")

    frac = random_walk_frac(7, seed=7)
    tri = np.array([[A_LICL, 0.0, 0.0], [0.3, A_LICL, 0.0], [0.0, 0.0, A_LICL]])
    cart = frac @ tri  # CP2K writes unwrapped positions
    (HERE / "cp2k_md-pos-1.dcd").write_bytes(cp2k_dcd(cart, tri, dt_fs=0.5, each=2, first_step=0))
    (HERE / "cp2k_md.xyz").write_text(
        xyz_frame(SYMBOLS, cart[0], " i =        0, time =        0.000, E =       -34.5"),
        encoding="ascii",
    )


if __name__ == "__main__":
    main()
