"""Runs python/README.md's examples against the keywheel that the running interpreter imports.

Started by test_wheel.py with the python of a fresh venv holding only the installed wheel: the
standard library only (doctest), no pytest. Doctest blocks must print what they show; the script
block runs in a temporary directory with a main.key and its ticket names are compared with the
hashlib reference (python/tests/reference.py, which shares no code with keywheel). Exit 0 when
everything matched; otherwise the mismatches on stderr and exit 1.

    python wheel_readme.py README.md REFERENCE_DIR
"""

import contextlib
import doctest
import io
import os
import re
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    readme, reference_dir = Path(sys.argv[1]), sys.argv[2]
    import keywheel  # the installed wheel: the caller checks where it comes from

    sys.path.append(reference_dir)
    import reference as ref

    print(f"keywheel from {keywheel.__file__}")
    blocks = re.findall(r"^```python\n(.*?)^```$", readme.read_text(encoding="utf-8"), re.M | re.S)
    failures = []
    globs: dict = {}
    ran_doctest = ran_script = 0
    for i, block in enumerate(blocks):
        if ">>>" in block:
            test = doctest.DocTestParser().get_doctest(block, globs, f"README block {i}", str(readme), 0)
            out = io.StringIO()
            result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test, out=out.write, clear_globs=False)
            globs = test.globs
            ran_doctest += result.attempted
            if result.failed:
                failures.append(out.getvalue())
            continue
        main_key = bytes(range(100, 132))
        with tempfile.TemporaryDirectory() as tmp:
            key = Path(tmp) / "main.key"
            key.write_bytes(main_key)
            os.chmod(key, 0o600)
            old = os.getcwd()
            os.chdir(tmp)
            out = io.StringIO()
            before = int(time.time())
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(block, f"README block {i}", "exec"), {"__name__": "__readme__"})
            finally:
                os.chdir(old)
            after = int(time.time())
        ran_script += 1
        lines = out.getvalue().splitlines()
        if "ticket_name" in block:
            wants = [
                [f"{role:<10} {c} {ref.ticket_key(main_key, 'www.example.com', 'aes256', c)[0].hex()}"
                 for c, role in ref.ticket_window(3600, 1, now)]
                for now in {before, after}
            ]
            if lines not in wants:
                failures.append(f"README block {i} printed {lines!r}, expected {wants[0]!r}")
    print(f"{ran_doctest} doctest examples, {ran_script} script blocks")
    if not ran_doctest or not ran_script:
        failures.append("README.md has no doctest or no script block")
    for f in failures:
        print(f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
