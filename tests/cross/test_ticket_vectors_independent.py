"""Every ticket-key case of tests/vectors/keywheel.json (sections ticket_key, ticket_schedule,
ticket_lookup, format and ticket_errors) recomputed without keywheel: hashlib.blake2b and
libsodium for the keys, and the schedule, lookup and server layouts written from SPEC.md section
4 with its table of server formats, 4.4."""

import base64

import pytest

from independent import (
    MAIN_KEY_LEN,
    MAX_INTERVAL,
    MAX_LABEL_LEN,
    MAX_TIME,
    MIN_INTERVAL,
    MIN_TIME,
    SERVER_FORMATS,
    STRENGTHS,
    TFO_CONTEXT,
    TICKET_NAME_LEN,
    derive_both,
    format_keys,
    format_record_len,
    interval_message,
    keep_message,
    label_key,
    label_message,
    load_vectors,
    render,
    ticket_error,
    ticket_key,
    ticket_lookup,
    ticket_slot,
    time_message,
    valid_keep,
)

VECTORS = load_vectors()
KEYS = VECTORS["ticket_key"]["cases"]
SCHEDULES = VECTORS["ticket_schedule"]["cases"]
LOOKUPS = VECTORS["ticket_lookup"]["cases"]
FORMATS = VECTORS["format"]["cases"]
ERRORS = VECTORS["ticket_errors"]["cases"]
U64_MAX = 2**64 - 1


def ids(cases):
    return [str(i) for i in range(len(cases))]


def counter(case, field="counter") -> int:
    """A u64 written as a canonical decimal string."""
    text = case[field]
    assert isinstance(text, str)
    n = int(text)
    assert 0 <= n <= U64_MAX and str(n) == text
    return n


def main_key(case) -> bytes:
    main = bytes.fromhex(case["main_key"])
    if "main_key_rule" in case:
        rule = case["main_key_rule"]
        assert main == bytes((i * rule["mul"] + rule["add"]) % 251 for i in range(rule["len"]))
    return main


def label(case) -> bytes:
    raw = bytes.fromhex(case["label_hex"])
    assert raw == case["label"].encode("utf-8")
    return raw


def role_tuple(entry):
    """(counter, role, age) of a {counter, role, age?} entry."""
    assert set(entry) <= {"counter", "role", "age"}
    assert entry["role"] in ("current", "next", "previous")
    assert ("age" in entry) == (entry["role"] == "previous")
    return (counter(entry), entry["role"], entry.get("age"))


def test_sections_are_there():
    assert VECTORS["version"] == 1  # adding sections does not change the version
    for name in ("ticket_key", "ticket_schedule", "ticket_lookup", "format", "ticket_errors"):
        assert set(VECTORS[name]) == {"comment", "cases"}, name
        assert VECTORS[name]["comment"] and VECTORS[name]["cases"], name


@pytest.mark.parametrize("case", KEYS, ids=ids(KEYS))
def test_ticket_key(case):
    main, lab, n = main_key(case), label(case), counter(case)
    assert bytes.fromhex(case["label_key"]) == label_key(main, lab)
    key = ticket_key(main, lab, case["strength"], n)
    size = STRENGTHS[case["strength"]].key_len
    assert len(bytes.fromhex(case["aes"])) == len(bytes.fromhex(case["hmac"])) == size
    assert (case["name"], case["aes"], case["hmac"]) == (key.name.hex(), key.aes.hex(),
                                                          key.hmac.hex())


def test_ticket_key_separation():
    """Labels, strengths, counters, main keys and TFO keys give unrelated names and keys."""
    seen = {}
    for case in KEYS:
        key = (case["main_key"][:2 * MAIN_KEY_LEN], case["label"], case["strength"],
               case["counter"])
        value = (case["name"], case["aes"], case["hmac"])
        if key in seen:
            assert seen[key] == value  # only the first 32 bytes of the main key count
        seen[key] = value
    names = [v[0] for v in seen.values()]
    assert len(set(names)) == len(names)
    parts = [p for v in seen.values() for p in v]
    assert len(set(parts)) == len(parts)
    # A ticket-key name is never the TFO key of the same main key and counter.
    for case in KEYS:
        tfo = derive_both(main_key(case), TFO_CONTEXT, counter(case), 16)
        assert case["name"] != tfo.hex()


@pytest.mark.parametrize("case", SCHEDULES, ids=ids(SCHEDULES))
def test_ticket_schedule(case):
    interval, keep, now = case["interval"], case["keep"], case["time"]
    slot = ticket_slot(interval, keep, now)
    assert counter(case, "current") == slot.current
    assert case["next_rotation"] == slot.next_rotation
    assert case["max_ticket_age"] == (keep + 1) * interval <= 604800
    assert tuple(role_tuple(e) for e in case["window"]) == slot.window


def test_ticket_schedule_worked_example():
    # By hand from SPEC.md 4.3: 1700000000 = 472222 * 3600 + 800.
    slot = ticket_slot(3600, 2, 1700000000)
    assert slot.current == 472222 and slot.next_rotation == 472223 * 3600
    assert slot.window == ((472220, "previous", 2), (472221, "previous", 1),
                           (472222, "current", None), (472223, "next", None))
    assert any((c["interval"], c["keep"], c["time"]) == (3600, 2, 1700000000)
               and c["current"] == "472222" for c in LOOKUPS)


@pytest.mark.parametrize("case", LOOKUPS, ids=ids(LOOKUPS))
def test_ticket_lookup(case):
    name = bytes.fromhex(case["name"])
    expected = ticket_lookup(main_key(case), label(case), case["strength"], case["interval"],
                             case["keep"], case["time"], name)
    assert counter(case, "current") == ticket_slot(case["interval"], case["keep"],
                                                   case["time"]).current
    got = {k: case[k] for k in ("result", "counter", "role", "age", "aes", "hmac") if k in case}
    assert got == expected
    if len(name) != TICKET_NAME_LEN:
        assert case["result"] == "not_found"


@pytest.mark.parametrize("case", FORMATS, ids=ids(FORMATS))
def test_format(case):
    fmt = case["format"]
    f = SERVER_FORMATS[fmt]
    assert case["strength"] == f.strength
    assert case["layout"] == "_".join(f.layout)
    main, lab = main_key(case), label(case)
    interval, keep, now = case["interval"], case["keep"], case["time"]
    assert counter(case, "current") == ticket_slot(interval, keep, now).current
    keys = format_keys(fmt, interval, keep, now)
    assert [role_tuple(e) for e in case["keys"]] == keys
    assert case["key_count"] == len(keys)
    assert case["record_len"] == format_record_len(fmt)
    output = bytes.fromhex(case["output"])
    assert output == render(fmt, main, lab, interval, keep, now)
    assert len(output) == len(keys) * case["record_len"]
    if f.base64_lines:
        text = case["output_text"]
        assert text.encode("ascii") == output
        lines = text.split("\n")
        assert lines[-1] == "" and len(lines) - 1 == len(keys) >= 3
        # Current on the penultimate line, next on the last.
        assert [k[1] for k in keys[-2:]] == ["current", "next"]
        raw = STRENGTHS[f.strength].record_len
        for line, (c, _, _) in zip(lines, keys):
            decoded = base64.b64decode(line, validate=True)
            assert len(decoded) == raw
            k = ticket_key(main, lab, f.strength, c)
            assert decoded == k.name + k.aes + k.hmac
    else:
        assert "output_text" not in case
        # One raw record per key (one file per key for nginx), spelled out from the table.
        size = case["record_len"]
        for i, (c, _, _) in enumerate(keys):
            k = ticket_key(main, lab, f.strength, c)
            record = output[i * size:(i + 1) * size]
            if f.layout == ("name", "hmac", "aes"):
                assert record == k.name + k.hmac + k.aes
            else:
                assert record == k.name + k.aes + k.hmac


def test_formats_agree_on_keys():
    """The same (main key, label, counter, strength) gives the same name and keys in every
    format: the name is the first 16 bytes of every record."""
    names = {}
    for case in FORMATS:
        f = SERVER_FORMATS[case["format"]]
        output = bytes.fromhex(case["output"])
        size = case["record_len"]
        for i, entry in enumerate(case["keys"]):
            record = output[i * size:(i + 1) * size]
            if f.base64_lines:
                record = base64.b64decode(record)
            slot = (case["main_key"], case["label"], f.strength, entry["counter"])
            names.setdefault(slot, set()).add(record[:TICKET_NAME_LEN])
    assert all(len(n) == 1 for n in names.values())
    assert any(len({c["format"] for c in FORMATS if c["strength"] == s}) >= 2 for s in STRENGTHS)


@pytest.mark.parametrize("case", ERRORS, ids=ids(ERRORS))
def test_ticket_error(case):
    op = case["operation"]
    message = case["message"]
    if op == "label_key":
        lab = bytes.fromhex(case["label_hex"])
        assert lab == case["label"].encode("utf-8")
        assert ticket_error(main_key(case), label=lab) == case["kind"] == "LabelLength"
        assert message == label_message(len(lab))
    elif op == "ticket_schedule":
        interval, keep = case["interval"], case["keep"]
        kind = ticket_error(b"\x01" * 32, interval=interval, keep=keep)
        assert kind == case["kind"] and kind in ("Interval", "Keep")
        if kind == "Interval":
            assert message == interval_message(interval)
        else:
            assert not valid_keep(interval, keep)
            assert message == keep_message(keep, interval)
    elif op == "ticket_schedule_at":
        kind = ticket_error(b"\x01" * 32, interval=case["interval"], keep=case["keep"],
                            now=case["time"])
        assert kind == case["kind"] == "Time"
        assert message == time_message(case["time"])
    elif op == "format_render":
        fmt, n = case["format"], case["buffer_len"]
        args = (case["interval"], case["keep"], case["time"])
        kind = ticket_error(main_key(case), label(case), *args, fmt=fmt, buffer_len=n)
        assert kind == case["kind"]
        if kind == "FormatKeep":
            assert f" {case['keep']} " in message and f" {fmt}:" in message
        else:
            assert kind == "BufferTooSmall"
            needed = len(render(fmt, main_key(case), label(case), *args))
            assert n < needed
            assert message.index(f" {n} ") < message.index(f" {needed} ")
    else:
        raise AssertionError(f"unknown operation {op}")


def test_spec_messages_are_in_the_file():
    # Copied from SPEC.md 4.1 and 4.3, not from keywheel.
    messages = {c["message"] for c in ERRORS}
    assert "label is 65 bytes; it must be 1..=64 bytes of UTF-8" in messages
    assert ("keep 7 with interval 86400 accepts tickets up to 691200 s old; (keep + 1) * "
            "interval must be at most 604800 (7 days, RFC 8446), so keep must be in 0..=6"
            ) in messages


def test_coverage():
    """The cases the issue asks for are all there."""
    labels = {bytes.fromhex(c["label_hex"]) for c in KEYS}
    assert {1, MAX_LABEL_LEN} <= {len(lab) for lab in labels}
    assert any(len(lab) != len(lab.decode()) for lab in labels)  # multibyte UTF-8
    assert any(len(lab) == MAX_LABEL_LEN and len(lab) != len(lab.decode()) for lab in labels)
    for strength in STRENGTHS:
        counters = {counter(c) for c in KEYS if c["strength"] == strength}
        assert {0, 1, 2**32, 2**63, U64_MAX} <= counters, strength
    assert any(len(bytes.fromhex(c["main_key"])) > MAIN_KEY_LEN for c in KEYS)

    assert {MIN_INTERVAL, MAX_INTERVAL} <= {c["interval"] for c in SCHEDULES}
    assert {MIN_TIME, MAX_TIME} <= {c["time"] for c in SCHEDULES}
    assert any(c["keep"] == 0 for c in SCHEDULES)
    assert any((c["keep"] + 1) * c["interval"] == 604800 for c in SCHEDULES)

    results = {(c["result"], c.get("role")) for c in LOOKUPS}
    assert {("current", "current"), ("accepted", "next"), ("accepted", "previous"),
            ("not_found", None)} <= results
    assert {0, 15, 17} <= {len(c["name"]) // 2 for c in LOOKUPS}

    assert {c["format"] for c in FORMATS} == set(SERVER_FORMATS)
    for fmt in SERVER_FORMATS:
        if SERVER_FORMATS[fmt].order != "haproxy":
            assert len({c["keep"] for c in FORMATS if c["format"] == fmt}) >= 3, fmt

    kinds = {(c["operation"], c["kind"]) for c in ERRORS}
    assert {("label_key", "LabelLength"), ("ticket_schedule", "Keep"),
            ("ticket_schedule", "Interval"), ("ticket_schedule_at", "Time"),
            ("format_render", "FormatKeep"), ("format_render", "BufferTooSmall")} <= kinds
    label_lens = {len(c["label_hex"]) // 2 for c in ERRORS if c["operation"] == "label_key"}
    assert {0, MAX_LABEL_LEN + 1} <= label_lens
    assert {c["format"] for c in ERRORS if c["kind"] == "FormatKeep"} == {"haproxy", "haproxy48"}
