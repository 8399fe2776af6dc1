"""An index names its encoder portably: by hub id and a fingerprint of the model's files.

The bug this guards: an index built with the default embedder (a hub id that resolves
offline to an installed package's ``.../model`` folder) could not be loaded, because the
load compared the *folder name* ``model`` with the recorded hub id. And the manifest
recorded an absolute site-packages path that meant nothing on another machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shortlist import EncoderMismatchError, Index, ModelNotFoundError
from shortlist.encoders import DEFAULT_EMBEDDER, SentenceTransformerEncoder
from shortlist.models import fingerprint

TEXTS = ["Swept wings delay shock waves.", "Sourdough rises with wild yeast.", "Jets burn fuel."]
HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def _load_and_search_in_a_new_process(index_dir: Path, cwd: Path) -> str:
    """Load the index in a fresh interpreter (another cwd, no test settings) and search."""
    code = (
        "import shortlist as sl, sys\n"
        "idx = sl.Index.load(sys.argv[1])\n"
        "print(idx.search('why are wings swept?', k=1)[0].id)\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(index_dir)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_default_embedder_index_loads_in_a_new_process(tmp_path: Path) -> None:
    """The README's main job: build with the default embedder, search from a new process."""
    index = Index.build(TEXTS, ids=["wings", "bread", "jets"])  # default: resolves offline
    assert index.encoder.name == HUB_ID == DEFAULT_EMBEDDER
    index.save(tmp_path / "idx")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _load_and_search_in_a_new_process(tmp_path / "idx", elsewhere) == "wings"
    assert Index.load(tmp_path / "idx").encoder.name == HUB_ID


def test_manifest_names_the_model_portably(tmp_path: Path, bi_encoder_path: Path) -> None:
    Index.build(TEXTS, bi_encoder_path).save(tmp_path / "idx")
    stored = json.loads((tmp_path / "idx" / "manifest.json").read_text())["encoder"]
    assert stored["name"] == HUB_ID  # the shared folder is named after the hub model
    assert stored["fingerprint"] == fingerprint(bi_encoder_path)
    assert stored["fingerprint"].startswith("sha256:") and len(stored["fingerprint"]) == 71
    assert set(stored) == {"name", "dim", "fingerprint", "source_hint"}


def test_a_copied_index_loads_where_the_build_folder_is_gone(
    tmp_path: Path, bi_encoder_path: Path
) -> None:
    """Another machine: the model folder it was built from does not exist there."""
    model = tmp_path / "models" / "all-MiniLM-L6-v2"
    shutil.copytree(bi_encoder_path, model)
    Index.build(TEXTS, model, ids=["wings", "bread", "jets"]).save(tmp_path / "idx")
    shutil.rmtree(tmp_path / "models")
    copied = shutil.copytree(tmp_path / "idx", tmp_path / "other-machine" / "idx")
    stored = json.loads((copied / "manifest.json").read_text())["encoder"]
    assert not Path(stored["source_hint"]).exists()
    # resolved by hub id (the [models] package here), never by the vanished path
    assert _load_and_search_in_a_new_process(copied, tmp_path / "other-machine") == "wings"


def test_a_renamed_model_folder_is_the_same_model_by_fingerprint(
    tmp_path: Path, bi_encoder_path: Path, bi_encoder
) -> None:
    renamed = shutil.copytree(bi_encoder_path, tmp_path / "my-embedder")
    index = Index.build(TEXTS, renamed)
    assert index.encoder.name == "my-embedder"
    index.save(tmp_path / "idx")
    assert Index.load(tmp_path / "idx", encoder=bi_encoder).encoder is bi_encoder
    shutil.rmtree(renamed)  # name no longer resolves, and no package is named my-embedder
    with pytest.raises(ModelNotFoundError, match=r"built with encoder 'my-embedder'.*--embedder"):
        Index.load(tmp_path / "idx")


def test_the_hint_is_used_only_when_its_files_match(tmp_path: Path, bi_encoder_path: Path) -> None:
    model = shutil.copytree(bi_encoder_path, tmp_path / "my-embedder")
    Index.build(TEXTS, model).save(tmp_path / "idx")
    assert Index.load(tmp_path / "idx").encoder.source == str(model)  # same machine: the hint
    (model / "config_sentence_transformers.json").write_text("{}")  # other files now
    with pytest.raises(ModelNotFoundError):  # not trusted; the name resolves nowhere
        Index.load(tmp_path / "idx")


def test_a_different_model_still_fails(tmp_path: Path, cross_encoder_path: Path) -> None:
    """Another real model of the same dimension (a MiniLM-L12 loaded as a bi-encoder)."""
    Index.build(TEXTS).save(tmp_path / "idx")
    other = SentenceTransformerEncoder(cross_encoder_path)
    assert other.dim == 384 and other.name != HUB_ID
    with pytest.raises(EncoderMismatchError, match=r"built with encoder 'sentence-transformers"):
        Index.load(tmp_path / "idx", encoder=other)


def test_cli_search_takes_an_embedder(
    tmp_path: Path,
    bi_encoder_path: Path,
    cross_encoder_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from shortlist.cli import main

    Index.build(TEXTS, bi_encoder_path, ids=["wings", "bread", "jets"]).save(tmp_path / "idx")
    args = ["search", str(tmp_path / "idx"), "why are wings swept?", "-n", "1", "--json"]
    assert main([*args, "--embedder", str(bi_encoder_path)]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)] == ["wings"]
    assert main([*args, "--embedder", str(cross_encoder_path)]) == 2
    assert "built with encoder 'sentence-transformers/all-MiniLM-L6-v2'" in capsys.readouterr().err
