"""Forward secrecy in memory (FORWARD_SECRECY.md, "Proof obligations"; issue 11, "Memory and
files"): a Python process that used keywheel's ``State`` and ``TicketKeys.from_state`` for
counter n, then advanced past it and deleted the old objects, holds in its memory no byte
string of key n (AES and HMAC keys), its label key, its leaf, or any tree node covering seconds
before its state's start. /proc/PID/mem is read as root, every readable mapping.

The expected byte strings come from the independent reference (forward_independent.py,
hashlib), computed here in the test process: the scanned process (forward_memory_child.py)
never held them. As a control, the same scan must find key n while the process still holds it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import forward_independent as fs

HERE = Path(__file__).resolve().parent
SEED = bytes((7 * i + 1) % 256 for i in range(32))
LABEL = "memory.example"
INTERVAL = 3600
N = 486_111  # 2025-06-15
S0 = (N - 3) * INTERVAL - 1234  # the state file the process starts from


def readable_memory(pid: int) -> list[tuple[str, bytes]]:
    """Every readable mapping of process `pid`, as (its maps line, its bytes)."""
    out = []
    unreadable = []
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps, \
            open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            start, end, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            if perms[0] != "r":
                continue
            try:
                mem.seek(start)
                out.append((line.strip(), mem.read(end - start)))
            except OSError:
                unreadable.append(line.strip())
    # Only the kernel's special mappings may refuse to be read.
    assert all(u.endswith(("[vvar]", "[vsyscall]", "[vvar_vclock]")) for u in unreadable), \
        unreadable
    assert out, "no readable mapping"
    return out


def find(memory, secrets: dict[str, bytes]) -> list[str]:
    """The names of the secrets found anywhere in memory, with where."""
    found = []
    for name, value in secrets.items():
        for where, data in memory:
            if value in data:
                found.append(f"{name} in {where}")
                break
    return found


def nodes_before(s0_final: int, starts: list[int], leaves: list[int]) -> dict[str, bytes]:
    """Every tree node the process could have held that covers a second before `s0_final`:
    the covers of the states it held and the paths from them down to the leaves it derived."""
    names = set()
    for s in starts:
        names.update(fs.cover(s))
    for t in leaves:
        names.update((h, t >> h) for h in range(0, fs.DEPTH + 1))
    return {f"node ({h}, {p})": fs.node(SEED, h, p)
            for h, p in sorted(names) if p << h < s0_final}


def test_no_old_key_in_memory(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("reading /proc/PID/mem of another process needs root")
    state_file = tmp_path / "memory.state"
    state_file.write_bytes(fs.state_file(SEED, S0))
    state_file.chmod(0o600)
    label_key = fs.fs_label_key(SEED, INTERVAL, N, LABEL.encode())
    key = fs.fs_ticket_key(SEED, LABEL.encode(), INTERVAL, "aes256", N)
    key_n = {"AES key of n": key.aes, "HMAC key of n": key.hmac, "label key of n": label_key,
             "leaf of n": fs.leaf(SEED, N * INTERVAL)}
    s0_final = (N + 1) * INTERVAL
    # The states the process held: the file's, the ticket keys' copies, the advanced one.
    starts = [S0, (N - 1) * INTERVAL, (N + 1) * INTERVAL]
    leaves = [c * INTERVAL for c in range(N - 1, N + 4)]
    secrets = {**key_n, **nodes_before(s0_final, starts, leaves)}
    assert len(secrets) > 40

    child = subprocess.Popen(
        [sys.executable, str(HERE / "forward_memory_child.py"), str(state_file), LABEL,
         str(INTERVAL), str(N)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "holding key n", child.stderr.read()
        held = find(readable_memory(child.pid), key_n)
        # The control: the scan sees key n while the process holds it.
        assert "AES key of n" in " ".join(held), held
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "past key n", child.stderr.read()
        left = find(readable_memory(child.pid), secrets)
        assert left == [], f"{len(left)} old secrets left in memory: {left}"
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.wait(timeout=60) == 0, child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
