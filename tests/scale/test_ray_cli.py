"""``shortlist index --ray local``: the command line's way to a Ray Data build."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_index_on_ray_then_search(cranfield_path, bi_encoder_path, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import ray

    from shortlist.cli import main

    rows = [json.loads(line) for line in (cranfield_path / "corpus.jsonl").open()][:120]
    corpus = tmp_path / "corpus.jsonl"  # short texts: the time goes to Ray, not to embedding
    corpus.write_text(
        "".join(json.dumps({**r, "text": " ".join(r["text"].split()[:20])}) + "\n" for r in rows),
        encoding="utf-8",
    )
    if ray.is_initialized():
        ray.shutdown()
    out = tmp_path / "idx"
    code = main(["index", str(corpus), "--out", str(out), "--embedder", str(bi_encoder_path),
                 "--shards", "2", "--ray", "local", "-q"])  # fmt: skip
    assert code == 0 and not ray.is_initialized()
    assert "Indexed 120 documents on Ray into 2 shards" in capsys.readouterr().out
    assert main(["search", str(out), "wing flutter", "--json", "-q"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 10
