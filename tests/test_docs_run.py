"""Every ```python and ```bash block of README.md, docs/*.md and examples/README.md runs as written.

One test per block, in page order. The blocks of a page share one Python
namespace and one temporary working directory, so a block may use what the
page's earlier blocks defined or wrote; nothing is shared between pages.
The working directory holds what the pages name as the reader's own files:
`photos/` (four sample photos as JPEG), `cat.jpg`, `dog.png`, `img.png`, and
`my.keras` / `my_model.keras` (a tiny ReLU CNN); `examples/` links to the
repository's.

- Python blocks run in this process (`exec`), in the page's namespace.
- Bash blocks run with `bash -e` in the page's directory, `kerasviz` and
  `python` being this checkout's. Install commands (`pip install ...`,
  `apt-get ...`) are left out of a line's `&&` chain: they install what the
  test environment already has. A block of plain `kerasviz ...` (or
  `python -m kerasviz ...`) lines, with no pipes, redirections or variables,
  runs each line through `kerasviz.cli.main` in this process instead, which
  is what the command runs, without a TensorFlow start-up per line; it must
  return 0.
- A block of `kerasviz` commands that an earlier page's block runs, every
  one of them (docs/index.md repeats README's), is skipped, naming that block.
- A block directly preceded by the line `<!-- not-tested: <reason> -->` is
  skipped with that reason in the test report (`pytest -rs` lists them).

The reference is the block itself: a block that raises, or a shell command
that exits non-zero, fails its test with the page and line.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "examples" / "README.md"]
_FENCE = re.compile(r"^```(python|bash)\s*$")
_NOT_TESTED = re.compile(r"^<!--\s*not-tested:\s*(.+?)\s*-->$")
#: The set-up commands (README's first block, docs/index.md's copy) run the whole suite:
#: `.ci/run` runs exactly them, so here they are skipped by rule, without a marker.
_SETUP = "python -m pytest"
_SETUP_REASON = "the set-up commands install kerasviz and run this whole suite: .ci/run runs them"
_INSTALL = re.compile(r"^\s*(sudo\s+)?(pip3?|apt-get|apt)\s")


def blocks(page: Path) -> list[tuple[str, str, int, str | None]]:
    """`(language, code, line, skip reason)` of each python/bash block of `page`."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        start, i = i, i + 1
        while i < len(lines) and lines[i].strip() != "```":
            i += 1
        previous = lines[start - 1].strip() if start else ""
        marker = _NOT_TESTED.match(previous)
        code = "\n".join(lines[start + 1:i]) + "\n"
        reason = marker.group(1) if marker else _SETUP_REASON if _SETUP in code else None
        found.append((match.group(1), code, start + 1, reason))
        i += 1
    return found


CASES = [pytest.param(page, index, id=f"{page.relative_to(ROOT)}:{line}")
         for page in PAGES for index, (_, _, line, _) in enumerate(blocks(page))]


class _Page:
    """A page's namespace and working directory."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.namespace: dict = {"__name__": "__docs__"}


_PAGES: dict[Path, _Page] = {}


def _reader_files(folder: Path) -> None:
    """The files the pages treat as the reader's own."""
    import keras
    from PIL import Image

    import kerasviz as kv

    photos = folder / "photos"
    photos.mkdir()
    images = kv.data.sample_images(size=64)
    for name, image in zip(kv.data.SAMPLE_IMAGES, images):
        Image.fromarray(image.astype(np.uint8)).save(photos / f"{name}.jpg")
    Image.fromarray(images[0].astype(np.uint8)).save(folder / "cat.jpg")
    Image.fromarray(images[1].astype(np.uint8)).save(folder / "dog.png")
    Image.fromarray(images[2].astype(np.uint8)).save(folder / "img.png")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.MaxPooling2D(4), keras.layers.Flatten(), keras.layers.Dense(10)],
                             name="my_model")
    model.save(folder / "my.keras")
    shutil.copy(folder / "my.keras", folder / "my_model.keras")
    (folder / "examples").symlink_to(ROOT / "examples")


def _page(page: Path, tmp_path_factory) -> _Page:
    if page not in _PAGES:
        folder = tmp_path_factory.mktemp(page.stem)
        _reader_files(folder)
        _PAGES[page] = _Page(folder)
    return _PAGES[page]


def _shell_script(code: str) -> str:
    """The block without its install commands (see the module docstring)."""
    code = code.replace("\\\n", " ")
    kept = []
    for line in code.splitlines():
        parts = [part for part in line.split("&&") if not _INSTALL.match(part)]
        if parts and "".join(parts).strip():
            kept.append("&&".join(parts).strip())
    return "\n".join(kept) + "\n"


_SHELL_SYNTAX = re.compile(r"[|<>;&$`(){}]")


def kerasviz_commands(script: str) -> list[list[str]] | None:
    """The argument lists of a script made only of `kerasviz` commands, else `None`."""
    commands = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if _SHELL_SYNTAX.search(line.split("#")[0].replace('"', "").replace("'", "").replace("*", "")):
            return None
        if words[0] == "kerasviz":
            commands.append(words[1:])
        elif words[:3] == ["python", "-m", "kerasviz"]:
            commands.append(words[3:])
        else:
            return None
    return commands or None


def _run_in_process(commands: list[list[str]], where: str) -> None:
    """Each command through `kerasviz.cli.main`, as the `kerasviz` script runs it; each must return 0."""
    from kerasviz import cli

    for argv in commands:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(argv)
            except SystemExit as done:  # --help
                status = done.code or 0
        assert status == 0, f"{where}: kerasviz {shlex.join(argv)} returned {status}:\n{out.getvalue()[-3000:]}\n" \
                            f"{err.getvalue()[-3000:]}"


def _first_run(page: Path, language: str, code: str) -> str | None:
    """Where an earlier page's block that runs has every command of this bash block, if one has."""
    commands = kerasviz_commands(_shell_script(code)) if language == "bash" else None
    if commands is None:
        return None
    for earlier in PAGES[:PAGES.index(page)]:
        for other_language, other_code, line, reason in blocks(earlier):
            ran = kerasviz_commands(_shell_script(other_code)) if other_language == "bash" and reason is None else None
            if ran is not None and all(command in ran for command in commands):
                return f"{earlier.relative_to(ROOT)}, block at line {line}"
    return None


@pytest.mark.parametrize("page, index", CASES)
def test_doc_block_runs_as_written(page, index, tmp_path_factory, monkeypatch):
    language, code, line, reason = blocks(page)[index]
    where = f"{page.relative_to(ROOT)}, block at line {line}"
    if reason is not None:
        pytest.skip(f"not tested ({where}): {reason}")
    if (same := _first_run(page, language, code)) is not None:
        pytest.skip(f"not tested again ({where}): the same commands as {same}, which runs")
    state = _page(page, tmp_path_factory)
    monkeypatch.chdir(state.folder)
    if language == "python":
        exec(compile(code, f"<{where}>", "exec"), state.namespace)  # noqa: S102 - the docs' own code
        return
    if (commands := kerasviz_commands(_shell_script(code))) is not None:
        _run_in_process(commands, where)
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-e", "-c", _shell_script(code)], cwd=state.folder, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{where} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_blocks_are_found_with_their_not_tested_reasons(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n```python\nx = 1\n```\n\n<!-- not-tested: needs a cluster -->\n```bash\n"
                    "ray start --head\n```\n\n```text\nnot code\n```\n")
    assert blocks(page) == [("python", "x = 1\n", 3, None), ("bash", "ray start --head\n", 8, "needs a cluster")]
    assert kerasviz_commands("kerasviz explain a.jpg --size 64   # a comment\npython -m kerasviz view s --html o\n") \
        == [["explain", "a.jpg", "--size", "64"], ["view", "s", "--html", "o"]]
    assert kerasviz_commands('kerasviz explain "photos/**/*.jpg" --out m.zarr\n') == [["explain", "photos/**/*.jpg",
                                                                                         "--out", "m.zarr"]]
    for script in ("kerasviz explain | head\n", "kerasviz explain > log\n", "ray start --head\n",
                   "kerasviz explain $IMAGES\n", "\n"):
        assert kerasviz_commands(script) is None, script
    assert _shell_script('pip install . && kerasviz explain\napt-get update && apt-get install -y x\n'
                         'kerasviz explain a \\\n  --out b\n') == "kerasviz explain\nkerasviz explain a    --out b\n"
