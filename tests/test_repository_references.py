"""Nothing in the repository refers to files that users of kerasviz never get.

The paper's setups, metrics and claims are defined in docs/paper.md; the API
and the rule table in docs/. A reference to a planning file kept outside the
repository (or to a folder beside it) is a dead end for every reader.
"""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Spelled in pieces so that this file does not match itself.
FORBIDDEN = ("PAPER" + ".md", "DESIGN" + ".md", ".." + "/shared")


def _repository_files() -> list[Path]:
    """Tracked files plus new ones git does not ignore; every file but .git/ without git."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT, capture_output=True, check=True, timeout=60,
        ).stdout.decode().split("\0")
        return [ROOT / name for name in listed if name]
    except (OSError, subprocess.CalledProcessError):
        return [p for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.relative_to(ROOT).parts]


def test_no_file_refers_to_files_outside_the_repository():
    found = []
    for path in _repository_files():
        if not path.is_file():
            continue  # deleted in the working tree
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary: figures, weights
        text = data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{number}: {line.strip()}" for word in FORBIDDEN if word in line]
    assert found == [], "\n".join(found)


def test_the_paper_page_defines_every_setup_metric_and_claim():
    page = (ROOT / "docs" / "paper.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip() for line in page.splitlines() if line.startswith("| ")}
    expected = {f"E{i}" for i in range(1, 8)} | {f"M{i}" for i in range(1, 8)} | {f"C{i}" for i in range(1, 12)}
    assert expected <= rows, sorted(expected - rows)
