"""BM25 beside the vectors: the lexical half of hybrid retrieval, over the same documents.

Dense retrieval misses exact terms, codes, names and rare words; BM25 misses paraphrase.
This is BM25 as Lucene scores it (``bm25s``, ``method="lucene"``), with English stop
words and Snowball stemming by default (``PyStemmer``), so "fluttering wings" matches a
document about "wing flutter".

It indexes the :class:`~shortlist.index.docstore.DocStore` itself, so it always agrees
with the vectors on which documents exist: any change marks it stale and the next
lexical search rebuilds it from the stored texts (tokens are cached per document, so a
rebuild re-counts, it does not re-tokenise). Corpus statistics (document frequencies,
average length) are therefore always those of the whole current corpus, exactly as a
freshly built index would have them. Saved arrays are ``.npy`` files written with
``allow_pickle=False`` inside the index's generation folder, checksummed like the rest.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shortlist._optional import require
from shortlist.errors import IndexFormatError, InvalidInputError
from shortlist.index.docstore import DocStore

FOLDER = "bm25"
KEYS_FILE = "keys.npy"
Tokenizer = Callable[[str], list[str]]
_NO_TERMS = object()  # built, but over a corpus without a single term


@dataclass(frozen=True)
class CorpusStats:
    """What BM25 needs to know about a corpus beyond one document: its size, total length
    in terms, and each term's document frequency.

    A shard of a larger corpus scores with the *whole* corpus' statistics, as a search
    engine's distributed frequency phase does, so that its scores equal those of one index
    over every document. Statistics of disjoint parts add up (``a + b``).
    """

    n_docs: int = 0
    total_len: int = 0
    df: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: CorpusStats) -> CorpusStats:
        df = Counter(self.df)
        df.update(other.df)
        return CorpusStats(self.n_docs + other.n_docs, self.total_len + other.total_len, dict(df))

    @property
    def avg_len(self) -> np.float64:
        """As bm25s computes it (a float64 mean of the lengths), bit for bit."""
        mean: np.float64 = np.float64(self.total_len) / max(self.n_docs, 1)
        return mean  # a NumPy float: as a Python float, bm25s would compute in float32

    def to_dict(self) -> dict[str, Any]:
        return {"n_docs": self.n_docs, "total_len": self.total_len, "df": self.df}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CorpusStats:
        return cls(
            int(raw["n_docs"]),
            int(raw["total_len"]),
            {str(k): int(v) for k, v in raw["df"].items()},
        )


class Bm25:
    """BM25 (Lucene variant) over an index's documents.

    Args:
        k1: term-frequency saturation (Lucene's default 1.2).
        b: length normalisation, 0..1 (0.75).
        stemmer: a Snowball language for PyStemmer (``"english"``), or ``None``.
        stopwords: ``"en"`` (bm25s' English list), or ``None`` to keep every word.
        tokenizer: replaces the built-in tokenisation (then ``stemmer``/``stopwords`` are
            not used): ``text -> list of tokens``. It is not saved: pass the same one to
            :meth:`~shortlist.index.Index.load` via ``bm25=``.
    """

    def __init__(
        self,
        *,
        k1: float = 1.2,
        b: float = 0.75,
        stemmer: str | None = "english",
        stopwords: str | None = "en",
        tokenizer: Tokenizer | None = None,
    ) -> None:
        if not (isinstance(k1, int | float) and np.isfinite(k1) and k1 >= 0):
            raise InvalidInputError(f"BM25 k1 must be a finite number >= 0, got {k1!r}.")
        if not (isinstance(b, int | float) and 0 <= b <= 1):
            raise InvalidInputError(f"BM25 b must be within 0..1, got {b!r}.")
        self.k1, self.b, self.stemmer, self.stopwords = float(k1), float(b), stemmer, stopwords
        self.tokenizer = tokenizer
        self._stem: Any = None
        if tokenizer is None and stemmer is not None:
            stemmer_lib = require("Stemmer", feature="BM25 stemming", extra=None)
            try:
                self._stem = stemmer_lib.Stemmer(stemmer)
            except KeyError:
                raise InvalidInputError(
                    f"Unknown stemmer language {stemmer!r}; e.g. 'english', 'french', or None."
                ) from None
        self._tokens: dict[int, list[str]] = {}
        self._model: Any = None  # bm25s.BM25 over self._keys, None when stale
        self._keys = np.zeros(0, dtype=np.int64)
        self._corpus: CorpusStats | None = None  # a sharded index's whole-corpus statistics

    def config(self) -> dict[str, Any]:
        """What the manifest records, so a load rebuilds the same scorer."""
        return {
            "k1": self.k1,
            "b": self.b,
            "stemmer": self.stemmer,
            "stopwords": self.stopwords,
            "tokenizer": "custom" if self.tokenizer is not None else "bm25s",
        }

    def options(self) -> dict[str, Any]:
        """The constructor's arguments: a new, empty scorer with these options is
        ``Bm25(**options)`` (how each shard of a sharded index gets its own)."""
        return {
            "k1": self.k1,
            "b": self.b,
            "stemmer": self.stemmer,
            "stopwords": self.stopwords,
            "tokenizer": self.tokenizer,
        }

    def invalidate(self, removed: list[int] | None = None) -> None:
        """The corpus changed: rebuild before the next search (forget removed tokens)."""
        self._model = None
        for key in removed or ():
            self._tokens.pop(key, None)

    def local_stats(self, store: DocStore) -> CorpusStats:
        """This store's own statistics (a shard's share of the corpus' statistics)."""
        corpus = self._corpus_tokens(store)
        df: Counter[str] = Counter()
        for tokens in corpus:
            df.update(set(tokens))
        return CorpusStats(len(corpus), sum(len(t) for t in corpus), dict(df))

    def use_corpus_stats(self, stats: CorpusStats | None) -> None:
        """Score with ``stats`` (the whole corpus') instead of this store's own; ``None``:
        this store is the whole corpus. A change rebuilds the scorer before the next search."""
        if stats != self._corpus:
            self._corpus = stats
            self._model = None

    def tokenize(self, texts: list[str]) -> list[list[str]]:
        """The terms of each text as this index counts them (lower-cased, stemmed...)."""
        if self.tokenizer is not None:
            return [list(self.tokenizer(t)) for t in texts]
        if not texts:
            return []
        bm25s = require("bm25s", feature="BM25 retrieval")
        tokens: list[list[str]] = bm25s.tokenize(
            texts,
            stopwords=self.stopwords,
            stemmer=self._stem,
            return_ids=False,
            show_progress=False,
        )
        return tokens

    def top(
        self, store: DocStore, query: str, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` (keys, scores) among documents sharing a term with ``query``.

        ``allowed`` (keys passing a filter) restricts the candidates before the cut, so
        filtering loses no recall.
        """
        self._ensure(store)
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        terms = self.tokenize([query])[0]
        if not terms or len(self._keys) == 0:
            return empty
        scores = np.asarray(self._model.get_scores(terms), dtype=np.float32)
        if allowed is not None:
            scores = np.where(np.isin(self._keys, allowed), scores, 0.0).astype(np.float32)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:  # keep every document tied with the k-th, then cut by key
            kth = -np.partition(-scores[hits], k - 1)[k - 1]
            hits = hits[scores[hits] >= kth]
        order = hits[np.lexsort((self._keys[hits], -scores[hits]))][:k]  # ties: older first
        return self._keys[order], scores[order]

    def _ensure(self, store: DocStore) -> None:
        if self._model is not None:
            return
        keys = store.keys()
        corpus = self._corpus_tokens(store)
        if not any(corpus):  # nothing to match (no documents, or no terms in any)
            self._model, self._keys = _NO_TERMS, np.zeros(0, dtype=np.int64)
            return
        model = _bm25s_model(self.k1, self.b, self._corpus)
        model.index(corpus, show_progress=False)
        self._model, self._keys = model, keys

    def _corpus_tokens(self, store: DocStore) -> list[list[str]]:
        """Every stored document's terms, in key order (tokenising only new documents)."""
        keys = store.keys().tolist()
        new = [key for key in keys if key not in self._tokens]
        texts = [d.text for d in store.get_by_keys(new)]
        self._tokens.update(zip(new, self.tokenize(texts), strict=True))
        return [self._tokens[key] for key in keys]

    # ----------------------------------------------------------------- persistence
    def save(self, folder: Path, store: DocStore) -> list[str]:
        """Write the scorer into ``folder/bm25``; returns the file names (for checksums)."""
        self._ensure(store)
        out = folder / FOLDER
        out.mkdir()
        if len(self._keys):
            self._model.save(str(out), allow_pickle=False)
        np.save(out / KEYS_FILE, self._keys, allow_pickle=False)
        return sorted(f"{FOLDER}/{p.name}" for p in out.iterdir())

    @classmethod
    def from_config(cls, config: dict[str, Any], given: Bm25 | None = None) -> Bm25:
        """The scorer a manifest's :meth:`config` describes; ``given`` supplies a custom
        tokenizer, which a manifest cannot hold."""
        if config.get("tokenizer") == "custom" and (given is None or given.tokenizer is None):
            raise InvalidInputError(
                "This index's BM25 uses a custom tokenizer; pass the same one: "
                "Index.load(dir, bm25=Bm25(tokenizer=...))."
            )
        options = {k: config[k] for k in ("k1", "b", "stemmer", "stopwords") if k in config}
        return given if given is not None else cls(**options)

    @classmethod
    def load(
        cls, folder: Path, config: dict[str, Any], store: DocStore, given: Bm25 | None
    ) -> Bm25:
        """The saved scorer; ``given`` supplies a custom tokenizer the manifest cannot hold."""
        bm25 = cls.from_config(config, given)
        src = folder / FOLDER
        try:
            keys = np.load(src / KEYS_FILE, allow_pickle=False)
            if len(keys):
                bm25s = require("bm25s", feature="BM25 retrieval")
                bm25._model = bm25s.BM25.load(str(src), allow_pickle=False, mmap=False)
            else:
                bm25._model = None
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise IndexFormatError(f"{src}: the BM25 files are unreadable ({exc}).") from exc
        # no keys: no document had a term (or there were none); derived data, rebuilt from
        # the documents on the next search, so an index of stop words alone loads too
        if len(keys) and (len(keys) != len(store) or not np.isin(keys, store.keys()).all()):
            raise IndexFormatError(f"{src}: BM25 documents do not match the index's documents.")
        bm25._keys = keys.astype(np.int64)
        return bm25


def _bm25s_model(k1: float, b: float, corpus: CorpusStats | None) -> Any:
    """A bm25s scorer; with ``corpus``, one whose idf and average length are the whole
    corpus' (through ``build_index_from_ids``, the hook bm25s documents for building the
    index differently), so a shard scores each of its documents exactly as one index over
    the whole corpus would."""
    bm25s = require("bm25s", feature="BM25 retrieval")
    if corpus is None:
        return bm25s.BM25(k1=k1, b=b, method="lucene")
    from bm25s import scoring

    stats: CorpusStats = corpus

    class CorpusWideBM25(bm25s.BM25):  # type: ignore[misc, name-defined]
        def build_index_from_tokens(self, corpus_tokens: Any, **kwargs: Any) -> Any:
            self._vocab_seen = corpus_tokens
            return super().build_index_from_tokens(corpus_tokens, **kwargs)

        def build_index_from_ids(
            self, unique_token_ids: Any, corpus_token_ids: Any, **kwargs: Any
        ) -> Any:
            self.nonoccurrence_array = None  # Lucene BM25 has no non-occurrence term
            vocab: dict[str, int] = {}
            for tokens, ids in zip(self._vocab_seen, corpus_token_ids, strict=True):
                vocab.update(zip(tokens, ids, strict=True))
            df = {token_id: stats.df.get(token, 0) for token, token_id in vocab.items()}
            df.update({i: 0 for i in unique_token_ids if i not in df})
            idf = scoring._build_idf_array(
                df, stats.n_docs, scoring._select_idf_scorer("lucene"), dtype=self.dtype
            )
            local_df = _local_df(corpus_token_ids, unique_token_ids)
            flat, docs, terms = scoring._build_scores_and_indices_for_matrix(
                corpus_token_ids, idf, stats.avg_len, local_df,
                self.k1, self.b, self.delta, None, method="lucene", dtype=self.dtype,
                int_dtype=self.int_dtype, show_progress=False,
            )  # fmt: skip
            shape = (len(corpus_token_ids), len(unique_token_ids))
            if self.csc_backend == "scipy":  # as bm25s builds its matrix, branch for branch
                import scipy.sparse as sp

                matrix = sp.csc_matrix((flat, (docs, terms)), shape=shape, dtype=self.dtype)
                data, indices, indptr = matrix.data, matrix.indices, matrix.indptr
            else:
                data, indices, indptr = self._np_csc(data=flat, rows=docs, cols=terms, shape=shape)
                data = data.astype(self.dtype)
            return {"data": data, "indices": indices, "indptr": indptr, "num_docs": shape[0]}

    return CorpusWideBM25(k1=k1, b=b, method="lucene")


def _local_df(corpus_token_ids: list[list[int]], unique: list[int]) -> dict[int, int]:
    """This shard's document frequencies: only sizes bm25s' score arrays."""
    df = dict.fromkeys(unique, 0)
    for ids in corpus_token_ids:
        for i in set(ids):
            df[i] += 1
    return df
