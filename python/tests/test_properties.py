"""Random inputs: the binding against the independent hashlib reference (tests/reference.py)."""

import base64

from hypothesis import assume, given
from hypothesis import strategies as st

import keywheel
import reference as ref

# Main key material: the first 32 bytes all zero are refused (SPEC.md 1; test_errors.py).
materials = st.binary(min_size=32, max_size=80).filter(lambda m: any(m[:32]))
contexts = st.binary(min_size=8, max_size=8)
u64s = st.integers(min_value=0, max_value=2**64 - 1)
lengths = st.integers(min_value=16, max_value=64)
intervals = st.integers(min_value=5, max_value=302400).map(lambda h: 2 * h)
times = st.one_of(
    st.integers(min_value=ref.MIN_TIME, max_value=ref.MAX_TIME),
    st.sampled_from([ref.MIN_TIME, ref.MAX_TIME, 1_700_000_000, 2**32, 2**31 - 1]),
)
# Any text of 1..=64 UTF-8 bytes, multi-byte characters included.
labels = st.text(min_size=1, max_size=64).filter(lambda s: len(s.encode("utf-8")) <= 64)
strengths = st.sampled_from(["aes256", "aes128"])


@given(materials, contexts, u64s, lengths)
def test_derive_key_matches_hashlib(m, ctx, subkey_id, length):
    out = keywheel.derive_key(keywheel.MainKey(m), ctx, subkey_id, length)
    assert out == ref.derive(m, ctx, subkey_id, length)


@given(materials, contexts, u64s)
def test_bytearray_inputs_give_the_same_key(m, ctx, subkey_id):
    a = keywheel.derive_key(keywheel.MainKey(m), ctx, subkey_id, 16)
    b = keywheel.derive_key(keywheel.MainKey(bytearray(m)), bytearray(ctx), subkey_id, 16)
    assert a == b


@given(materials, intervals, times)
def test_tfo_schedule_and_keys_match_reference(m, interval, now):
    schedule = keywheel.Schedule(interval)
    slot = schedule.at(now)
    primary, backup, next_wake = ref.tfo_slot(interval, now)
    assert (slot.primary, slot.backup, slot.next_wake) == (primary, backup, next_wake)
    assert slot.wake_time() == (next_wake + 2, 20_000_000)
    keys = keywheel.tfo_keys(keywheel.MainKey(m), schedule, now)
    assert keys.primary == ref.tfo_key(m, primary)
    assert keys.backup == ref.tfo_key(m, backup)
    assert keys.procfs_text() == ref.procfs_text(keys.primary, keys.backup)


@given(materials, labels, strengths, u64s)
def test_ticket_key_matches_reference(m, label, strength, counter):
    keys = keywheel.TicketKeys(keywheel.MainKey(m), label, strength, 3600)
    assert keys.label == label
    key = keys.by_counter(counter)
    name, aes, hmac = ref.ticket_key(m, label, strength, counter)
    assert (key.name, key.aes_key, key.hmac_key) == (name, aes, hmac)
    assert (key.strength, key.counter) == (strength, counter)


@given(st.data(), materials, labels, strengths, intervals, times)
def test_ticket_window_and_lookup_match_reference(data, m, label, strength, interval, now):
    max_keep = ref.MAX_TICKET_AGE // interval - 1
    keep = data.draw(st.integers(min_value=0, max_value=min(max_keep, 8)), label="keep")
    keys = keywheel.TicketKeys(keywheel.MainKey(m), label, strength, interval, keep)
    slot = keys.slot(now)
    want = ref.ticket_window(interval, keep, now)
    got = slot.window()
    assert [(c, str(r)) for c, r in got] == want
    assert slot.current == now // interval
    assert slot.next_rotation == (now // interval + 1) * interval
    # Every key of the window is found by its name, with its role; a neighbour outside is not.
    for counter, role in got:
        name = ref.ticket_key(m, label, strength, counter)[0]
        found = keys.lookup(name, now)
        assert found and found.role == role and found.key.counter == counter
        assert found.kind == ("current" if str(role) == "current" else "accepted")
        assert slot.role(counter) == role and slot.counter(role) == counter
    outside = slot.current - keep - 1
    assert not keys.lookup(ref.ticket_key(m, label, strength, outside)[0], now)
    assert slot.role(outside) is None


@given(materials, labels, st.sampled_from(sorted(ref.FORMATS)), intervals, times, st.data())
def test_render_matches_reference(m, label, fmt, interval, now, data):
    max_keep = ref.MAX_TICKET_AGE // interval - 1
    if ref.FORMATS[fmt][2] == "previous_current_next":
        assume(max_keep >= 1)
        keep = 1
    else:
        keep = data.draw(st.integers(min_value=0, max_value=min(max_keep, 6)), label="keep")
    strength, _, _, b64 = ref.FORMATS[fmt]
    keys = keywheel.TicketKeys(keywheel.MainKey(m), label, strength, interval, keep)
    want = ref.render_records(m, label, fmt, interval, keep, now)
    assert keys.render(fmt, now) == b"".join(want)
    for rec in want:
        assert len(rec) == keywheel.format_record_len(fmt)
    if b64:
        for rec in want:
            assert len(base64.b64decode(rec)) == {"aes256": 80, "aes128": 48}[strength]
