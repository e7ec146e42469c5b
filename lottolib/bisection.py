"""The search for the smallest k that works: doubling to bracket it, then bisection.

Introduced in chapter 6, *How wide is wide enough*.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

__all__ = ["smallest_k"]

T = TypeVar("T")


def smallest_k(attempt: Callable[[int], T], works: Callable[[T], bool], *, precision: float = 0.02,
               ceiling: int | None = None) -> tuple[int, T]:
    """The smallest k on the doubling-then-bisection path with ``works(attempt(k))``, and that attempt.

    k = 1, 2, 4, … until an attempt works; then bisection between the last failure and the first
    success, until they are within ``precision`` of the success (or adjacent). Success is assumed
    monotone in k; where it is not, the k returned works and its half-way neighbours on the path
    did not. ``attempt`` may raise to stop the search (e.g. at a memory limit); the error propagates.
    With a ``ceiling``, k never exceeds it: the doubling stops at the ceiling, and if that attempt fails
    too, (ceiling, its attempt) is returned, which the caller recognises by ``works`` being False.
    """
    low, high = 0, 1  # low: the last k that failed (or 0)
    result = attempt(high)
    while not works(result):
        if ceiling is not None and high >= ceiling:
            return high, result
        low, high = high, 2 * high if ceiling is None else min(2 * high, ceiling)
        result = attempt(high)
    while high - low > max(1, math.ceil(precision * high)):
        middle = (low + high) // 2
        candidate = attempt(middle)
        if works(candidate):
            high, result = middle, candidate
        else:
            low = middle
    return high, result
