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


def _api_sections() -> dict[str, set[str]]:
    """docs/api.md: ``## `module` `` headings, each with its ``- `name` — ...`` lines."""
    sections: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in (REPO / "docs" / "api.md").read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## `([\w.]+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), set())
        elif current is not None and (item := re.match(r"- `(\w+)` — \S", line)):
            current.add(item.group(1))
    return sections


def test_api_page_lists_every_public_name_once_under_its_module() -> None:
    from tests.test_architecture import PUBLIC

    sections = _api_sections()
    missing = {m: sorted(names - sections.get(m, set())) for m, names in PUBLIC.items()}
    assert {m: n for m, n in missing.items() if n} == {}, "add these to docs/api.md"
    known = {m: names | set(_all(m)) for m, names in PUBLIC.items()}
    stale = {m: sorted(sections.get(m, set()) - names) for m, names in known.items()}
    assert {m: n for m, n in stale.items() if n} == {}, "docs/api.md names what is not public"
    assert "docs/api.md" in README.read_text(encoding="utf-8")


def _all(module: str) -> list[str]:
    import importlib

    return list(importlib.import_module(module).__all__)


def test_a_public_name_is_never_shadowed_by_a_submodule() -> None:
    """Importing ``pkg.sub`` binds ``pkg.sub`` to the module, so a lazily resolved public
    function named like a submodule of its package would come back as the module."""
    import importlib
    import pkgutil
    import types

    from tests.test_architecture import PUBLIC

    for module in PUBLIC:
        mod = importlib.import_module(module)
        for info in pkgutil.iter_modules(getattr(mod, "__path__", [])):
            if info.name in mod.__all__:
                importlib.import_module(f"{module}.{info.name}")
        for name in mod.__all__:
            assert not isinstance(getattr(mod, name), types.ModuleType), f"{module}.{name}"
