"""A limit on the memory a construction may use, checked *before* anything is sampled.

Every construction samples its random network through :func:`lottolib.sample_weights`, which
calls :func:`check_memory` first: if the estimated peak memory of the whole construction
(sampling, masks, per-weight errors, chunked search) exceeds the limit, it raises
:class:`MemoryLimitError` with the estimate, the limit and what to change, and allocates nothing.

The estimate is :data:`BYTES_PER_PARAMETER` bytes per random parameter plus
:data:`OVERHEAD_BYTES`, calibrated from measured peaks (the tests check it stays above them).

Introduced in chapter 5, *Deep networks*.
"""

from __future__ import annotations

import decimal
import re

__all__ = [
    "BYTES_PER_PARAMETER",
    "DEFAULT_MEMORY_LIMIT",
    "LARGER_EPS",
    "OVERHEAD_BYTES",
    "RAISE_LIMIT",
    "SMALLER_K",
    "MemoryLimitError",
    "check_memory",
    "estimated_peak_bytes",
    "format_bytes",
    "format_count",
    "format_widths",
    "memory_limit",
    "set_memory_limit",
]

BYTES_PER_PARAMETER = 16
"""Peak bytes per random parameter, for the float32 weight (4), its two masks' share and the index and error
tensors of the pruning step, with room to spare (measured: 6–12)."""

OVERHEAD_BYTES = 512 * 2**20
"""Peak bytes independent of the network's size, for the chunked search (at most 2²² float64 values per
tensor, a few tensors at once) and the allocator's slack."""

DEFAULT_MEMORY_LIMIT = 8 * 2**30
"""The default limit on a construction's estimated peak memory, 8 GiB."""

_limit = DEFAULT_MEMORY_LIMIT


class MemoryLimitError(ValueError):
    """A construction would exceed the memory limit; raised before anything is allocated."""


RAISE_LIMIT = "raise the limit with lottolib.set_memory_limit('16GiB') if the machine has the memory"
"""The end of every memory message."""

SMALLER_K = f"Use a smaller k (or method='subset_sum', which needs far fewer units), or {RAISE_LIMIT}"
"""What to change when a random network is too large."""

LARGER_EPS = "Use a larger eps, or k='search' (the smallest k whose certificate meets eps for this seed)"
"""What to change when the proved width (k='proved') is too large."""


def format_count(count: int) -> str:
    """``count`` to three significant digits, e.g. ``'4.8e+03'``, ``'1.23e+601'`` (past the float range too)."""
    return f"{count:.3g}" if count < 10**300 else f"{decimal.Decimal(count):.3g}"


def format_widths(widths: list[int]) -> str:
    """A list of widths k for a message: ``'[3, 4]'``, or ``'[1.23e+601, 4.56e+601]'`` for astronomical ones."""
    return "[" + ", ".join(str(k) if k < 10**15 else format_count(k) for k in widths) + "]"


def format_bytes(count: float) -> str:
    """``count`` bytes in the largest binary unit that keeps the number ≥ 1, e.g. ``'8.0 GiB'``."""
    if count >= 1024**6:
        return f"{format_count(int(count) // 1024**5)} PiB"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(count) < 1024 or unit == "PiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError("unreachable")


def _parse(limit: int | str) -> int:
    if isinstance(limit, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", limit, flags=re.IGNORECASE)
        if not match:
            raise ValueError(f"memory limit {limit!r} is not a size; write e.g. '16GiB' or 17179869184")
        return int(float(match[1]) * 1024 ** "BKMGT".index((match[2] or "B").upper()))
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"memory limit must be a positive number of bytes, got {limit!r}")
    return limit


def set_memory_limit(limit: int | str) -> int:
    """Set the limit on a construction's estimated peak memory.

    Parameters
    ----------
    limit
        Bytes, or a string such as ``'16GiB'`` or ``'512MiB'``.

    Returns
    -------
    int
        The previous limit in bytes, so a caller can restore it.

    Raises
    ------
    ValueError
        For a limit that is not a positive size.
    """
    global _limit
    previous, _limit = _limit, _parse(limit)
    return previous


def memory_limit() -> int:
    """The current limit on a construction's estimated peak memory.

    Returns
    -------
    int
        Bytes (default :data:`~lottolib.memory.DEFAULT_MEMORY_LIMIT`).
    """
    return _limit


def estimated_peak_bytes(parameters: int, bytes_per_value: int = BYTES_PER_PARAMETER) -> int:
    """An upper estimate of the peak memory of a construction whose random network has ``parameters`` weights
    (or of any computation holding ``parameters`` values at ``bytes_per_value`` bytes each, all copies counted)."""
    return bytes_per_value * parameters + OVERHEAD_BYTES


def check_memory(parameters: int, what: str, *, noun: str = "random weights",
                 bytes_per_value: int = BYTES_PER_PARAMETER, advice: str = SMALLER_K) -> None:
    """Raise :class:`MemoryLimitError` if a construction with ``parameters`` random weights would exceed the limit.

    ``what`` names the random network in the message (e.g. "a random block for a 2000x2000 target
    with k = 3000 units per input"). Other computations pass what they count (``noun``), the bytes per
    counted value and the ``advice`` that ends the message.
    """
    estimate = estimated_peak_bytes(parameters, bytes_per_value)
    if estimate > _limit:
        raise MemoryLimitError(f"{what} has {format_count(parameters)} {noun}: an estimated peak of "
                               f"{format_bytes(estimate)}, above the limit of {format_bytes(_limit)}. {advice}")
