"""keywheel's forward-secure mode against an independent Python implementation written from the
design text (forward_independent.py, hashlib): the worked example, every fs_* section of the
shared vectors, and hypothesis-random seeds, starts and seconds over the whole 0..2^40 range and
near its edges, through the test tool `forward` of tests/vectors — leaves, covers, state files,
advances, ticket keys, TFO keys, error messages (with dates computed by Python's datetime) and
thousands of malformed state files."""

import hashlib
import json
from hashlib import blake2b
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import forward_independent as fs
import base64

from independent import (SERVER_FORMATS, STRENGTHS, binary, format_keys, load_vectors,
                         procfs_key, tfo_slot, ticket_slot)

EXAMPLE_SEED = bytes(range(32))
EXAMPLE_S0 = 1749978000


# --- the worked example, Python alone --------------------------------------------------------

def test_worked_example():
    assert fs.root(EXAMPLE_SEED).hex() == (
        "c6e66b6bcc5afdfd511d47b63a3bb6e4344d4395f0d5406e0f9a9e296e311716")
    assert fs.root_id(EXAMPLE_SEED).hex() == "75f95ca3c7860947"
    f = fs.state_file(EXAMPLE_SEED, EXAMPLE_S0)
    assert len(fs.cover(EXAMPLE_S0)) == 24 and len(f) == 809
    assert f[-16:].hex() == "14ba6e55533a3aaec0f7e5d3268598e2"
    assert fs.leaf(EXAMPLE_SEED, 1749999600).hex() == (
        "67ae15ed231047e93ca1aa38e4195cfcb3a7ff432f0ae97c44d698e5eb528957")
    key = fs.fs_ticket_key(EXAMPLE_SEED, b"example.com", 3600, "aes256", 486111)
    assert key.name.hex() == "cc62ca55be0593d0b9ba96bcd13184f6"
    assert fs.file_problem(f) is None


EDGES = sorted({0, 1, 2, 3, fs.END - 2, fs.END - 1, EXAMPLE_S0}
               | {1 << k for k in range(40)} | {(1 << k) - 1 for k in range(1, 41)}
               | {(1 << k) + 1 for k in range(40)})
times = st.one_of(st.integers(0, fs.END - 1), st.sampled_from(EDGES),
                  st.integers(fs.END - 4096, fs.END - 1), st.integers(0, 4096))
seeds = st.binary(min_size=32, max_size=32)


@given(s0=times)
def test_cover_definitions_agree(s0):
    c = fs.cover(s0)
    assert c == fs.cover_by_ranges(s0)
    assert len(c) <= 40
    assert all(p << h >= s0 for h, p in c)


# --- the shared vectors ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def vectors():
    return load_vectors()


def test_vector_states(vectors):
    cases = vectors["fs_state"]["cases"]
    assert any(c["s0"] == EXAMPLE_S0 and c["seed"] == EXAMPLE_SEED.hex() for c in cases)
    for c in cases:
        seed, s0 = bytes.fromhex(c["seed"]), c["s0"]
        rule = c["seed_rule"]
        assert seed == bytes((i * rule["mul"] + rule["add"]) % 251 for i in range(rule["len"]))
        assert c["cover"] == [list(x) for x in fs.cover(s0)]
        assert c["node_count"] == len(fs.cover(s0))
        assert c["root_id"] == fs.root_id(seed).hex()
        assert c["file"] == fs.state_file(seed, s0).hex()
        assert c["checksum"] == c["file"][-32:]


def test_vector_leaves(vectors):
    for c in vectors["fs_leaf"]["cases"]:
        assert c["s"] >= c["s0"]
        assert c["leaf"] == fs.leaf(bytes.fromhex(c["seed"]), c["s"]).hex()


def test_vector_ticket_keys(vectors):
    for c in vectors["fs_ticket_key"]["cases"]:
        seed, n, i = bytes.fromhex(c["seed"]), int(c["counter"]), c["interval"]
        assert n * i >= c["s0"]
        label = c["label"].encode()
        assert c["leaf"] == fs.leaf(seed, n * i).hex()
        assert c["label_key"] == fs.fs_label_key(seed, i, n, label).hex()
        k = fs.fs_ticket_key(seed, label, i, c["strength"], n)
        assert (c["name"], c["aes"], c["hmac"]) == (k.name.hex(), k.aes.hex(), k.hmac.hex())
        assert c["record_name_hmac_aes"] == (k.name + k.hmac + k.aes).hex()
        assert c["record_name_aes_hmac"] == (k.name + k.aes + k.hmac).hex()


def test_vector_ticket_keys_in_formats(vectors):
    """fs_ticket_keys: TicketKeys made from a state renders, in every server format, the keys
    of the format's window computed here from the seed; its copy of the state starts at the
    oldest of them; a state starting after that key cannot make it."""
    cases = vectors["fs_ticket_keys"]["cases"]
    assert {c["format"] for c in cases} == set(SERVER_FORMATS)
    errors = 0
    for c in cases:
        seed, i, s0 = bytes.fromhex(c["seed"]), c["interval"], c["s0"]
        f = SERVER_FORMATS[c["format"]]
        assert c["strength"] == f.strength
        keys = format_keys(c["format"], i, c["keep"], c["time"])
        assert [k["counter"] for k in c["keys"]] == [str(n) for n, _, _ in keys]
        # The object serves the whole window (every format's keys are in it).
        n = min(counter for counter, _, _ in ticket_slot(i, c["keep"], c["time"]).window)
        oldest = n * i
        if s0 > oldest:
            errors += 1
            assert "output" not in c
            assert c["error"] == {"kind": "KeyPunctured",
                                  "message": key_punctured_message(s0, n, i)}
            continue
        assert c["state_start"] == max(s0, oldest)
        out = b""
        for n, _, _ in keys:
            record = fs.fs_ticket_key(seed, c["label"].encode(), i, f.strength, n).record(f.layout)
            out += base64.b64encode(record) + b"\n" if f.base64_lines else record
        assert c["output"] == out.hex(), c["format"]
    assert errors > 0


def test_vector_go_seeds(vectors):
    """fs_go_seeds: the Go/Caddy seeds of a window, from a state through TicketKeys, recomputed
    here from the seed (hashlib, libsodium, SHA-512 for Go's names), in Go's order; the counter
    before the window is punctured, one past the tree refused."""
    cases = vectors["fs_go_seeds"]["cases"]
    made = refused = 0
    for c in cases:
        seed, i, keep, s0 = bytes.fromhex(c["seed"]), c["interval"], c["keep"], c["s0"]
        label = c["label"].encode()
        assert c["label_hex"] == label.hex()
        slot = ticket_slot(i, keep, c["time"])
        assert (int(c["current"]), c["next_rotation"]) == (slot.current, slot.next_rotation)
        oldest = slot.current - keep
        if s0 > oldest * i:
            refused += 1
            assert "seeds" not in c and "output" not in c
            assert c["error"] == {"kind": "KeyPunctured",
                                  "message": key_punctured_message(s0, oldest, i)}
            continue
        made += 1
        assert c["state_start"] == max(s0, oldest * i)
        want = [(slot.current, "current", None), (slot.current + 1, "next", None)]
        want += [(slot.current - a, "previous", a) for a in range(1, keep + 1)]
        assert [(int(e["counter"]), e["role"], e.get("age")) for e in c["seeds"]] == want
        out = b""
        for e in c["seeds"]:
            n = int(e["counter"])
            assert e["label_key"] == fs.fs_label_key(seed, i, n, label).hex()
            go = fs.fs_go_seed(seed, label, i, n)
            assert e["seed"] == go.hex()
            assert e["go_name"] == hashlib.sha512(go).digest()[:16].hex()
            out += go
        assert c["output"] == out.hex()
        start = c["state_start"]
        before, past = c["refused"]
        assert int(before["counter"]) == oldest - 1
        assert before["error"] == {"kind": "KeyPunctured",
                                   "message": key_punctured_message(start, oldest - 1, i)}
        assert int(past["counter"]) * i >= fs.END > (int(past["counter"]) - 1) * i
        assert past["error"]["kind"] == "KeyTime"
    assert made >= 5 and refused >= 1


def test_fs_go_seed_of_the_worked_example():
    """The worked example's state, label "example.com", I = 3600, n = 486111 (SPEC 6.5), Python
    alone: the seed SPEC 4.5 + 6.3 define."""
    go = fs.fs_go_seed(EXAMPLE_SEED, b"example.com", 3600, 486111)
    lk = blake2b(b"example.com", digest_size=32, key=fs.leaf(EXAMPLE_SEED, 486111 * 3600),
                 salt=(3600).to_bytes(8, "little") + bytes(8),
                 person=b"keywheel.fslabel").digest()
    assert go == blake2b(b"", digest_size=32, key=lk,
                         salt=(486111).to_bytes(8, "little") + bytes(8),
                         person=b"kwts-g32" + bytes(8)).digest()
    assert go.hex() == "5fe42e56dfba2ecdfb0a27153e4fdf2990acbc66ae568e6b9a00a0aa04eff233"


def test_vector_tfo(vectors):
    for c in vectors["fs_tfo"]["cases"]:
        seed, i = bytes.fromhex(c["seed"]), c["interval"]
        slot = tfo_slot(i, c["time"])
        assert (int(c["primary"]), int(c["backup"])) == (slot.primary, slot.backup)
        assert min(slot.primary, slot.backup) * i >= c["s0"]
        p, b = fs.fs_tfo_key(seed, i, slot.primary), fs.fs_tfo_key(seed, i, slot.backup)
        assert (c["primary_key"], c["backup_key"]) == (p.hex(), b.hex())
        assert c["procfs"] == procfs_key(p) + "," + procfs_key(b)


def test_vector_advances(vectors):
    kinds = set()
    for c in vectors["fs_advance"]["cases"]:
        seed, s0, to = bytes.fromhex(c["seed"]), c["s0"], c["to"]
        if to < s0:
            kinds.add("Backwards")
            assert c["error"] == {"kind": "Backwards", "message": backwards_message(s0, to)}
        elif to >= fs.END:
            kinds.add("TreeTime")
            assert c["error"]["kind"] == "TreeTime"
        else:
            assert c["file"] == fs.state_file(seed, to).hex()
    assert kinds == {"Backwards", "TreeTime"}


def test_vector_errors(vectors):
    for c in vectors["fs_errors"]["cases"]:
        e, seed, s0 = c["error"], bytes.fromhex(c["seed"]), c["s0"]
        if len(seed) != 32:
            assert e["kind"] == "SeedLength"
            assert e["message"] == f"seed is {len(seed)} bytes; it must be exactly 32 bytes"
        elif s0 >= fs.END:
            assert e["kind"] == "TreeTime"
        elif c["operation"] == "leaf" and c["s"] < s0:
            assert e == {"kind": "Punctured", "message": punctured_message(s0, c["s"])}
        elif c["operation"] in ("ticket_key", "tfo_key"):
            i, n = c["interval"], int(c["counter"])
            label = c.get("label", "x")
            if not 1 <= len(label.encode()) <= 64:
                assert e["kind"] == "LabelLength"
            elif i % 2 or not 10 <= i <= 604800:
                assert e["kind"] == "Interval"
            elif n * i >= fs.END:
                assert e["kind"] == "KeyTime"
            else:
                assert n * i < s0
                assert e == {"kind": "KeyPunctured",
                             "message": key_punctured_message(s0, n, i)}
        else:
            assert e["kind"] == "TreeTime"


PROBLEM_PREFIX = {
    "Magic": "state file: bad magic ",
    "TruncatedHeader": "state file: truncated: ",
    "Version": "state file: version ",
    "Depth": "state file: depth ",
    "Flags": "state file: flags 0x",
    "Start": "state file: start ",
    "NodeCount": "state file: node count ",
    "Truncated": "state file: truncated: ",
    "Trailing": "state file: trailing bytes: ",
    "Checksum": "state file: checksum mismatch",
}


def test_vector_malformed_files(vectors):
    seen = set()
    for c in vectors["fs_state_file_errors"]["cases"]:
        problem = fs.file_problem(bytes.fromhex(c["file"]))
        assert problem is not None, c["note"]
        seen.add(problem)
        assert c["error"]["kind"] == "StateFile" and c["error"]["problem"] == problem, c["note"]
        assert c["error"]["message"].startswith(PROBLEM_PREFIX[problem]), c["note"]
    assert seen == set(PROBLEM_PREFIX)


# --- messages, from the design's examples and Python's own calendar --------------------------

def punctured_message(s0, s):
    return (f"state starts at {s0} ({fs.iso(s0)}); second {s} ({fs.iso(s)}) is before it: "
            "it was punctured")


def key_punctured_message(s0, n, i):
    return (f"state starts at {s0} ({fs.iso(s0)}); the key for counter {n} (interval {i}) "
            f"starts at {n * i} ({fs.iso(n * i)}): it was punctured")


def backwards_message(s0, to):
    return f"state starts at {s0} ({fs.iso(s0)}); it cannot go back to {to} ({fs.iso(to)})"


def test_iso_of_the_issue_example():
    assert fs.iso(1749978000) == "2025-06-15T09:00:00Z"
    assert fs.iso(fs.END - 1) == "36812-02-20T00:36:15Z"


# --- random inputs against the Rust tool -----------------------------------------------------

class Tool:
    """A running `forward` process: one JSON request per line in, one answer per line out."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([str(binary("forward"))], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def __call__(self, **request) -> dict:
        request = {k: (str(v) if isinstance(v, int) else v) for k, v in request.items()}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"forward exited with status {self.proc.wait()}"
        return json.loads(line)

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def tool():
    t = Tool()
    yield t
    assert t.close() == 0


def state_answer(seed, s0):
    return {"root_id": fs.root_id(seed).hex(), "node_count": len(fs.cover(s0)),
            "cover": [list(x) for x in fs.cover(s0)], "file": fs.state_file(seed, s0).hex()}


@settings(max_examples=300)
@given(seed=seeds, s0=times, offset=st.one_of(st.integers(0, fs.END), st.integers(0, 5000)))
def test_random_states_and_leaves(tool, seed, s0, offset):
    assert tool(type="state", seed=seed.hex(), s0=s0) == state_answer(seed, s0)
    s = min(s0 + offset, fs.END - 1)
    assert tool(type="leaf", seed=seed.hex(), s0=s0, s=s) == {"leaf": fs.leaf(seed, s).hex()}
    if s0 > 0:
        before = s0 - 1 - offset % s0
        assert tool(type="leaf", seed=seed.hex(), s0=s0, s=before)["error"] == {
            "kind": "Punctured", "message": punctured_message(s0, before)}


@settings(max_examples=300)
@given(seed=seeds, a=times, b=times)
def test_random_advances(tool, seed, a, b):
    s0, to = min(a, b), max(a, b)
    assert tool(type="advance", seed=seed.hex(), s0=s0, to=to) == state_answer(seed, to)
    if to > s0:
        assert tool(type="advance", seed=seed.hex(), s0=to, to=s0)["error"] == {
            "kind": "Backwards", "message": backwards_message(to, s0)}
    assert tool(type="advance", seed=seed.hex(), s0=s0, to=fs.END)["error"]["kind"] == "TreeTime"


intervals = st.one_of(st.integers(5, 302400).map(lambda i: 2 * i),
                      st.sampled_from([10, 3600, 43200, 86400, 604800]))


@settings(max_examples=300)
@given(seed=seeds, interval=intervals, start=times, back=st.integers(0, 1 << 40),
       label=st.text(min_size=1, max_size=20).filter(lambda t: len(t.encode()) <= 64),
       strength=st.sampled_from(sorted(STRENGTHS)))
def test_random_ticket_and_tfo_keys(tool, seed, interval, start, back, label, strength):
    n = start // interval
    s0 = n * interval - back % (n * interval + 1)
    answer = tool(type="ticket_key", seed=seed.hex(), s0=s0, label=label, interval=interval,
                  strength=strength, counter=n)
    k = fs.fs_ticket_key(seed, label.encode(), interval, strength, n)
    assert answer == {"name": k.name.hex(), "aes": k.aes.hex(), "hmac": k.hmac.hex()}
    assert tool(type="tfo_key", seed=seed.hex(), s0=s0, interval=interval, counter=n) == {
        "key": fs.fs_tfo_key(seed, interval, n).hex()}
    if n > 0 and s0 == n * interval:
        # The previous interval starts before s0: punctured.
        answer = tool(type="tfo_key", seed=seed.hex(), s0=s0, interval=interval, counter=n - 1)
        assert answer["error"] == {"kind": "KeyPunctured",
                                   "message": key_punctured_message(s0, n - 1, interval)}


@settings(max_examples=200)
@given(seed=seeds, interval=st.sampled_from([10, 3600, 86400, 604800]),
       time=st.integers(1_000_000, 100_000_000_000))
def test_random_tfo_slots(tool, seed, interval, time):
    slot = tfo_slot(interval, time)
    s0 = min(slot.primary, slot.backup) * interval
    p, b = fs.fs_tfo_key(seed, interval, slot.primary), fs.fs_tfo_key(seed, interval, slot.backup)
    assert tool(type="tfo_keys", seed=seed.hex(), s0=s0, interval=interval, time=time) == {
        "primary": p.hex(), "backup": b.hex(), "procfs": procfs_key(p) + "," + procfs_key(b)}


@st.composite
def mutated_files(draw):
    seed, s0 = draw(seeds), draw(times)
    f = bytearray(fs.state_file(seed, s0))
    how = draw(st.sampled_from(["truncate", "extend", "flip", "field", "bytes"]))
    if how == "truncate":
        f = f[:draw(st.integers(0, len(f) - 1))]
    elif how == "extend":
        f += draw(st.binary(min_size=1, max_size=100))
    elif how == "flip":
        for bit in draw(st.lists(st.integers(0, 8 * len(f) - 1), min_size=1, max_size=8)):
            f[bit // 8] ^= 1 << (bit % 8)
    elif how == "field":
        start, size = draw(st.sampled_from([(0, 4), (4, 1), (5, 1), (6, 2), (8, 8), (16, 8),
                                            (24, 1)]))
        f[start:start + size] = draw(st.binary(min_size=size, max_size=size))
        if draw(st.booleans()):
            f[-16:] = fs.checksum(bytes(f[:-16]))  # only the field is wrong
    else:
        f = bytearray(draw(st.binary(max_size=1400)))
        if draw(st.booleans()) and len(f) >= 4:
            f[:4] = fs.MAGIC
    return bytes(f)


@settings(max_examples=3000)
@given(data=mutated_files())
def test_thousands_of_malformed_files(tool, data):
    answer = tool(type="parse", file=data.hex())
    problem = fs.file_problem(data)
    if problem is None:  # a mutation that undid itself (or changed only the root id + resealed)
        assert answer["file"] == data.hex()
        return
    assert answer["error"]["kind"] == "StateFile", answer
    message = answer["error"]["message"]
    assert message.startswith(PROBLEM_PREFIX[problem]), (problem, message)
    if problem in ("Truncated", "Trailing", "TruncatedHeader"):
        assert f" {len(data)} bytes" in message
    if problem == "TruncatedHeader":
        assert "shorter than the 25-byte header" in message
