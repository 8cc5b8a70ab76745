"""Fine-tune CHGNet on reference data, and know when the potential can be trusted.

The loop a user runs to improve the potential for their chemistry:

1. **label** reference structures (DFT, or any ASE calculator) — :mod:`.label`;
2. **read** them (extended XYZ, ASE database, VASP ``vasprun.xml``/``OUTCAR``) with units and
   stress sign checked, and **split** them by structure or by trajectory — :mod:`.datasets`;
3. **fine-tune** from the pretrained weights with chgnet's trainer, early stopping on the
   validation split — :mod:`.train`;
4. **evaluate** errors before and after on the test split, with the **softening ratio** (slope
   of predicted vs reference forces; < 1 means a softened surface) — :mod:`.evaluate`;
5. run MD with the checkpoint (``--potential model.pt``) and **check** how far each production
   run strays from the training environments — :mod:`.trust`;
6. **select** diverse or disputed frames of those runs for the next round of labels —
   :mod:`.select`.

Checkpoints are data (``torch.load(weights_only=True)``), never code — :mod:`.checkpoint`.

Importing this package imports neither torch nor chgnet (CLI start-up stays fast); they load
when a function needs them.

Example (the loop with VASP labels; see docs/finetune.md)::

    from solidion.potentials import finetune as ft

    frames = ft.select_frames(["runs/x/T600K/00_production_600K.h5"], n=50, rng=0)
    ft.write_frames(frames, "to_label.extxyz")
    ft.label_frames("to_label.extxyz", "ase.calculators.vasp:Vasp", "labelled.extxyz",
                    calculator_options={"xc": "PBE"}, workdir="dft")
    report = ft.run_finetune(["labelled.extxyz"], "model.pt", ft.FinetuneConfig(epochs=30))
    print(report.before.force_mae_meV_A, report.after.force_mae_meV_A)
"""

from __future__ import annotations

from solidion.potentials.finetune.checkpoint import (
    CHECKPOINT_FORMAT,
    FinetuneCheckpoint,
    read_finetune_checkpoint,
    save_checkpoint,
)
from solidion.potentials.finetune.datasets import (
    FORMATS,
    DatasetSplit,
    LabelledDataset,
    LabelledStructure,
    read_labelled,
    read_many,
    split_dataset,
    stress_to_ase,
    write_labelled,
)
from solidion.potentials.finetune.descriptors import RadialDescriptor, frame_descriptors
from solidion.potentials.finetune.evaluate import (
    ErrorMetrics,
    Predictions,
    compare,
    evaluate,
    parity_plot,
    predict,
    softening_ratio,
)
from solidion.potentials.finetune.label import calculator_from_spec, label_frames
from solidion.potentials.finetune.select import (
    committee_disagreement,
    farthest_point_sampling,
    select_by_committee,
    select_frames,
    write_frames,
)
from solidion.potentials.finetune.train import (
    FREEZE_PRESETS,
    EpochRecord,
    FinetuneConfig,
    FinetuneReport,
    FinetuneResult,
    finetune,
    freeze_layers,
    load_base_model,
    run_finetune,
)
from solidion.potentials.finetune.trust import (
    DEFAULT_LIMIT_FRACTION,
    TrustReference,
    TrustReport,
    frames_of_trajectory,
    trust_block,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_LIMIT_FRACTION",
    "FORMATS",
    "FREEZE_PRESETS",
    "DatasetSplit",
    "EpochRecord",
    "ErrorMetrics",
    "FinetuneCheckpoint",
    "FinetuneConfig",
    "FinetuneReport",
    "FinetuneResult",
    "LabelledDataset",
    "LabelledStructure",
    "Predictions",
    "RadialDescriptor",
    "TrustReference",
    "TrustReport",
    "calculator_from_spec",
    "committee_disagreement",
    "compare",
    "evaluate",
    "farthest_point_sampling",
    "finetune",
    "frame_descriptors",
    "frames_of_trajectory",
    "freeze_layers",
    "label_frames",
    "load_base_model",
    "parity_plot",
    "predict",
    "read_finetune_checkpoint",
    "read_labelled",
    "read_many",
    "run_finetune",
    "save_checkpoint",
    "select_by_committee",
    "select_frames",
    "softening_ratio",
    "split_dataset",
    "stress_to_ase",
    "trust_block",
    "write_frames",
    "write_labelled",
]
