"""tools/arithmetic.py and tools/portable.py: the CPU arithmetic variants and the fragile-output finder."""

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import arithmetic  # noqa: E402
import portable  # noqa: E402


def test_plan_lists_every_variant_with_its_environment():
    rows = arithmetic.plan()
    assert [row[0] for row in rows] == list(arithmetic.VARIANTS)
    for name, description, env, reason in rows:
        assert env["OPENBLAS_CORETYPE"] and "NPY_DISABLE_CPU_FEATURES" in env
        assert reason is None or isinstance(reason, str)


def test_plan_skips_every_variant_off_x86_with_a_reason(monkeypatch):
    monkeypatch.setattr(arithmetic.platform, "machine", lambda: "aarch64")
    reasons = [row[3] for row in arithmetic.plan()]
    assert all(reason and "aarch64" in reason for reason in reasons)


def test_plan_skips_a_variant_the_cpu_lacks(monkeypatch):
    monkeypatch.setattr(arithmetic.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(arithmetic, "cpu_features", lambda: {"SSE42": True, "AVX": False})
    reasons = dict((row[0], row[3]) for row in arithmetic.plan())
    assert "lacks AVX" in reasons["avx-nofma"]
    assert "lacks AVX2, FMA3" in reasons["avx2-fma"]


def test_plan_rejects_unknown_variants():
    with pytest.raises(ValueError, match="unknown arithmetic variant"):
        arithmetic.plan(["avx1024"])


def test_environment_keeps_one_blas_thread_and_sets_the_variant(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    env = arithmetic.environment({"OPENBLAS_CORETYPE": "Nehalem"})
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["OPENBLAS_CORETYPE"] == "Nehalem"


def cell(outputs, tags=()):
    return nbformat.v4.new_code_cell("x", outputs=[nbformat.from_dict(o) for o in outputs],
                                     metadata={"tags": list(tags)})


def test_comparable_text_joins_streams_sanitizes_and_skips_images():
    sanitize = portable.sanitizer()
    a = cell([{"output_type": "stream", "name": "stdout", "text": "loss 0.1\n"},
              {"output_type": "stream", "name": "stdout", "text": "took 1.5 s\n"},
              {"output_type": "display_data", "metadata": {}, "data": {"image/png": "AAAA", "text/plain": "<Figure>"}}])
    b = cell([{"output_type": "stream", "name": "stdout", "text": "loss 0.1\ntook 2.5 s\n"},
              {"output_type": "display_data", "metadata": {}, "data": {"image/png": "BBBB", "text/plain": "<Figure>"}}])
    assert portable.comparable(a, sanitize) == portable.comparable(b, sanitize)
    c = cell([{"output_type": "stream", "name": "stdout", "text": "loss 0.2\ntook 2.5 s\n"}])
    assert portable.comparable(a, sanitize) != portable.comparable(c, sanitize)


def test_cells_tagged_to_ignore_their_output_are_not_compared():
    assert portable.comparable(cell([], tags=["nbval-ignore-output"]), portable.sanitizer()) is None


def test_side_by_side_shows_only_the_differing_lines():
    lines = portable.side_by_side({"native": ["a", "b 1.0", "c"], "sse-nofma": ["a", "b 1.1", "c"]})
    assert any("b 1.0" in line for line in lines) and any("b 1.1" in line for line in lines)
    assert not any(line.endswith("| a") for line in lines)
