#!/usr/bin/env python3
"""Follow README.md as a newcomer would, in a fresh virtualenv, and report what happened.

1. Create a virtualenv and run every command of README's "Install" block, as printed
   (``--torch CMD`` replaces the ``pip install torch ...`` line, for machines where
   download.pytorch.org cannot be reached; say so when you quote the result).
2. ``shortlist doctor`` must exit 0 (no CUDA torch on a machine without a GPU).
3. README's "Run it" command, in a fresh folder beside ``shared/`` (models and datasets,
   from ``$SHORTLIST_SHARED`` or ``../shared``).
4. Each "Quickstart" section's Python, after installing only the extra that the section
   names (``pip install -e ".[x]"`` in its text). The section's snippet runs after the
   first section's (they say they continue it). The packages an extra added are removed
   again afterwards, so every quickstart runs with exactly the install above plus its own
   extra: one that silently needs another extra fails here.
5. Print the virtualenv's size and each step's time; exit 1 if any step failed.

Only the standard library is used, so any Python 3.10+ runs it::

    python scripts/check_install.py [--torch "pip install torch==2.13.0"] [--venv DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
_EXTRA_INSTALL = re.compile(r"`(pip install -e \"\.\[[\w,-]+\]\")`")


def section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section (up to the next ``## ``)."""
    return text.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]


def fenced(text: str, lang: str) -> list[str]:
    return [m.group(2) for m in _FENCE.finditer(text) if m.group(1) == lang]


def install_commands(readme: str) -> list[str]:
    blocks = fenced(section(readme, "Install"), "bash")
    if len(blocks) != 1:
        raise SystemExit("README's Install section must hold exactly one bash block")
    return [line.strip() for line in blocks[0].splitlines() if line.strip()]


def quickstarts(readme: str) -> list[tuple[str, str | None, str]]:
    """(title, the extra's install command or None, Python code) per ``###`` section."""
    out = []
    for part in section(readme, "Quickstart").split("\n### ")[1:]:
        title, _, body = part.partition("\n")
        prose = body.split("```", 1)[0]
        extra = _EXTRA_INSTALL.search(prose)
        code = "\n\n".join(fenced(body, "python"))
        out.append((title.strip(), extra.group(1) if extra else None, code))
    return out


class Run:
    """Runs steps in the virtualenv, timing each and keeping a summary."""

    def __init__(self, venv: Path, env: dict[str, str]) -> None:
        self.venv, self.env = venv, env
        self.summary: list[str] = []
        self.failed = False

    def __call__(
        self, name: str, command: str, *, cwd: Path = REPO, expect: int = 0, quiet: bool = False
    ) -> subprocess.CompletedProcess[str]:
        print(f"\n=== {name}\n$ {command}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(
            ["bash", "-c", command], cwd=cwd, env=self.env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        shown = (done.stdout + done.stderr).strip().splitlines()
        print("\n".join(shown[-15:] if quiet else shown[-60:]))
        ok = done.returncode == expect
        self.failed |= not ok
        self.summary.append(f"{'ok  ' if ok else 'FAIL'} {seconds:7.1f} s  {name}")
        return done


def as_venv_command(line: str, torch: str | None) -> str:
    """A README command line with ``pip`` run by the virtualenv's Python."""
    if torch and re.match(r"pip install torch\b", line):
        line = torch
    if line.startswith("pip "):
        return "python -m " + line
    return line


def du(path: Path) -> str:
    done = subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True)
    return done.stdout.split()[0] if done.returncode == 0 else "?"


def freeze(run: Run) -> set[str]:
    done = run("pip freeze", "python -m pip freeze --exclude-editable", quiet=True)
    return {line.split("==")[0].lower() for line in done.stdout.splitlines() if "==" in line}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--venv", type=Path, default=None, help="create it here and keep it (default: temp)"
    )
    parser.add_argument("--torch", default=None, help="replaces README's torch install line")
    parser.add_argument("--python", default=sys.executable, help="creates the virtualenv")
    parser.add_argument("--keep", action="store_true", help="keep the virtualenv and work dir")
    args = parser.parse_args()

    shared = Path(os.environ.get("SHORTLIST_SHARED", REPO.parent / "shared")).resolve()
    if not (shared / "datasets" / "cranfield").is_dir():
        raise SystemExit(f"no datasets under {shared}: set SHORTLIST_SHARED")
    readme = README.read_text(encoding="utf-8")
    root = Path(tempfile.mkdtemp(prefix="shortlist-newcomer-"))
    venv = (args.venv or root / "venv").resolve()
    subprocess.run([args.python, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHORTLIST_", "PYTHON"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv))
    run = Run(venv, env)
    size = "?"
    try:
        for line in install_commands(readme):
            run(f"README Install: {line}", as_venv_command(line, args.torch), quiet=True)
        size = du(venv)
        if "shortlist doctor" not in install_commands(readme):
            run("shortlist doctor", "shortlist doctor")

        work = root / "project"
        work.mkdir()
        (root / "shared").symlink_to(shared, target_is_directory=True)
        run_it = fenced(section(readme, "Run it"), "bash")[0].strip()
        run("README Run it", run_it, cwd=work)

        sections = quickstarts(readme)
        first_code = sections[0][2]
        for title, extra, code in sections:
            before = freeze(run) if extra else set()
            if extra:
                run(f"Quickstart {title}: {extra}", as_venv_command(extra, None), quiet=True)
            script = work / f"quickstart-{re.sub(r'[^a-z]+', '-', title.lower())}.py"
            script.write_text(code if code == first_code else f"{first_code}\n\n{code}")
            run(f"Quickstart {title}", f"python {shlex.quote(script.name)}", cwd=work)
            if extra:
                added = sorted(freeze(run) - before)
                if added:
                    run(
                        f"remove what {extra} added",
                        "python -m pip uninstall -y " + " ".join(added),
                        quiet=True,
                    )
    finally:
        print("\n=== summary")
        print("\n".join(run.summary))
        print(f"virtualenv after README Install: {size} ({venv})")
        if args.torch:
            print(f"(torch installed with {args.torch!r} instead of README's line)")
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)  # holds the venv unless --venv was given
    return 1 if run.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
