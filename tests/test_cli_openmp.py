"""The CLI makes idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE) before torch loads.

With torch's default spin-waiting, a 2-thread CHGNet MD process on 2 cores fell from ~550 to
35 atom-steps/s while another process held one core (issue #17).
"""

from __future__ import annotations

import os
import subprocess
import sys

from solidion import cli

SCRIPT = """
import os, sys
from solidion import cli
cli.main(["--help"])
print("policy", os.environ.get("OMP_WAIT_POLICY"), "torch" in sys.modules)
"""


def test_cli_sets_a_passive_wait_policy_before_torch_is_imported():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1] == "policy PASSIVE False"


def test_cli_keeps_an_explicit_wait_policy(monkeypatch, capsys):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert cli.main(["--help"]) == 0
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
