"""The README and docs are tests: their commands and snippets run as printed.

* README's "Run it" command is parsed from README.md and run verbatim, offline, in a fresh
  working directory beside ``shared/`` (as a user with this repo's layout would), so
  editing the README without fixing the code fails here.
* Every ```python block in README.md and docs/*.md runs, top to bottom per page in one
  fresh interpreter, in that same directory (after "Run it", so ``cranfield-index``
  exists). A block that cannot run here says why in a ``<!-- not run: ... -->`` comment
  right above it; that list is pinned below so it cannot grow silently.
* A user without ``shared/``: the ``[models]`` extra alone takes a folder of ``.md`` files
  through ``shortlist index`` and a reranked ``shortlist search`` by hub ids.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED, need

README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
_NOT_RUN = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->\s*$")

NOT_RUN: dict[str, int] = {"docs/scale.md": 2}
"""Pages with blocks marked ``not run`` and how many: a new exception must be added here."""


def blocks(page: Path, lang: str) -> list[tuple[str, str | None]]:
    """The page's fenced blocks in ``lang``: (code, reason it is not run, or None)."""
    text = page.read_text(encoding="utf-8")
    out = []
    for match in _FENCE.finditer(text):
        if match.group(1) != lang:
            continue
        before = text[: match.start()].rstrip().splitlines()
        reason = _NOT_RUN.search(before[-1]) if before else None
        out.append((match.group(2), reason.group(1) if reason else None))
    return out


def run_it_command() -> str:
    """The one bash command under README's "Run it" heading."""
    section = README.read_text(encoding="utf-8").split("## Run it", 1)[1].split("\n## ", 1)[0]
    found = [code for code, _ in blocks_in(section, "bash")]
    assert len(found) == 1, "README's 'Run it' section must hold exactly one bash block"
    return found[0].strip()


def blocks_in(text: str, lang: str) -> list[tuple[str, None]]:
    return [(m.group(2), None) for m in _FENCE.finditer(text) if m.group(1) == lang]


def user_env(**extra: str) -> dict[str, str]:
    """A user's shell: the venv's scripts on PATH, offline, no test-only settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHORTLIST_", "PYTEST"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HF_HUB_OFFLINE="1", **extra)
    return env


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh folder with ``../shared`` beside it, after README's "Run it" ran there."""
    need(SHARED / "datasets" / "cranfield")
    root = tmp_path_factory.mktemp("user")
    (root / "shared").symlink_to(SHARED, target_is_directory=True)
    work = root / "project"
    work.mkdir()
    done = subprocess.run(
        ["bash", "-c", run_it_command()],
        cwd=work,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    work.joinpath("run-it.out").write_text(done.stdout)
    return work


def test_run_it_prints_five_reranked_hits(workdir: Path) -> None:
    out = workdir.joinpath("run-it.out").read_text()
    rows = [line.split() for line in out.splitlines() if re.match(r"^\d+\s", line)]
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"], out
    scores = [float(r[2]) for r in rows]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1
    assert "Indexed 1400 documents with sentence-transformers/all-MiniLM-L6-v2" in out


def test_not_run_blocks_are_the_pinned_ones() -> None:
    marked = {
        str(page.relative_to(REPO)): sum(1 for _, why in blocks(page, "python") if why)
        for page in PAGES
    }
    assert {page: n for page, n in marked.items() if n} == NOT_RUN


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if any(why is None for _, why in blocks(p, "python"))],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_python_snippets_run(page: Path, workdir: Path) -> None:
    runnable = [code for code, why in blocks(page, "python") if why is None]
    script = workdir / f"snippets-{page.stem}.py"
    script.write_text("\n\n".join(runnable), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, script.name],
        cwd=workdir,
        env=user_env(CO_API_KEY="not-used-constructing-only"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    numbered = "\n".join(
        f"{i:4} {line}" for i, line in enumerate(script.read_text().split("\n"), 1)
    )
    assert done.returncode == 0, f"{numbered}\n\n{done.stderr[-4000:]}"


def test_a_user_without_shared_gets_reranked_hits(tmp_path: Path) -> None:
    """[models] alone: default embedder and the ONNX reranker by hub id, no other files."""
    notes = tmp_path / "notes"
    notes.mkdir()
    notes.joinpath("wings.md").write_text("Swept wings delay the onset of shock waves.\n")
    notes.joinpath("bread.md").write_text("Sourdough bread rises because of wild yeast.\n")
    notes.joinpath("engines.md").write_text("Jet engines compress air before combustion.\n")
    env = user_env()
    steps = [
        ["shortlist", "index", "notes", "--out", "notes-index", "-q"],
        [
            "shortlist",
            "search",
            "notes-index",
            "why do aircraft use swept wings?",
            "-n",
            "3",
            "-m",
            "2",
            "--reranker",
            "onnx:cross-encoder/ms-marco-MiniLM-L-12-v2",
            "--json",
        ],
    ]
    assert not (tmp_path.parent / "shared").exists()
    outputs = []
    for cmd in steps:
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs.append(done.stdout)
    import json

    hits = json.loads(outputs[1])
    assert len(hits) == 2 and hits[0]["id"] == "wings.md"
    assert hits[0]["relevance_score"] > hits[1]["relevance_score"]
