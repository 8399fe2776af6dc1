"""Fast checks on what a newcomer reads: no machine paths, extras that exist and suffice.

(``tests/test_docs.py`` runs the commands and snippets; this file checks the words around
them, in milliseconds.)
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself depends on tomli before 3.11
    import tomli as tomllib

from tests.conftest import REPO

README = REPO / "README.md"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]

READ_BY_USERS = sorted(
    [
        README,
        *(REPO / "docs").rglob("*.md"),
        *(REPO / "docs").rglob("*.json"),
        *(REPO / "examples").rglob("*.py"),
        *(REPO / "scripts").rglob("*"),
    ]
)
MACHINE_PATH = re.compile(
    r"/work/|/home/|/root/|/Users/|/tmp/|site-packages|/opt/|[A-Z]:\\\\Users", re.I
)
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("path", READ_BY_USERS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_machine_paths(path: Path) -> None:
    if not path.is_file():
        return
    hits = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if MACHINE_PATH.search(line)
    ]
    assert hits == []


def _section(text: str, heading: str, level: str = "##") -> str:
    return text.split(f"\n{level} {heading}", 1)[1].split(f"\n{level} ", 1)[0]


def test_every_extra_named_in_the_docs_exists() -> None:
    named: set[str] = set()
    for path in [README, *(REPO / "docs").glob("*.md")]:
        for group in re.findall(r"(?:shortlist|\.)\[([\w,-]+)\]", path.read_text("utf-8")):
            named.update(group.split(","))
    assert named and named <= set(EXTRAS), named - set(EXTRAS)


def test_install_puts_cpu_torch_first_and_never_an_extra_index() -> None:
    install = _section(README.read_text(encoding="utf-8"), "Install")
    commands = [line for block in _FENCE.findall(install) for line in block[1].splitlines()]
    assert commands[0] == "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    assert "shortlist doctor" in commands
    assert "--extra-index-url" not in " ".join(commands)


def _dist_candidates(module: str) -> list[str]:
    parts = module.split(".")
    return ["-".join(parts[:n]).replace("_", "-") for n in range(len(parts), 0, -1)]


def _third_party_imports(code: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.split(".")[0] not in ("shortlist", "asyncio", "os", "sys")}


def test_each_quickstart_names_the_extra_that_provides_its_imports() -> None:
    """The framework a quickstart imports comes from the extra written next to it."""
    quickstart = _section(README.read_text(encoding="utf-8"), "Quickstart")
    checked = 0
    for part in quickstart.split("\n### ")[1:]:
        title, _, body = part.partition("\n")
        code = "\n".join(m.group(2) for m in _FENCE.finditer(body) if m.group(1) == "python")
        named = re.findall(r'`pip install -e "\.\[([\w,-]+)\]"`', body.split("```", 1)[0])
        extras = {e for group in named for e in group.split(",")}
        provided = {
            re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower()
            for extra in extras
            for req in EXTRAS[extra]
        }
        for module in _third_party_imports(code):
            assert set(_dist_candidates(module)) & provided, f"{title}: {module} vs {extras}"
            checked += 1
    assert checked >= 3  # langchain_classic, llama_index.core.llms, ...query_engine


def test_dev_extra_brings_the_framework_extras() -> None:
    """The test suite imports both frameworks; `.[dev]` (what CI installs) must carry them."""
    assert any(req.startswith("shortlist[") and "langchain" in req for req in EXTRAS["dev"])
    assert any(req.startswith("shortlist[") and "llama-index" in req for req in EXTRAS["dev"])
