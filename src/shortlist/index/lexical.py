"""BM25 beside the vectors: the lexical half of hybrid retrieval, over the same documents.

Dense retrieval misses exact terms, codes, names and rare words; BM25 misses paraphrase.
This is BM25 as Lucene scores it (the formula bm25s calls ``method="lucene"``), with
English stop words and Snowball stemming by default (bm25s' tokenizer, ``PyStemmer``), so
"fluttering wings" matches a document about "wing flutter".

Documents are indexed as they are written and forgotten as they are deleted
(:class:`~shortlist.index.postings.Postings`: raw term frequencies, scored at query time),
so a write costs what it changes, and corpus statistics (document frequencies, average
length) are always those of the whole current corpus: scores equal those of an index
freshly built from it. Saved arrays are ``.npy`` files written with ``allow_pickle=False``
inside the index's generation folder, checksummed like the rest.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shortlist._optional import require
from shortlist.errors import IndexFormatError, InvalidInputError
from shortlist.index import persist
from shortlist.index.docstore import DocStore
from shortlist.index.postings import Growing, Postings, Segment

FOLDER = "bm25"
TERMS_FILE = "terms.json"
KEYS_FILE = "keys.npy"
LENGTHS_FILE = "lengths.npy"
INDPTR_FILE = "indptr.npy"
ROWS_FILE = "rows.npy"
TFS_FILE = "tfs.npy"
_ARRAYS = {KEYS_FILE: np.int64, LENGTHS_FILE: np.int32, INDPTR_FILE: np.int64,
           ROWS_FILE: np.int32, TFS_FILE: np.int32}  # fmt: skip
"""The saved postings arrays and the dtype each is written in."""
Tokenizer = Callable[[str], list[str]]
_BATCH = 10_000  # documents tokenised at a time when indexing a whole store
_NONE = (np.zeros(0, np.int32), np.zeros(0, np.int32))


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
        self._postings = Postings()
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

    # ----------------------------------------------------------------- writes
    def add(self, keys: np.ndarray, texts: list[str]) -> None:
        """Index new documents (keys greater than any indexed before)."""
        self._postings.add(np.asarray(keys, dtype=np.int64), self.tokenize(texts))

    def remove(self, keys: np.ndarray, texts: list[str]) -> None:
        """Forget indexed documents; ``texts`` are theirs (their terms leave the statistics)."""
        self._postings.remove(np.asarray(keys, dtype=np.int64), self.tokenize(texts))

    def rebuild(self, store: DocStore) -> None:
        """Index every document of ``store`` from scratch (a new scorer, an old save)."""
        self._postings = Postings()
        keys = store.keys()
        for start in range(0, len(keys), _BATCH):
            part = keys[start : start + _BATCH]
            self.add(part, [d.text for d in store.get_by_keys(part.tolist())])

    # ----------------------------------------------------------------- statistics
    def local_stats(self) -> CorpusStats:
        """This index's own statistics (a shard's share of the corpus' statistics)."""
        p = self._postings
        return CorpusStats(p.n_live, p.total_len, p.document_frequencies())

    def use_corpus_stats(self, stats: CorpusStats | None) -> None:
        """Score with ``stats`` (the whole corpus') instead of this index's own; ``None``:
        this index is the whole corpus."""
        self._corpus = stats

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

    # ----------------------------------------------------------------- search
    def top(self, query: str, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` (keys, scores) among documents sharing a term with ``query``.

        ``allowed`` (keys passing a filter) restricts the candidates before the cut, so
        filtering loses no recall. Ties rank by key (older first), on float32 scores, so
        the lists of a sharded index's shards merge into exactly this order.
        """
        p = self._postings
        weights = self._weights(self.tokenize([query])[0])
        if not weights:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        stats = self._corpus or CorpusStats(p.n_live, p.total_len)
        scores = p.accumulate(weights, self.k1, self.b, float(stats.avg_len)).astype(np.float32)
        candidate = (scores > 0) & p.live.view
        if allowed is not None:
            rows = p.rows_of(allowed)
            permitted = np.zeros(p.n_rows, dtype=np.bool_)
            permitted[rows[rows >= 0]] = True
            candidate &= permitted
        hits = np.flatnonzero(candidate)
        if len(hits) > k:  # keep every document tied with the k-th, then cut by key
            kth = -np.partition(-scores[hits], k - 1)[k - 1]
            hits = hits[scores[hits] >= kth]
        order = hits[np.lexsort((hits, -scores[hits]))][:k]  # rows are in key order
        return p.keys.view[order].copy(), scores[order]

    def _weights(self, terms: list[str]) -> list[tuple[int, float]]:
        """(term id, idf) for each query term this index holds (repeats count again, as
        in bm25s), idf from the corpus' statistics (Lucene's, always positive)."""
        p, corpus = self._postings, self._corpus
        n_docs = corpus.n_docs if corpus is not None else p.n_live
        df = p.df.view
        weights = []
        for term in terms:
            term_id = p.vocab.get(term)
            if term_id is None:
                continue
            freq = corpus.df.get(term, 0) if corpus is not None else int(df[term_id])
            if freq > 0:
                weights.append((term_id, math.log(1 + (n_docs - freq + 0.5) / (freq + 0.5))))
        return weights

    # ----------------------------------------------------------------- persistence
    def save(self, folder: Path) -> list[str]:
        """Write the postings (merged, deleted rows dropped) into ``folder/bm25``; returns
        the file names (for checksums). Plain ``.npy`` and JSON: no pickle."""
        p = self._postings
        p.compact()
        segment = p.segments[0] if p.segments else Segment(np.zeros(1, np.int64), *_NONE)
        out = folder / FOLDER
        out.mkdir()
        (out / TERMS_FILE).write_text(json.dumps(p.terms), encoding="utf-8")
        arrays = {
            KEYS_FILE: p.keys.view,
            LENGTHS_FILE: p.lengths.view,
            INDPTR_FILE: segment.indptr,
            ROWS_FILE: segment.rows,
            TFS_FILE: segment.tfs,
        }
        for name, array in arrays.items():
            persist.write_array(out / name, array)
        return sorted(f"{FOLDER}/{name}" for name in [TERMS_FILE, *arrays])

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
        """The saved scorer; ``given`` supplies a custom tokenizer the manifest cannot hold.

        The postings are memory-mapped (a large index opens in the time it takes to read
        the small arrays); an index saved in format 1 (bm25s files) is re-indexed
        from its documents, which hold everything BM25 derives from.
        """
        bm25 = cls.from_config(config, given)
        src = folder / FOLDER
        if not (src / TERMS_FILE).exists():
            bm25.rebuild(store)
            return bm25
        try:
            terms = json.loads((src / TERMS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
            raise IndexFormatError(f"{src}: the BM25 files are unreadable ({exc}).") from exc
        arrays = {name: persist.read_array(src / name, dtype) for name, dtype in _ARRAYS.items()}
        bm25._postings = _checked_postings(src, terms, arrays, store)
        return bm25


def _checked_postings(
    src: Path, terms: Any, arrays: dict[str, np.ndarray], store: DocStore
) -> Postings:
    """Postings from saved arrays, or :class:`IndexFormatError` if they cannot be the
    postings of ``store``'s documents (a load never indexes out of bounds)."""
    keys, lengths, indptr = arrays[KEYS_FILE], arrays[LENGTHS_FILE], arrays[INDPTR_FILE]
    rows, tfs = arrays[ROWS_FILE], arrays[TFS_FILE]
    shapes_ok = (
        isinstance(terms, list)
        and all(isinstance(t, str) for t in terms)
        and len(set(terms)) == len(terms)
        and keys.shape == lengths.shape == (len(keys),)
        and indptr.shape == (len(terms) + 1,)
        and rows.shape == tfs.shape == (len(rows),)
        and int(indptr[0]) == 0
        and int(indptr[-1]) == len(rows)
        and bool(np.all(np.diff(indptr) >= 0))
        and (len(rows) == 0 or (int(rows.min()) >= 0 and int(rows.max()) < len(keys)))
        and (len(tfs) == 0 or int(tfs.min()) > 0)
        and (len(lengths) == 0 or int(lengths.min()) >= 0)
    )
    if not shapes_ok:
        raise IndexFormatError(f"{src}: the BM25 arrays are inconsistent; the index is damaged.")
    if not np.array_equal(keys, store.keys()):
        raise IndexFormatError(f"{src}: BM25 documents do not match the index's documents.")
    p = Postings()
    p.terms = list(terms)
    p.vocab = {t: i for i, t in enumerate(p.terms)}
    p.keys = Growing(np.int64, np.array(keys))
    p.lengths = Growing(np.int32, np.array(lengths))
    p.live = Growing(np.bool_, np.ones(len(keys), dtype=np.bool_))
    p.df = Growing(np.int64, np.diff(indptr))  # saved compacted: every posting is live
    p.n_live, p.total_len = len(keys), int(np.sum(lengths, dtype=np.int64))
    if len(rows):
        p.segments = [Segment(np.array(indptr, dtype=np.int64), rows, tfs)]
    return p
