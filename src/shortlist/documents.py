"""The two value types everything else passes around: :class:`Document` and :class:`Hit`.

Both are frozen so no stage can mutate what a caller handed in; adapters copy them into
their framework's types. The metadata key names that carry scores are defined here, once.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from shortlist.errors import InvalidInputError

RETRIEVAL_SCORE_KEY = "retrieval_score"
"""Metadata key adapters use for the stage-1 (bi-encoder) similarity."""

RELEVANCE_SCORE_KEY = "relevance_score"
"""Metadata key adapters use for the stage-2 (reranker) relevance."""

RETRIEVAL_RANK_KEY = "retrieval_rank"
"""Metadata key adapters use for the 1-based position in the stage-1 ranking."""

DENSE_SCORE_KEY = "dense_score"
"""Metadata key for the bi-encoder similarity when stage 1 is hybrid or dense."""

BM25_SCORE_KEY = "bm25_score"
"""Metadata key for the BM25 score when stage 1 is hybrid or BM25."""

FUSED_SCORE_KEY = "fused_score"
"""Metadata key for the final score when retrieval and rerank signals are fused.

Written only when fusion is on; without fusion the final score is the relevance score.
"""


SCORED_BY_KEY = "scored_by"
"""Metadata key naming the reranker that scored a hit (its spec), or ``"stage1"``."""

STAGE1 = "stage1"
"""``scored_by`` of hits that no reranker scored: they keep their stage-1 order and score
(every member of a fallback chain failed, see :mod:`shortlist.rerank.fallback`)."""


@dataclass(frozen=True, slots=True)
class Document:
    """A piece of text with a stable id and JSON-serialisable metadata.

    The metadata is deep-copied once, here, at ingestion: a caller who later mutates a
    nested dict or list they passed in cannot change what the index holds or saves.
    """

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidInputError(f"Document.id must be a non-empty string, got {self.id!r}.")
        if not isinstance(self.text, str):
            raise InvalidInputError(
                f"Document {self.id!r}: text must be a str, got {type(self.text).__name__}."
            )
        if not isinstance(self.metadata, Mapping):
            raise InvalidInputError(
                f"Document {self.id!r}: metadata must be a mapping, "
                f"got {type(self.metadata).__name__}."
            )
        metadata = copy.deepcopy(dict(self.metadata))
        object.__setattr__(self, "metadata", MappingProxyType(metadata))
        object.__setattr__(self, "text", clean_text(self.text))

    def metadata_copy(self) -> dict[str, Any]:
        """A deep copy of the metadata: what adapters hand out, so callers can edit it freely."""
        return copy.deepcopy(dict(self.metadata))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, used for persistence and ``--json`` output."""
        return {"id": self.id, "text": self.text, "metadata": self.metadata_copy()}

    def __reduce__(self) -> Any:  # MappingProxyType is not copyable; rebuild from a dict
        return (Document, (self.id, self.text, dict(self.metadata)))


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked result.

    ``score`` is the score the result was ranked by (higher is better): the retrieval
    similarity after stage 1, the reranker relevance (or the fused score) after stage 2.
    Every stage's score stays visible so a caller can always see why a document ranked;
    ``fused_score`` is set only when fusion decided the order (then it equals ``score``).
    ``scored_by`` names the reranker that scored the hit (its spec; one member of a
    fallback chain), or :data:`STAGE1` when none could and the stage-1 order stands.
    """

    document: Document
    score: float
    rank: int
    retrieval_score: float | None = None
    retrieval_rank: int | None = None
    relevance_score: float | None = None
    fused_score: float | None = None
    dense_score: float | None = None
    bm25_score: float | None = None
    scored_by: str | None = None

    @property
    def id(self) -> str:
        """The document's id (shortcut)."""
        return self.document.id

    @property
    def text(self) -> str:
        """The document's text (shortcut)."""
        return self.document.text

    def score_metadata(self) -> dict[str, float | int | str]:
        """The scores adapters put into framework metadata, under the shared key names
        (and which reranker scored the hit, under :data:`SCORED_BY_KEY`)."""
        out: dict[str, float | int | str] = {}
        if self.retrieval_score is not None:
            out[RETRIEVAL_SCORE_KEY] = self.retrieval_score
        if self.retrieval_rank is not None:
            out[RETRIEVAL_RANK_KEY] = self.retrieval_rank
        if self.relevance_score is not None:
            out[RELEVANCE_SCORE_KEY] = self.relevance_score
        if self.fused_score is not None:
            out[FUSED_SCORE_KEY] = self.fused_score
        if self.dense_score is not None:
            out[DENSE_SCORE_KEY] = self.dense_score
        if self.bm25_score is not None:
            out[BM25_SCORE_KEY] = self.bm25_score
        if self.scored_by is not None:
            out[SCORED_BY_KEY] = self.scored_by
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form for ``--json`` output: id, score, text, metadata and stage scores."""
        out: dict[str, Any] = {
            "id": self.document.id,
            "score": self.score,
            "rank": self.rank,
            "text": self.document.text,
            "metadata": self.document.metadata_copy(),
        }
        out.update(self.score_metadata())
        return out


def _checked_id(position: int, doc_id: object) -> str:
    """A given id is used as it is, or refused: never silently replaced by a random one."""
    if not isinstance(doc_id, str) or not doc_id:
        raise InvalidInputError(
            f"ids[{position}] is {doc_id!r}; ids must be non-empty strings (str({doc_id!r}) if "
            "you mean it), or None for a generated id."
        )
    return doc_id


def new_id() -> str:
    """A fresh random document id (uuid4 hex), as LangChain users expect for unnamed docs."""
    return str(uuid.uuid4())


def check_json_metadata(doc_id: str, metadata: Mapping[str, Any]) -> None:
    """Fail now, not at save time, if metadata cannot be stored as plain JSON.

    Keys must be strings: JSON would turn ``{1: "a"}`` into ``{"1": "a"}`` on save, and a
    filter on ``1`` would silently stop matching after a reload.
    """
    try:
        json.dumps(dict(metadata), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"Document {doc_id!r}: metadata must be JSON-serialisable (str, int, float, bool, "
            f"None, lists and dicts of them); {exc}. Convert the value before indexing."
        ) from exc
    bad = _non_str_key(metadata)
    if bad is not None:
        raise InvalidInputError(
            f"Document {doc_id!r}: metadata key {bad!r} is a {type(bad).__name__}; keys must be "
            f"strings (JSON would store it as {str(bad)!r}). Use str keys."
        )


def _non_str_key(value: Any) -> object | None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if not isinstance(key, str):
                return key  # type: ignore[no-any-return]
            found = _non_str_key(inner)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for inner in value:
            found = _non_str_key(inner)
            if found is not None:
                return found
    return None


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (invalid UTF-16 halves) replaced by U+FFFD.

    Tokenizers raise a raw ``TypeError`` on them and UTF-8 files cannot hold them; a
    valid surrogate pair (an emoji from a UTF-16 source) is kept as its one character.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def make_documents(
    texts: Iterable[str | Document],
    metadatas: Sequence[Mapping[str, Any] | None] | None = None,
    ids: Sequence[str | None] | None = None,
) -> list[Document]:
    """Normalise texts (+ metadatas, + ids) or ready Documents into validated Documents.

    Ids are generated where missing; duplicate ids within one call are rejected, since
    silently keeping only the last one would lose a document.
    """
    if isinstance(texts, str | bytes):
        raise InvalidInputError(
            f"Pass a list of texts, not a single string (it would be indexed character by "
            f"character): [{texts[:40]!r}]."
        )
    items = list(texts)
    for name, seq in (("metadatas", metadatas), ("ids", ids)):
        if seq is not None and len(seq) != len(items):
            raise InvalidInputError(
                f"{name} has {len(seq)} entries but there are {len(items)} texts; "
                "pass one per text."
            )
    docs: list[Document] = []
    for i, item in enumerate(items):
        given_id = ids[i] if ids is not None else None
        meta = metadatas[i] if metadatas is not None else None
        if isinstance(item, Document):
            doc = item
            if given_id is not None or meta is not None:
                doc = Document(
                    id=item.id if given_id is None else _checked_id(i, given_id),
                    text=item.text,
                    metadata=meta if meta is not None else item.metadata,
                )
        elif isinstance(item, str):
            doc_id = new_id() if given_id is None else _checked_id(i, given_id)
            doc = Document(id=doc_id, text=item, metadata=meta or {})
        else:
            raise InvalidInputError(
                f"Item {i} is a {type(item).__name__}; pass str or shortlist.Document."
            )
        check_json_metadata(doc.id, doc.metadata)
        docs.append(doc)
    seen: set[str] = set()
    dupes = [d.id for d in docs if d.id in seen or seen.add(d.id)]  # type: ignore[func-returns-value]
    if dupes:
        raise InvalidInputError(
            f"Duplicate ids in one call: {sorted(set(dupes))[:5]}. Ids must be unique; "
            "use upsert() to replace an existing document."
        )
    return docs
