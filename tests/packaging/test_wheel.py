"""The Python package as users get it: `maturin build --release` gives one abi3 wheel with a
manylinux tag this machine's glibc satisfies; `pip install` of it into a fresh venv imports and
runs python/README.md's examples; `maturin sdist` gives a source archive that builds a wheel.

KEYWHEEL_WHEEL_DIR may name a directory where maturin already put the wheel and the sdist
(test.sh does); otherwise they are built here. maturin comes from the venv running the test.
"""

import os
import platform
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, run

BIN = Path(sys.executable).parent
VERSION = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    given = os.environ.get("KEYWHEEL_WHEEL_DIR")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    run([BIN / "maturin", "build", "--release", "--locked", "-o", out], cwd=ROOT / "python", env=ENV)
    run([BIN / "maturin", "sdist", "-o", out], cwd=ROOT / "python", env=ENV)
    return out


def test_one_abi3_manylinux_wheel(dist):
    wheels = sorted(p.name for p in dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    m = re.fullmatch(rf"keywheel-{re.escape(VERSION)}-cp39-abi3-manylinux_2_(\d+)_x86_64\.whl", wheels[0])
    assert m, wheels[0]
    # Installable here (and on any glibc at least as new): the tag's glibc is not newer.
    libc, libc_version = platform.libc_ver()
    assert libc == "glibc" and int(m.group(1)) <= int(libc_version.split(".")[1]), (wheels[0], libc_version)
    names = zipfile.ZipFile(dist / wheels[0]).namelist()
    for needed in ("keywheel/__init__.py", "keywheel/_keywheel.abi3.so", "keywheel/_keywheel.pyi",
                   "keywheel/py.typed", f"keywheel-{VERSION}.dist-info/licenses/LICENSE-MIT",
                   f"keywheel-{VERSION}.dist-info/licenses/LICENSE-APACHE"):
        assert needed in names, (needed, names)
    metadata = zipfile.ZipFile(dist / wheels[0]).read(f"keywheel-{VERSION}.dist-info/METADATA").decode()
    assert "License-Expression: MIT OR Apache-2.0" in metadata
    assert "Requires-Python: >=3.9" in metadata
    assert "# keywheel for Python" in metadata  # the README is the long description


def test_wheel_installs_into_a_fresh_venv_and_runs_the_readme(dist, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    wheel = next(dist.glob("*.whl"))
    run([venv / "bin/pip", "install", "-q", "--no-index", "--no-deps", wheel])
    # Run from an empty directory: nothing of the checkout is on sys.path.
    p = run([venv / "bin/python", "-c", "import keywheel; print(keywheel.__file__)"], cwd=tmp_path)
    assert p.stdout.strip().startswith(str(venv)), p.stdout
    p = subprocess.run([venv / "bin/python", ROOT / "tests/packaging/wheel_readme.py", ROOT / "python/README.md",
                        ROOT / "python/tests"], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith(f"keywheel from {venv}"), p.stdout


def test_sdist_builds_a_wheel(dist, tmp_path):
    sdists = sorted(dist.glob("*.tar.gz"))
    assert [p.name for p in sdists] == [f"keywheel-{VERSION}.tar.gz"]
    names = tarfile.open(sdists[0]).getnames()
    top = f"keywheel-{VERSION}"
    for needed in ("pyproject.toml", "PKG-INFO", "Cargo.lock", "core/src/lib.rs", "python/src/lib.rs",
                   "python/keywheel/__init__.py", "python/LICENSE-MIT", "python/LICENSE-APACHE"):
        assert f"{top}/{needed}" in names, (needed, sorted(names))
    # pip builds it as an installer would (maturin from this venv, no network); a target
    # directory under target/ is reused between runs.
    out = tmp_path / "out"
    env = {**ENV, "CARGO_TARGET_DIR": str(ROOT / "target/packaging/sdist")}
    run([BIN / "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, sdists[0]],
        env=env)
    assert len(list(out.glob(f"keywheel-{VERSION}-cp39-abi3-*.whl"))) == 1
