"""Index specs: a short string picks the FAISS structure and its search-time knobs.

Grammar (:mod:`shortlist.spec`, ``docs/specs.md``): ``NAME[:key=value,...]`` with NAME one of

* ``auto`` (default) -- ``flat`` while the index holds fewer than ``threshold`` (100,000)
  vectors, then ``hnsw`` with this spec's ``m``/``ef_construction``/``ef_search``: an
  index that grows past the threshold moves its vectors into the graph once, on the
  write that crosses it (docs/index.md says what each costs and finds, measured);
* ``flat`` -- exact inner product; best quality, ~60 ms a query at 1M vectors on 2 cores;
* ``hnsw`` -- graph index (``m``=32, ``ef_construction``=80, ``ef_search``=64), fast and
  accurate for large corpora; deletions are tombstoned (masked) and the graph rebuilt
  on save once they are a tenth of it;
* ``ivfpq`` -- inverted lists + product quantisation (``nlist``, ``m``, ``nbits``=8,
  ``nprobe``=16) for corpora too large for RAM as float32; needs training data;
* ``faiss:FACTORY`` -- any FAISS ``index_factory`` string, for experts.

Unset IVF-PQ sizes are chosen from the corpus at first training (``nlist`` about
4*sqrt(n), ``m`` = dim/8 rounded to a divisor of dim).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shortlist.errors import InvalidInputError, UnknownBackendError
from shortlist.spec import check_options, convert, format_spec, parse, unknown

_DEFAULTS: dict[str, dict[str, int]] = {
    "auto": {"threshold": 100_000, "m": 32, "ef_construction": 80, "ef_search": 384},
    "flat": {},
    "hnsw": {"m": 32, "ef_construction": 80, "ef_search": 64},
    "ivfpq": {"nlist": 0, "m": 0, "nbits": 8, "nprobe": 16},
}


@dataclass(frozen=True)
class IndexSpec:
    """A parsed spec: the kind, its integer parameters, or a raw factory string."""

    kind: str
    params: dict[str, int] = field(default_factory=dict)
    factory: str | None = None

    def __str__(self) -> str:
        if self.kind == "faiss":
            return format_spec("faiss", self.factory)
        return format_spec(self.kind, options=dict(sorted(self.params.items())))

    def structure(self, n_vectors: int) -> IndexSpec:
        """The spec a FAISS structure is built with for ``n_vectors``: itself, except that
        ``auto`` is ``flat`` below its threshold and ``hnsw`` from it on."""
        if self.kind != "auto":
            return self
        if n_vectors < self.params["threshold"]:
            return IndexSpec("flat")
        return IndexSpec("hnsw", {k: v for k, v in self.params.items() if k != "threshold"})

    def factory_string(self, dim: int, n_train: int) -> str:
        """The FAISS ``index_factory`` string, sizing IVF-PQ from ``n_train`` if unset."""
        if self.kind == "flat":
            return "Flat"
        if self.kind == "hnsw":
            return f"HNSW{self.params['m']}"
        if self.kind == "ivfpq":
            nlist, m, nbits = self.sized(dim, n_train)
            return f"IVF{nlist},PQ{m}x{nbits}"
        assert self.factory is not None  # parse() guarantees it
        return self.factory

    def sized(self, dim: int, n_train: int) -> tuple[int, int, int]:
        """IVF-PQ (nlist, m, nbits), filling unset values from data size and dimension."""
        nlist = self.params["nlist"] or max(
            1, min(int(4 * math.sqrt(max(n_train, 1))), n_train // 39 or 1)
        )
        m = self.params["m"] or _divisor_near(dim, max(1, dim // 8))
        if dim % m:
            raise InvalidInputError(f"ivfpq m={m} must divide the embedding dimension {dim}.")
        return nlist, m, self.params["nbits"]

    def min_training_points(self, dim: int, n_train: int) -> int:
        """How many vectors FAISS needs to train this structure at all."""
        if self.kind != "ivfpq":
            return 1
        nlist, _, nbits = self.sized(dim, n_train)
        return int(max(nlist, 2**nbits))


def _divisor_near(dim: int, target: int) -> int:
    divisors = [d for d in range(1, dim + 1) if dim % d == 0]
    return min(divisors, key=lambda d: (abs(d - target), -d))


def parse_spec(spec: str | IndexSpec | None) -> IndexSpec:
    """Parse ``"hnsw:m=16,ef_search=128"`` and friends (the grammar of :mod:`shortlist.spec`)."""
    if spec is None:
        return IndexSpec("auto", dict(_DEFAULTS["auto"]))
    if isinstance(spec, IndexSpec):
        return spec
    parsed = parse(spec, what="index spec")
    if parsed.name == "faiss":
        if not parsed.argument or parsed.options:
            raise InvalidInputError(
                f"Index spec {parsed.text!r} needs a FAISS factory string after 'faiss:', "
                "e.g. 'faiss:IVF1024,Flat'."
            )
        return IndexSpec("faiss", {}, parsed.argument)
    if parsed.name not in _DEFAULTS:
        raise unknown(
            "index type", parsed.name, [*_DEFAULTS, "faiss"], spec=parsed, error=UnknownBackendError
        )
    if parsed.argument:
        raise InvalidInputError(
            f"Index spec {parsed.text!r}: {parsed.name!r} takes options, not an argument; "
            "write e.g. 'hnsw:m=32,ef_search=64'."
        )
    params = dict(_DEFAULTS[parsed.name])
    check_options(parsed, params, f"index type {parsed.name!r}")
    for key in parsed.options:
        params[key] = convert(parsed, key, int)
        unset_ok = parsed.name == "ivfpq" and key in ("nlist", "m")  # sized from the data
        if params[key] < 0 or (params[key] == 0 and not unset_ok):
            raise InvalidInputError(
                f"Option {key!r} in {parsed.text!r} must be positive, got {params[key]}."
            )
    return IndexSpec(parsed.name, params)
