"""Shared helpers of the packaging tests (tests/packaging): the repository root, a runner that
shows the output of a failed command, and the hashlib reference of python/tests."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# python/tests/reference.py: keywheel written from SPEC.md on hashlib, sharing no code with it.
sys.path.insert(0, str(ROOT / "python/tests"))


def run(cmd, **kw):
    """Runs `cmd` (a list), fails with its output when it exits non-zero; returns the process."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    p = subprocess.run([str(c) for c in cmd], check=False, **kw)
    if p.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        )
    return p
