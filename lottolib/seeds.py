"""Seeds: one rule for every random draw in the library.

A seed is a non-negative integer below 2⁶⁴ (any integral type: ``int``, ``numpy.int64``, an
integer tensor) or a ``torch.Generator``, which is used as it is and advanced by the draw.
Floats, strings and booleans are refused, and so are negative seeds (torch would silently map
−1 and 2⁶⁴ − 1 to the same stream).

Two streams that must not share random numbers (the random network and the points an adversary
starts from, say) come from :func:`derived`, which hashes (seed, label) with NumPy's
``SeedSequence``; a stream is never seed + 1, which is another seed's main stream.

Introduced in chapter 2, *One weight*.
"""

from __future__ import annotations

import operator

import numpy as np
import torch

__all__ = ["Seed", "check_seed", "derived", "generator"]

Seed = int | torch.Generator
"""A non-negative integer below 2⁶⁴, or a ``torch.Generator``."""

_LIMIT = 1 << 64


def check_seed(seed: object) -> int | torch.Generator:
    """Return ``seed`` as an ``int`` in [0, 2⁶⁴) or the ``torch.Generator`` itself.

    Raises
    ------
    TypeError
        If ``seed`` is a float, a string, a boolean or anything else that is not an integer.
    ValueError
        If the integer is negative or at least 2⁶⁴.
    """
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be a non-negative integer or a torch.Generator, got the boolean {seed!r}")
    try:
        value = operator.index(seed)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"seed must be a non-negative integer or a torch.Generator, got {seed!r} "
                        f"({type(seed).__name__}); pass e.g. seed=0") from None
    if not 0 <= value < _LIMIT:
        raise ValueError(f"seed must lie in [0, 2**64), got {value}; pass e.g. seed=0")
    return value


def generator(seed: object) -> torch.Generator:
    """The generator for ``seed``: ``torch.Generator().manual_seed(seed)`` for an integer, or ``seed`` itself."""
    checked = check_seed(seed)
    if isinstance(checked, torch.Generator):
        return checked
    return torch.Generator().manual_seed(checked)


def derived(seed: object, label: str) -> torch.Generator:
    """A generator for the stream named ``label`` of ``seed``, independent of ``generator(seed)`` and of
    every other label (and of every other seed's streams): its seed is NumPy's ``SeedSequence`` hash of
    (seed, label). A ``torch.Generator`` seed contributes one draw of its own."""
    checked = check_seed(seed)
    if isinstance(checked, torch.Generator):
        checked = int(torch.randint(0, 2**62, (1,), generator=checked))
    words = [int(b) for b in label.encode()]
    state = np.random.SeedSequence([checked & 0xFFFFFFFF, checked >> 32, *words]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0]) >> 1)
