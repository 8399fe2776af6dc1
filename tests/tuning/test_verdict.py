"""The tuning verdict: a tuned reranker wins only if it is better fused, as the funnel runs
it, *and* not worse on its own (a broken reranker can tie the base fused, by noise)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from shortlist import defaults
from shortlist.tuning.split import Split
from shortlist.tuning.train import TrainResult, TrainSettings
from shortlist.tuning.tune import _decide


def _report(base: float, tuned: float, base_alone: float, tuned_alone: float) -> SimpleNamespace:
    fused = defaults.FUSION
    rows = [
        SimpleNamespace(system="stage 1", ndcg=0.44, reranker=None, fusion=None),
        SimpleNamespace(system="base", ndcg=base_alone, reranker="base", fusion=None),
        SimpleNamespace(system="tuned", ndcg=tuned_alone, reranker="tuned", fusion=None),
        SimpleNamespace(system=f"base + {fused}", ndcg=base, reranker="base", fusion=fused),
        SimpleNamespace(system=f"tuned + {fused}", ndcg=tuned, reranker="tuned", fusion=fused),
    ]
    return SimpleNamespace(rows=rows, queries=45)


@pytest.mark.parametrize(
    ("scores", "wins"),
    [
        ((0.4448, 0.4451, 0.4475, 0.2128), False),  # Cranfield, measured: broken, tied fused
        ((0.4448, 0.4600, 0.4475, 0.4700), True),  # better fused and alone
        ((0.4448, 0.4400, 0.4475, 0.4700), False),  # better alone, worse as the funnel runs
    ],
)
def test_tuned_wins_only_when_better_fused_and_not_worse_alone(
    scores: tuple[float, float, float, float], wins: bool, tmp_path: Path
) -> None:
    split = Split(("a",), ("b",), ("c",), (0.6, 0.2, 0.2), 0)
    result = _decide(
        _report(*scores),
        tmp_path,
        "BASE",
        split,
        TrainResult(0.46),
        100,
        TrainSettings(),  # type: ignore[arg-type]
    )
    assert result.tuned_wins is wins
    assert result.use == (str(tmp_path) if wins else "BASE")
    assert result.held_out["tuned_alone"] == scores[3]
    if scores[3] < scores[2]:
        assert "tuning made the reranker worse" in result.verdict
