"""Units: ASE units inside solidion, named conversions at its edges.

Inside the package lengths are Å, energies eV, masses amu, temperatures K and times are
handled in fs or ps as stated by the variable name (``timestep_fs``, ``times_ps``). Every
conversion to the units people report (cm²/s, S/cm, mS/cm) goes through a named constant or
function of this module, so that no bare ``1e-16/60`` ever appears in the middle of a fit.

The SI constants are the exact 2019 SI values (CODATA 2018).
"""

from __future__ import annotations

from ase import units as _ase

#: Boltzmann constant in eV/K (ASE's value).
BOLTZMANN_EV_K: float = float(_ase.kB)
#: Boltzmann constant in J/K (exact, SI 2019).
BOLTZMANN_J_K: float = 1.380649e-23
#: Elementary charge in C (exact, SI 2019).
ELEMENTARY_CHARGE_C: float = 1.602176634e-19

#: Femtoseconds per picosecond.
FS_PER_PS: float = 1000.0
#: Picoseconds per femtosecond.
PS_PER_FS: float = 1.0 / FS_PER_PS
#: ASE internal time unit per femtosecond (multiply a time in fs to get ASE time).
ASE_TIME_PER_FS: float = float(_ase.fs)
#: Picoseconds per nanosecond.
PS_PER_NS: float = 1000.0
#: Picoseconds per second.
PS_PER_S: float = 1e12
#: Picoseconds per atomic unit of time ħ/E_h (ASE's ``_aut``, given in s).
PS_PER_AU_TIME: float = float(_ase._aut) * PS_PER_S

#: Å per nanometre.
ANGSTROM_PER_NM: float = 10.0
#: Å per picometre.
ANGSTROM_PER_PM: float = 0.01
#: Å per femtometre.
ANGSTROM_PER_FM: float = 1e-5
#: Å per metre.
ANGSTROM_PER_M: float = 1e10
#: Å per bohr (ASE's Bohr radius).
ANGSTROM_PER_BOHR: float = float(_ase.Bohr)

#: Å²/ps → cm²/s  (1 Å² = 1e-16 cm², 1 ps = 1e-12 s).
A2_PS_TO_CM2_S: float = 1e-16 / 1e-12
#: Å³ → cm³.
A3_TO_CM3: float = 1e-24
#: S/cm → mS/cm.
S_CM_TO_MS_CM: float = 1e3
#: g/cm³ from amu/Å³.
AMU_A3_TO_G_CM3: float = 1.66053906660e-24 / A3_TO_CM3


def nernst_einstein_prefactor_S_cm(volume_A3: float, temperature_K: float) -> float:
    """Return e²/(V k_B T) in S/cm per (cm²/s): multiply by Σ N_i z_i² D_i [cm²/s].

    σ = e² / (V k_B T) Σ_i N_i z_i² D_i  (Nernst–Einstein; e.g. Maier, *Physical Chemistry of
    Ionic Materials*, Wiley 2004). With V in cm³, k_B in J/K and D in cm²/s the result is in
    C²/(J·s·cm) = S/cm.

    Args:
        volume_A3: Cell volume in Å³ (> 0).
        temperature_K: Temperature in K (> 0).

    Returns:
        The prefactor in S·s/cm³.

    Raises:
        ValueError: If the volume or temperature is not positive.

    Example:
        >>> round(nernst_einstein_prefactor_S_cm(1000.0, 300.0) * 1e-5, 4)  # one ion, D=1e-5
        0.062
    """
    if not volume_A3 > 0:
        raise ValueError(f"volume_A3 must be positive, got {volume_A3!r}")
    if not temperature_K > 0:
        raise ValueError(f"temperature_K must be positive, got {temperature_K!r}")
    return ELEMENTARY_CHARGE_C**2 / (volume_A3 * A3_TO_CM3 * BOLTZMANN_J_K * temperature_K)
