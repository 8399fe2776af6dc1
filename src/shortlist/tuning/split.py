"""Split judged queries into train / dev / test, by query and never by pair.

A query's judgments all land in one set, so the test set measures the tuned model on
questions it never saw -- splitting pairs would leak each test query's other documents
into training and flatter the result. The split is seeded and written next to the model,
so a run can be reproduced and audited.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from shortlist.errors import InvalidInputError

DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)


@dataclass(frozen=True)
class Split:
    """Query ids per set, plus how they were drawn."""

    train: tuple[str, ...]
    dev: tuple[str, ...]
    test: tuple[str, ...]
    fractions: tuple[float, float, float]
    seed: int

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Three positive fractions (train, dev, test) that sum to 1."""
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or any(not 0 < f < 1 for f in values) or abs(sum(values) - 1) > 1e-6:
        raise InvalidInputError(
            f"split fractions must be three numbers in (0, 1) for train, dev and test that "
            f"sum to 1, e.g. 0.6,0.2,0.2; got {list(fractions)}."
        )
    return values[0], values[1], values[2]


def split_queries(
    query_ids: Sequence[str], fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0
) -> Split:
    """Shuffle ``query_ids`` with ``seed`` and cut them by ``fractions``; each set gets >= 1."""
    train_f, dev_f, test_f = check_fractions(fractions)
    ids = sorted(dict.fromkeys(query_ids))  # input order must not change the split
    if len(ids) < 3:
        raise InvalidInputError(f"Need at least 3 queries to split, got {len(ids)}.")
    random.Random(seed).shuffle(ids)
    n_test = max(1, round(len(ids) * test_f))
    n_dev = max(1, round(len(ids) * dev_f))
    n_train = len(ids) - n_dev - n_test
    if n_train < 1:
        raise InvalidInputError(f"{len(ids)} queries leave none for training; judge more.")
    return Split(
        train=tuple(ids[:n_train]),
        dev=tuple(ids[n_train : n_train + n_dev]),
        test=tuple(ids[n_train + n_dev :]),
        fractions=(train_f, dev_f, test_f),
        seed=seed,
    )
