"""The process whose memory test_forward_memory.py scans: it uses keywheel's Python ``State``
and ``TicketKeys.from_state`` as a server would, then moves past counter n and drops the old
objects. It never sees an expected byte string: it reads the state from a file (through the
library's loader, whose buffer is wiped), gets times on its command line and is told when to go
on by a line on stdin.

    forward_memory_child.py STATE_FILE LABEL INTERVAL N
"""

import gc
import sys

import keywheel


def wait(stage):
    print(stage, flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(f"no go after {stage}")


def main():
    path, label, interval, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    t_n = n * interval + interval // 2
    state = keywheel.State.from_file(path)
    keys = keywheel.TicketKeys.from_state(state, label, "aes256", interval, keep=1, now=t_n)
    current = keys.current(t_n)  # key n, held in Rust memory
    name = current.name  # public; only the name crosses into Python
    assert keys.lookup(name, t_n).kind == "current"
    old = keywheel.State.from_file(path)  # a second copy, deleted later without advancing
    tfo = old.tfo_keys(keywheel.Schedule(interval), t_n)
    wait("holding key n")

    # Past counter n: key n is no longer accepted from t_later on (keep 1: n+1 is the oldest).
    t_later = (n + 2) * interval + interval // 2
    del current, tfo
    # The state is advanced (the nodes it replaces are wiped); the ticket keys holding key n's
    # window and the second state are deleted as they are (their nodes wiped when freed).
    state.advance((n + 1) * interval)
    newer = keywheel.TicketKeys.from_state(state, label, "aes256", interval, keep=1,
                                           now=t_later)
    newer.current(t_later)
    newer.render("haproxy", t_later)
    del keys, old
    gc.collect()
    wait("past key n")


if __name__ == "__main__":
    main()
