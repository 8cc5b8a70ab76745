"""The campaign file: compositions × temperatures × replicas, one protocol, one potential.

A campaign file is TOML (``.toml``, read with the standard library's :mod:`tomllib`) or YAML
(``.yaml``/``.yml``, read with ``ruamel.yaml``'s safe loader). Every key, with its default::

    name = "amx"                      # default: the file's stem
    output = "runs/amx"               # output root, relative to the file's directory
    temperatures = [600, 700, 800]    # production temperatures (K)
    preset = "quick"                  # quick | standard | paper | a preset JSON file
    # n_atoms = 42                    # override the preset's cell size
    # production_ps = 100.0           # override a named preset's production length
    potential = "chgnet"              # a registered potential or a CHGNet checkpoint path
    seed = 0                          # seed of every random choice
    replicas = 1                      # independent production runs per (composition, T)
    max_attempts = 3                  # failures after which a task is no longer retried
    threads_per_task = 1              # torch threads of each MD task

    [until_converged]                 # optional: production in chunks until the error target
    diffusivity_rel_err = 0.2         # relative 1σ error of D* of the mobile ion
    # conductivity_rel_err = 0.3      # relative 1σ error of σ_E (default: not required)
    min_hops_per_ion = 10             # framework-frame hops per mobile ion
    budget = "2h"                     # wall time of each production task (default: no limit)

    [compositions]
    formulas = ["Li3InCl6"]                                  # an explicit list, and/or
    family = { A = ["Li", "Na"], M = ["Al"], X = ["Cl", "Br"] }   # A M X2.5 O0.75

``compositions`` may also be a plain list of formulas. Instead of ``preset``, a ``[protocol]``
table gives the stages explicitly: ``melt_quench`` (a list of stage tables, the fields of
:class:`~solidion.md.Stage`), ``production`` (a list of stage tables *without* temperatures:
they are run at each temperature of ``temperatures``), ``n_atoms``, ``checkpoint_every``,
``converged`` (default false) and ``name``.

With ``[until_converged]`` every production task runs the preset's production, then extends it
chunk by chunk (:func:`solidion.pipeline.converge.run_until`) until the target is met or its
budget is spent; the history of checks is in the task's record. The target is not part of a
task's fingerprint: tasks already done are not reopened when it changes.

Mistakes raise :class:`~solidion.errors.InputError` naming the file and the key, e.g.
``campaign.toml: temperatures: -5 must be positive``. A composition that is not charge-neutral
is *not* a mistake here: it fails as its own task when the campaign runs (``campaign plan``
warns about it), so one bad member of a grid never stops the others.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solidion.chemistry import Composition, oxyhalide_family
from solidion.errors import InputError
from solidion.md import Preset, Stage, preset
from solidion.pipeline.converge import Target, parse_duration_s

__all__ = ["Campaign", "CompositionSpec", "load_campaign", "parse_campaign"]

#: Keys of the top level of a campaign file.
TOP_KEYS = (
    "name",
    "output",
    "compositions",
    "temperatures",
    "preset",
    "protocol",
    "n_atoms",
    "production_ps",
    "potential",
    "seed",
    "replicas",
    "max_attempts",
    "threads_per_task",
    "until_converged",
)
#: Keys of an ``[until_converged]`` table.
UNTIL_CONVERGED_KEYS = (
    "diffusivity_rel_err",
    "conductivity_rel_err",
    "min_hops_per_ion",
    "budget",
)
#: Keys of an explicit ``[protocol]`` table.
PROTOCOL_KEYS = ("name", "n_atoms", "melt_quench", "production", "checkpoint_every", "converged")
#: Suffixes that mark a potential spec as a checkpoint file (resolved against the file's folder).
_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".tar", ".ckpt")


@dataclass(frozen=True)
class CompositionSpec:
    """One composition of the grid.

    Attributes:
        formula: The formula as :class:`~solidion.chemistry.Composition` writes it (also the
            name of its directory under the output root).
        A: Alkali metal when the composition comes from the A M X₂.₅O₀.₇₅ family, else None.
        M: Trivalent metal of the family member, else None.
        X: Halogen of the family member, else None.
    """

    formula: str
    A: str | None = None
    M: str | None = None
    X: str | None = None

    @property
    def composition(self) -> Composition:
        """The parsed composition."""
        return Composition(self.formula)

    def neutrality_problem(self) -> str | None:
        """Why the composition cannot be simulated as it is (None when it is charge-neutral)."""
        try:
            self.composition.check_neutral()
        except InputError as exc:
            return str(exc)
        return None


@dataclass(frozen=True)
class Campaign:
    """A parsed, validated campaign file.

    Attributes:
        name: Campaign name.
        source: The campaign file.
        output: Output root (absolute): one directory per composition, and ``campaign.sqlite``.
        compositions: The compositions, in file order (explicit formulas first, then the family).
        temperatures_K: Production temperatures.
        preset: The protocol (melt-and-quench + production at each temperature).
        preset_label: How the protocol was given (``quick``, a file name, ``protocol table``).
        potential: Potential spec (name or absolute checkpoint path).
        seed: Seed of every random choice.
        replicas: Independent production runs per (composition, temperature).
        max_attempts: A task that failed this many times is not retried.
        threads_per_task: Torch threads of each task.
        until_converged: Production in chunks until this target is met (None: the preset's
            production length only).
    """

    name: str
    source: Path
    output: Path
    compositions: tuple[CompositionSpec, ...]
    temperatures_K: tuple[float, ...]
    preset: Preset
    preset_label: str
    potential: str
    seed: int
    replicas: int
    max_attempts: int
    threads_per_task: int
    until_converged: Target | None = None

    @property
    def database(self) -> Path:
        """The results store, ``<output>/campaign.sqlite``."""
        return self.output / "campaign.sqlite"

    def composition_dir(self, formula: str) -> Path:
        """The directory of one composition (the layout of ``solidion run``)."""
        return self.output / formula

    @property
    def is_family(self) -> bool:
        """Whether every composition is a member of the A M X₂.₅O₀.₇₅ family."""
        return bool(self.compositions) and all(c.A is not None for c in self.compositions)


def read_table(path: str | os.PathLike[str], what: str) -> Mapping[str, Any]:
    """The top-level table of a TOML or YAML file (by its suffix); ``what`` names it in errors.

    Raises:
        InputError: A missing or unreadable file, an unknown suffix, a syntax error, or a top
            level that is not a table (the message names the file).
    """
    p = Path(path)
    label = str(path)
    if not p.is_file():
        raise InputError(f"{label}: no such {what}")
    suffix = p.suffix.lower()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{label}: cannot read the {what} ({exc})") from None
    if suffix == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{label}: not valid TOML ({exc})") from None
    elif suffix in (".yaml", ".yml"):
        from ruamel.yaml import YAML, YAMLError

        try:
            data = YAML(typ="safe", pure=True).load(text)
        except YAMLError as exc:
            raise InputError(f"{label}: not valid YAML ({exc})") from None
    else:
        raise InputError(f"{label}: a {what} is .toml, .yaml or .yml, not {suffix!r}")
    if not isinstance(data, Mapping):
        raise InputError(f"{label}: the top level must be a table of keys")
    return data


def load_campaign(path: str | os.PathLike[str]) -> Campaign:
    """Read and validate a campaign file (TOML or YAML, by its suffix).

    Raises:
        InputError: Unreadable file, unknown suffix or key, or a bad value (the message names
            the file and the key).
    """
    data = read_table(path, "campaign file")
    p, label = Path(path), str(path)
    return parse_campaign(data, p, label=label)


def parse_campaign(
    data: Mapping[str, Any], source: str | os.PathLike[str], *, label: str | None = None
) -> Campaign:
    """Validate the content of a campaign file (paths in it are relative to ``source``'s folder).

    Example:
        >>> c = parse_campaign(
        ...     {"compositions": {"family": {"A": "Li", "M": "Al", "X": ["Cl", "Br"]}},
        ...      "temperatures": [600, 800], "output": "out"}, "/tmp/grid.toml")
        >>> [x.formula for x in c.compositions], c.temperatures_K, c.preset.name
        (['LiAlCl2.5O0.75', 'LiAlBr2.5O0.75'], (600.0, 800.0), 'quick')
        >>> str(c.output), c.name, c.is_family
        ('/tmp/out', 'grid', True)
    """
    src = Path(source).absolute()
    where = label or str(source)
    base = src.parent

    def fail(key: str, problem: str) -> InputError:
        return InputError(f"{where}: {key}: {problem}")

    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(TOP_KEYS)})"
        )
    name = _string(data.get("name", src.stem), "name", fail)
    output = Path(_string(data.get("output", str(Path("runs") / name)), "output", fail))
    output = Path(os.path.normpath(output if output.is_absolute() else base / output))
    compositions = _compositions(data.get("compositions"), fail)
    temps = _temperatures(data.get("temperatures"), fail)
    seed = _integer(data.get("seed", 0), "seed", fail, minimum=0)
    replicas = _integer(data.get("replicas", 1), "replicas", fail, minimum=1)
    max_attempts = _integer(data.get("max_attempts", 3), "max_attempts", fail, minimum=1)
    threads = _integer(data.get("threads_per_task", 1), "threads_per_task", fail, minimum=1)
    potential = _string(data.get("potential", "chgnet"), "potential", fail)
    if potential.lower().endswith(_CHECKPOINT_SUFFIXES) or os.sep in potential:
        pot_path = Path(potential)
        potential = os.path.normpath(pot_path if pot_path.is_absolute() else base / pot_path)
    n_atoms = data.get("n_atoms")
    if n_atoms is not None:
        n_atoms = _integer(n_atoms, "n_atoms", fail, minimum=2)
    prod_ps = data.get("production_ps")
    if prod_ps is not None:
        prod_ps = _positive(prod_ps, "production_ps", fail)
    if "protocol" in data and "preset" in data:
        raise fail("protocol", "give either preset or a [protocol] table, not both")
    if "protocol" in data:
        if prod_ps is not None:
            raise fail("production_ps", "applies to named presets; set durations in [protocol]")
        if temps is None:
            raise fail("temperatures", "required with a [protocol] table")
        p = _protocol(data["protocol"], temps, n_atoms, fail)
        label_p = "protocol table"
    else:
        spec = _string(data.get("preset", "quick"), "preset", fail)
        p, label_p = _preset(spec, temps, n_atoms, prod_ps, base, fail)
    return Campaign(
        name=name,
        source=src,
        output=output,
        compositions=compositions,
        temperatures_K=tuple(p.temperatures_K),
        preset=p,
        preset_label=label_p,
        potential=potential,
        seed=seed,
        replicas=replicas,
        max_attempts=max_attempts,
        threads_per_task=threads,
        until_converged=_until_converged(data.get("until_converged"), fail),
    )


def _until_converged(value: Any, fail) -> Target | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise fail("until_converged", f"must be a table, got {value!r}")
    extra = sorted(set(value) - set(UNTIL_CONVERGED_KEYS))
    if extra:
        raise fail(
            "until_converged",
            f"unknown key(s) {', '.join(extra)} (known: {', '.join(UNTIL_CONVERGED_KEYS)})",
        )
    kw: dict[str, Any] = {}
    for key in ("diffusivity_rel_err", "conductivity_rel_err", "min_hops_per_ion"):
        if key in value:
            v = value[key]
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise fail(f"until_converged.{key}", f"must be a number, got {v!r}")
            kw[key] = float(v)
    if "budget" in value:
        b = value["budget"]
        if isinstance(b, bool) or not isinstance(b, str | int | float):
            raise fail("until_converged.budget", f'must be e.g. "2h" or seconds, got {b!r}')
        try:
            kw["budget_s"] = parse_duration_s(str(b), option="budget")
        except InputError as exc:
            raise fail("until_converged.budget", str(exc)) from None
    try:
        return Target(**kw)
    except InputError as exc:
        raise fail("until_converged", str(exc)) from None


# -- values --------------------------------------------------------------------------------------
def _string(value: Any, key: str, fail) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(key, f"must be a non-empty string, got {value!r}")
    return value.strip()


def _integer(value: Any, key: str, fail, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(key, f"must be an integer, got {value!r}")
    if value < minimum:
        raise fail(key, f"must be at least {minimum}, got {value}")
    return int(value)


def _positive(value: Any, key: str, fail) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(key, f"must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise fail(key, f"{value:g} must be positive")
    return float(value)


def _temperatures(value: Any, fail) -> tuple[float, ...] | None:
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise fail("temperatures", f"must be a non-empty list of numbers, got {value!r}")
    temps = tuple(_positive(t, "temperatures", fail) for t in value)
    if len(set(temps)) != len(temps):
        raise fail("temperatures", f"duplicates in {', '.join(f'{t:g}' for t in temps)}")
    return temps


def _compositions(value: Any, fail) -> tuple[CompositionSpec, ...]:
    if value is None:
        raise fail("compositions", "required: a list of formulas or a table (formulas, family)")
    formulas: Any = []
    family: Any = None
    if isinstance(value, Mapping):
        extra = sorted(set(value) - {"formulas", "family"})
        if extra:
            raise fail("compositions", f"unknown key(s) {', '.join(extra)} (formulas, family)")
        formulas = value.get("formulas", [])
        family = value.get("family")
    elif isinstance(value, Sequence) and not isinstance(value, str):
        formulas = value
    else:
        raise fail("compositions", f"must be a list of formulas or a table, got {value!r}")
    if isinstance(formulas, str) or not isinstance(formulas, Sequence):
        raise fail("compositions.formulas", f"must be a list of formulas, got {formulas!r}")
    out: list[CompositionSpec] = []
    for f in formulas:
        if not isinstance(f, str):
            raise fail("compositions.formulas", f"{f!r} is not a formula string")
        try:
            out.append(CompositionSpec(str(Composition(f))))
        except InputError as exc:
            raise fail("compositions.formulas", str(exc)) from None
    if family is not None:
        if not isinstance(family, Mapping):
            raise fail("compositions.family", f"must be a table of A, M, X, got {family!r}")
        extra = sorted(set(family) - {"A", "M", "X"})
        if extra:
            raise fail("compositions.family", f"unknown key(s) {', '.join(extra)} (A, M, X)")
        kw = {k: family[k] for k in ("A", "M", "X") if k in family}
        try:
            members = oxyhalide_family(**kw)
        except InputError as exc:
            raise fail("compositions.family", str(exc)) from None
        for c in members:
            amounts = c.amounts
            a, m, x = (el for el in amounts if el != "O")
            out.append(CompositionSpec(str(c), A=a, M=m, X=x))
    if not out:
        raise fail("compositions", "no composition given")
    seen: set[str] = set()
    for c in out:
        if c.formula in seen:
            raise fail("compositions", f"{c.formula} is listed twice")
        seen.add(c.formula)
    return tuple(out)


def _preset(
    spec: str,
    temps: tuple[float, ...] | None,
    n_atoms: int | None,
    production_ps: float | None,
    base: Path,
    fail,
) -> tuple[Preset, str]:
    if spec.endswith(".json"):
        path = Path(spec) if Path(spec).is_absolute() else base / spec
        if production_ps is not None:
            raise fail("production_ps", "applies to named presets; edit the preset file instead")
        try:
            p = Preset.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise fail("preset", f"cannot read the preset file {path} ({exc})") from None
        except InputError as exc:
            raise fail("preset", f"{path}: {exc}") from None
        if temps is not None and tuple(sorted(temps)) != tuple(sorted(p.temperatures_K)):
            raise fail(
                "temperatures",
                f"the preset file {path.name} is run at "
                f"{', '.join(f'{t:g}' for t in p.temperatures_K)} K; leave temperatures out or "
                "edit its production list",
            )
        if n_atoms is not None:
            p = dataclasses.replace(p, n_atoms=n_atoms)
        return p, path.name
    if temps is None:
        raise fail("temperatures", "required with a named preset")
    try:
        return preset(spec, temps, n_atoms=n_atoms, production_ps=production_ps), spec
    except InputError as exc:
        text = str(exc)
        if text.startswith("temperatures: "):
            raise fail("temperatures", text.removeprefix("temperatures: ")) from None
        raise fail("preset", text) from None


def _stage(data: Any, key: str, fail) -> Stage:
    if not isinstance(data, Mapping):
        raise fail(key, f"each stage must be a table of Stage fields, got {data!r}")
    try:
        return Stage.from_dict(data)
    except (InputError, TypeError) as exc:
        raise fail(key, str(exc)) from None


def _protocol(data: Any, temps: tuple[float, ...], n_atoms: int | None, fail) -> Preset:
    if not isinstance(data, Mapping):
        raise fail("protocol", f"must be a table, got {data!r}")
    extra = sorted(set(data) - set(PROTOCOL_KEYS))
    if extra:
        raise fail("protocol", f"unknown key(s) {', '.join(extra)} ({', '.join(PROTOCOL_KEYS)})")
    for key in ("melt_quench", "production"):
        v = data.get(key)
        if not isinstance(v, Sequence) or isinstance(v, str) or not v:
            raise fail(f"protocol.{key}", "must be a non-empty list of stage tables")
    mq = tuple(_stage(s, "protocol.melt_quench", fail) for s in data["melt_quench"])
    production = []
    for t in temps:
        stages = []
        for i, s in enumerate(data["production"]):
            if not isinstance(s, Mapping):
                raise fail("protocol.production", f"each stage must be a table, got {s!r}")
            fixed = sorted({"T_start_K", "T_end_K"} & set(s))
            if fixed:
                raise fail(
                    "protocol.production",
                    f"{', '.join(fixed)}: production stages run at each of temperatures; "
                    "leave their temperatures out",
                )
            name = str(s.get("name") or f"production{'' if i == 0 else i}")
            stages.append(
                _stage(
                    {**s, "T_start_K": t, "T_end_K": t, "name": f"{name}_{t:g}K"},
                    "protocol.production",
                    fail,
                )
            )
        production.append(tuple(stages))
    size = n_atoms if n_atoms is not None else data.get("n_atoms")
    if size is None:
        raise fail("protocol.n_atoms", "required (or n_atoms at the top level)")
    size = _integer(size, "protocol.n_atoms", fail, minimum=2)
    every = _integer(
        data.get("checkpoint_every", 500), "protocol.checkpoint_every", fail, minimum=1
    )
    converged = data.get("converged", False)
    if not isinstance(converged, bool):
        raise fail("protocol.converged", f"must be true or false, got {converged!r}")
    name = _string(data.get("name", "custom"), "protocol.name", fail)
    return Preset(
        name=name,
        n_atoms=size,
        temperatures_K=temps,
        melt_quench=mq,
        production=tuple(production),
        checkpoint_every=every,
        quench_rate_K_ps=math.nan,
        converged=converged,
        notes="explicit protocol of a campaign file",
    )
