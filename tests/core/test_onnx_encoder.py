"""The ONNX bi-encoder: sentence-transformers' vectors without torch, and accepted by
indexes built with the torch model it was exported from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from shortlist.encoders import check_encoder, export_encoder, load_encoder
from shortlist.errors import EncoderMismatchError, InvalidInputError, ModelNotFoundError
from shortlist.index import Index, load_index

QUERIES = [
    "what similarity laws must be obeyed when constructing aeroelastic models",
    "boundary layer transition on a flat plate at high mach number",
    "heat transfer to a blunt body in hypersonic flow",
    "buckling of thin cylindrical shells under axial compression",
    "how do propeller slipstreams affect wing lift",
    "panel flutter in supersonic flow",
]


def _texts(docs: list) -> list[str]:  # type: ignore[type-arg]
    return [d.text for d in docs[:96]]


def test_float_export_gives_sentence_transformers_vectors(
    encoder_exports: dict[str, Path], bi_encoder, cranfield_docs
) -> None:  # type: ignore[no-untyped-def]
    onnx = load_encoder(f"onnx:{encoder_exports['float32']}")
    texts = _texts(cranfield_docs)
    # same pooling and normalisation: float32 round-off only (measured max 1.5e-7)
    np.testing.assert_allclose(
        onnx.encode_documents(texts), bi_encoder.encode_documents(texts), atol=2e-6
    )
    np.testing.assert_allclose(
        onnx.encode_queries(QUERIES), bi_encoder.encode_queries(QUERIES), atol=2e-6
    )
    assert onnx.name == bi_encoder.name and onnx.dim == bi_encoder.dim == 384


def test_int8_export_stays_close(
    encoder_exports: dict[str, Path], bi_encoder, cranfield_docs
) -> None:  # type: ignore[no-untyped-def]
    onnx = load_encoder(f"onnx:{encoder_exports['int8']}")
    texts = _texts(cranfield_docs)
    cosines = (onnx.encode_documents(texts) * bi_encoder.encode_documents(texts)).sum(axis=1)
    # measured: min cosine 0.989 over these documents; bar 0.98
    assert cosines.min() > 0.98
    norms = np.linalg.norm(onnx.encode_queries(QUERIES), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_torch_built_index_answers_onnx_queries(
    encoder_exports: dict[str, Path], cranfield_index, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The float32 export answers exactly as torch; the int8 export within what its query
    vectors' distance from torch's allows, which holds on every CPU kind.

    int8 kernels round differently on AVX-512 VNNI and AVX2-only CPUs, so no exact int8
    ranking is pinned. What holds by construction: documents are unit vectors, so moving
    the query by ``delta = |q_int8 - q_torch|`` moves every dense score by at most
    ``delta``; the int8 top 10 therefore holds only documents whose torch score is within
    ``2 * delta`` of torch's 10th (and its top hit within ``2 * delta`` of torch's top).
    """
    folder = cranfield_index.save(tmp_path / "index")
    exact = load_index(folder, encoder=f"onnx:{encoder_exports['float32']}")
    quantized = load_index(folder, encoder=f"onnx:{encoder_exports['int8']}")
    int8_vectors = quantized.encoder.encode_queries(QUERIES)
    torch_vectors = cranfield_index.encoder.encode_queries(QUERIES)
    # measured min cosine 0.9916 (AVX-512 VNNI) and 0.989 on documents (AVX2); bar 0.98
    assert (int8_vectors * torch_vectors).sum(axis=1).min() > 0.98
    deltas = np.linalg.norm(int8_vectors - torch_vectors, axis=1)
    overlaps: dict[str, list[float]] = {"dense": [], "hybrid": []}
    for query, delta in zip(QUERIES, deltas, strict=True):
        torch_hits = cranfield_index.search(query, 10, mode="dense")
        float_hits = exact.search(query, 10, mode="dense")
        assert [h.id for h in float_hits] == [h.id for h in torch_hits]
        np.testing.assert_allclose(
            [h.score for h in float_hits], [h.score for h in torch_hits], atol=1e-5
        )
        int8_hits = quantized.search(query, 10, mode="dense")
        torch_score = {
            h.id: h.score for h in cranfield_index.search(query, len(cranfield_index), mode="dense")
        }
        bound = 2 * float(delta) + 1e-6
        assert min(torch_score[h.id] for h in int8_hits) >= torch_hits[-1].score - bound
        assert torch_score[int8_hits[0].id] >= torch_hits[0].score - bound
        for mode in overlaps:
            ids_int8 = {h.id for h in quantized.search(query, 10, mode=mode)}
            ids_torch = {h.id for h in cranfield_index.search(query, 10, mode=mode)}
            overlaps[mode].append(len(ids_int8 & ids_torch) / 10)
    # mean top-10 overlap, int8 vs torch: measured 0.967 dense and hybrid on AVX-512 VNNI,
    # 0.95 dense on AVX2; bar 0.85
    assert np.mean(overlaps["dense"]) >= 0.85
    assert np.mean(overlaps["hybrid"]) >= 0.85


def test_index_built_with_the_export_reloads_it(
    encoder_exports: dict[str, Path], cranfield_docs, bi_encoder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    index = Index(f"onnx:{encoder_exports['float32']}")
    index.add(cranfield_docs[:50])
    manifest = json.loads((index.save(tmp_path / "ix") / "manifest.json").read_text())
    assert manifest["encoder"]["format"] == "onnx"
    assert manifest["encoder"]["exported_from"] == bi_encoder.fingerprint
    again = load_index(tmp_path / "ix")  # the recorded export, not the torch model
    assert type(again.encoder).__name__ == "OnnxEncoder"
    with_torch = load_index(tmp_path / "ix", encoder=bi_encoder)  # and the reverse works
    assert with_torch.search(QUERIES[0], 3)[0].id == again.search(QUERIES[0], 3)[0].id


def test_another_models_export_is_refused(
    encoder_exports: dict[str, Path], cranfield_index, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other"
    shutil.copytree(encoder_exports["int8"], other)
    meta = json.loads((other / "shortlist-encoder.json").read_text())
    meta.update(name="someone/else", exported_from="sha256:0")
    (other / "shortlist-encoder.json").write_text(json.dumps(meta))
    folder = cranfield_index.save(tmp_path / "index")
    with pytest.raises(EncoderMismatchError, match="someone/else"):
        load_index(folder, encoder=f"onnx:{other}")


def test_bad_folders_say_how_to_export(tmp_path: Path, bi_encoder_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="shortlist export-encoder"):
        check_encoder(f"onnx:{tmp_path}")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(InvalidInputError, match="not empty"):
        export_encoder(bi_encoder_path, tmp_path / "taken")
