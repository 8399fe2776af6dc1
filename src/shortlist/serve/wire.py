"""Cohere's rerank API as this server reads and writes it (``/v1/rerank``, ``/v2/rerank``).

Requests are checked field by field, so every mistake is a 4xx whose message names the
field (the SDK shows it to its caller), never a 500. Responses carry exactly what the
``cohere`` SDK's ``RerankResponse`` (v1) and ``V2RerankResponse`` (v2) read: ``id``,
``results[{index, relevance_score, document?}]`` best first, and ``meta``.

``model`` is accepted and not checked: the server serves one reranker, so a client
written for Cohere keeps its model name and only changes ``base_url``.
``max_tokens_per_doc`` is validated and reported back in ``meta.warnings`` as not applied:
the served models truncate each (query, document) pair at their own maximum sequence
length, which no per-request value can raise.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shortlist._validate import positive_int
from shortlist.rerank.ranking import RerankResult
from shortlist.serve.config import Limits
from shortlist.serve.problems import invalid, too_large


@dataclass(frozen=True)
class RerankRequest:
    """A checked rerank request: the texts to score and how to answer."""

    version: int
    query: str
    texts: list[str]
    documents: list[Any]
    top_n: int | None
    return_documents: bool
    max_tokens_per_doc: int | None


def parse_rerank(body: Mapping[str, Any], version: int, limits: Limits) -> RerankRequest:
    """``body`` (a JSON object) as a :class:`RerankRequest`, or a 413/422 :class:`Problem`."""
    query = text_field("query", body.get("query"), limits)
    documents = body.get("documents")
    if not isinstance(documents, list):
        raise invalid(f"documents must be a list of strings or objects, got {_kind(documents)}.")
    if not documents:
        raise invalid("documents must not be empty.")
    if len(documents) > limits.max_documents:
        raise too_large(
            f"{len(documents)} documents is over this server's limit of "
            f"{limits.max_documents} per request; split them over several requests."
        )
    fields = _rank_fields(body.get("rank_fields")) if version == 1 else ("text",)
    texts = [_document_text(i, d, fields, limits) for i, d in enumerate(documents)]
    return_documents = body.get("return_documents", False)
    if version == 2 or return_documents is None:
        return_documents = False  # v2 never returns documents: the caller has them
    if not isinstance(return_documents, bool):
        raise invalid(f"return_documents must be true or false, got {_kind(return_documents)}.")
    return RerankRequest(
        version=version,
        query=query,
        texts=texts,
        documents=documents,
        top_n=optional_count("top_n", body.get("top_n")),
        return_documents=return_documents,
        max_tokens_per_doc=optional_count("max_tokens_per_doc", body.get("max_tokens_per_doc")),
    )


def rerank_response(request: RerankRequest, results: Sequence[RerankResult]) -> dict[str, Any]:
    """The JSON answer: results best first, in the shape of the request's API version."""
    items: list[dict[str, Any]] = []
    for r in results:
        item: dict[str, Any] = {"index": r.index, "relevance_score": r.score}
        if request.return_documents:
            doc = request.documents[r.index]
            item["document"] = doc if isinstance(doc, dict) else {"text": doc}
        items.append(item)
    meta: dict[str, Any] = {
        "api_version": {"version": str(request.version)},
        "billed_units": {"search_units": 1},
    }
    if request.max_tokens_per_doc is not None:
        meta["warnings"] = [
            "max_tokens_per_doc is accepted but not applied: the served model truncates "
            "each query-document pair at its own maximum sequence length."
        ]
    return {"id": str(uuid.uuid4()), "results": items, "meta": meta}


def optional_count(name: str, value: object) -> int | None:
    """A positive integer or null (JSON has no other way to say "the default"); the
    InvalidInputError becomes a 422 (:func:`~shortlist.serve.problems.from_error`)."""
    return positive_int(name, value, allow_none=True)


def text_field(name: str, value: object, limits: Limits) -> str:
    """A non-empty string within the per-text character limit (422 / 413)."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{name} must be a non-empty string, got {_kind(value)}.")
    return _within_limit(name, value, limits)


def _within_limit(name: str, text: str, limits: Limits, hint: str = "") -> str:
    """``text`` if it fits the per-text character limit, else a 413 naming it."""
    if len(text) > limits.max_document_chars:
        raise too_large(
            f"{name} has {len(text)} characters, over this server's limit of "
            f"{limits.max_document_chars}{hint}."
        )
    return text


def _rank_fields(value: object) -> tuple[str, ...]:
    if value is None:
        return ("text",)
    if not isinstance(value, list) or not value or not all(isinstance(f, str) for f in value):
        raise invalid(f"rank_fields must be a non-empty list of field names, got {value!r}.")
    return tuple(value)


def _document_text(i: int, doc: object, fields: tuple[str, ...], limits: Limits) -> str:
    """The text scored for ``doc``: a string as is; an object's ``rank_fields`` (v1; by
    default ``text``), several joined as ``field: value`` lines."""
    if isinstance(doc, dict):
        missing = [f for f in fields if not isinstance(doc.get(f), str)]
        if missing:
            raise invalid(f"documents[{i}] has no string field {missing[0]!r}.")
        text = doc[fields[0]] if len(fields) == 1 else "\n".join(f"{f}: {doc[f]}" for f in fields)
    elif isinstance(doc, str):
        text = doc
    else:
        raise invalid(f"documents[{i}] must be a string or an object, got {_kind(doc)}.")
    return _within_limit(f"documents[{i}]", text, limits, "; split it into passages")


def _kind(value: object) -> str:
    """A value's JSON kind for a message (the value itself may be huge)."""
    names = {
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)
