"""The real `tofurkey` binary against hashlib and libsodium, for random main keys, intervals and
times: the -V key line and the bytes written to the procfs file (71 characters and a NUL)."""

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from independent import MAX_INTERVAL, MAX_TIME, MIN_INTERVAL, MIN_TIME, binary, tfo_procfs

KEY_LINE = re.compile(
    r"^info: Generated ASCII TFO keys for procfs write: \[(\d+)\] ([0-9a-f,-]+)$", re.MULTILINE
)

intervals = st.integers(MIN_INTERVAL // 2, MAX_INTERVAL // 2).map(lambda half: 2 * half)


@st.composite
def interval_and_time(draw):
    """An even interval in 10..=604800 and a time in 1000000..=100000000000: uniform, or within
    2 s of a half-interval boundary, where the backup key and the next wake change."""
    interval = draw(intervals)
    if draw(st.booleans()):
        now = draw(st.integers(MIN_TIME, MAX_TIME))
    else:
        half = interval // 2
        k = draw(st.integers(MIN_TIME // half + 1, MAX_TIME // half))
        now = min(max(k * half + draw(st.integers(-2, 2)), MIN_TIME), MAX_TIME)
    return interval, now


@pytest.fixture(scope="module")
def tofurkey():
    return binary("tofurkey")


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="keywheel-random-tfo-") as d:
        yield Path(d)


def run_tofurkey(tofurkey: Path, workdir: Path, key: bytes, interval: int, now: int):
    key_file = workdir / "main.key"
    procfs = workdir / "fake_procfs"
    key_file.write_bytes(key)
    os.chmod(key_file, 0o600)
    procfs.write_bytes(b"")  # tofurkey opens the procfs path without O_CREAT, as the kernel's
    argv = [str(tofurkey), "-o", "-k", str(key_file), "-P", str(procfs), "-V",
            "-T", str(now), "-i", str(interval)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return proc, procfs.read_bytes()


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.binary(min_size=32, max_size=64).filter(lambda k: any(k[:32])), it=interval_and_time())
@example(key=bytes.fromhex("363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b"),
         it=(86400, 1000000))
@example(key=b"\x01" * 32, it=(MIN_INTERVAL, MIN_TIME))
@example(key=b"\xff" * 64, it=(MAX_INTERVAL, MAX_TIME))
def test_tofurkey_keys_match_hashlib_and_libsodium(tofurkey, workdir, key, it):
    interval, now = it
    expected = tfo_procfs(key, interval, now)  # checks hashlib == libsodium on the way
    proc, written = run_tofurkey(tofurkey, workdir, key, interval, now)
    assert proc.returncode == 0, proc.stderr
    lines = KEY_LINE.findall(proc.stderr)
    assert lines == [(str(now), expected)], proc.stderr
    assert written == expected.encode("ascii") + b"\0"
