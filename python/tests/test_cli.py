"""The rendered server formats are byte-equal to what the `keywheel stek` CLI writes for the same
inputs (SPEC.md §4.4; README.md "TLS session tickets").

The binary is $KEYWHEEL_BIN_DIR/keywheel, else $CARGO_TARGET_DIR/debug/keywheel, else
target/debug/keywheel of the repository (build it with `cargo build --workspace --bins`). A
missing binary, or one without the `stek` subcommand, fails.
"""

import os
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

import keywheel
import reference as ref
from conftest import REPO_ROOT

MAIN = bytes((i * 13 + 200) % 251 for i in range(32))


def bin_dir() -> Path:
    d = os.environ.get("KEYWHEEL_BIN_DIR")
    if d:
        return Path(d).resolve()
    t = os.environ.get("CARGO_TARGET_DIR")
    if t:
        return (REPO_ROOT / t / "debug").resolve()
    return REPO_ROOT / "target" / "debug"


@lru_cache(maxsize=None)
def keywheel_bin() -> Path:
    path = bin_dir() / "keywheel"
    if not path.is_file():
        pytest.fail(f"{path} not found: build it first (cargo build --workspace --bins), "
                    "or point KEYWHEEL_BIN_DIR at the directory that holds it")
    probe = subprocess.run([str(path), "stek", "--help"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.fail(f"{path} has no `stek` subcommand: "
                    f"`keywheel stek --help` exited {probe.returncode}: {probe.stderr.strip()[:200]}")
    return path


@pytest.fixture
def main_key_file(tmp_path):
    p = tmp_path / "main.key"
    p.write_bytes(MAIN)
    os.chmod(p, 0o600)
    return p


def run_stek(main_key_file, out, fmt, label, now, interval=None, keep=None):
    args = [str(keywheel_bin()), "stek", "--format", fmt, "--label", label,
            "--main-key", str(main_key_file), "--out", str(out), "--time", str(now),
            "--once", "--allow-persistent"]
    if interval is not None:
        args += ["--interval", str(interval)]
    if keep is not None:
        args += ["--keep", str(keep)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"{args} exited {r.returncode}: {r.stderr}"
    # Keys are never printed without --print-keys.
    return r


CASES = [
    # format, label, time, interval, keep
    (fmt, label, now, interval, keep)
    for fmt in keywheel.FORMATS
    for label, now, interval, keep in [
        ("www.example.com", 1_700_000_000, 3600, 1),
        ("ünïcödé-cluster", 1_000_000, 10, 1),
        ("x" * 64, 100_000_000_000, 86400, 1 if fmt.startswith("haproxy") else 6),
        ("svc", 1_234_567_890, 600, 1 if fmt.startswith("haproxy") else 3),
        ("defaults", 1_700_001_234, None, None),  # the CLI's defaults: 3600 s, keep 1
    ]
]


@pytest.mark.parametrize("fmt,label,now,interval,keep", CASES)
def test_stek_files_equal_render(tmp_path, main_key_file, fmt, label, now, interval, keep):
    keywheel_bin()
    strength, _, _, b64 = ref.FORMATS[fmt]
    keys = keywheel.TicketKeys(keywheel.MainKey(MAIN), label, strength, interval or 3600,
                               1 if keep is None else keep)
    slot = keys.slot(now)
    rendered = keys.render(fmt, now)
    n = keywheel.format_record_len(fmt)
    records = [rendered[i:i + n] for i in range(0, len(rendered), n)]
    if fmt.startswith("nginx"):
        out = tmp_path / "nginx"
        out.mkdir(mode=0o700)
        r = run_stek(main_key_file, out, fmt, label, now, interval, keep)
        current = out / "current"
        assert current.is_symlink()
        assert current.resolve() == (out / f"keys.{slot.current}").resolve()
        files = sorted(p.name for p in current.iterdir())
        assert files == sorted(f"{i}.key" for i in range(len(records)))
        for i, rec in enumerate(records):
            assert (current / f"{i}.key").read_bytes() == rec, f"{i}.key"
        assert b"".join((current / f"{i}.key").read_bytes() for i in range(len(records))) == \
            rendered
    else:
        out = tmp_path / f"{fmt}.keys"
        r = run_stek(main_key_file, out, fmt, label, now, interval, keep)
        assert out.read_bytes() == rendered
        assert out.stat().st_mode & 0o777 == 0o600
    # No key material on the terminal.
    for rec in records:
        secret = rec.decode().strip()[24:] if b64 else rec[16:].hex()
        assert secret not in r.stdout + r.stderr
