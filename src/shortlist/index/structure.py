"""The FAISS side of the index: building the structure, ID selectors, search parameters.

Kept apart from :class:`~shortlist.index.Index` so that the class reads as what an index
does (add, delete, search, save) while FAISS's quirks (training, id maps, SWIG object
lifetimes, OpenMP thread teams) stay in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from shortlist._optional import require
from shortlist.errors import InvalidInputError
from shortlist.index.specs import IndexSpec


def create(spec: IndexSpec, dim: int, first_batch: np.ndarray) -> tuple[Any, str]:
    """A FAISS index for ``spec`` taking int64 ids, trained on ``first_batch`` if it must be.

    Returns the index and its factory string. Flat and HNSW structures are wrapped in
    ``IndexIDMap2`` (ids plus ``reconstruct``); IVF takes ids natively and keeps a hash
    table direct map so that remove and reconstruct work.
    """
    faiss = require("faiss", feature="The FAISS index")
    n = len(first_batch)
    needed = spec.min_training_points(dim, n)
    if n < needed:
        raise InvalidInputError(
            f"Index spec {str(spec)!r} must be trained on at least {needed} vectors, "
            f"but the first batch has {n}. Build from more documents at once, or use "
            "'flat' or 'hnsw' for small corpora."
        )
    factory = spec.factory_string(dim, n)
    try:
        base = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise InvalidInputError(f"FAISS rejected index factory {factory!r}: {exc}") from exc
    if spec.kind == "hnsw":
        base.hnsw.efConstruction = spec.params["ef_construction"]
    for found in (base, faiss.try_extract_index_ivf(base)):
        part = faiss.downcast_index(found) if found is not None else None
        if part is not None and hasattr(part, "do_polysemous_training"):
            # Polysemous codes only help Hamming-threshold search, which we never use,
            # and training them takes minutes where plain PQ takes milliseconds.
            part.do_polysemous_training = False
    if not base.is_trained:
        base.train(first_batch)
    ivf = faiss.try_extract_index_ivf(base)
    if ivf is not None:
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # keeps remove + reconstruct
        return base, factory
    return faiss.IndexIDMap2(base), factory


def search_params(faiss: Any, spec: IndexSpec, k: int, sel: Any) -> Any:
    """Per-search parameters: the selector, and the spec's ef_search / nprobe."""
    if spec.kind == "hnsw":
        return faiss.SearchParametersHNSW(sel=sel, efSearch=max(spec.params["ef_search"], k))
    if spec.kind == "ivfpq":
        return faiss.SearchParametersIVF(sel=sel, nprobe=spec.params["nprobe"])
    return faiss.SearchParameters(sel=sel) if sel is not None else None


def search(
    index: Any,
    spec: IndexSpec,
    vectors: np.ndarray,
    k: int,
    *,
    allowed: np.ndarray | None,
    dead: set[int],
    exact_below: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, keys) of the best ``k`` per query among ``allowed`` keys, never ``dead`` ones.

    An approximate structure can starve under a selective filter (HNSW's graph walk or
    IVF's probed lists hold too few allowed vectors), so filtered sets of at most
    ``exact_below`` keys, and any search that came back short, are scored exactly.
    """
    faiss = require("faiss", feature="The FAISS index")
    if allowed is not None:
        if len(allowed) == 0:
            return np.zeros((len(vectors), 0)), np.zeros((len(vectors), 0), dtype=np.int64)
        if len(allowed) <= exact_below:
            return _exact(index, vectors, k, allowed)
    exact = spec.kind == "flat"
    depth = k + RESCORE_MARGIN if exact else k
    with selector(faiss, allowed, dead) as sel:
        params = search_params(faiss, spec, depth, sel)
        with omp_threads(faiss, 1 if len(vectors) == 1 else None):
            scores, keys = index.search(vectors, depth, params=params)
    if allowed is not None and exact_below and (keys < 0).any():
        return _exact(index, vectors, k, allowed)  # approximate search starved by the filter
    if exact:
        scores = _rescored(index, vectors, keys)
    scores, keys = _ties_by_key(scores, keys)
    return scores[:, :k], keys[:, :k]


RESCORE_MARGIN = 8
"""Extra candidates an exact search fetches before rescoring, so a last-bit difference in
FAISS's score cannot push a document across the cut at ``k``."""


def _rescored(index: Any, vectors: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Exact scores of the found vectors, summed in float64 and rounded once.

    FAISS sums a dot product in float32 with kernels whose order depends on where a vector
    sits in storage, so the same pair can score differently in the last bit in an index
    and in a shard of it. Rounded from float64, a score depends only on the two vectors:
    one index and its shards agree exactly.
    """
    out = np.full(keys.shape, -np.inf, dtype=np.float32)
    for row, (query, found) in enumerate(zip(vectors, keys, strict=True)):
        valid = found >= 0
        if valid.any():
            stored = index.reconstruct_batch(found[valid]).astype(np.float64)
            out[row, valid] = (stored @ query.astype(np.float64)).astype(np.float32)
    return out


def _ties_by_key(scores: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row best first with equal scores in key order (FAISS leaves their order to its
    heap), so results never depend on how the vectors were split into shards."""
    order = np.lexsort((keys, -scores, keys < 0), axis=-1)
    return np.take_along_axis(scores, order, -1), np.take_along_axis(keys, order, -1)


def _exact(
    index: Any, vectors: np.ndarray, k: int, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force scoring of an allowed set: filters never cost recall."""
    sims = vectors @ index.reconstruct_batch(allowed).T
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, top, axis=1), allowed[top]


@contextmanager
def selector(faiss: Any, allowed: np.ndarray | None, dead: set[int]) -> Iterator[Any]:
    """An ID selector: keys in ``allowed`` (if given) and not in ``dead``; None if neither.

    The SWIG selector objects only hold pointers to each other, so all of them are kept
    alive until the search inside the block is done.
    """
    parts: list[Any] = []
    if allowed is not None:
        parts.append(faiss.IDSelectorBatch(allowed))
    if dead:
        tombs = faiss.IDSelectorBatch(np.fromiter(dead, dtype=np.int64, count=len(dead)))
        parts += [tombs, faiss.IDSelectorNot(tombs)]
    if len(parts) == 3:
        parts.append(faiss.IDSelectorAnd(parts[0], parts[2]))
    yield parts[-1] if parts else None


@contextmanager
def omp_threads(faiss: Any, threads: int | None) -> Iterator[None]:
    """Run FAISS with ``threads`` OpenMP threads inside the block (None: unchanged).

    One query gains nothing from threads, yet ``IndexIDMap`` maps result ids in an OpenMP
    loop: that wakes FAISS's thread team, whose spin-waiting then halves the speed of the
    next torch call (the next query's encoding) -- measured 15.4 ms per query instead of
    8.1. ``omp_set_num_threads`` is per calling thread, so other threads are unaffected.
    """
    if threads is None:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)
