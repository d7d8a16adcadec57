"""The `keywheel` crate as crates.io would get it: `cargo package` and `cargo publish --dry-run`
succeed, the packaged crate builds and passes its own tests on its own (extracted into a
temporary directory, outside the workspace), and its docs build without a warning.

The target directory target/packaging/crate is kept between runs so that repeated runs only
rebuild the crate itself.
"""

import os
import re
import tarfile
from pathlib import Path

from conftest import ROOT, run

VERSION = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
# --allow-dirty everywhere: the test checks what would be packaged from the working tree as it is.

def test_package_contents_and_metadata():
    files = run(["cargo", "package", "-p", "keywheel", "--locked", "--allow-dirty", "--list"], cwd=ROOT).stdout.split()
    for needed in ("Cargo.toml", "Cargo.lock", "README.md", "LICENSE-MIT", "LICENSE-APACHE", "src/lib.rs"):
        assert needed in files, (needed, files)
    assert all(f.startswith(("src/", "tests/")) or "/" not in f for f in files), files
    for f in ("LICENSE-MIT", "LICENSE-APACHE"):
        assert (ROOT / "core" / f).read_text() == (ROOT / f).read_text(), f
    # The README is the crate documentation (crates.io page and docs.rs front page alike).
    assert (ROOT / "core/src/lib.rs").read_text().startswith('#![doc = include_str!("../README.md")]')


def test_packaged_crate_builds_and_tests_alone(tmp_path):
    run(["cargo", "package", "-p", "keywheel", "--locked", "--allow-dirty"], cwd=ROOT)
    crate = ROOT / f"target/package/keywheel-{VERSION}.crate"
    with tarfile.open(crate) as t:
        t.extractall(tmp_path, filter="data")
    src = tmp_path / f"keywheel-{VERSION}"
    manifest = (src / "Cargo.toml").read_text()
    assert 'readme = "README.md"' in manifest
    assert 'license = "MIT OR Apache-2.0"' in manifest
    assert "example.invalid" not in manifest
    assert "workspace" not in re.sub(r"#.*", "", manifest)  # normalised: nothing inherited
    env = {**os.environ, "CARGO_TARGET_DIR": str(ROOT / "target/packaging/crate")}
    # Outside the workspace, with the crate's own Cargo.lock, no network.
    out = run(["cargo", "test", "--offline", "--locked", "--manifest-path", src / "Cargo.toml"], env=env, cwd=tmp_path)
    assert re.search(r"test result: ok\. [1-9]", out.stdout), out.stdout
    run(["cargo", "build", "--offline", "--locked", "--target", "wasm32-unknown-unknown",
         "--manifest-path", src / "Cargo.toml"], env=env, cwd=tmp_path)


def test_docs_build_without_warnings():
    run(["cargo", "doc", "-p", "keywheel", "--no-deps", "--locked"], cwd=ROOT,
        env={**os.environ, "RUSTDOCFLAGS": "-Dwarnings"})


def test_publish_dry_run():
    p = run(["cargo", "publish", "--dry-run", "-p", "keywheel", "--locked", "--allow-dirty"], cwd=ROOT)
    assert "aborting upload due to dry run" in p.stderr, p.stderr
