#!/usr/bin/env python3
"""Converts the shared vectors (tests/vectors/keywheel.json) into lines of space-separated
fields that the C test (api_test.c) reads without a JSON parser. Byte strings stay lowercase
hex ("-" when empty); an error's message is the rest of its line. Sections this script does not
know are skipped (the JSON's rule for readers).

    python3 vectors_to_lines.py tests/vectors/keywheel.json > vectors.txt
"""
import json
import sys

STRENGTH = {"aes256": 1, "aes128": 2}
FORMAT = {"nginx": 1, "nginx48": 2, "haproxy": 3, "haproxy48": 4, "apache": 5, "ats": 6, "openssl": 7}
LOOKUP = {"not_found": 0, "current": 1, "accepted": 2}


def h(s):
    return s if s else "-"


def main(path):
    with open(path, encoding="utf-8") as f:
        v = json.load(f)
    if v.get("version") != 1:
        sys.exit(f"unknown vectors version {v.get('version')}")
    out = []
    for c in v["derive_key"]["cases"]:
        out.append(["derive", h(c["main_key"]), c["context"], c["subkey_id"], c["output_len"], c["output"]])
    for c in v["tfo"]["cases"]:
        out.append(["tfo", h(c["main_key"]), c["interval"], c["time"], c["primary"], c["backup"],
                    c["next_wake"], c["wake_time_secs"], c["wake_time_nanos"], c["primary_key"],
                    c["backup_key"], c["procfs"]])
    for c in v.get("ticket_key", {}).get("cases", []):
        out.append(["ticket_key", h(c["main_key"]), h(c["label_hex"]), STRENGTH[c["strength"]],
                    c["counter"], c["name"], c["aes"], c["hmac"]])
    for c in v.get("ticket_schedule", {}).get("cases", []):
        out.append(["ticket_schedule", c["interval"], c["keep"], c["time"], c["current"], c["next_rotation"]])
    for c in v.get("ticket_lookup", {}).get("cases", []):
        found = c["result"] != "not_found"
        out.append(["ticket_lookup", h(c["main_key"]), h(c["label_hex"]), STRENGTH[c["strength"]],
                    c["interval"], c["keep"], c["time"], h(c["name"]), LOOKUP[c["result"]],
                    c["counter"] if found else "-", c["aes"] if found else "-", c["hmac"] if found else "-"])
    for c in v.get("format", {}).get("cases", []):
        out.append(["format", FORMAT[c["format"]], h(c["main_key"]), h(c["label_hex"]), c["interval"],
                    c["keep"], c["time"], c["record_len"], c["key_count"], c["output"]])
    for section in ("errors", "ticket_errors"):
        for c in v.get(section, {}).get("cases", []):
            op = c["operation"]
            if op == "main_key":
                fields = [h(c["main_key"])]
            elif op == "schedule":
                fields = [c["interval"]]
            elif op == "schedule_at":
                fields = [c["interval"], c["time"]]
            elif op == "derive_key":
                fields = [h(c["main_key"]), c["context"], c["subkey_id"], c["output_len"]]
            elif op == "label_key":
                fields = [h(c["main_key"]), h(c["label_hex"])]
            elif op == "ticket_schedule":
                fields = [c["interval"], c["keep"]]
            elif op == "ticket_schedule_at":
                fields = [c["interval"], c["keep"], c["time"]]
            elif op == "format_render":
                fields = [h(c["main_key"]), h(c["label_hex"]), FORMAT[c["format"]], c["interval"],
                          c["keep"], c["time"], c["buffer_len"]]
            else:
                continue  # an operation the C test does not know yet
            out.append(["error", op, *fields, c["kind"], c["message"]])
    for fields in out:
        print(" ".join(str(x) for x in fields))


if __name__ == "__main__":
    main(sys.argv[1])


MIN_TIME, MAX_TIME = 1_000_000, 100_000_000_000


def forward_lines(path):
    """The fs_* sections as lines for state_test.c (the forward-secure C API): each line is a
    kind, fixed fields, and for errors the kind and the message (the rest of the line). Ticket
    keys go through keywheel_ticket_keys_from_state, so only cases whose time is one the
    schedule accepts (MIN_TIME..=MAX_TIME) are kept."""
    with open(path, encoding="utf-8") as f:
        v = json.load(f)
    out = []
    for c in v["fs_state"]["cases"]:
        out.append(["fs_state", c["seed"], c["s0"], c["root_id"], c["node_count"], c["file"]])
    for c in v["fs_ticket_key"]["cases"]:
        now = int(c["counter"]) * c["interval"]
        if MIN_TIME <= now <= MAX_TIME:
            out.append(["fs_ticket_key", c["seed"], c["s0"], h(c["label"].encode().hex()),
                        STRENGTH[c["strength"]], c["interval"], c["counter"], c["name"], c["aes"],
                        c["hmac"]])
    for c in v["fs_ticket_keys"]["cases"]:
        fixed = [FORMAT[c["format"]], STRENGTH[c["strength"]], c["seed"], c["s0"],
                 h(c["label"].encode().hex()), c["interval"], c["keep"], c["time"]]
        if "error" in c:
            out.append(["fs_ticket_keys_error", *fixed, c["error"]["kind"], c["error"]["message"]])
        else:
            out.append(["fs_ticket_keys", *fixed, c["state_start"], c["output"]])
    for c in v["fs_go_seeds"]["cases"]:
        fixed = [c["seed"], c["s0"], h(c["label_hex"]), c["interval"], c["keep"], c["time"]]
        if "error" in c:
            out.append(["fs_go_seeds_error", *fixed, c["error"]["kind"], c["error"]["message"]])
            continue
        for e in c["seeds"]:
            out.append(["fs_go_seed", *fixed, e["counter"], e["seed"]])
        for r in c["refused"]:
            out.append(["fs_go_seed_error", *fixed, r["counter"], r["error"]["kind"],
                        r["error"]["message"]])
    for c in v["go_seeds"]["cases"]:
        for e in c["seeds"]:
            out.append(["go_seed", c["main_key"], h(c["label_hex"]), c["interval"], c["keep"],
                        e["counter"], e["seed"]])
    for c in v["fs_tfo"]["cases"]:
        out.append(["fs_tfo", c["seed"], c["s0"], c["interval"], c["time"], c["primary_key"],
                    c["backup_key"]])
    for c in v["fs_advance"]["cases"]:
        if "error" in c:
            out.append(["fs_advance_error", c["seed"], c["s0"], c["to"], c["error"]["kind"],
                        c["error"]["message"]])
        else:
            out.append(["fs_advance", c["seed"], c["s0"], c["to"], c["file"]])
    for c in v["fs_state_file_errors"]["cases"]:
        out.append(["fs_file_error", h(c["file"]), c["error"]["kind"], c["error"]["message"]])
    for c in v["fs_errors"]["cases"]:
        e = c["error"]
        if c["operation"] == "state_new":
            out.append(["fs_new_error", h(c["seed"]), c["s0"], e["kind"], e["message"]])
        elif c["operation"] == "ticket_key":
            now = int(c["counter"]) * c["interval"]
            if e["kind"] in ("LabelLength", "Interval") or (
                    e["kind"] == "KeyPunctured" and MIN_TIME <= now <= MAX_TIME):
                # keep 0 at the key's own start: the window is that key and the next.
                out.append(["fs_ticket_key_error", c["seed"], c["s0"],
                            h(c["label"].encode().hex()), STRENGTH[c["strength"]],
                            c["interval"], c["counter"], e["kind"], e["message"]])
    for fields in out:
        print(" ".join(str(x) for x in fields))
