"""The smallest width that works in practice, searched over seeds, and the counting lower bound.

Introduced in chapter 6, *How wide is wide enough*; the counting bound in chapter 9.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

from torch import nn

from .bisection import smallest_k
from .checks import check_eps, check_fraction, check_nonnegative_int, check_positive_int
from .network import prune_random_network, target_weights

__all__ = ["MAX_SEEDS", "pruning_lower_bound", "random_parameters_per_weight", "smallest_width", "success_rate"]

MAX_SEEDS = 10_000
"""The most seeds :func:`success_rate` and :func:`smallest_width` try (each prunes a random network per k)."""


def success_rate(
    target: nn.Module | Sequence[object], eps: float, *, k: int, seeds: Iterable[int], method: str = "pair"
) -> float:
    """The fraction of seeds whose pruned random network certifies ``eps``.

    Parameters
    ----------
    target
        As for :func:`~lottolib.prune_random_network`.
    eps
        The tolerance.
    k
        Units per input (one value, or one per layer).
    seeds
        The seeds to try (non-negative integers).
    method
        ``"pair"`` or ``"subset_sum"``.

    Returns
    -------
    float
        Successes / len(seeds).

    Raises
    ------
    ValueError
        For an empty list of seeds, or more than 10 000 (``lottolib.width.MAX_SEEDS``).
    """
    seeds = [check_nonnegative_int(seed, "seed") for seed in itertools.islice(seeds, MAX_SEEDS + 1)]
    if len(seeds) > MAX_SEEDS:
        raise ValueError(f"success_rate takes at most {MAX_SEEDS} seeds (each prunes a random network), got more")
    if not seeds:
        raise ValueError("success_rate needs at least one seed, e.g. seeds=range(10)")
    return sum(prune_random_network(target, eps, seed=s, k=k, method=method).succeeded for s in seeds) / len(seeds)


def smallest_width(
    target: nn.Module | Sequence[object],
    eps: float,
    *,
    delta: float = 0.1,
    seeds: int = 10,
    method: str = "pair",
) -> int:
    """The smallest k (units per input, the same for every layer) whose certificate meets ``eps`` for at
    least a 1 − δ fraction of the seeds 0 … seeds−1: doubling to bracket it, then bisection to 2%
    (success is assumed monotone in k).

    Parameters
    ----------
    target
        As for :func:`~lottolib.prune_random_network`.
    eps
        The tolerance.
    delta
        The allowed failure fraction, 0 < δ < 1.
    seeds
        How many seeds (0 … seeds−1), at most 10 000 (``lottolib.width.MAX_SEEDS``).
    method
        ``"pair"`` or ``"subset_sum"``.

    Returns
    -------
    int
        k.

    Raises
    ------
    lottolib.memory.MemoryLimitError
        If no k below the memory limit reaches that rate.
    ValueError
        Unless 0 < δ < 1, for a bad eps or seeds.
    """
    eps = check_eps(eps)
    delta = check_fraction(delta, "delta")
    seeds = check_positive_int(seeds, "seeds")
    if seeds > MAX_SEEDS:
        raise ValueError(f"seeds must be at most {MAX_SEEDS} (each seed prunes a random network for every k tried), "
                         f"got {seeds}")
    target = target_weights(target)
    need = 1 - delta - 1e-12
    k, _ = smallest_k(lambda value: success_rate(target, eps, k=value, seeds=range(seeds), method=method),
                      lambda rate: rate >= need)
    return k


def random_parameters_per_weight(
    target: nn.Module | Sequence[object], eps: float, *, method: str = "pair", seeds: int = 10
) -> float:
    """Random parameters per target weight at the :func:`smallest_width` (δ = 0.1) that certifies ``eps``.

    Parameters
    ----------
    target
        As for :func:`~lottolib.prune_random_network`.
    eps
        The tolerance.
    method
        ``"pair"`` or ``"subset_sum"``.
    seeds
        Seeds for :func:`smallest_width`.

    Returns
    -------
    float
        Random parameters / target weights; for one n×d layer k(d + n)/n, since the random block
        has d·k·d + n·d·k weights.
    """
    weights = target_weights(target)
    k = smallest_width(weights, eps, seeds=seeds, method=method)
    construction = prune_random_network(weights, eps, seed=0, k=k, method=method)
    return construction.random_parameters / sum(w.numel() for w in weights)


def pruning_lower_bound(eps: float) -> float:
    """The counting lower bound of chapter 9.

    Parameters
    ----------
    eps
        The tolerance, 0 < ε < ½.

    Returns
    -------
    float
        log₂⌊1/ε⌋: no pruning of any one network approximates every n×d matrix in [-1, 1] to ε with
        fewer than this many weights per target weight.

    Raises
    ------
    ValueError
        For ε ≥ ½ (the grid argument needs two grid values at least 2ε apart).
    """
    eps = check_eps(eps)
    if eps >= 0.5:
        raise ValueError(f"the counting bound needs eps < 1/2, got {eps}")
    return math.log2(math.floor(1 / eps))
