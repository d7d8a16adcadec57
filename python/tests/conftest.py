"""Shared fixtures of the keywheel Python tests.

The tests import the installed ``keywheel`` package (``pip install ./python``), never the source
tree, so that they test what users get.
"""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # for `import reference`

PYTHON_DIR = HERE.parent
REPO_ROOT = PYTHON_DIR.parent
VECTORS_PATH = REPO_ROOT / "tests" / "vectors" / "keywheel.json"

# CI: more examples, no deadline (a loaded 2-core machine must not fail a property test).
settings.register_profile("ci", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# The tofurkey test key (tofurkey 1.3.4 t/test.key; SPEC.md §3.3).
TOFURKEY_KEY = bytes.fromhex("363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b")


@pytest.fixture
def main_bytes() -> bytes:
    return bytes((i * 7 + 3) % 251 for i in range(32))
