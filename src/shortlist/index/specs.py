"""Index specs: a short string picks the FAISS structure and its search-time knobs.

Grammar: ``NAME[:key=value,...]`` with NAME one of

* ``flat`` (default) -- exact inner product; best quality, fine up to ~1M vectors;
* ``hnsw`` -- graph index (``m``=32, ``ef_construction``=80, ``ef_search``=64), fast and
  accurate for large corpora; deletions are tombstoned and compacted on save;
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

_DEFAULTS: dict[str, dict[str, int]] = {
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
            return f"faiss:{self.factory}"
        if not self.params:
            return self.kind
        return self.kind + ":" + ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))

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
    """Parse ``"hnsw:m=16,ef_search=128"`` and friends; bad specs get a clear error."""
    if spec is None:
        return IndexSpec("flat")
    if isinstance(spec, IndexSpec):
        return spec
    text = spec.strip()
    name, _, rest = text.partition(":")
    name = name.strip().lower()
    if name == "faiss":
        if not rest.strip():
            raise InvalidInputError(
                "'faiss:' needs a FAISS factory string, e.g. 'faiss:IVF1024,Flat'."
            )
        return IndexSpec("faiss", {}, rest.strip())
    if name not in _DEFAULTS:
        raise UnknownBackendError(
            f"Unknown index spec {spec!r}. Use one of: flat, hnsw[:m=32,ef_search=64], "
            "ivfpq[:nlist=1024,m=48,nprobe=16], or faiss:<index_factory string>."
        )
    params = dict(_DEFAULTS[name])
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or key not in params:
            valid = ", ".join(params) or "none"
            raise InvalidInputError(
                f"Bad option {part!r} in index spec {spec!r}; valid options: {valid}."
            )
        try:
            params[key] = int(value)
        except ValueError:
            raise InvalidInputError(
                f"Index spec option {key} must be an integer, got {value!r}."
            ) from None
        if params[key] < 0 or (
            params[key] == 0 and not (name == "ivfpq" and key in ("nlist", "m"))
        ):
            raise InvalidInputError(f"Index spec option {key} must be positive, got {params[key]}.")
    return IndexSpec(name, params)
