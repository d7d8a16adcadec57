"""The ```python blocks of python/README.md run as tests.

A block with ``>>>`` prompts is a doctest: its printed outputs must match. Any other block runs
as a script in a temporary directory holding a ``main.key`` (mode 0600); the ticket-name example
is then also checked line by line against the hashlib reference.
"""

import contextlib
import doctest
import io
import os
import re
import time

import pytest

import reference as ref
from conftest import PYTHON_DIR

README = PYTHON_DIR / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), re.M | re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 3
    assert any(">>>" in b for b in BLOCKS) and any(">>>" not in b for b in BLOCKS)
    script = next(b for b in BLOCKS if ">>>" not in b)
    assert len(script.strip().splitlines()) <= 10  # the "10-line example"


@pytest.mark.parametrize("i", [i for i, b in enumerate(BLOCKS) if ">>>" in b])
def test_readme_doctest(i):
    # Blocks share one namespace, in order, as a reader types them into one session.
    globs = {}
    for j in range(i + 1):
        if ">>>" not in BLOCKS[j]:
            continue
        test = doctest.DocTestParser().get_doctest(BLOCKS[j], globs, f"README block {j}", str(README), 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        out = io.StringIO()
        result = runner.run(test, out=out.write, clear_globs=False)
        assert result.failed == 0, out.getvalue()
        globs = test.globs


@pytest.mark.parametrize("i", [i for i, b in enumerate(BLOCKS) if ">>>" not in b])
def test_readme_script(i, tmp_path, monkeypatch):
    main = bytes(range(100, 132))
    key = tmp_path / "main.key"
    key.write_bytes(main)
    os.chmod(key, 0o600)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    before = int(time.time())
    with contextlib.redirect_stdout(out):
        exec(compile(BLOCKS[i], f"README block {i}", "exec"), {"__name__": "__readme__"})
    after = int(time.time())
    lines = out.getvalue().splitlines()
    if "ticket_name" in BLOCKS[i]:
        # The names printed are the reference's for the window at the time the block ran.
        assert len(lines) == 3
        for now in {before, after}:
            want = [f"{role:<10} {c} {ref.ticket_key(main, 'www.example.com', 'aes256', c)[0].hex()}"
                    for c, role in ref.ticket_window(3600, 1, now)]
            if lines == want:
                break
        else:
            pytest.fail(f"README example printed {lines!r}, expected {want!r}")


def test_top_level_readme_example_is_this_one():
    """The example in the repository's README.md ("Python") is one of the blocks run above."""
    top = (PYTHON_DIR.parent / "README.md").read_text(encoding="utf-8")
    section = top[top.index("## Python"):]
    top_blocks = re.findall(r"^```python\n(.*?)^```$", section, re.M | re.S)
    assert top_blocks, "README.md has no ```python block in its Python section"
    assert top_blocks[0] in BLOCKS
