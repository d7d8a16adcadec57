"""`keywheel stek --once --time T` output against SPEC.md 4.4 and README "TLS session
tickets" and the independent reference renderer: same bytes, same file layout, modes 0600/0700.
Runs without root (it needs only the built binary)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

import harness
import reference

LABEL = "shop.example"
INTERVAL = 3600
T0 = 1_700_000_000


@pytest.fixture(scope="module", autouse=True)
def cli():
    if not harness.stek_cli_available():
        pytest.fail(f"{harness.keywheel_bin()} has no `stek` subcommand (cargo build -p keywheel-cli)")


def _write(fmt, main_file, out, now, keep):
    cmd = [str(harness.keywheel_bin()), "stek", "--format", fmt, "--label", LABEL,
           "--main-key", str(main_file), "--interval", str(INTERVAL), "--keep", str(keep),
           "--out", str(out), "--once", "--time", str(now), "--allow-persistent"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr}"
    return r


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.mark.parametrize("keep", [0, 1, 3])
@pytest.mark.parametrize("fmt", ["nginx", "nginx48", "haproxy", "haproxy48", "apache", "ats",
                                 "openssl"])
def test_output_matches_reference(tmp_path, fmt, keep):
    main_file = tmp_path / "main.key"
    main = harness.write_main_key(main_file)
    if fmt.startswith("haproxy") and keep != 1:  # SPEC 4.4: a usage error, nothing written
        out = tmp_path / "out"
        cmd = [str(harness.keywheel_bin()), "stek", "--format", fmt, "--label", LABEL,
               "--main-key", str(main_file), "--keep", str(keep), "--out", str(out),
               "--once", "--time", str(T0), "--allow-persistent"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 2
        assert r.stderr.strip() == (f"error: keep {keep} does not fit format {fmt}: HAProxy uses "
                                    "exactly 3 keys (previous, current, next), so keep must be 1")
        assert not out.exists()
        return
    for now in (T0, T0 + INTERVAL, T0 + 5 * INTERVAL):  # rewrite: rotation and a gap
        cli_out, ref_out = tmp_path / f"cli-{fmt}", tmp_path / f"ref-{fmt}-{now}"
        _write(fmt, main_file, cli_out, now, keep)
        reference.render(fmt, main, LABEL, now, INTERVAL, keep, ref_out)
        c = now // INTERVAL
        if fmt in ("nginx", "nginx48"):
            n = keep + 2
            assert os.readlink(cli_out / "current") == f"keys.{c}"
            # Older keys.* removed, but the set `current` named before the last switch (kept
            # one more rotation for readers that followed `current` just before); the lock
            # file of the writers (docs/operations.md, "Hardening").
            names = sorted(p.name for p in cli_out.iterdir())
            previous = [n for n in names if n.startswith("keys.") and n != f"keys.{c}"]
            assert len(previous) <= 1, names
            assert sorted(set(names) - set(previous)) == \
                sorted([f"keys.{c}", "current", "nginx.conf", ".keywheel.lock"])
            assert sorted(p.name for p in (cli_out / "current").iterdir()) == \
                [f"{i}.key" for i in range(n)]
            for i in range(n):
                f = cli_out / f"keys.{c}" / f"{i}.key"
                assert f.read_bytes() == (ref_out / "current" / f"{i}.key").read_bytes(), (fmt, i)
                assert _mode(f) == 0o600
            assert _mode(cli_out / f"keys.{c}") == 0o700
            assert (cli_out / "nginx.conf").read_text() == "".join(
                f"ssl_session_ticket_key {cli_out.absolute()}/current/{i}.key;\n"
                for i in range(n))
            assert _mode(cli_out / "nginx.conf") == 0o600
        else:
            assert cli_out.read_bytes() == ref_out.read_bytes(), fmt
            assert _mode(cli_out) == 0o600
        leftovers = [p.name for p in cli_out.parent.iterdir()
                     if p.name not in {"main.key", cli_out.name} and not p.name.startswith("ref-")]
        assert leftovers == [], f"temporary files left behind: {leftovers}"
