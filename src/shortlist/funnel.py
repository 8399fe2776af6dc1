"""The funnel's configuration: one small, frozen, validated, serialisable object.

Every entry point runs the same funnel -- :meth:`Index.search <shortlist.index.Index.search>`
(its stage-1 fields), :class:`~shortlist.Pipeline`, both frameworks' retrievers and
rerankers, ``shortlist search`` and ``shortlist eval`` -- and every one of them defaults to
:data:`DEFAULT` (whose values live in :mod:`shortlist.defaults`). ``shortlist eval
--calibrate`` writes one chosen on the user's judged queries; ``Pipeline.from_config``,
``--funnel FILE`` and the adapters' ``funnel=`` field load it.

Spelled in one grammar: ``hybrid`` and ``fusion`` are fusion specs (``"weighted:w=0.5"``,
``"rrf:k=60"``); for ``hybrid`` the weight is the dense side's (LlamaIndex's ``alpha``), for
``fusion`` the reranker's. ``fusion="auto"`` is the backend's rule
(:func:`resolve_fusion`); ``"none"`` is the reranker's own order.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shortlist import defaults
from shortlist._validate import finite_number, known_names, positive_int
from shortlist.errors import InvalidInputError
from shortlist.rerank.fusion import Fusion
from shortlist.spec import check_options, convert, parse, unknown

if TYPE_CHECKING:
    from shortlist.rerank.base import Reranker

MODES = ("dense", "bm25", "hybrid")
"""Stage-1 modes (as :data:`shortlist.index.hybrid.MODES`; not imported from there, so a
rerank-only adapter that reads a Funnel never loads the index package)."""

AUTO = "auto"
"""``fusion="auto"``: fuse where the backend's rule and the candidates call for it."""


@dataclass(frozen=True)
class Funnel:
    """What the funnel does, end to end. Every field is validated and normalised here.

    Attributes:
        mode: stage 1, ``"hybrid"`` (BM25 + dense), ``"dense"`` or ``"bm25"``. Where an
            index has no BM25, the default (not an explicit choice) falls back to dense.
        hybrid: how hybrid stage 1 fuses dense and BM25: ``"weighted:w=0.5"`` (a convex mix
            of min-max-normalised scores, ``w`` = the dense weight) or ``"rrf:k=60"``.
        fetch_k: candidates stage 1 hands to the reranker.
        reranker: a reranker spec (``"onnx:..."``, ``"cohere:rerank-v3.5"``, a fallback
            chain ``"a | b"``), or ``None`` for stage 1 alone.
        fusion: how the rerank and retrieval scores combine: ``"auto"`` (the backend's
            rule, :func:`resolve_fusion`), ``"none"`` (the reranker's order),
            ``"weighted:w=0.2"`` (``w`` = the reranker's weight) or ``"rrf:k=60"``.
        top_n: results kept.
        score_threshold: drop results whose relevance score is below this.
        rerank_budget_ms: bound stage 2; unscored candidates keep their retrieval order.
    """

    mode: str = defaults.STAGE1_MODE
    hybrid: str = defaults.HYBRID
    fetch_k: int = defaults.FETCH_K
    reranker: str | None = defaults.RERANKER
    fusion: str = AUTO
    top_n: int = defaults.TOP_N
    score_threshold: float | None = None
    rerank_budget_ms: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidInputError(
                f"Funnel mode must be one of {', '.join(MODES)}; got {self.mode!r}."
            )
        hybrid = Fusion.parse(self.hybrid)
        if hybrid is None:
            raise InvalidInputError(
                "Funnel hybrid must be a fusion such as 'weighted:w=0.5' or 'rrf:k=60', "
                f"got {self.hybrid!r} (for dense or BM25 alone, set mode)."
            )
        object.__setattr__(self, "hybrid", str(hybrid))
        object.__setattr__(self, "fusion", fusion_spec(self.fusion))
        object.__setattr__(self, "fetch_k", positive_int("fetch_k", self.fetch_k))
        object.__setattr__(self, "top_n", positive_int("top_n", self.top_n))
        if self.top_n > self.fetch_k:
            raise InvalidInputError(
                f"top_n={self.top_n} exceeds fetch_k={self.fetch_k}: the reranker can only "
                f"return candidates stage 1 fetched. Raise fetch_k to at least {self.top_n}."
            )
        object.__setattr__(
            self,
            "score_threshold",
            finite_number("score_threshold", self.score_threshold, allow_none=True),
        )
        object.__setattr__(
            self,
            "rerank_budget_ms",
            finite_number(
                "rerank_budget_ms", self.rerank_budget_ms, positive=True, allow_none=True
            ),
        )
        if isinstance(self.reranker, str) and self.reranker.strip().lower() == "none":
            object.__setattr__(self, "reranker", None)  # how TOML (no null) spells None
        if self.reranker is not None:
            if not isinstance(self.reranker, str) or not self.reranker.strip():
                raise InvalidInputError(
                    f"Funnel reranker must be a spec string or None, got {self.reranker!r}."
                )
            from shortlist.rerank import check_spec

            check_spec(self.reranker)  # grammar only: the model may live on another machine

    # ------------------------------------------------------------------ views
    @property
    def hybrid_fusion(self) -> Fusion:
        """:attr:`hybrid` as a :class:`~shortlist.rerank.fusion.Fusion`."""
        parsed = Fusion.parse(self.hybrid)
        if parsed is None:  # unreachable: __post_init__ refuses it
            raise InvalidInputError(f"Funnel hybrid {self.hybrid!r} is not a fusion.")
        return parsed

    @property
    def alpha(self) -> float | None:
        """The hybrid dense weight (LlamaIndex's ``alpha``); ``None`` for RRF."""
        return self.hybrid_fusion.mix_weight

    @property
    def stage1_spec(self) -> str:
        """Stage 1 as ``shortlist eval --mode`` spells it (:func:`parse_stage1` reads it):
        ``"dense"``, ``"bm25"`` or ``"hybrid:weighted:w=0.7"`` (the hybrid fusion spelt out)."""
        return self.mode if self.mode != "hybrid" else f"hybrid:{self.hybrid}"

    def replace(self, **changes: Any) -> Funnel:
        """A copy with ``changes`` applied (validated like a new one)."""
        known_names("Funnel", changes, FIELDS)
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: every field, ``None`` included."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "funnel config") -> Funnel:
        """Build from a mapping; an unknown or misspelt key is an error naming it."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(
                f"{source}: expected a table of funnel settings, got {type(data).__name__}."
            )
        body = dict(data)
        body.pop("shortlist_funnel", None)  # the format marker a saved file carries
        body.pop("calibration", None)  # what a calibration run recorded beside the settings
        try:
            known_names(f"{source} (Funnel)", body, FIELDS)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{exc} Valid keys: {', '.join(FIELDS)}.") from None
        return cls(**body)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Funnel:
        """Read a ``.json`` or ``.toml`` file written by :meth:`save` (or by hand)."""
        file = Path(path)
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"Cannot read funnel config {file}: {exc}.") from exc
        if file.suffix.lower() == ".toml":
            data = _toml_loads(raw.decode("utf-8"), file)
        else:
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InvalidInputError(
                    f"{file} is not valid JSON ({exc}); a funnel config is JSON or TOML "
                    "(by its suffix)."
                ) from None
        return cls.from_dict(data, source=str(file))

    def save(self, path: str | os.PathLike[str], *, extra: Mapping[str, Any] | None = None) -> Path:
        """Write as JSON, or TOML where ``path`` ends in ``.toml``; ``extra`` (e.g. what a
        calibration measured) is kept under ``calibration`` and ignored when loading."""
        file = Path(path)
        body: dict[str, Any] = {"shortlist_funnel": 1, **self.to_dict()}
        if extra:
            body["calibration"] = dict(extra)
        if file.suffix.lower() == ".toml":
            text = _toml_dumps(body)
        else:
            text = json.dumps(body, indent=2, ensure_ascii=False) + "\n"
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, file)
        return file

    def describe(self) -> str:
        """One line, for reports and ``repr``: ``hybrid(weighted:w=0.7) top 50 -> ...``."""
        stage1 = f"{self.mode}({self.hybrid})" if self.mode == "hybrid" else self.mode
        stage2 = "no reranking" if self.reranker is None else f"{self.reranker} [{self.fusion}]"
        return f"{stage1} top {self.fetch_k} -> {stage2} -> top {self.top_n}"


def as_funnel(value: Funnel | str | os.PathLike[str] | Mapping[str, Any] | None) -> Funnel:
    """A :class:`Funnel` from a Funnel, a config file path, a mapping, or ``None`` (default)."""
    if value is None:
        return DEFAULT
    if isinstance(value, Funnel):
        return value
    if isinstance(value, Mapping):
        return Funnel.from_dict(value)
    if isinstance(value, str | os.PathLike):
        return Funnel.load(value)
    raise InvalidInputError(
        f"funnel must be a Funnel, a path to a funnel config (.json/.toml) or a mapping; "
        f"got {type(value).__name__}."
    )


def fusion_spec(value: object) -> str:
    """A rerank ``fusion`` argument in normal form: ``"auto"``, ``"none"`` (for ``None``
    too) or the fusion's own spec (``"rrf"`` -> ``"rrf:k=60"``); bad ones raise."""
    if isinstance(value, Fusion):
        return str(value)
    if value is None:
        return "none"
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    parsed = Fusion.parse(value)  # type: ignore[arg-type]
    return "none" if parsed is None else str(parsed)


def parse_stage1(text: str) -> tuple[str, Fusion | None]:
    """A stage-1 mode spec (``shortlist eval --mode``, :attr:`Funnel.stage1_spec`) as (mode,
    hybrid fusion): ``dense``, ``bm25``, ``hybrid`` (``None``: the index's own fusion),
    ``hybrid:alpha=0.5`` (the dense weight) or ``hybrid:`` + a fusion spec (``hybrid:rrf``,
    ``hybrid:weighted:w=0.3``). The grammar is :mod:`shortlist.spec`'s."""
    spec = parse(text, what="stage-1 mode")
    if spec.name not in MODES:
        raise unknown("stage-1 mode", spec.name, MODES, spec=spec)
    if spec.name != "hybrid":
        if spec.argument is not None or spec.options:
            raise InvalidInputError(
                f"Stage-1 mode {spec.text!r}: {spec.name!r} takes no options; write "
                f"{spec.name!r} (only hybrid has a fusion)."
            )
        return spec.name, None
    check_options(spec, ["alpha"], "stage-1 mode 'hybrid'")
    if "alpha" in spec.options:
        alpha = convert(spec, "alpha", float)
        if spec.argument or not 0.0 <= alpha <= 1.0:
            raise InvalidInputError(
                f"Stage-1 mode {spec.text!r}: write hybrid:alpha=A with A within 0..1 (the "
                "dense weight), or hybrid:<fusion spec> such as hybrid:rrf."
            )
        return "hybrid", Fusion("weighted", weight=alpha)
    if not spec.argument:
        return "hybrid", None
    fusion = Fusion.parse(spec.argument)
    if fusion is None:
        raise InvalidInputError(
            f"Stage-1 mode {spec.text!r}: hybrid needs a fusion; for one list alone write "
            "dense or bm25."
        )
    return "hybrid", fusion


def resolve_fusion(
    fusion: Fusion | str | None,
    reranker: Reranker | None,
    *,
    shortlist_candidates: bool = True,
) -> Fusion | None:
    """The rerank fusion to apply: ``fusion`` as given, unless it is ``"auto"``.

    ``"auto"`` is the rule every entry point shares: fuse with the funnel's default
    (:data:`shortlist.defaults.FUSION`) only where

    * the backend fuses by default (:attr:`Reranker.default_fusion`): the local
      cross-encoders, whose MS MARCO model ranks worse alone than hybrid stage 1 on every
      collection measured; never a paid API (Cohere), whose judgment the user pays for; and
    * the candidates carry shortlist's stage-1 scores (``shortlist_candidates``: a
      Pipeline's always do; a compressor's when a shortlist retriever produced them),
      since fusing with another retriever's input order would let that order outvote the
      reranker.

    Everywhere else ``"auto"`` is the reranker's own order, as every peer's compressor.
    """
    if not (isinstance(fusion, str) and fusion.strip().lower() == AUTO):
        return Fusion.parse(fusion)
    if reranker is None:
        return None
    rule = Fusion.parse(reranker.default_fusion)
    if rule is None:
        return None
    return rule if shortlist_candidates else None


def _toml_loads(text: str, file: Path) -> dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        from shortlist._optional import require

        tomllib = require("tomli", extra="dev", feature="Reading TOML funnel configs")
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"{file} is not valid TOML: {exc}.") from None
    return data


def _toml_dumps(body: Mapping[str, Any]) -> str:
    """Flat TOML for a funnel (scalars; ``None`` left out, TOML has no null) and one
    ``[calibration]`` table of scalars and lists."""
    lines = []
    tables = {}
    for key, value in body.items():
        if isinstance(value, Mapping):
            tables[key] = value
        elif key == "reranker" and value is None:
            lines.append('reranker = "none"')
        elif value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables.items():
        lines += ["", f"[{name}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Funnel))

DEFAULT = Funnel()
"""The shipped funnel (chosen on three collections: docs/results/modes.md)."""
