"""A sentence-transformers bi-encoder as a shortlist :class:`~shortlist.encoders.Encoder`.

Documents are encoded in one global length-sorted order (as sentence-transformers does
inside one ``encode`` call) but fed batch by batch, so a progress bar can show real
progress without giving up the padding savings of sorting.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from shortlist._optional import require
from shortlist.encoders.base import EncoderBase, check_texts, l2_normalize, progress
from shortlist.errors import ModelNotFoundError
from shortlist.models import canonical_id, fingerprint, how_to_get, model_name, resolve_model


class SentenceTransformerEncoder(EncoderBase):
    """Bi-encoder over ``sentence_transformers.SentenceTransformer``.

    Args:
        model: hub id (``sentence-transformers/all-MiniLM-L6-v2``) or local directory.
            Resolved offline first; see :func:`shortlist.models.resolve_model`.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; ``None`` lets torch pick.
        normalize: L2-normalise vectors so inner product is cosine (default, recommended).
        query_prompt / document_prompt: prefixes for e5/bge-style models
            (e.g. ``"query: "`` / ``"passage: "``).
        max_seq_length: override the model's token limit (longer text is truncated).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "sentence-transformers/all-MiniLM-L6-v2",
        *,
        device: str | None = None,
        normalize: bool = True,
        query_prompt: str = "",
        document_prompt: str = "",
        max_seq_length: int | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        st = require("sentence_transformers", feature="The sentence-transformers encoder")
        location = resolve_model(model, "sentence-transformers")
        try:
            self._model: Any = st.SentenceTransformer(
                location, device=device, trust_remote_code=trust_remote_code
            )
        except OSError as exc:  # hub unreachable / unknown repo: say what to do instead
            hub_id = canonical_id(os.fspath(model))
            raise ModelNotFoundError(
                f"Could not load bi-encoder {os.fspath(model)!r} ({exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}). To fix: "
                f"{how_to_get(hub_id, 'sentence-transformers')}."
            ) from exc
        self.source = location
        """Where the weights were loaded from (a local folder, or the hub id)."""
        self.fingerprint = fingerprint(location)
        """sha256 of the model folder's files: identifies the weights wherever they live."""
        if max_seq_length is not None:
            self._model.max_seq_length = max_seq_length
        self._name = model_name(model, location, "sentence-transformers")
        dim = (
            self._model.get_embedding_dimension()
            if hasattr(self._model, "get_embedding_dimension")
            else self._model.get_sentence_embedding_dimension()
        )
        self._dim = int(dim)
        self.normalize = normalize
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt

    @property
    def max_seq_length(self) -> int:
        """Tokens per text the model reads; the rest is truncated."""
        return int(self._model.max_seq_length)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        """Embed documents in length-sorted batches, with an optional tqdm progress bar."""
        items = [self.document_prompt + t for t in check_texts(texts)]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in items], kind="stable")
        out = np.empty((len(items), self.dim), dtype=np.float32)
        bar = progress(len(items), show_progress)
        try:
            for start in range(0, len(items), batch_size):
                idx = order[start : start + batch_size]
                out[idx] = self._encode([items[i] for i in idx], batch_size)
                if bar is not None:
                    bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()
        return l2_normalize(out) if self.normalize else out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (with the query prompt, if any)."""
        items = [self.query_prompt + t for t in check_texts(texts)]
        vecs = self._encode(items, 32)
        return l2_normalize(vecs) if self.normalize else vecs

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vecs = self._model.encode(
            texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self._name!r}, dim={self._dim})"
