"""Printing numbers that hold on every CPU.

A printed line in a chapter is a claim that strict nbval re-checks, under several CPU
arithmetics (other BLAS kernels, SIMD widths, with and without FMA).  Results of long
non-convex runs and quantities at round-off level differ in their last digits from one
arithmetic to the next, so they are printed with the digits that are stable, or as a
verdict against a stated bound.  These helpers do that in one place.
"""

import math

from ._validation import check_positive_int

__all__ = ["significant", "at_most", "below_or_value", "Table"]


def significant(value, digits=2):
    """``value`` rounded to ``digits`` significant digits, with thousands separators.

    Examples: ``significant(23456) == "23,000"``, ``significant(0.0123456) == "0.012"``.

    Notes
    -----
    Use it for counts and losses that vary in their third digit between CPUs (work
    units of runs whose inner solvers stop on a tolerance, losses after many steps).
    Whether two digits are stable is measured with ``python3 tasks.py portable``.
    """
    digits = check_positive_int(digits, "digits")
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    rounded = float(f"{value:.{digits}g}")
    if rounded == 0 or abs(rounded) >= 10 ** (digits - 1):
        return f"{rounded:,.0f}"
    return f"{rounded:.{digits}g}"


def at_most(value, bound):
    """``"≤ bound"`` if ``value <= bound``, else the value itself and the bound it broke.

    A verdict with a margin for a number whose digits depend on the arithmetic: the
    printed text is the same on every CPU as long as the claim holds, and changes (so
    strict nbval fails) when it does not.
    """
    value, bound = float(value), float(bound)
    if value <= bound:
        return f"≤ {bound:g}"
    return f"{value:.2g} (above the bound {bound:g})"


def below_or_value(value, bound, digits=1):
    """``"below {bound}"`` for a value under ``bound`` (round-off level), else the value.

    For quantities that are either at round-off level, where only the bound is
    reproducible, or clearly above it, where ``digits`` significant digits are.
    """
    value, bound = float(value), float(bound)
    if abs(value) < bound:
        return f"below {bound:.0e}"
    return f"{value:.{max(digits - 1, 0)}e}"


class Table:
    """A table printed as one HTML table in the book and as aligned text in a terminal.

    Parameters
    ----------
    columns : sequence of str
        Column headers.
    rows : sequence of sequence
        One entry per column in each row; entries are shown with ``str`` unless
        ``formats`` says otherwise.
    formats : sequence of str or callable, optional
        Per column: a format spec (``"{:.3f}"``-style without braces, e.g. ``".3f"``,
        ``",d"``) or a function of the value returning a string; ``None`` keeps ``str``.
    caption : str, optional
        A line shown above the table.

    Notes
    -----
    A table printed row by row with ``print`` becomes many separate output boxes on the
    web page and is cut off on a phone.  Displayed as the last expression of a cell (or
    with ``IPython.display.display``), a ``Table`` is one output with two
    representations: ``text/html`` (a real ``<table>``, scrollable when wide) for the
    book and JupyterLab, and ``text/plain`` (aligned columns) for terminals.  Strict
    nbval compares both, so every number in it must be portable (see ``significant``).
    """

    def __init__(self, columns, rows, formats=None, caption=None):
        self.columns = [str(c) for c in columns]
        if formats is None:
            formats = [None] * len(self.columns)
        if len(formats) != len(self.columns):
            raise ValueError(f"formats has {len(formats)} entries; expected one per column ({len(self.columns)})")
        self.cells = []
        for i, row in enumerate(rows):
            row = list(row)
            if len(row) != len(self.columns):
                raise ValueError(f"row {i} has {len(row)} entries; expected {len(self.columns)} (one per column)")
            self.cells.append([_format_cell(value, fmt) for value, fmt in zip(row, formats)])
        self.caption = caption

    def __str__(self):
        widths = [max([len(c)] + [len(row[j]) for row in self.cells]) for j, c in enumerate(self.columns)]
        lines = [self.caption] if self.caption else []
        lines.append("  ".join(c.rjust(w) for c, w in zip(self.columns, widths)))
        lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in self.cells]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        from html import escape

        head = "".join(f"<th>{escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in self.cells)
        caption = f"<caption>{escape(self.caption)}</caption>" if self.caption else ""
        return (f'<div class="nnlib-table"><table>{caption}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>")


def _format_cell(value, fmt):
    if fmt is None:
        return str(value)
    if callable(fmt):
        return str(fmt(value))
    return format(value, fmt)
