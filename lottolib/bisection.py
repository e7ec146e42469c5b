"""The search for the smallest k that works: doubling to bracket it, then bisection.

Introduced in chapter 6, *How wide is wide enough*.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

__all__ = ["smallest_k"]

T = TypeVar("T")


def smallest_k(attempt: Callable[[int], T], works: Callable[[T], bool], *, precision: float = 0.02) -> tuple[int, T]:
    """The smallest k on the doubling-then-bisection path with ``works(attempt(k))``, and that attempt.

    k = 1, 2, 4, … until an attempt works; then bisection between the last failure and the first
    success, until they are within ``precision`` of the success (or adjacent). Success is assumed
    monotone in k; where it is not, the k returned works and its half-way neighbours on the path
    did not. ``attempt`` may raise to stop the search (e.g. at a memory limit); the error propagates.
    """
    high = 1
    result = attempt(high)
    while not works(result):
        high *= 2
        result = attempt(high)
    low = high // 2  # fails (or 0)
    while high - low > max(1, math.ceil(precision * high)):
        middle = (low + high) // 2
        candidate = attempt(middle)
        if works(candidate):
            high, result = middle, candidate
        else:
            low = middle
    return high, result
