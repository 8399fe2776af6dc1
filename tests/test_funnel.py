"""One funnel: the configuration object, one calibrated config loaded by every entry point,
and every entry point returning the same ids and scores for the same funnel in all three
stage-1 modes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document as LCDocument
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from shortlist import Funnel, Pipeline, defaults
from shortlist.cli import main
from shortlist.errors import InvalidInputError, UnknownBackendError
from shortlist.evaluation import evaluate, load_beir
from shortlist.evaluation.calibration import calibrate_scores, candidates
from shortlist.evaluation.metrics import per_query
from shortlist.funnel import DEFAULT, resolve_fusion
from shortlist.index import Index
from shortlist.langchain import ShortlistRerank as LCRerank
from shortlist.langchain import ShortlistRetriever as LCRetriever
from shortlist.llama_index import ShortlistRerank as LIRerank
from shortlist.llama_index import ShortlistRetriever as LIRetriever
from shortlist.rerank import load_reranker
from shortlist.rerank.base import Reranker
from shortlist.rerank.cohere import CohereReranker

QUERY = "what similarity laws must be obeyed when constructing aeroelastic models"
LI_MODES = {"dense": "default", "bm25": "sparse", "hybrid": "hybrid"}


# ---------------------------------------------------------------- the configuration object
def test_the_default_funnel_is_the_defaults_module() -> None:
    assert Funnel() == DEFAULT
    assert (DEFAULT.mode, DEFAULT.hybrid, DEFAULT.fetch_k, DEFAULT.top_n) == (
        defaults.STAGE1_MODE,
        defaults.HYBRID,
        defaults.FETCH_K,
        defaults.TOP_N,
    )
    assert DEFAULT.reranker == defaults.RERANKER and DEFAULT.fusion == "auto"
    assert DEFAULT.alpha == defaults.HYBRID_ALPHA


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_a_funnel_round_trips_through_json_and_toml(tmp_path: Path, suffix: str) -> None:
    funnel = Funnel(
        mode="hybrid",
        hybrid="rrf:k=30",
        fetch_k=40,
        reranker=None,
        fusion="weighted:w=0.35",
        top_n=7,
        score_threshold=0.25,
        rerank_budget_ms=120.0,
    )
    path = funnel.save(tmp_path / f"f{suffix}", extra={"verdict": "adopt", "picks": ["a"]})
    assert Funnel.load(path) == funnel
    again = DEFAULT.replace(fusion="none", top_n=3)
    assert Funnel.load(again.save(tmp_path / f"g{suffix}")) == again


def test_specs_are_normalised_and_validated() -> None:
    funnel = Funnel(hybrid="weighted", fusion="RRF")
    assert (funnel.hybrid, funnel.fusion) == ("weighted:w=0.5", "rrf:k=60")
    assert Funnel(fusion=None).fusion == "none"  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="top_n=9 exceeds fetch_k=5"):
        Funnel(fetch_k=5, top_n=9)
    with pytest.raises(InvalidInputError, match="mode must be one of"):
        Funnel(mode="sparse")
    with pytest.raises(InvalidInputError, match="hybrid must be a fusion"):
        Funnel(hybrid="none")
    with pytest.raises(InvalidInputError, match="top_n must be a positive integer"):
        Funnel(top_n="5")  # type: ignore[arg-type]
    with pytest.raises(UnknownBackendError):
        Funnel(reranker="onyx:model")


def test_an_unknown_or_misspelt_key_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "funnel.json"
    path.write_text(json.dumps({"mode": "dense", "topn": 3}))
    with pytest.raises(InvalidInputError, match="topn") as caught:
        Funnel.load(path)
    assert "top_n" in str(caught.value) and str(path) in str(caught.value)
    toml = tmp_path / "funnel.toml"
    toml.write_text('mode = "dense"\nfetchk = 10\n')
    with pytest.raises(InvalidInputError, match="fetchk"):
        Funnel.load(toml)
    toml.write_text("mode = \n")
    with pytest.raises(InvalidInputError, match="not valid TOML"):
        Funnel.load(toml)


# ---------------------------------------------------------------- the fusion rule
def test_auto_fusion_is_the_backends_rule() -> None:
    assert CohereReranker.default_fusion is None  # a paid reranker's order is never discounted
    for backend in ("onnx", "cross-encoder"):
        cls = {"onnx": "OnnxReranker", "cross-encoder": "CrossEncoderReranker"}[backend]
        module = __import__(f"shortlist.rerank.{backend.replace('-', '_')}", fromlist=[cls])
        assert getattr(module, cls).default_fusion == defaults.FUSION
    assert resolve_fusion("rrf", None) is not None  # an explicit fusion always applies
    assert resolve_fusion("auto", None) is None


FREE_PLAN = [
    "Enterprise customers get dedicated support and an SLA.",
    "Our offices are closed on public holidays.",
    "The company was founded in 2015 in Berlin.",
    "The free plan includes API access with a limit of 100 requests per day.",
]


def _in_reranker_order(reranker: Reranker, texts: list[str], ids: list[str]) -> list[str]:
    scores = reranker.score("is there API access on the free plan?", texts)
    return [ids[i] for i in np.argsort(-scores, kind="stable")]


def test_compressors_return_the_rerankers_order_for_another_retrievers_documents(
    onnx_model_path: Path,
) -> None:
    """The issue's example: four documents from elsewhere; the 0.88 one must not be cut."""
    reranker = load_reranker(f"onnx:{onnx_model_path}")
    query = "is there API access on the free plan?"
    ids = ["0", "1", "2", "3"]
    expected = _in_reranker_order(reranker, FREE_PLAN, ids)[:3]
    assert "3" in expected
    lc_docs = [LCDocument(id=i, page_content=t) for i, t in zip(ids, FREE_PLAN, strict=True)]
    lc = LCRerank(reranker=reranker, top_n=3).compress_documents(lc_docs, query)
    assert [d.id for d in lc] == expected
    assert all("fused_score" not in d.metadata for d in lc)
    nodes = [
        NodeWithScore(node=TextNode(id_=i, text=t), score=1.0 - 0.1 * k)
        for k, (i, t) in enumerate(zip(ids, FREE_PLAN, strict=True))
    ]
    li = LIRerank(reranker=reranker, top_n=3).postprocess_nodes(nodes, QueryBundle(query))
    assert [n.node.node_id for n in li] == expected
    # LI score and LC metadata say the same thing: the score the order follows
    assert [n.score for n in li] == [d.metadata["relevance_score"] for d in lc]


# ---------------------------------------------------------------- one funnel everywhere
@pytest.fixture(scope="module")
def index_dir(cranfield_index: Index, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cranfield_index.save(tmp_path_factory.mktemp("funnel") / "cranfield")


@pytest.fixture(scope="module")
def calibrated(
    index_dir: Path,
    onnx_model_path: Path,
    cranfield_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A funnel written by one command: ``shortlist eval --calibrate`` on 10 queries."""
    base = tmp_path_factory.mktemp("cal") / "base.toml"
    DEFAULT.replace(reranker=f"onnx:{onnx_model_path}", fetch_k=12, top_n=5).save(base)
    out = base.with_name("calibrated.json")
    command = ["eval", str(cranfield_path), "--index", str(index_dir), "--funnel", str(base)]
    assert main([*command, "--queries", "10", "--calibrate", str(out), "-q"]) == 0
    return out


def test_calibration_writes_a_funnel_and_says_why(calibrated: Path) -> None:
    saved = json.loads(calibrated.read_text())
    record = saved["calibration"]
    assert record["verdict"] in ("adopt", "keep the default")
    assert record["queries"] == 10 and len(record["fold_picks"]) == 5
    low, high = record["out_of_fold_interval"]
    assert low <= record["out_of_fold_gain"] <= high
    funnel = Funnel.load(calibrated)
    assert funnel.fetch_k == 12 and funnel.reranker is not None
    if record["verdict"] == "keep the default":
        assert record["chosen"] == "default" or low <= 0


def _ids_scores(items: list[tuple[str, float]]) -> tuple[list[str], list[float]]:
    return [i for i, _ in items], [s for _, s in items]


def _lc_pairs(docs: list[LCDocument]) -> list[tuple[str, float]]:
    """(id, the score the order follows): fused where fusion decided it, else relevance."""
    return [
        (str(d.id), d.metadata.get("fused_score", d.metadata.get("relevance_score"))) for d in docs
    ]


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_every_entry_point_runs_the_same_funnel(
    mode: str,
    calibrated: Path,
    cranfield_index: Index,
    index_dir: Path,
    cranfield_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Index.search, Pipeline, LC retriever + compressor, LI retriever + postprocessor, the
    CLI and evaluate agree on ids and scores for one funnel (the calibrated config)."""
    funnel = Funnel.load(calibrated).replace(mode=mode)
    config = funnel.save(tmp_path / f"{mode}.json")
    pipe = Pipeline.from_config(cranfield_index, config)
    result = pipe.run(QUERY)
    expected = [(h.id, h.score) for h in result.hits]
    assert len(expected) == funnel.top_n

    # Index.search is stage 1 of the same funnel
    stage1 = cranfield_index.search(QUERY, funnel.fetch_k, mode=mode, hybrid=funnel.hybrid)
    assert [(h.id, h.score) for h in stage1] == [(h.id, h.score) for h in result.candidates]

    stage1_options = {"alpha": funnel.alpha}  # the calibrated hybrid weight
    lc = ContextualCompressionRetriever(
        base_retriever=LCRetriever(
            index=cranfield_index, k=funnel.fetch_k, mode=mode, **stage1_options
        ),
        base_compressor=LCRerank(funnel=config),
    ).invoke(QUERY)
    lc_whole = LCRetriever(index=cranfield_index, funnel=config).invoke(QUERY)
    li_nodes = LIRetriever(
        index=cranfield_index,
        similarity_top_k=funnel.fetch_k,
        vector_store_query_mode=LI_MODES[mode],
        **stage1_options,
    ).retrieve(QUERY)
    li = LIRerank(funnel=config).postprocess_nodes(li_nodes, QueryBundle(QUERY))
    li_whole = LIRetriever(index=cranfield_index, funnel=config).retrieve(QUERY)
    capsys.readouterr()
    assert main(["search", str(index_dir), QUERY, "--funnel", str(config), "--json", "-q"]) == 0
    cli = [(h["id"], h["score"]) for h in json.loads(capsys.readouterr().out)]

    for name, got in {
        "LangChain retriever + compressor": _lc_pairs(lc),
        "LangChain retriever with funnel=": _lc_pairs(lc_whole),
        "LlamaIndex retriever + postprocessor": [(n.node.node_id, n.score) for n in li],
        "LlamaIndex retriever with funnel=": [(n.node.node_id, n.score) for n in li_whole],
        "shortlist search --funnel": cli,
    }.items():
        ids, scores = _ids_scores(got)  # type: ignore[arg-type]
        assert ids == [i for i, _ in expected], name
        np.testing.assert_allclose(scores, [s for _, s in expected], atol=1e-9, err_msg=name)

    # evaluate measures this funnel: its row's nDCG is the one of the funnel's full ranking
    dataset = load_beir(cranfield_path).head(1)
    report = evaluate(cranfield_index, dataset, funnel=funnel, show_progress=False)
    assert report.funnel is not None
    row = next(r for r in report.rows if r.system == report.funnel.funnel)
    (qid,) = dataset.queries
    ranking = [h.id for h in pipe.search(dataset.queries[qid], top_n=funnel.fetch_k)]
    direct = per_query({qid: ranking}, dataset.qrels, ["nDCG@10"])["nDCG@10"][qid]
    assert row.per_query_ndcg[qid] == pytest.approx(direct, abs=1e-12)


# ---------------------------------------------------------------- calibration's rule
def _scores(rng: np.random.Generator, gain: float, n: int = 60) -> dict[str, dict[str, float]]:
    base = rng.uniform(0.2, 0.8, n)
    out = {}
    for name in candidates(DEFAULT):
        noise = rng.normal(0, 0.05, n)
        lift = gain if name == "rerank weight 0.5" else 0.0
        values = base if name == "default" else np.clip(base + noise + lift, 0, 1)
        out[name] = {f"q{i}": float(v) for i, v in enumerate(values)}
    return out


def test_calibration_keeps_the_default_when_candidates_only_differ_by_noise() -> None:
    result = calibrate_scores(candidates(DEFAULT), _scores(np.random.default_rng(1), 0.0))
    assert result.verdict == "keep the default" and result.chosen == DEFAULT
    assert "keep the default" in result.text


def test_calibration_adopts_a_clearly_better_candidate_out_of_fold() -> None:
    result = calibrate_scores(candidates(DEFAULT), _scores(np.random.default_rng(2), 0.1))
    assert result.verdict == "adopt" and result.chosen_name == "rerank weight 0.5"
    assert result.chosen.fusion == "weighted:w=0.5"
    assert result.out_of_fold.low > 0


# ---------------------------------------------------------------- every stage's scores
def test_hits_keep_every_stages_scores_on_every_path(
    cranfield_index: Index, onnx_model_path: Path
) -> None:
    reranker = load_reranker(f"onnx:{onnx_model_path}")
    run = Pipeline(cranfield_index, reranker, fetch_k=15, top_n=5).run(QUERY)
    stage1 = {h.id: h for h in run.candidates}
    sides = ("dense_score", "bm25_score")  # None only where that side did not find it
    for hit in run.hits:
        assert [getattr(hit, k) for k in sides] == [getattr(stage1[hit.id], k) for k in sides]
        assert None not in (hit.retrieval_score, hit.relevance_score, hit.fused_score)
        assert hit.fused_score == hit.score
    assert any(None not in (h.dense_score, h.bm25_score) for h in run.hits)
    lc = ContextualCompressionRetriever(
        base_retriever=LCRetriever(index=cranfield_index, k=15),
        base_compressor=LCRerank(reranker=reranker, top_n=5),
    ).invoke(QUERY)
    nodes = LIRetriever(index=cranfield_index, similarity_top_k=15).retrieve(QUERY)
    li = LIRerank(reranker=reranker, top_n=5).postprocess_nodes(nodes, QueryBundle(QUERY))
    for hit, metadata in zip(run.hits, [d.metadata for d in lc], strict=True):
        assert metadata.items() >= hit.score_metadata().items() - {("scored_by", hit.scored_by)}
    for hit, node in zip(run.hits, li, strict=True):
        expected = {k: v for k, v in hit.score_metadata().items() if k != "scored_by"}
        assert {k: node.node.metadata[k] for k in expected} == pytest.approx(expected)
    # a hit nobody could score keeps its stage-1 scores and says so
    budgeted = Pipeline(cranfield_index, reranker, fetch_k=15, rerank_budget_ms=1e-6).run(QUERY)
    kept = [h for h in budgeted.hits if h.scored_by == "stage1"]
    assert kept
    for hit in kept:
        assert [getattr(hit, k) for k in sides] == [getattr(stage1[hit.id], k) for k in sides]
        assert hit.relevance_score is None and hit.fused_score is None


def test_indexes_saved_before_the_funnel_config_keep_what_they_did() -> None:
    from shortlist.index.hybrid import stage1_settings

    # the old defaults: today's funnel defaults (None: follow them)
    assert stage1_settings({"mode": "dense", "alpha": None, "rrf_k": 60.0}) == (None, None)
    mode, fusion = stage1_settings({"mode": "hybrid", "alpha": None, "rrf_k": 30.0})
    assert (mode, str(fusion)) == ("hybrid", "rrf:k=30")  # an explicit hybrid fused by rank
    mode, fusion = stage1_settings({"mode": "bm25", "alpha": 0.3, "rrf_k": 60.0})
    assert (mode, str(fusion)) == ("bm25", "weighted:w=0.3")
    assert str(stage1_settings({"mode": None, "hybrid": "rrf:k=60"})[1]) == "rrf:k=60"
    assert stage1_settings({"mode": None, "hybrid": None}) == (None, None)


def test_a_saved_index_keeps_only_the_settings_it_was_given(tmp_path: Path) -> None:
    """An index that took the funnel's defaults follows them after a reload; one given its
    own mode or fusion keeps them."""
    from tests.unit.toy import HashEncoder

    plain = Index.build(["a b", "c d"], HashEncoder(), ids=["1", "2"])
    own = Index.build(["a b", "c d"], HashEncoder(), ids=["1", "2"], mode="bm25", hybrid="rrf")
    for index, name in ((plain, "plain"), (own, "own")):
        manifest = json.loads((index.save(tmp_path / name) / "manifest.json").read_text())
        again = Index.load(tmp_path / name, encoder=HashEncoder())
        assert (again.mode, again.hybrid) == (index.mode, index.hybrid)
        assert manifest["stage1"] == index.stage1_manifest()
    assert plain.stage1_manifest() == {"mode": None, "hybrid": None}
    assert own.stage1_manifest() == {"mode": "bm25", "hybrid": "rrf:k=60"}


def test_one_spelling_of_the_hybrid_fusion_at_a_time(cranfield_index: Index) -> None:
    with pytest.raises(InvalidInputError, match="Pass one of hybrid=, alpha= or rrf_k="):
        cranfield_index.search(QUERY, 3, alpha=0.5, hybrid="rrf")
    by_alpha = cranfield_index.search(QUERY, 5, alpha=defaults.HYBRID_ALPHA)
    assert by_alpha == cranfield_index.search(QUERY, 5)  # the default is the funnel's
    assert by_alpha == cranfield_index.search(QUERY, 5, hybrid=defaults.HYBRID)
    assert cranfield_index.search(QUERY, 5, alpha=0.3) == cranfield_index.search(
        QUERY, 5, hybrid="weighted:w=0.3"
    )
    assert cranfield_index.mode == "hybrid" and cranfield_index.alpha == defaults.HYBRID_ALPHA


def test_eval_with_no_flags_measures_the_shipped_funnel(
    index_dir: Path, cranfield_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``shortlist eval DS``: BM25, dense and hybrid stage 1, the reranker's own order and
    the shipped funnel, with a verdict against the best stage 1 (here on 3 queries)."""
    capsys.readouterr()
    argv = ["eval", str(cranfield_path), "--index", str(index_dir), "--queries", "3", "--json"]
    assert main([*argv, "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    label = "onnx:cross-encoder/ms-marco-MiniLM-L-12-v2"
    assert [r["system"] for r in report["rows"]] == [
        "stage 1 (bm25)", "stage 1 (dense)", "stage 1 (hybrid)", f"{label} (hybrid)",
        f"{label} + weighted:w=0.2 (hybrid)",
    ]  # fmt: skip
    assert report["n_values"] == [defaults.FETCH_K]
    assert report["funnel"]["funnel"] == f"{label} + weighted:w=0.2 (hybrid)"
    assert report["settings"]["funnel"] == DEFAULT.to_dict()
    assert report["funnel"]["outcome"] in ("pays", "hurts", "cannot tell")
