"""Choose the funnel's settings on the user's own judged queries -- without fooling them.

With tens of judged queries, "the best setting on my data" is mostly the winner's curse:
the maximum over many settings overstates itself and loses on new queries (measured in
../shared/notes/calibration.md: best-of-72 on half the queries lost on every collection).
So calibration here

* chooses among **few** candidates (:data:`CANDIDATES`: the default, stage 1 alone, two
  other rerank weights, two other hybrid weights);
* **shrinks toward the default**: a candidate replaces it only when a paired bootstrap on
  the queries it was chosen on puts its gain above zero;
* is **judged out of fold**: k-fold cross-validation over queries runs that whole rule on
  k-1 folds and scores its choice on the fold it did not see, and the report compares
  those out-of-fold scores with the default's on the same queries;
* says **"cannot tell -- keep the default"** unless that out-of-fold difference is
  significant, and then writes the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shortlist.errors import InvalidInputError
from shortlist.evaluation.stats import Paired, paired, paired_diff
from shortlist.funnel import DEFAULT, Funnel, resolve_fusion

if TYPE_CHECKING:
    from shortlist.evaluation.beir import Dataset
    from shortlist.evaluation.results import Report
    from shortlist.index import BaseIndex
    from shortlist.rerank.base import Reranker

FOLDS = 5
SEED = 0

CANDIDATES: dict[str, dict[str, Any]] = {
    "default": {},
    "stage 1 only": {"reranker": None},
    "rerank weight 0.5": {"fusion": "weighted:w=0.5"},
    "reranker alone": {"fusion": "none"},
    **{f"hybrid alpha {a:g}": {"hybrid": f"weighted:w={a:g}"} for a in (0.3, 0.5, 0.7)},
}
"""What calibration may choose, as changes to the funnel it starts from (the hybrid weights
other than the starting funnel's own: two of the three)."""


@dataclass(frozen=True)
class Calibration:
    """What calibration chose and how it did on queries it was not chosen on."""

    base: Funnel
    chosen: Funnel
    chosen_name: str
    verdict: str  # "adopt" | "keep the default"
    means: dict[str, float]  # mean nDCG of each candidate over all queries (in sample)
    best_in_sample: str  # the candidate with the best mean: what naive selection would take
    best_gain: Paired  # its gain over the default on these queries (in sample)
    out_of_fold: Paired  # the k-fold procedure's choices minus the default, out of fold
    picks: list[str]  # what the rule chose on each fold
    text: str

    def record(self) -> dict[str, Any]:
        """What the written config keeps beside the settings (ignored when loading)."""
        return {
            "verdict": self.verdict,
            "chosen": self.chosen_name,
            "best_in_sample": self.best_in_sample,
            "best_in_sample_gain": round(self.best_gain.mean, 6),
            "best_in_sample_interval": [
                round(self.best_gain.low, 6),
                round(self.best_gain.high, 6),
            ],
            "out_of_fold_gain": round(self.out_of_fold.mean, 6),
            "out_of_fold_interval": [
                round(self.out_of_fold.low, 6),
                round(self.out_of_fold.high, 6),
            ],
            "queries": self.out_of_fold.queries,
            "fold_picks": list(self.picks),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the chosen funnel (the default when the verdict is to keep it)."""
        return self.chosen.save(path, extra=self.record())


def candidates(base: Funnel) -> dict[str, Funnel]:
    """The candidate funnels around ``base`` (hybrid weights only for a hybrid stage 1)."""
    out = {}
    for name, changes in CANDIDATES.items():
        if "hybrid" in changes and base.mode != "hybrid":
            continue
        if base.reranker is None and "reranker" not in changes and changes:
            continue
        if changes and base.replace(**changes) == base:  # the starting funnel itself
            continue
        out[name] = base.replace(**changes)
    return out


def choose(
    scores: Mapping[str, Mapping[str, float]], queries: Sequence[str], default: str = "default"
) -> str:
    """The rule, on ``queries``: the best mean candidate, if a paired bootstrap over them
    puts its gain over ``default`` above zero; otherwise ``default``."""

    def mean(name: str) -> float:
        return float(np.mean([scores[name][q] for q in queries]))

    best = max(scores, key=lambda name: (mean(name), name == default))
    if best == default:
        return default
    gain = paired_diff(np.asarray([scores[best][q] - scores[default][q] for q in queries]))
    return best if gain.low > 0 else default


def cross_validate(
    scores: Mapping[str, Mapping[str, float]],
    queries: Sequence[str],
    *,
    folds: int = FOLDS,
    default: str = "default",
) -> tuple[Paired, list[str]]:
    """Run :func:`choose` on ``folds - 1`` folds, score its pick on the held-out fold; the
    out-of-fold scores against the default's (paired), and each fold's pick."""
    order = list(queries)
    np.random.default_rng(SEED).shuffle(order)
    parts = [order[i::folds] for i in range(min(folds, len(order)))]
    diff: list[float] = []
    picks = []
    for i, held_out in enumerate(parts):
        train = [q for j, part in enumerate(parts) if j != i for q in part]
        pick = choose(scores, train, default)
        picks.append(pick)
        diff += [scores[pick][q] - scores[default][q] for q in held_out]
    return paired_diff(np.asarray(diff)), picks


def calibrate_scores(
    funnels: Mapping[str, Funnel],
    scores: Mapping[str, Mapping[str, float]],
    *,
    folds: int = FOLDS,
) -> Calibration:
    """Calibration from each candidate's per-query nDCG (``scores[name][query]``);
    ``funnels`` are the candidates by name (:func:`candidates`), ``"default"`` among them."""
    queries = sorted(set.intersection(*(set(scores[name]) for name in funnels)))
    if len(queries) < 2 * folds:
        raise InvalidInputError(
            f"Calibration needs at least {2 * folds} judged queries; got {len(queries)}. "
            "Judge more queries, or keep the default funnel."
        )
    scores = {name: scores[name] for name in funnels}
    out_of_fold, picks = cross_validate(scores, queries, folds=folds)
    means = {name: float(np.mean([scores[name][q] for q in queries])) for name in funnels}
    best = max(means, key=lambda name: (means[name], name == "default"))
    best_gain = paired({q: scores[best][q] for q in queries}, scores["default"])
    pick = best if best_gain.low > 0 else "default"  # choose()'s rule, its bootstrap reused
    adopt = pick != "default" and out_of_fold.low > 0
    chosen_name = pick if adopt else "default"
    verdict = "adopt" if adopt else "keep the default"
    in_sample = (
        f"the best candidate in sample, '{best}', gains {best_gain.interval()} "
        f"(better on {best_gain.better}, worse on {best_gain.worse})"
    )
    if adopt:
        why = f"'{pick}' beats the default out of fold: {out_of_fold.interval()}; {in_sample}"
    elif best == "default":
        why = "no candidate scores above the default on these queries"
    else:
        why = (
            f"cannot tell -- {in_sample}, inside the noise of these queries; the rule's "
            f"out-of-fold gain {out_of_fold.interval()}"
        )
    text = (
        f"Calibration over {len(queries)} judged queries, {len(picks)} folds: "
        f"{verdict} ({why}; mean nDCG@10 differences with 95 % paired bootstrap intervals)."
    )
    return Calibration(
        base=funnels["default"],
        chosen=funnels[chosen_name],
        chosen_name=chosen_name,
        verdict=verdict,
        means=means,
        best_in_sample=best,
        best_gain=best_gain,
        out_of_fold=out_of_fold,
        picks=picks,
        text=text,
    )


def calibrate(
    index: BaseIndex,
    dataset: Dataset,
    base: Funnel = DEFAULT,
    *,
    reranker: Reranker | None = None,
    show_progress: bool = True,
) -> tuple[Calibration, Report]:
    """Evaluate every candidate around ``base`` on ``dataset`` once, then calibrate.

    The reranker scores each (query, candidate) pair once; the candidates re-rank those
    scores. Returns the calibration and the evaluation it was read from.
    """
    from shortlist.evaluation.report import evaluate
    from shortlist.rerank import as_reranker

    if base.reranker is None and reranker is None:
        raise InvalidInputError("Calibration chooses how to rerank: the funnel needs a reranker.")
    model = reranker if reranker is not None else as_reranker(base.reranker)  # type: ignore[arg-type]
    funnels = candidates(base)
    resolved = {name: f.replace(fusion=_resolved(f.fusion, model)) for name, f in funnels.items()}
    modes = list(dict.fromkeys(f.stage1_spec for f in funnels.values()))
    fusions = [f for f in dict.fromkeys(r.fusion for r in resolved.values()) if f != "none"]
    label = "reranker"
    report = evaluate(
        index,
        dataset,
        n_values=(base.fetch_k,),
        m=min(10, base.fetch_k),
        rerankers=[(label, model)],
        fusion=fusions,
        modes=modes,
        show_progress=show_progress,
    )
    scores = candidate_scores_for(report, resolved, label)
    return calibrate_scores(funnels, scores), report


def _resolved(fusion: str, model: Reranker) -> str:
    chosen = resolve_fusion(fusion, model)
    return "none" if chosen is None else str(chosen)


def candidate_scores_for(
    report: Report, funnels: Mapping[str, Funnel], label: str
) -> dict[str, dict[str, float]]:
    """Each candidate funnel's per-query nDCG, read off the evaluation grid's rows."""
    out: dict[str, dict[str, float]] = {}
    for name, funnel in funnels.items():
        mode = funnel.stage1_spec
        if funnel.reranker is None:
            system = f"stage 1 ({mode})"
        elif funnel.fusion == "none":
            system = f"{label} ({mode})"
        else:
            system = f"{label} + {funnel.fusion} ({mode})"
        bare = system.rsplit(" (", 1)[0]  # a one-mode grid names rows without the mode
        row = next((r for r in report.rows if r.system in (system, bare)), None)
        if row is None:
            raise InvalidInputError(f"The calibration grid lacks the row {system!r}.")
        out[name] = dict(row.per_query_ndcg)
    return out
