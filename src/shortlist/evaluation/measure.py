"""Measuring one ranked run per system, shared by index evaluations and black boxes.

``row`` turns a run (query id -> ranked doc ids) and its latencies into a :class:`Row`;
the black-box path (:func:`evaluate_callable`) evaluates any ``query -> results``
callable, a LangChain or LlamaIndex retriever included, as one row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from shortlist._optional import require
from shortlist.errors import InvalidInputError
from shortlist.evaluation.beir import Dataset
from shortlist.evaluation.metrics import per_query
from shortlist.evaluation.results import Latency, Report, Row

RankFn = Callable[[str], Iterable[Any]]


def row(
    dataset: Dataset,
    k: int,
    m: int,
    n: int | None,
    system: str,
    run: dict[str, list[str]],
    t1: list[float],
    t2: list[float] | None = None,
    *,
    reranker: str | None = None,
    fusion: str | None = None,
    mode: str | None = None,
) -> Row:
    specs = [f"nDCG@{k}", f"MRR@{k}", f"Recall@{m}"]
    with_recall_n = n is not None and reranker is None
    if with_recall_n:
        specs.append(f"Recall@{n}")  # may equal Recall@M by name: computed one by one
    scores = [next(iter(per_query(run, dataset.qrels, [s]).values())) for s in specs]
    means = [float(np.mean(list(v.values()))) for v in scores]
    total = float(np.sum(t1) + (np.sum(t2) if t2 is not None else 0.0))
    return Row(
        n=n,
        system=system,
        reranker=reranker,
        fusion=fusion,
        ndcg=means[0],
        mrr=means[1],
        recall_m=means[2],
        recall_n=means[3] if with_recall_n else None,
        stage1=Latency.of(t1),
        stage2=Latency.of(t2) if t2 is not None else None,
        qps=len(t1) / total if total > 0 else float("inf"),
        per_query_ndcg=scores[0],
        mode=mode,
    )


def progress(items: list[tuple[str, str]], show: bool) -> Iterable[tuple[str, str]]:
    if not show:
        return items
    tqdm = require("tqdm", feature="Progress bars").tqdm
    bar: Iterable[tuple[str, str]] = tqdm(
        items, desc="Evaluating", unit="query", dynamic_ncols=True, leave=False
    )
    return bar


def as_callable(system: Any) -> RankFn:
    if callable(system):
        return system  # type: ignore[no-any-return]
    for attr in ("invoke", "retrieve"):  # LangChain retriever, LlamaIndex retriever
        method = getattr(system, attr, None)
        if callable(method):
            return method  # type: ignore[no-any-return]
    raise InvalidInputError(
        f"Cannot evaluate a {type(system).__name__}: pass a Pipeline, an Index, or a "
        "callable query -> ranked results."
    )


def result_id(item: Any) -> str:
    """The doc id of one result: a str, a shortlist Hit/Document, a LangChain Document
    (``.id``) or a LlamaIndex node / NodeWithScore (``.node_id``)."""
    if isinstance(item, str):
        return item
    for attr in ("node_id", "id"):
        value = getattr(item, attr, None)
        if isinstance(value, str) and value:
            return value
    raise InvalidInputError(
        f"Result {item!r:.80} has no document id: return ids, or documents with an id "
        "(LangChain: Document(id=...), LlamaIndex: node.id_)."
    )


def evaluate_callable(fn: RankFn, dataset: Dataset, m: int, k: int, show: bool) -> Report:
    run: dict[str, list[str]] = {}
    seconds: list[float] = []
    queries = list(dataset.queries.items())
    list(fn(queries[0][1]))  # untimed warm-up
    for qid, query in progress(queries, show):
        t0 = time.perf_counter()
        results = list(fn(query))
        seconds.append(time.perf_counter() - t0)
        run[qid] = [result_id(r) for r in results]
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return Report(
        dataset=dataset.name,
        description=dataset.describe(),
        queries=len(queries),
        k=k,
        m=m,
        n_values=(),
        rows=(row(dataset, k, m, None, name, run, seconds),),
        verdicts=(),
        settings={"system": name},
        notes=("Black-box system: latency is end to end, per query, single stream.",),
    )
