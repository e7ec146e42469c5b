"""The smallest width that works in practice, searched over seeds.

Introduced in chapter 5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from .checks import check_eps, check_positive_int
from .network import prune_random_network, target_weights

__all__ = ["pruning_lower_bound", "random_parameters_per_weight", "smallest_width", "success_rate"]


def success_rate(
    target: nn.Module | Sequence[object], eps: float, width: int, seeds: Sequence[int], method: str = "pair"
) -> float:
    """Fraction of ``seeds`` whose pruned random network (k = ``width`` per input, ``method``) certifies ``eps``."""
    return sum(prune_random_network(target, eps, seed=s, width=width, method=method).succeeded
               for s in seeds) / len(seeds)


def smallest_width(
    target: nn.Module | Sequence[object],
    eps: float,
    *,
    delta: float = 0.1,
    seeds: int = 10,
    max_width: int = 1 << 16,
    method: str = "pair",
) -> int:
    """The smallest k (same for every layer) whose certificate meets ``eps`` for at least a 1 − δ fraction
    of seeds 0 … seeds−1: doubling to bracket it, then bisection (success is assumed monotone in k).

    Raises ``ValueError`` if even ``max_width`` does not reach that rate.
    """
    eps = check_eps(eps)
    seeds, max_width = check_positive_int(seeds, "seeds"), check_positive_int(max_width, "max_width")
    need = 1 - delta - 1e-12
    seed_list = range(seeds)

    def works(k: int) -> bool:
        return success_rate(target, eps, k, seed_list, method) >= need

    high = 1
    while not works(high):
        if high >= max_width:
            raise ValueError(f"no width up to {max_width} certifies eps={eps} for a {1 - delta:.0%} share of seeds; "
                             "raise max_width or eps")
        high = min(high * 2, max_width)
    low = high // 2  # fails (or 0)
    while high - low > max(1, math.ceil(0.02 * high)):
        middle = (low + high) // 2
        low, high = (low, middle) if works(middle) else (middle, high)
    return high


def random_parameters_per_weight(
    target: nn.Module | Sequence[object], eps: float, *, method: str = "pair", seeds: int = 10
) -> float:
    """Random parameters per target weight at the :func:`smallest_width` (δ = 0.1) that certifies ``eps``.

    For one n×d layer this is k(d + n)/n: the random block has d·k·d + n·d·k weights.
    """
    k = smallest_width(target, eps, seeds=seeds, method=method)
    construction = prune_random_network(target, eps, seed=0, width=k, method=method)
    return construction.random_parameters / sum(w.numel() for w in target_weights(target))


def pruning_lower_bound(eps: float) -> float:
    """log₂⌊1/ε⌋: no pruning of any network approximates every n×d matrix in [-1, 1] to ε (ε < 1/2) with
    fewer than this many weights per target weight (the counting argument of chapter 8)."""
    eps = check_eps(eps)
    if eps >= 0.5:
        raise ValueError(f"the counting bound needs eps < 1/2, got {eps}")
    return math.log2(math.floor(1 / eps))
