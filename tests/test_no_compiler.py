"""The cost chapter on a machine without a C++ compiler: torch.compile cannot work there.

``CXX=/bin/false`` makes Inductor's compiler check fail, as on a laptop without build tools.
The chapter must still run top to bottom: the benchmark leaves out the compiled rows and says
"compile unavailable", and every compiled cell prints that line instead of failing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "16_cost.ipynb"


def test_cost_chapter_runs_without_a_compiler(tmp_path: Path) -> None:
    shutil.copy(CHAPTER, tmp_path / CHAPTER.name)
    shutil.copytree(ROOT / "book" / "data", tmp_path / "data")
    env = dict(os.environ, CXX="/bin/false", TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "inductor"))
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "run_notebooks.py"),
            "--timings",
            str(tmp_path / "timings.json"),
            str(tmp_path / CHAPTER.name),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    nb = json.loads((tmp_path / CHAPTER.name).read_text())
    text = "\n".join(
        "".join(o.get("text", ""))
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    )
    assert text.count("compile unavailable") >= 3  # the loop cell, the benchmark, the RMS code
    failed = [line for line in text.splitlines() if line.startswith("✗")]
    assert failed == [], f"claims that fail without a compiler: {failed}"
