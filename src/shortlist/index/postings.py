"""An inverted index that takes writes, with BM25 statistics exact after every one.

bm25s precomputes every (document, term) score with the corpus' idf and average length
baked in, so any write meant rebuilding BM25 over the whole corpus: O(corpus) per write,
about a minute at a million documents. This keeps raw term frequencies instead and
scores at query time from the live statistics, as Lucene does, so a write costs what it
changes and the scores always equal those of an index built from the current corpus.

Array-first, like bm25s (no Python object per document or posting):

* **rows**, one per document added, in key order: its key, its length in terms, whether
  it is live. A delete clears ``live`` and subtracts the document's terms from the
  statistics; its postings stay until the next merge skips them.
* **segments**, each an immutable CSC matrix by term (``indptr``, ``rows``, ``tfs``): a
  write adds one small segment, and the newest segments merge whenever one is not at
  least twice the next (a binary counter: O(log n) segments, each posting copied
  O(log n) times). :meth:`Postings.compact` merges everything and renumbers the live
  rows, as a save does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

_EMPTY_ROWS = np.zeros(0, dtype=np.int32)


class Growing:
    """A 1-D array that appends in amortised O(1) (capacity doubles)."""

    def __init__(self, dtype: type | np.dtype, data: np.ndarray | None = None) -> None:
        self._data = np.zeros(0, dtype=dtype) if data is None else np.asarray(data, dtype)
        self._size = len(self._data)

    def __len__(self) -> int:
        return self._size

    @property
    def view(self) -> np.ndarray:
        """The values (a view: valid until the next :meth:`extend`)."""
        return self._data[: self._size]

    def extend(self, values: np.ndarray) -> None:
        end = self._size + len(values)
        if end > len(self._data):
            grown = np.zeros(max(end, 2 * len(self._data), 16), dtype=self._data.dtype)
            grown[: self._size] = self.view
            self._data = grown
        self._data[self._size : end] = values
        self._size = end

    def grow_to(self, size: int) -> None:
        """Pad with zeros up to ``size`` entries."""
        if size > self._size:
            self.extend(np.zeros(size - self._size, dtype=self._data.dtype))


@dataclass(frozen=True)
class Segment:
    """Postings of some rows as a CSC matrix: term ``t``'s rows (ascending) and term
    frequencies are ``rows[indptr[t]:indptr[t + 1]]`` and the same slice of ``tfs``."""

    indptr: np.ndarray  # int64, (terms known to this segment + 1)
    rows: np.ndarray  # int32
    tfs: np.ndarray  # int32

    @property
    def nnz(self) -> int:
        return len(self.rows)

    def column(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        if term + 1 >= len(self.indptr):
            return _EMPTY_ROWS, _EMPTY_ROWS
        start, end = self.indptr[term], self.indptr[term + 1]
        return self.rows[start:end], self.tfs[start:end]

    def padded_indptr(self, n_terms: int) -> np.ndarray:
        missing = n_terms + 1 - len(self.indptr)
        return np.concatenate([self.indptr, np.full(missing, self.indptr[-1])])


def merge(segments: Sequence[Segment], n_terms: int, keep: np.ndarray | None) -> Segment:
    """One segment with the postings of ``segments`` (older first, so each column's rows
    stay ascending), dropping rows where ``keep`` (a mask over rows) is false."""
    ptrs = np.stack([s.padded_indptr(n_terms) for s in segments])  # (segments, terms + 1)
    counts = np.diff(ptrs, axis=1)  # postings per (segment, term)
    # label every output slot with the segment it comes from: term by term, the older
    # segment's run first; each segment's postings then fill its slots in order
    labels = np.repeat(np.tile(np.arange(len(segments), dtype=np.int8), n_terms), counts.T.ravel())
    indptr = np.concatenate([[0], np.cumsum(counts.sum(axis=0))]).astype(np.int64)
    rows = np.empty(len(labels), dtype=np.int32)
    tfs = np.empty(len(labels), dtype=np.int32)
    for i, segment in enumerate(segments):
        mine = labels == i
        rows[mine], tfs[mine] = segment.rows, segment.tfs
    if keep is not None:
        kept = keep[rows]
        if not kept.all():
            cumulative = np.concatenate([[0], np.cumsum(kept, dtype=np.int64)])
            rows, tfs, indptr = rows[kept], tfs[kept], cumulative[indptr]
    return Segment(indptr, rows, tfs)


class Postings:
    """Term frequencies of a changing corpus, with its exact statistics (see the module)."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        """Term -> term id (ids are never reused; a term no live document has keeps
        its id with a document frequency of 0)."""
        self.terms: list[str] = []
        """Term id -> term."""
        self.df = Growing(np.int64)
        """Live documents containing each term, by term id."""
        self.keys = Growing(np.int64)
        self.lengths = Growing(np.int32)
        self.live = Growing(np.bool_)
        self.n_live = 0
        self.total_len = 0
        self.segments: list[Segment] = []

    @property
    def n_rows(self) -> int:
        return len(self.keys)

    # ----------------------------------------------------------------- writes
    def add(self, keys: np.ndarray, documents: Sequence[Sequence[str]]) -> None:
        """Index new documents (their terms, as tokenised) under ``keys``, which must be
        greater than every key added before (a store's keys only grow)."""
        if not len(keys):
            return
        if self.n_rows and int(keys.min()) <= int(self.keys.view[-1]):
            raise ValueError("Postings keys must increase; keys are never reused.")
        lengths = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
        ids = self._term_ids(list(chain.from_iterable(documents)))
        start = self.n_rows
        self.keys.extend(keys)
        self.lengths.extend(lengths)
        self.live.extend(np.ones(len(keys), dtype=np.bool_))
        self.n_live += len(keys)
        self.total_len += int(lengths.sum())
        if not len(ids):
            return
        n_terms = len(self.terms)
        rows = np.repeat(np.arange(len(keys), dtype=np.int64), lengths)
        pairs, tfs = np.unique(rows * n_terms + ids, return_counts=True)  # by row, then term
        terms, rows = pairs % n_terms, (pairs // n_terms + start).astype(np.int32)
        self.df.grow_to(n_terms)
        self.df.view[:] += np.bincount(terms, minlength=n_terms)
        order = np.argsort(terms, kind="stable")  # by term; rows stay ascending within one
        indptr = np.concatenate([[0], np.cumsum(np.bincount(terms, minlength=n_terms))])
        self.segments.append(Segment(indptr, rows[order], tfs[order].astype(np.int32)))
        self._merge_tail()

    def remove(self, keys: np.ndarray, documents: Sequence[Sequence[str]]) -> None:
        """Forget live documents: ``documents`` are their terms, tokenised as when added
        (the postings are by term, so a document's own terms come from its text)."""
        live, lengths = self.live.view, self.lengths.view
        for row, terms in zip(self.rows_of(keys).tolist(), documents, strict=True):
            if row < 0 or not live[row]:
                continue
            live[row] = False
            self.n_live -= 1
            self.total_len -= int(lengths[row])
            if len(terms) != lengths[row] or any(t not in self.vocab for t in terms):
                self._recount_df()  # the tokenizer changed its mind: count from postings
                continue
            ids = np.fromiter((self.vocab[t] for t in set(terms)), dtype=np.int64)
            self.df.view[ids] -= 1
        if self.n_rows > 1024 and self.n_live < self.n_rows // 2:
            self.compact()  # deleted rows are half of them: reclaim their memory

    def compact(self) -> None:
        """Merge every segment into one and renumber the live rows (drops deleted ones)."""
        live = self.live.view
        dead = self.n_live < self.n_rows
        if len(self.segments) > 1 or (dead and self.segments):
            self.segments = [merge(self.segments, len(self.terms), live if dead else None)]
        if dead:
            if self.segments:  # renumber: row r becomes the count of live rows before it
                renumber = (np.cumsum(live, dtype=np.int64) - 1).astype(np.int32)
                s = self.segments[0]
                self.segments = [Segment(s.indptr, renumber[s.rows], s.tfs)]
            self.keys = Growing(np.int64, self.keys.view[live])
            self.lengths = Growing(np.int32, self.lengths.view[live])
            self.live = Growing(np.bool_, np.ones(self.n_live, dtype=np.bool_))

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key, -1 where the key was never indexed."""
        stored, keys = self.keys.view, np.asarray(keys, dtype=np.int64)
        at = np.searchsorted(stored, keys)
        found = at < len(stored)
        found[found] = stored[at[found]] == keys[found]
        return np.where(found, at, -1)

    def _term_ids(self, tokens: list[str]) -> np.ndarray:
        """Term ids of ``tokens``, adding unseen terms to the vocabulary."""
        vocab = self.vocab
        for term in dict.fromkeys(tokens):  # unique, in C
            if term not in vocab:
                vocab[term] = len(self.terms)
                self.terms.append(term)
        return np.fromiter(map(vocab.__getitem__, tokens), dtype=np.int64, count=len(tokens))

    def _merge_tail(self) -> None:
        """Merge the newest segments while one is not at least twice the next."""
        segments = self.segments
        while len(segments) > 1 and segments[-2].nnz <= 2 * segments[-1].nnz:
            segments[-2:] = [merge(segments[-2:], len(self.terms), self._dead_mask())]

    def _dead_mask(self) -> np.ndarray | None:
        return None if self.n_live == self.n_rows else self.live.view

    def _recount_df(self) -> None:
        self.df = Growing(np.int64, np.zeros(len(self.terms), dtype=np.int64))
        live = self.live.view
        for s in self.segments:
            terms = np.repeat(np.arange(len(s.indptr) - 1), np.diff(s.indptr))
            self.df.view[:] += np.bincount(terms[live[s.rows]], minlength=len(self.terms))

    # ----------------------------------------------------------------- reads
    def document_frequencies(self) -> dict[str, int]:
        """Each term's live document frequency (terms no live document has left out)."""
        df = self.df.view
        return {self.terms[i]: int(df[i]) for i in np.flatnonzero(df).tolist()}

    def accumulate(
        self, weights: Sequence[tuple[int, float]], k1: float, b: float, avg_len: float
    ) -> np.ndarray:
        """Per row, the sum over ``(term id, idf)`` pairs (in order) of idf times Lucene's
        saturated term frequency; deleted rows are included (the caller masks them).

        Summed in float64 in the order given, so a row's score depends only on its own
        postings and the statistics, never on how the rows are split into segments.
        """
        scores = np.zeros(self.n_rows, dtype=np.float64)
        lengths = self.lengths.view
        for term, idf in weights:
            for segment in self.segments:
                rows, tfs = segment.column(term)
                if len(rows):
                    norm = k1 * ((1.0 - b) + b * (lengths[rows] / avg_len))
                    scores[rows] += idf * (tfs / (tfs + norm))
        return scores
