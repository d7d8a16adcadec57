"""The shared vectors (tests/vectors/keywheel.json) through the Python binding.

Sections this file does not know are ignored, as the vectors' own comment asks; the sections it
knows must be present and non-empty, so a renamed section fails here instead of passing empty.
"""

import base64
import json
import re

import pytest

import keywheel
import reference as ref
from conftest import VECTORS_PATH

VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def cases(section):
    assert section in VECTORS, f"section {section!r} missing from {VECTORS_PATH}"
    found = VECTORS[section]["cases"]
    assert found, f"section {section!r} has no cases"
    return found


def material(case):
    """The main key material of a case, checked against its generating rule when it has one."""
    raw = bytes.fromhex(case["main_key"])
    rule = case.get("main_key_rule")
    if rule is not None:
        assert raw == bytes((i * rule["mul"] + rule["add"]) % 251 for i in range(rule["len"]))
    return raw


def test_version_is_known():
    assert VECTORS["version"] == 1


@pytest.mark.parametrize("case", cases("derive_key"), ids=lambda c: f"{c['subkey_id']}/{c['output_len']}")
def test_derive_key(case):
    main = keywheel.MainKey(material(case))
    out = keywheel.derive_key(
        main, bytes.fromhex(case["context"]), int(case["subkey_id"]), case["output_len"]
    )
    assert isinstance(out, bytes)
    assert out.hex() == case["output"]


@pytest.mark.parametrize("case", cases("tfo"), ids=lambda c: f"{c['interval']}@{c['time']}")
def test_tfo(case):
    main = keywheel.MainKey(material(case))
    schedule = keywheel.Schedule(case["interval"])
    slot = schedule.at(case["time"])
    assert (slot.now, slot.primary, slot.backup, slot.next_wake) == (
        case["time"], case["primary"], case["backup"], case["next_wake"])
    assert slot.wake_time() == (case["wake_time_secs"], case["wake_time_nanos"])
    keys = keywheel.tfo_keys(main, schedule, case["time"])
    assert keys.primary.hex() == case["primary_key"]
    assert keys.backup.hex() == case["backup_key"]
    assert keys.procfs_text() == case["procfs"]
    again = keywheel.TfoKeys.for_slot(main, slot)
    assert (again.primary, again.backup) == (keys.primary, keys.backup)


def run_error_case(case):
    op = case["operation"]
    if op == "main_key":
        keywheel.MainKey(material(case))
    elif op == "schedule":
        keywheel.Schedule(case["interval"])
    elif op == "schedule_at":
        keywheel.Schedule(case["interval"]).at(case["time"])
    elif op == "derive_key":
        keywheel.derive_key(keywheel.MainKey(material(case)), bytes.fromhex(case["context"]),
                            int(case["subkey_id"]), case["output_len"])
    elif op == "ticket_schedule":
        keywheel.TicketKeys(keywheel.MainKey(bytes(32)), "x", "aes256", case["interval"], case["keep"])
    elif op == "ticket_schedule_at":
        keywheel.TicketKeys(keywheel.MainKey(bytes(32)), "x", "aes256", case["interval"],
                            case["keep"]).slot(case["time"])
    elif op == "label_key":
        keywheel.TicketKeys(keywheel.MainKey(material(case)), label(case), "aes256", 3600)
    elif op == "format_render":
        ticket_keys(case, format_strength(case["format"])).render(case["format"], case["time"])
    else:
        raise AssertionError(f"operation {op!r} is not known to the Python tests")


def format_strength(fmt):
    """The strength of a format, from the independent reference table."""
    return ref.FORMATS[fmt][0]


def ticket_keys(case, strength):
    return keywheel.TicketKeys(keywheel.MainKey(material(case)), label(case), strength,
                               case["interval"], case["keep"])


def label(case):
    text = case["label"]
    assert text.encode("utf-8").hex() == case["label_hex"]
    return text


@pytest.mark.parametrize("case", cases("errors") + cases("ticket_errors"),
                         ids=lambda c: f"{c['operation']}:{c['kind']}")
def test_errors(case):
    if case["kind"] == "BufferTooSmall":
        # Python callers pass no buffer: the binding allocates exactly what the core needs.
        needed = int(re.fullmatch(r"output buffer is \d+ bytes; it must be at least (\d+) bytes",
                                  case["message"]).group(1))
        assert case["buffer_len"] < needed
        keys = ticket_keys(case, format_strength(case["format"]))
        assert len(keys.render(case["format"], case["time"])) == needed
        return
    with pytest.raises(keywheel.KeywheelError) as info:
        run_error_case(case)
    assert str(info.value) == case["message"]
    assert isinstance(info.value, ValueError)


def role_of(entry):
    """A vectors role ({"role": "previous", "age": n} etc.) as a keywheel.Role."""
    r = entry["role"]
    if r == "current":
        return keywheel.Role.CURRENT
    if r == "next":
        return keywheel.Role.NEXT
    assert r == "previous"
    return keywheel.Role.previous(entry["age"])


@pytest.mark.parametrize("case", cases("ticket_key"),
                         ids=lambda c: f"{c['label_hex'][:16]}/{c['strength']}/{c['counter']}")
def test_ticket_key(case):
    keys = keywheel.TicketKeys(keywheel.MainKey(material(case)), label(case), case["strength"], 3600)
    key = keys.by_counter(int(case["counter"]))
    assert key.name.hex() == case["name"]
    assert key.aes_key.hex() == case["aes"]
    assert key.hmac_key.hex() == case["hmac"]
    assert (key.strength, key.counter) == (case["strength"], int(case["counter"]))


@pytest.mark.parametrize("case", cases("ticket_schedule"),
                         ids=lambda c: f"{c['interval']}/{c['keep']}@{c['time']}")
def test_ticket_schedule(case):
    keys = keywheel.TicketKeys(keywheel.MainKey(bytes(32)), "x", "aes256", case["interval"], case["keep"])
    assert keys.max_ticket_age == case["max_ticket_age"]
    slot = keys.slot(case["time"])
    assert (slot.now, slot.current, slot.keep, slot.next_rotation) == (
        case["time"], int(case["current"]), case["keep"], case["next_rotation"])
    assert slot.window() == [(int(e["counter"]), role_of(e)) for e in case["window"]]


@pytest.mark.parametrize("case", cases("ticket_lookup"), ids=lambda c: c["note"])
def test_ticket_lookup(case):
    keys = ticket_keys(case, case["strength"])
    assert keys.slot(case["time"]).current == int(case["current"])
    found = keys.lookup(bytes.fromhex(case["name"]), case["time"])
    assert found.kind == case["result"]
    if case["result"] == "not_found":
        assert not found and found.key is None and found.role is None
        return
    assert found
    assert found.key.counter == int(case["counter"])
    assert found.key.name.hex() == case["name"]
    assert (found.key.aes_key.hex(), found.key.hmac_key.hex()) == (case["aes"], case["hmac"])
    if case["result"] == "current":
        assert found.role == keywheel.Role.CURRENT
    else:
        assert found.role == role_of(case)


@pytest.mark.parametrize("case", cases("format"),
                         ids=lambda c: f"{c['format']}/{c['interval']}/{c['keep']}")
def test_format(case):
    keys = ticket_keys(case, case["strength"])
    assert keywheel.format_record_len(case["format"]) == case["record_len"]
    out = keys.render(case["format"], case["time"])
    assert out.hex() == case["output"]
    assert len(out) == case["key_count"] * case["record_len"]
    if "output_text" in case:
        assert out.decode("ascii") == case["output_text"]
    # Record i is the key of the listed counter.
    n = case["record_len"]
    for i, k in enumerate(case["keys"]):
        record = out[i * n:(i + 1) * n]
        if "output_text" in case:
            record = base64.b64decode(record[:-1])
        assert record[:16] == keys.by_counter(int(k["counter"])).name


@pytest.mark.parametrize("case", cases("go_seeds"),
                         ids=lambda c: f"{c['label']}/{c['interval']}/{c['keep']}")
def test_go_seeds(case):
    """TicketKeys.go_seed gives the Go/Caddy seeds of the shared vectors, in either strength."""
    for strength in ("aes256", "aes128"):
        keys = ticket_keys(case, strength)
        out = b""
        for e in case["seeds"]:
            seed = keys.go_seed(int(e["counter"]))
            assert isinstance(seed, bytes) and seed.hex() == e["seed"]
            out += seed
        assert out.hex() == case["output"]
