"""Stage 2: rerank latency and quality, shortlist vs LangChain vs LlamaIndex, same weights.

Every peer reranks the same real candidates (the bi-encoder's top N for each query) and
returns the ids of its top M, best first. What is timed is the call a user makes:

* ``shortlist onnx`` / ``shortlist cross-encoder`` -- ``rerank_hits`` (the Pipeline's stage 2);
* ``shortlist onnx (dequantized)`` -- the same int8 graph with ``dequantize=True``: the
  stored weights, float32 activations, so it ranks like the float32 torch peers;
* ``shortlist onnx in LangChain`` -- our ``ShortlistRerank`` compressor over the ONNX backend;
* ``LangChain CrossEncoderReranker`` -- with ``HuggingFaceCrossEncoder``;
* ``LlamaIndex SentenceTransformerRerank`` -- ``postprocess_nodes`` (it mutates its input
  nodes, so every call gets fresh ones, built outside the timed region);
* ``CrossEncoder.predict`` -- raw sentence-transformers plus an argsort: the floor of the
  torch stack the three torch peers are built on.

The torch peers all load ``ms-marco-MiniLM-L-12-v2`` (float32); the ONNX backend loads its
int8 graph. Peers run round-robin per query, starting at a different peer each query, so
background load spreads evenly; each gets one untimed warm-up call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.common import CROSS_ENCODER, CROSS_ENCODER_ONNX, timed
from shortlist.documents import Document, Hit
from shortlist.evaluation import Dataset, ndcg
from shortlist.index import Index

LANGCHAIN = "LangChain CrossEncoderReranker"
ONNX = "shortlist onnx (int8)"
ONNX_DEQUANTIZED = "shortlist onnx (dequantized)"
CROSS = "shortlist cross-encoder (fp32)"
FLOOR = "CrossEncoder.predict (floor)"
ONNX_IN_LANGCHAIN = "shortlist onnx in LangChain"
LLAMA_INDEX = "LlamaIndex SentenceTransformerRerank"


@dataclass
class Peer:
    """A reranking stack: ``prepare`` builds its inputs (untimed), ``call`` is timed."""

    name: str
    weights: str
    prepare: Callable[[str, list[Hit]], Any]
    call: Callable[[str, Any], list[str]]


def load_peers(m: int, threads: int | None) -> list[Peer]:
    """Load every stack once, each with its own copy of the same weights, on the CPU."""
    from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
    from langchain_community.cross_encoders import HuggingFaceCrossEncoder
    from langchain_core.documents import Document as LCDocument
    from llama_index.core.postprocessor import SentenceTransformerRerank
    from llama_index.core.schema import NodeWithScore, TextNode
    from sentence_transformers import CrossEncoder

    from shortlist.langchain import ShortlistRerank
    from shortlist.rerank import load_reranker

    onnx_options = {} if threads is None else {"threads": threads}
    onnx = load_reranker(f"onnx:{CROSS_ENCODER_ONNX}", **onnx_options)
    onnx_exact = load_reranker(f"onnx:{CROSS_ENCODER_ONNX}", dequantize=True, **onnx_options)
    ours_ce = load_reranker(f"cross-encoder:{CROSS_ENCODER}", device="cpu")
    lc = CrossEncoderReranker(
        model=HuggingFaceCrossEncoder(
            model_name=str(CROSS_ENCODER), model_kwargs={"device": "cpu"}
        ),
        top_n=m,
    )
    lc_ours = ShortlistRerank(reranker=onnx, top_n=m)
    li = SentenceTransformerRerank(model=str(CROSS_ENCODER), top_n=m, device="cpu")
    raw = CrossEncoder(str(CROSS_ENCODER), device="cpu")

    def hits(query: str, pool: list[Hit]) -> list[Hit]:
        return pool

    def lc_docs(query: str, pool: list[Hit]) -> list[Any]:
        return [LCDocument(id=h.id, page_content=h.text) for h in pool]

    def li_nodes(query: str, pool: list[Hit]) -> list[Any]:
        return [NodeWithScore(node=TextNode(id_=h.id, text=h.text), score=h.score) for h in pool]

    def pairs(query: str, pool: list[Hit]) -> tuple[list[str], list[tuple[str, str]]]:
        return [h.id for h in pool], [(query, h.text) for h in pool]

    def floor(query: str, inputs: tuple[list[str], list[tuple[str, str]]]) -> list[str]:
        ids, batch = inputs
        scores = raw.predict(batch, show_progress_bar=False)
        return [ids[i] for i in np.argsort(-np.asarray(scores), kind="stable")[:m]]

    def core(reranker: Any) -> Callable[[str, list[Hit]], list[str]]:
        """Our reranker through ``Reranker.rerank_hits``, the Pipeline's stage 2."""
        return lambda query, pool: [h.id for _, h in reranker.rerank_hits(query, pool, top_n=m)]

    def ours_in_langchain(query: str, docs: list[Any]) -> list[str]:
        return [d.id for d in lc_ours.compress_documents(docs, query)]

    def langchain(query: str, docs: list[Any]) -> list[str]:
        return [d.id for d in lc.compress_documents(docs, query)]

    def llama_index(query: str, nodes: list[Any]) -> list[str]:
        return [n.node.node_id for n in li.postprocess_nodes(nodes, query_str=query)]

    return [
        Peer(ONNX, "int8 ONNX", hits, core(onnx)),
        Peer(ONNX_IN_LANGCHAIN, "int8 ONNX", lc_docs, ours_in_langchain),
        Peer(ONNX_DEQUANTIZED, "float32 (from int8)", hits, core(onnx_exact)),
        Peer(CROSS, "float32", hits, core(ours_ce)),
        Peer(LANGCHAIN, "float32", lc_docs, langchain),
        Peer(LLAMA_INDEX, "float32", li_nodes, llama_index),
        Peer(FLOOR, "float32", pairs, floor),
    ]


@dataclass
class Stage2Result:
    """Latency samples and rankings per (peer, N), plus stage 1's own rankings."""

    dataset: str
    n_values: tuple[int, ...]
    peers: list[str]
    weights: dict[str, str]
    seconds: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    runs: dict[tuple[str, int], dict[str, list[str]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    stage1: dict[int, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(dict))

    def ndcg10(self, qrels: Any, key: tuple[str, int] | int) -> float:
        run = self.stage1[key] if isinstance(key, int) else self.runs[key]
        return float(np.mean([ndcg(run[q], qrels[q], 10) for q in run]))


def run_stage2(
    index: Index,
    dataset: Dataset,
    peers: Sequence[Peer],
    n_values: Sequence[int],
    repeats: int,
    progress: Callable[[str], None],
) -> Stage2Result:
    """Rerank each query's top-N candidates with every peer; see the module docstring."""
    ns = tuple(sorted(n_values))
    result = Stage2Result(
        dataset.name, ns, [p.name for p in peers], {p.name: p.weights for p in peers}
    )
    queries = list(dataset.queries.items())
    first = index.search(queries[0][1], ns[0])
    for peer in peers:  # untimed warm-up
        peer.call(queries[0][1], peer.prepare(queries[0][1], first))
    for qi, (qid, query) in enumerate(queries):
        hits = index.search(query, ns[-1])
        for n in ns:
            pool = hits[:n]
            result.stage1[n][qid] = [h.id for h in pool]
            for peer in [*peers[qi % len(peers) :], *peers[: qi % len(peers)]]:
                for _ in range(repeats):
                    inputs = peer.prepare(query, pool)
                    seconds, ids = timed(peer.call, query, inputs)
                    result.seconds[(peer.name, n)].append(seconds)
                result.runs[(peer.name, n)][qid] = ids
        progress(f"{dataset.name}: stage 2, query {qi + 1}/{len(queries)}")
    return result


@dataclass
class TargetResult:
    """The brief's fixed workload: one query, ``count`` candidates of about ``tokens``."""

    count: int
    tokens: float
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def fixed_workload(
    dataset: Dataset, count: int = 100, tokens: tuple[int, int] = (150, 190)
) -> tuple[str, list[tuple[Document, int]]] | None:
    """The brief's fixed workload: the dataset's first query and a seeded sample of
    ``count`` documents of ``tokens`` length (the cross-encoder's tokenizer, no special
    tokens), with their lengths; None when the corpus has too few. Every benchmark that
    quotes "100 candidates of ~170 tokens" reranks these."""
    import random

    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(CROSS_ENCODER_ONNX / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    texts = [d.text for d in dataset.corpus]
    lengths = [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    fits = [
        (d, n) for d, n in zip(dataset.corpus, lengths, strict=True) if tokens[0] <= n <= tokens[1]
    ]
    if len(fits) < count:
        return None
    return next(iter(dataset.queries.values())), random.Random(0).sample(fits, count)


def run_target(
    dataset: Dataset,
    peers: Sequence[Peer],
    repeats: int,
    progress: Callable[[str], None],
    *,
    count: int = 100,
    tokens: tuple[int, int] = (150, 190),
) -> TargetResult | None:
    """Rerank the fixed workload, so the latency target reads off directly; None when the
    corpus has too few documents of that length."""
    workload = fixed_workload(dataset, count, tokens)
    if workload is None:
        return None
    query, chosen = workload
    pool = [Hit(d, 0.0, i + 1) for i, (d, _) in enumerate(chosen)]
    result = TargetResult(count, float(np.mean([n for _, n in chosen])))
    for peer in peers:  # untimed warm-up on the full workload
        peer.call(query, peer.prepare(query, pool))
    for r in range(max(repeats, 3)):
        for peer in [*peers[r % len(peers) :], *peers[: r % len(peers)]]:
            seconds, _ = timed(peer.call, query, peer.prepare(query, pool))
            result.seconds[peer.name].append(seconds)
        progress(f"{dataset.name}: fixed workload, round {r + 1}")
    return result
