"""Corpus loading: an empty corpus is an error that says so, never an empty index."""

from __future__ import annotations

from pathlib import Path

import pytest

from shortlist import InvalidInputError
from shortlist.loaders import load_documents


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_empty_jsonl_says_it_holds_no_documents(tmp_path: Path, content: str) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(content)
    for given in (corpus, tmp_path):  # the file, or the BEIR folder holding it
        with pytest.raises(InvalidInputError, match="holds no documents"):
            load_documents(given)


def test_folder_without_text_files_says_it_holds_no_documents(tmp_path: Path) -> None:
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    with pytest.raises(InvalidInputError, match=r"holds no documents: no \.txt/\.md"):
        load_documents(tmp_path)


def test_empty_documents_inside_a_corpus_are_kept(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "a", "text": ""}\n{"_id": "b", "text": "wings"}\n')
    assert [d.id for d in load_documents(corpus)] == ["a", "b"]


def test_an_integer_id_zero_is_an_id(tmp_path: Path) -> None:
    """`"_id": 0` used to be refused as "needs '_id'" (a falsy check)."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": 0, "text": "zero"}\n{"id": 7, "text": "seven"}\n')
    assert [d.id for d in load_documents(corpus)] == ["0", "7"]


@pytest.mark.parametrize("bad", ['""', "true", "1.5", "[1]", "null"])
def test_an_id_that_is_not_a_string_or_integer_is_refused(tmp_path: Path, bad: str) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(f'{{"_id": {bad}, "text": "x"}}\n')
    with pytest.raises(InvalidInputError, match=r"corpus.jsonl:1: .*'_id'"):
        load_documents(corpus)
