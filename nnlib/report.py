"""Printing numbers that hold on every CPU.

A printed line in a chapter is a claim that strict nbval re-checks, under several CPU
arithmetics (other BLAS kernels, SIMD widths, with and without FMA).  Results of long
non-convex runs and quantities at round-off level differ in their last digits from one
arithmetic to the next, so they are printed with the digits that are stable, or as a
verdict against a stated bound.  These helpers do that in one place.
"""

import math

from ._validation import check_positive_int

__all__ = ["significant", "at_most", "below_or_value"]


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
