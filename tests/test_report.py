"""nnlib.report: printed numbers that hold on every CPU."""

import math

import pytest

from nnlib.report import at_most, below_or_value, significant


@pytest.mark.parametrize(
    "value, digits, text",
    [(23456, 2, "23,000"), (730.4, 2, "730"), (0.0123456, 2, "0.012"), (0.0025, 2, "0.0025"),
     (7, 2, "7"), (1234567, 3, "1,230,000"), (0.0, 2, "0"), (-0.0456, 1, "-0.05"), (math.inf, 2, "inf")],
)
def test_significant(value, digits, text):
    assert significant(value, digits) == text


def test_significant_rejects_bad_digits():
    with pytest.raises(ValueError, match="digits"):
        significant(1.0, 0)


def test_at_most_prints_the_bound_or_the_broken_claim():
    assert at_most(0.0079, 0.01) == "≤ 0.01"
    assert at_most(0.01, 0.01) == "≤ 0.01"
    assert at_most(0.012, 0.01) == "0.012 (above the bound 0.01)"


def test_below_or_value():
    assert below_or_value(6.6e-11, 1e-8) == "below 1e-08"
    assert below_or_value(-3e-12, 1e-8) == "below 1e-08"
    assert below_or_value(1.1e-4, 1e-8) == "1e-04"
    assert below_or_value(1.1e-4, 1e-8, digits=2) == "1.1e-04"


def test_table_text_and_html_hold_the_same_cells():
    from nnlib.report import Table

    table = Table(["width", "error"], [[10, 0.12345], [100, 0.5]], formats=[None, ".2f"], caption="Errors")
    assert str(table).splitlines() == ["Errors", "width  error", "   10   0.12", "  100   0.50"]
    html = table._repr_html_()
    assert html.count("<tr>") == 3 and "<caption>Errors</caption>" in html and "<td>0.12</td>" in html


def test_table_rejects_rows_of_the_wrong_length():
    import pytest

    from nnlib.report import Table

    with pytest.raises(ValueError, match="row 1 has 1 entries; expected 2"):
        Table(["a", "b"], [[1, 2], [3]])
    with pytest.raises(ValueError, match="formats has 1 entries; expected one per column"):
        Table(["a", "b"], [], formats=[None])
