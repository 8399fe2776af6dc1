"""shortlist: retrieve with a FAISS bi-encoder index, rerank with a cross-encoder or Cohere.

``import shortlist`` is cheap: heavy modules (torch, faiss, onnxruntime, cohere) and the
framework adapters load only when first used. Public names resolve lazily below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shortlist._lazy import lazy_names
from shortlist._version import __version__
from shortlist.documents import (
    BM25_SCORE_KEY,
    DENSE_SCORE_KEY,
    FUSED_SCORE_KEY,
    RELEVANCE_SCORE_KEY,
    RETRIEVAL_RANK_KEY,
    RETRIEVAL_SCORE_KEY,
    SCORED_BY_KEY,
    Document,
    Hit,
)
from shortlist.errors import (
    AuthenticationError,
    EncoderMismatchError,
    ExportParityError,
    IndexFormatError,
    IndexWriteError,
    InvalidInputError,
    MissingDependencyError,
    ModelNotFoundError,
    RateLimitError,
    RerankerAPIError,
    RerankerRequestError,
    RerankerTimeoutError,
    ShortlistError,
    TrainingDataError,
    UnknownBackendError,
    UnsafeModelError,
)

if TYPE_CHECKING:
    from shortlist.encoders import Encoder, SentenceTransformerEncoder, load_encoder
    from shortlist.evaluation import Dataset, evaluate, load_beir
    from shortlist.funnel import Funnel
    from shortlist.index import Bm25, Index
    from shortlist.loaders import load_documents
    from shortlist.pipeline import Pipeline
    from shortlist.rerank import Reranker, RerankResult, load_reranker
    from shortlist.rerank.fusion import Fusion

_LAZY = {
    "Index": "shortlist.index",
    "Bm25": "shortlist.index",
    "Encoder": "shortlist.encoders",
    "SentenceTransformerEncoder": "shortlist.encoders",
    "load_encoder": "shortlist.encoders",
    "load_documents": "shortlist.loaders",
    "Reranker": "shortlist.rerank",
    "RerankResult": "shortlist.rerank",
    "load_reranker": "shortlist.rerank",
    "Fusion": "shortlist.rerank.fusion",
    "Pipeline": "shortlist.pipeline",
    "Funnel": "shortlist.funnel",
    "Dataset": "shortlist.evaluation",
    "evaluate": "shortlist.evaluation",
    "load_beir": "shortlist.evaluation",
}

__all__ = [
    "BM25_SCORE_KEY",
    "DENSE_SCORE_KEY",
    "FUSED_SCORE_KEY",
    "RELEVANCE_SCORE_KEY",
    "RETRIEVAL_RANK_KEY",
    "RETRIEVAL_SCORE_KEY",
    "SCORED_BY_KEY",
    "AuthenticationError",
    "Bm25",
    "Dataset",
    "Document",
    "Encoder",
    "EncoderMismatchError",
    "ExportParityError",
    "Funnel",
    "Fusion",
    "Hit",
    "Index",
    "IndexFormatError",
    "IndexWriteError",
    "InvalidInputError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "Pipeline",
    "RateLimitError",
    "RerankResult",
    "Reranker",
    "RerankerAPIError",
    "RerankerRequestError",
    "RerankerTimeoutError",
    "SentenceTransformerEncoder",
    "ShortlistError",
    "TrainingDataError",
    "UnknownBackendError",
    "UnsafeModelError",
    "__version__",
    "evaluate",
    "load_beir",
    "load_documents",
    "load_encoder",
    "load_reranker",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
