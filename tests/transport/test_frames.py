"""The reference frame travels with H_R and t: result, JSON, CSV, campaign store and comparison."""

from __future__ import annotations

import warnings

import numpy as np

from solidion.campaign.report import _comparison_section, frame_conflict
from solidion.campaign.store import result_rows
from solidion.pipeline.results import csv_rows
from solidion.transport import analyze
from tests.transport.conftest import correlated_cation_pairs


def _results_json(frame: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = analyze(correlated_cation_pairs(3), mobile="Li", frame=frame, cluster_cutoffs={})
    return {"transport": {"results": [res.to_dict()], "arrhenius": None}, "convergence": [{}]}


def test_frame_is_in_the_csv_and_the_campaign_rows():
    doc = _results_json("barycentric")
    row = csv_rows(doc)[0]
    assert row["frame"] == "barycentric"
    assert row["reference_frame.mobile_collective_factor_vs_barycentric"] == 1.0
    assert row["haven_ratio"] == doc["transport"]["results"][0]["haven_ratio"]["value"]
    stored = {r.quantity: r for r in result_rows(doc)}
    assert stored["transport.frame.barycentric"].value == 1.0
    assert "transport.haven_ratio" in stored


def _comparison(frames: dict[str, str]) -> tuple[dict, list[dict]]:
    results, comps = {}, []
    for i, (formula, frame) in enumerate(frames.items()):
        results[formula] = {
            (600.0, "transport.haven_ratio"): {"value": 0.5 + 0.1 * i, "stderr": 0.05},
            (600.0, "transport.transference.einstein.Li"): {"value": 0.9, "stderr": 0.02},
        }
        if frame:
            results[formula][(600.0, f"transport.frame.{frame}")] = {"value": 1.0, "stderr": None}
        comps.append(
            {"formula": formula, "A": None, "M": None, "X": None, "mobile": "Li", "state": "done"}
        )
    return results, comps


def test_campaign_comparison_refuses_to_mix_frames():
    results, comps = _comparison({"LiAlCl2.5O0.75": "framework", "NaAlCl2.5O0.75": "barycentric"})
    why = frame_conflict(results, list(results))
    assert why is not None and "different reference frames" in why
    assert "framework: LiAlCl2.5O0.75" in why and "barycentric: NaAlCl2.5O0.75" in why
    html = _comparison_section(comps, results, [], [600.0])
    assert "not compared" in html and "haven_ratio_600K__" not in html
    # one frame: compared, and the frame is named beside H_R and t
    results, comps = _comparison({"LiAlCl2.5O0.75": "framework", "NaAlCl2.5O0.75": "framework"})
    assert frame_conflict(results, list(results)) is None
    html = _comparison_section(comps, results, [], [600.0])
    assert "haven_ratio_600K__NaAlCl2.5O0.75" in html and "(framework frame)" in html
    # databases from before the frame was stored do not block the comparison
    results, _ = _comparison({"LiAlCl2.5O0.75": "", "NaAlCl2.5O0.75": ""})
    assert frame_conflict(results, list(results)) is None
    assert np.isfinite(results["LiAlCl2.5O0.75"][(600.0, "transport.haven_ratio")]["value"])
