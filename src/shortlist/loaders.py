"""Turn what users have on disk into :class:`~shortlist.documents.Document` lists.

Supported: a BEIR ``corpus.jsonl`` (or the dataset folder holding it), any JSON-lines
file with ``_id``/``id`` and ``text`` (+ ``title``, + other fields kept as metadata), and
a folder of ``.txt``/``.md`` files (id = path relative to the folder). Nothing is
skipped silently: empty documents are kept (they are real data), bad lines raise with
their line number.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shortlist.documents import Document
from shortlist.errors import InvalidInputError

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")


def load_documents(path: str | os.PathLike[str]) -> list[Document]:
    """Load a corpus file or folder (see module docs) into Documents.

    A corpus with no documents at all is an error, not an empty list: indexing it would
    "succeed" with nothing searchable, which is never what was meant.
    """
    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"{p} does not exist; pass a corpus.jsonl file or a folder.")
    if p.is_dir() and (p / "corpus.jsonl").is_file():
        return _not_empty(p / "corpus.jsonl", list(read_jsonl_corpus(p / "corpus.jsonl")))
    if p.is_dir():
        return read_folder(p)
    if p.suffix in (".jsonl", ".ndjson"):
        return _not_empty(p, list(read_jsonl_corpus(p)))
    if p.suffix in TEXT_SUFFIXES:
        return [
            Document(id=p.name, text=p.read_text(encoding="utf-8"), metadata={"source": str(p)})
        ]
    raise InvalidInputError(
        f"Don't know how to read {p}: expected a .jsonl corpus, a .txt/.md file, or a folder."
    )


def _not_empty(path: Path, docs: list[Document]) -> list[Document]:
    if not docs:
        raise InvalidInputError(
            f"{path} holds no documents (no non-blank lines); add one JSON object per line, "
            'e.g. {"_id": "d1", "text": "..."}.'
        )
    return docs


def beir_text(title: str, text: str) -> str:
    """BEIR's convention for what a document's searchable text is: title, then body."""
    return f"{title}\n{text}".strip() if title else text


def json_objects(
    path: Path, error: type[InvalidInputError] = InvalidInputError
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSON-lines file; ``error``
    names the file and line of anything that is not a JSON object."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                yield lineno, json_object(line, f"{path}:{lineno}", error)


def json_object(
    line: str, where: str, error: type[InvalidInputError] = InvalidInputError
) -> dict[str, Any]:
    """One JSON-lines line as an object, or ``error`` naming ``where``."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: not valid JSON ({exc.msg}).") from None
    if not isinstance(row, dict):
        raise error(f"{where}: expected a JSON object.")
    return row


def read_jsonl_corpus(path: Path) -> Iterator[Document]:
    """Read BEIR-style JSON lines: ``_id``/``id``, ``title``, ``text``; other keys -> metadata."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                yield document_from_line(line, f"{path}:{lineno}")


def document_from_line(line: str, where: str) -> Document:
    """One corpus line as a Document (also how a Ray Data job reads a corpus's lines)."""
    row = json_object(line, where)
    doc_id = row.pop("_id", None)
    if doc_id is None:  # not `or`: an id of 0 is an id
        doc_id = row.pop("id", None)
    if doc_id is None or "text" not in row:
        raise InvalidInputError(f"{where}: each line needs '_id' (or 'id') and 'text'.")
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int) or doc_id == "":
        raise InvalidInputError(
            f"{where}: '_id' must be a non-empty string or an integer, got {doc_id!r}."
        )
    title = str(row.get("title") or "")
    text = str(row.pop("text") or "")
    metadata = {k: v for k, v in row.items() if k != "metadata"}
    metadata.update(row.get("metadata") or {})
    return Document(id=str(doc_id), text=beir_text(title, text), metadata=metadata)


def read_folder(folder: Path, suffixes: tuple[str, ...] = TEXT_SUFFIXES) -> list[Document]:
    """Every text file below ``folder`` (sorted, recursive); id = relative POSIX path."""
    files = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
    if not files:
        raise InvalidInputError(
            f"{folder} holds no documents: no {'/'.join(suffixes)} files below it."
        )
    docs = []
    for f in files:
        rel = f.relative_to(folder).as_posix()
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{f} is not UTF-8 text ({exc}).") from exc
        docs.append(Document(id=rel, text=text, metadata={"source": rel}))
    return docs
