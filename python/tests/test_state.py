"""Forward-secure mode from Python: ``State`` and ``TicketKeys.from_state`` over the shared fs_*
vectors (checked against an independent hashlib implementation by
tests/cross/test_forward_independent.py) and every bad input, with the core's messages."""

import json
import os
import stat

import pytest

import keywheel
from conftest import VECTORS_PATH

with open(VECTORS_PATH, encoding="utf-8") as _f:
    VECTORS = json.load(_f)

MIN_TIME, MAX_TIME = keywheel.MIN_TIME, keywheel.MAX_TIME
EXAMPLE_SEED = bytes(range(32))
EXAMPLE_S0 = 1749978000


def cases(section):
    return VECTORS[section]["cases"]


@pytest.mark.parametrize("case", cases("fs_state"), ids=lambda c: f"{c['s0']}")
def test_state(case):
    st = keywheel.State(bytes.fromhex(case["seed"]), case["s0"])
    assert st.s0 == case["s0"]
    assert st.node_count == case["node_count"]
    assert st.root_id.hex() == case["root_id"]
    assert st.to_bytes().hex() == case["file"]
    back = keywheel.State.from_bytes(bytes.fromhex(case["file"]))
    assert back.to_bytes().hex() == case["file"]
    assert keywheel.State.from_bytes(bytearray.fromhex(case["file"])).s0 == case["s0"]


def test_worked_example():
    st = keywheel.State(EXAMPLE_SEED, EXAMPLE_S0)
    assert st.root_id.hex() == "75f95ca3c7860947"
    assert st.node_count == 24 and len(st.to_bytes()) == 809
    assert st.to_bytes()[-16:].hex() == "14ba6e55533a3aaec0f7e5d3268598e2"
    assert repr(st) == "State(s0=1749978000, node_count=24, root_id=75f95ca3c7860947, ..)"
    keys = keywheel.TicketKeys.from_state(st, "example.com", "aes256", 3600, keep=1,
                                          now=1750000000)
    assert keys.current(1750000000).name.hex() == "cc62ca55be0593d0b9ba96bcd13184f6"


@pytest.mark.parametrize("case", [c for c in cases("fs_ticket_key")
                                  if MIN_TIME <= int(c["counter"]) * c["interval"] <= MAX_TIME],
                         ids=lambda c: f"{c['label']}-{c['counter']}-{c['strength']}")
def test_ticket_key(case):
    st = keywheel.State(bytes.fromhex(case["seed"]), case["s0"])
    n, i = int(case["counter"]), case["interval"]
    keys = keywheel.TicketKeys.from_state(st, case["label"], case["strength"], i, keep=0,
                                          now=n * i)
    del st  # the object keeps its own copy
    k = keys.by_counter(n)
    assert (k.name.hex(), k.aes_key.hex(), k.hmac_key.hex()) == (
        case["name"], case["aes"], case["hmac"])
    assert keys.current(n * i).name.hex() == case["name"]
    found = keys.lookup(bytes.fromhex(case["name"]), n * i)
    assert found.kind == "current" and found.key.aes_key.hex() == case["aes"]
    assert keys.state_start == n * i
    with pytest.raises(keywheel.KeywheelError, match=r": it was punctured$"):
        keys.by_counter(n - 1)


@pytest.mark.parametrize("case", cases("fs_ticket_keys"),
                         ids=lambda c: f"{c['format']}-{c['s0']}-{c['time']}")
def test_ticket_keys_in_formats(case):
    st = keywheel.State(bytes.fromhex(case["seed"]), case["s0"])
    args = (st, case["label"], case["strength"], case["interval"], case["keep"], case["time"])
    if "error" in case:
        with pytest.raises(keywheel.KeywheelError) as e:
            keywheel.TicketKeys.from_state(*args)
        assert str(e.value) == case["error"]["message"]
        return
    keys = keywheel.TicketKeys.from_state(*args)
    st.advance(case["time"])  # the caller's state moves on; the object keeps its copy
    assert keys.state_start == case["state_start"]
    assert keys.render(case["format"], case["time"]).hex() == case["output"]
    i, keep, t = case["interval"], case["keep"], case["time"]
    with pytest.raises(keywheel.KeywheelError, match=r": it was punctured$"):
        keys.render(case["format"], t - (keep + 1) * i)
    keys.advance(t + (keep + 1) * i)
    keys.render(case["format"], t + (keep + 1) * i)
    with pytest.raises(keywheel.KeywheelError, match=r": it was punctured$"):
        keys.render(case["format"], t)


@pytest.mark.parametrize("case", cases("fs_tfo"), ids=lambda c: f"{c['s0']}-{c['time']}")
def test_tfo(case):
    st = keywheel.State(bytes.fromhex(case["seed"]), case["s0"])
    keys = st.tfo_keys(keywheel.Schedule(case["interval"]), case["time"])
    assert (keys.primary.hex(), keys.backup.hex()) == (case["primary_key"], case["backup_key"])
    assert keys.procfs_text() == case["procfs"]


@pytest.mark.parametrize("case", cases("fs_advance"), ids=lambda c: f"{c['s0']}-{c['to']}")
def test_advance(case):
    st = keywheel.State(bytes.fromhex(case["seed"]), case["s0"])
    before = st.to_bytes()
    if "error" in case:
        with pytest.raises(keywheel.KeywheelError) as e:
            st.advance(case["to"])
        assert str(e.value) == case["error"]["message"]
        assert st.to_bytes() == before
    else:
        st.advance(case["to"])
        assert st.to_bytes().hex() == case["file"]


@pytest.mark.parametrize("case", cases("fs_state_file_errors"), ids=lambda c: c["note"])
def test_malformed_state_files(case):
    with pytest.raises(keywheel.KeywheelError) as e:
        keywheel.State.from_bytes(bytes.fromhex(case["file"]))
    assert str(e.value) == case["error"]["message"]


@pytest.mark.parametrize("case", [c for c in cases("fs_errors")
                                  if c["operation"] == "state_new"], ids=lambda c: c["seed"][:8])
def test_state_new_errors(case):
    with pytest.raises(keywheel.KeywheelError) as e:
        keywheel.State(bytes.fromhex(case["seed"]), case["s0"])
    assert str(e.value) == case["error"]["message"]


@pytest.mark.parametrize("case", [c for c in cases("fs_errors")
                                  if c["operation"] == "ticket_key"
                                  and (c["error"]["kind"] in ("LabelLength", "Interval")
                                       or (c["error"]["kind"] == "KeyPunctured" and MIN_TIME
                                           <= int(c["counter"]) * c["interval"] <= MAX_TIME))],
                         ids=lambda c: c["error"]["kind"])
def test_ticket_key_errors(case):
    st = keywheel.State(bytes.fromhex(case["seed"]), case["s0"])
    n, i = int(case["counter"]), case["interval"]
    with pytest.raises(keywheel.KeywheelError) as e:
        keywheel.TicketKeys.from_state(st, case["label"], case["strength"], i, 0, n * i)
    assert str(e.value) == case["error"]["message"]


def test_bad_arguments():
    st = keywheel.State(EXAMPLE_SEED, EXAMPLE_S0)
    with pytest.raises(TypeError, match="seed must be bytes or bytearray, not str"):
        keywheel.State("x" * 32, 0)
    with pytest.raises(TypeError, match="s0 must be an int, not float"):
        keywheel.State(EXAMPLE_SEED, 1.0)
    with pytest.raises(keywheel.KeywheelError,
                       match=r"^time -1 is out of range; it must be in 0\.\.=1099511627775$"):
        keywheel.State(EXAMPLE_SEED, -1)
    with pytest.raises(keywheel.KeywheelError, match=r"^time 1099511627776 is past"):
        keywheel.State(EXAMPLE_SEED, keywheel.TREE_END)
    with pytest.raises(keywheel.KeywheelError,
                       match=r"^seed is 31 bytes; it must be exactly 32 bytes$"):
        keywheel.State(EXAMPLE_SEED[:31], 0)
    with pytest.raises(keywheel.KeywheelError,
                       match=r"^state starts at 1749978000 \(2025-06-15T09:00:00Z\); it cannot "
                             r"go back to 0 \(1970-01-01T00:00:00Z\)$"):
        st.advance(0)
    with pytest.raises(keywheel.KeywheelError, match="past the forward-secure tree"):
        st.advance(2**40)
    with pytest.raises(keywheel.KeywheelError,
                       match=r"^time 18446744073709551616 is out of range; it must be in "
                             r"0\.\.=1099511627775$"):
        st.advance(2**64)
    assert st.s0 == EXAMPLE_S0
    with pytest.raises(TypeError):
        keywheel.State.from_bytes(None)
    with pytest.raises(keywheel.KeywheelError, match=r"^state file: truncated: 0 bytes"):
        keywheel.State.from_bytes(b"")
    # TFO keys whose backup interval starts before the state.
    with pytest.raises(keywheel.KeywheelError, match=r": it was punctured$"):
        st.tfo_keys(keywheel.Schedule(86400), EXAMPLE_S0)
    # Ticket keys: the window at 1749978000 reaches back to counter 486104.
    with pytest.raises(keywheel.KeywheelError) as e:
        keywheel.TicketKeys.from_state(st, "a", "aes256", 3600, 1, EXAMPLE_S0)
    assert str(e.value) == (
        "state starts at 1749978000 (2025-06-15T09:00:00Z); the key for counter 486104 "
        "(interval 3600) starts at 1749974400 (2025-06-15T08:00:00Z): it was punctured")
    with pytest.raises(keywheel.KeywheelError, match="strength 'aes512' is unknown"):
        keywheel.TicketKeys.from_state(st, "a", "aes512", 3600, 1, 1750000000)
    with pytest.raises(keywheel.KeywheelError, match="^time 5 is out of range"):
        keywheel.TicketKeys.from_state(st, "a", "aes256", 3600, 1, 5)
    keys = keywheel.TicketKeys.from_state(st, "a", "aes256", 3600, 1, 1750000000)
    with pytest.raises(keywheel.KeywheelError, match=r": it was punctured$"):
        keys.advance(1750000000 - 3600)
    assert keys.state_start == 486110 * 3600  # keep 1: 486110..=486112
    main_keys = keywheel.TicketKeys(keywheel.MainKey(bytes(32)), "a", "aes256", 3600)
    assert main_keys.state_start is None
    main_keys.advance(1750000000)
    assert "nodes" not in repr(keys) and "State" not in repr(keys)


def test_state_files(tmp_path):
    st = keywheel.State(EXAMPLE_SEED, EXAMPLE_S0)
    data = st.to_bytes()
    path = tmp_path / "good.state"
    path.write_bytes(data)
    path.chmod(0o600)
    assert keywheel.State.from_file(path).to_bytes() == data
    assert keywheel.State.from_file(str(path)).to_bytes() == data
    path.chmod(0o640)
    with pytest.raises(keywheel.KeywheelError) as e:
        keywheel.State.from_file(path)
    assert str(e.value) == (
        f"state file {path} has mode 0640, so group or others can access it; fix it with "
        f"`chmod 600 {path}` (or pass allow_insecure=True)")
    assert keywheel.State.from_file(path, allow_insecure=True).s0 == EXAMPLE_S0
    with pytest.raises(FileNotFoundError):
        keywheel.State.from_file(tmp_path / "missing")
    with pytest.raises(keywheel.KeywheelError, match="is a directory; it must be a regular file"):
        keywheel.State.from_file(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(keywheel.KeywheelError, match="is a FIFO; it must be a regular file"):
        keywheel.State.from_file(fifo)
    long = tmp_path / "long.state"
    long.write_bytes(data + bytes(2000))
    long.chmod(0o600)
    with pytest.raises(keywheel.KeywheelError) as e:
        keywheel.State.from_file(long)
    assert str(e.value) == (f"state file {long}: trailing bytes: it is longer than any state "
                            "file (1321 bytes at most)")
    flipped = tmp_path / "flipped.state"
    flipped.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    flipped.chmod(0o600)
    with pytest.raises(keywheel.KeywheelError) as e:
        keywheel.State.from_file(flipped)
    assert str(e.value) == f"state file {flipped}: checksum mismatch: the file is corrupt"
    assert stat.S_IMODE(flipped.stat().st_mode) == 0o600


def test_no_copy_or_pickle():
    import copy
    import pickle

    st = keywheel.State(EXAMPLE_SEED, EXAMPLE_S0)
    with pytest.raises(TypeError):
        pickle.dumps(st)
    with pytest.raises(TypeError):
        copy.copy(st)


@pytest.mark.parametrize("case", cases("fs_go_seeds"), ids=lambda c: f"{c['s0']}-{c['time']}")
def test_go_seeds(case):
    """TicketKeys.from_state(...).go_seed: the forward-secure Go/Caddy seeds of the window, and
    the core's messages for the punctured counter before it and one past the tree."""
    st = keywheel.State(bytes.fromhex(case["seed"]), case["s0"])
    args = (st, case["label"], "aes128", case["interval"], case["keep"], case["time"])
    if "error" in case:
        with pytest.raises(keywheel.KeywheelError) as e:
            keywheel.TicketKeys.from_state(*args)
        assert str(e.value) == case["error"]["message"]
        return
    keys = keywheel.TicketKeys.from_state(*args)
    assert keys.state_start == case["state_start"]
    out = b""
    for e in case["seeds"]:
        out += keys.go_seed(int(e["counter"]))
    assert out.hex() == case["output"]
    for r in case["refused"]:
        with pytest.raises(keywheel.KeywheelError) as e:
            keys.go_seed(int(r["counter"]))
        assert str(e.value) == r["error"]["message"]
    for bad in (-1, 2**64, "1", 1.0):
        with pytest.raises((ValueError, TypeError)):
            keys.go_seed(bad)
