"""keywheel's ticket keys, ticket schedule, lookup and server formats (through the test tool
`derive` of tests/vectors) against the independent implementation (hashlib, libsodium, SPEC.md
section 4 with its table of server formats, 4.4) for random main keys, labels, counters, strengths,
intervals, keeps, times and formats, including bad ones."""

import json
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from independent import (
    MAIN_KEY_LEN,
    MAX_INTERVAL,
    MAX_LABEL_LEN,
    MAX_TICKET_AGE,
    MAX_TIME,
    MIN_INTERVAL,
    MIN_TIME,
    SERVER_FORMATS,
    STRENGTHS,
    ZERO_KEY_MESSAGE,
    binary,
    interval_message,
    keep_message,
    label_message,
    render,
    ticket_error,
    ticket_key,
    ticket_lookup,
    ticket_slot,
    time_message,
)


class Tool:
    """A running `derive` process: one JSON request per line in, one answer per line out."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [str(binary("derive"))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def __call__(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"derive exited with status {self.proc.wait()}"
        return json.loads(line)

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def tool():
    t = Tool()
    yield t
    assert t.close() == 0


# Valid, short, and all-zero first 32 bytes (refused: SPEC.md 1).
keys = st.one_of(st.binary(min_size=MAIN_KEY_LEN, max_size=64), st.binary(max_size=MAIN_KEY_LEN),
                 st.binary(max_size=32).map(lambda tail: bytes(MAIN_KEY_LEN) + tail))
# Any text (NUL and astral characters included); lengths around both ends of 1..=64 bytes.
labels = st.one_of(st.text(max_size=8), st.text(min_size=12, max_size=64),
                   st.text(alphabet="ü🔑x", min_size=15, max_size=66))
counters = st.one_of(st.integers(0, 2**64 - 1),
                     st.sampled_from([0, 1, 2**32 - 1, 2**32, 2**53 + 1, 2**63, 2**64 - 1]))
strengths = st.sampled_from(sorted(STRENGTHS))
formats = st.sampled_from(sorted(SERVER_FORMATS))


@st.composite
def schedules(draw):
    """(interval, keep, time): mostly valid, keep small enough to render quickly; sometimes an
    odd or out-of-range interval, a keep just too large, or a time out of range."""
    if draw(st.integers(0, 9)) == 0:
        interval = draw(st.sampled_from([0, 8, 11, 86401, MAX_INTERVAL + 2, 10**9]))
    else:
        interval = 2 * draw(st.integers(MIN_INTERVAL // 2, MAX_INTERVAL // 2))
    max_keep = MAX_TICKET_AGE // max(interval, 1) - 1
    keep = draw(st.one_of(st.integers(0, min(max(max_keep, 0), 4)), st.just(1),
                          st.integers(max_keep + 1, max_keep + 3).filter(lambda k: k >= 0)))
    if draw(st.integers(0, 9)) == 0:
        now = draw(st.sampled_from([0, MIN_TIME - 1, MAX_TIME + 1, 2**63]))
    else:
        now = draw(st.one_of(st.integers(MIN_TIME, MAX_TIME),
                             st.sampled_from([MIN_TIME, MAX_TIME])))
    return interval, keep, now


def check_error(answer: dict, kind: str, label: bytes, interval=None, keep=None, now=None):
    assert answer["error"]["kind"] == kind, answer
    message = answer["error"]["message"]
    if kind == "LabelLength":
        assert message == label_message(len(label))
    elif kind == "Interval":
        assert message == interval_message(interval)
    elif kind == "Keep":
        assert message == keep_message(keep, interval)
    elif kind == "Time":
        assert message == time_message(now)
    elif kind == "MainKeyTooShort":
        assert message.startswith("main key is ")
    elif kind == "MainKeyZero":
        assert message == ZERO_KEY_MESSAGE


@settings(max_examples=1000)
@given(main=keys, label=labels, strength=strengths, counter=counters)
def test_ticket_key_matches_hashlib_and_libsodium(tool, main, label, strength, counter):
    answer = tool({"type": "ticket_key", "main_key": main.hex(), "label": label,
                   "strength": strength, "counter": str(counter)})
    raw = label.encode("utf-8")
    kind = ticket_error(main, label=raw)
    if kind is not None:
        check_error(answer, kind, raw)
        return
    key = ticket_key(main, raw, strength, counter)
    assert answer == {"name": key.name.hex(), "aes": key.aes.hex(), "hmac": key.hmac.hex()}


@settings(max_examples=300)
@given(main=st.binary(min_size=MAIN_KEY_LEN, max_size=40), label=labels, fmt=formats,
       sched=schedules())
def test_render_matches_the_server_table(tool, main, label, fmt, sched):
    interval, keep, now = sched
    answer = tool({"type": "render", "main_key": main.hex(), "label": label, "format": fmt,
                   "interval": interval, "keep": keep, "time": now})
    raw = label.encode("utf-8")
    kind = ticket_error(main, raw, interval, keep, now, fmt)
    if kind is not None:
        check_error(answer, kind, raw, interval, keep, now)
        if kind == "FormatKeep":
            assert f"keep {keep} " in answer["error"]["message"]
        return
    slot = ticket_slot(interval, keep, now)
    window = []
    for counter, role, age in slot.window:
        entry = {"counter": str(counter), "role": role}
        if age is not None:
            entry["age"] = age
        window.append(entry)
    assert answer == {"current": str(slot.current), "next_rotation": slot.next_rotation,
                      "window": window,
                      "output": render(fmt, main, raw, interval, keep, now).hex()}


@st.composite
def lookups(draw):
    """A valid slot and a name to look up: the name of a counter near the window, of this or
    another label, in this or the other strength, or random bytes of any length."""
    label = draw(st.text(min_size=1, max_size=15))
    interval = 2 * draw(st.integers(MIN_INTERVAL // 2, MAX_INTERVAL // 2))
    keep = draw(st.integers(0, min(MAX_TICKET_AGE // interval - 1, 4)))
    now = draw(st.integers(MIN_TIME, MAX_TIME))
    strength = draw(strengths)
    main = draw(st.binary(min_size=MAIN_KEY_LEN, max_size=MAIN_KEY_LEN).filter(any))
    current = now // interval
    kind = draw(st.integers(0, 4))
    if kind == 4:
        name = draw(st.binary(max_size=20))
    else:
        # current is 1 at the smallest times and longest intervals: no counter below 0.
        counter = max(0, current + draw(st.integers(-keep - 2, 2)))
        other_label = label + "." if kind == 1 else label
        other_strength = ("aes128" if strength == "aes256" else "aes256") if kind == 2 else strength
        name = ticket_key(main, other_label.encode("utf-8"), other_strength, counter).name
        if kind == 3:
            name = name[:draw(st.integers(0, 15))]
    return main, label, strength, interval, keep, now, name


@settings(max_examples=300)
@given(case=lookups())
def test_lookup_matches_the_window(tool, case):
    main, label, strength, interval, keep, now, name = case
    answer = tool({"type": "lookup", "main_key": main.hex(), "label": label,
                   "strength": strength, "interval": interval, "keep": keep, "time": now,
                   "name": name.hex()})
    raw = label.encode("utf-8")
    if len(raw) > MAX_LABEL_LEN:
        check_error(answer, "LabelLength", raw)
        return
    assert answer == ticket_lookup(main, raw, strength, interval, keep, now, name)


def test_bad_requests_end_the_tool():
    """Unknown strengths, formats and types are malformed requests (exit status 2), not core
    errors."""
    for request in ({"type": "ticket_key", "main_key": "01" * 32, "label": "a",
                     "strength": "aes192", "counter": "1"},
                    {"type": "render", "main_key": "01" * 32, "label": "a", "format": "caddy",
                     "interval": 3600, "keep": 1, "time": MIN_TIME},
                    {"type": "stek"}):
        proc = subprocess.run([str(binary("derive"))], input=json.dumps(request) + "\n",
                              capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 2 and proc.stdout == "", (request, proc)
