"""Which model built an index, recorded portably, and the check that queries use the same.

An index records its encoder by what identifies the model, never by where its files
happened to be: the model's name (the hub id when known, see
:func:`shortlist.models.model_name`) and a fingerprint of its files. A copied index folder
therefore loads on another machine or virtualenv, where the same model resolves to a
different folder (an offline package, ``SHORTLIST_MODEL_DIR``, the Hugging Face cache).

The folder the model was loaded from is kept only as ``source_hint``: when it still exists
*and* holds files with the recorded fingerprint, loading uses it (the exact weights, no
resolution needed); otherwise loading resolves the name and never looks at the hint.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from shortlist.encoders.base import Encoder
from shortlist.errors import EncoderMismatchError, ModelNotFoundError
from shortlist.models import fingerprint

log = logging.getLogger(__name__)


def describe(encoder: Encoder) -> dict[str, Any]:
    """The manifest entry for ``encoder``: name, dim, fingerprint and a source hint."""
    source = getattr(encoder, "source", None)
    hint = str(source) if source and Path(str(source)).is_dir() else None
    record = {
        "name": encoder.name,
        "dim": int(encoder.dim),
        "fingerprint": getattr(encoder, "fingerprint", None),
        "source_hint": hint,
    }
    if getattr(encoder, "format", None) == "onnx":  # an export: how to reload it, and from what
        record["format"] = "onnx"
        record["exported_from"] = getattr(encoder, "exported_from", None)
    return record


def encoder_for(
    stored: dict[str, Any], where: Path, given: Encoder | str | os.PathLike[str] | None
) -> Encoder:
    """The query encoder for an index built with ``stored``; ``given`` overrides the model.

    Raises :class:`EncoderMismatchError` when ``given`` is another model, and
    :class:`ModelNotFoundError` (saying how to pass one) when the recorded model cannot be
    found here.
    """
    from shortlist.encoders import load_encoder

    if given is not None:
        encoder = load_encoder(given)
    else:
        hint = stored.get("source_hint") or stored.get("source")  # "source": format 1 before 0.2
        wanted = stored.get("fingerprint")
        if hint and wanted and Path(hint).is_dir() and fingerprint(hint) == wanted:
            encoder = load_encoder(f"onnx:{hint}" if stored.get("format") == "onnx" else hint)
        else:
            try:
                encoder = load_encoder(stored["name"])
            except ModelNotFoundError as exc:
                raise ModelNotFoundError(
                    f"{where} was built with encoder {stored['name']!r}, which is not "
                    f"available here: {exc} Or pass the same model explicitly: "
                    "Index.load(dir, encoder=...) / `shortlist search --embedder ...`."
                ) from exc
    check_same_model(stored, encoder, where)
    return encoder


def check_same_model(stored: dict[str, Any], encoder: Encoder, where: Path) -> None:
    """Same model means same dim and the same name or the same files (fingerprint).

    An ONNX export counts as the files it was exported from, either way round: an index
    built with the torch model takes queries from its export, and the reverse. A name
    match with different files is accepted (the same model stored differently, e.g.
    float16 and float32 copies of one checkpoint) and logged.
    """
    name, dim = stored["name"], int(stored["dim"])
    theirs = {stored.get("fingerprint"), stored.get("exported_from")} - {None}
    ours = {getattr(encoder, "fingerprint", None), getattr(encoder, "exported_from", None)}
    ours -= {None}
    same_files = bool(theirs & ours)
    if int(encoder.dim) == dim and (encoder.name == name or same_files):
        if theirs and ours and not same_files:
            log.info(
                "%s: query encoder %r has other files than the one that built the index "
                "(same name, so accepted; vectors may differ slightly).",
                where,
                name,
            )
        return
    raise EncoderMismatchError(
        f"{where} was built with encoder {name!r} (dim {dim}), but the query encoder is "
        f"{encoder.name!r} (dim {encoder.dim}). Queries must be embedded by the same model: "
        "pass encoder=None to use the index's own model, or rebuild the index."
    )
