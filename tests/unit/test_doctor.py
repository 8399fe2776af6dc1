"""`shortlist doctor` tells a CPU-only user that a CUDA torch was installed, and how to fix it."""

from __future__ import annotations

import pytest

from shortlist import doctor
from shortlist.cli import main
from shortlist.doctor import TorchFacts, torch_facts, torch_problem


def test_cuda_build_without_a_gpu_is_a_problem_with_the_fix() -> None:
    problem = torch_problem(TorchFacts("2.5.1+cu124", "12.4", gpu=False))
    assert problem is not None
    assert "CUDA 12.4 build" in problem and "no CUDA GPU" in problem
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in problem


@pytest.mark.parametrize(
    "facts",
    [
        TorchFacts("2.5.1+cu124", "12.4", gpu=True),  # CUDA build with a GPU: as intended
        TorchFacts("2.13.0+cpu", None, gpu=False),  # CPU build
        TorchFacts(None, None, gpu=False),  # not installed: reported separately
    ],
)
def test_other_builds_are_fine(facts: TorchFacts) -> None:
    assert torch_problem(facts) is None


def test_doctor_on_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    """The real torch: a CPU build is reported as such, with no problem and exit 0."""
    facts = torch_facts()
    code = main(["doctor"])
    out, err = capsys.readouterr()
    assert f"torch {facts.version}" in out
    assert (code == 0) == (torch_problem(facts) is None)
    if facts.cuda is None:
        assert "CPU build" in out and code == 0 and err == ""


def test_doctor_exits_1_and_says_what_to_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "torch_facts", lambda: TorchFacts("2.5.1+cu124", "12.4", False))
    assert main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("shortlist: problem: torch 2.5.1+cu124 is a CUDA 12.4 build")
    assert "--index-url https://download.pytorch.org/whl/cpu" in err


def test_extras_are_read_from_the_package_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    requires = [
        "numpy>=1.24",
        'langchain-core>=0.3; extra == "langchain"',
        "no-such-dist-xyz>=1; extra == 'langchain'",
        "shortlist[langchain]; extra == 'dev'",
    ]
    monkeypatch.setattr(doctor.metadata, "requires", lambda name: requires)
    found = doctor.extras()
    assert set(found) == {"langchain"}
    assert found["langchain"]["no-such-dist-xyz"] is None
    assert found["langchain"]["langchain-core"] is not None
