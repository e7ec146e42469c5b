"""lottolib: the strong lottery ticket constructions of Malach et al. (ICML 2020), executable.

Data path: target → random network (seed) → prune → pruned network → verify → export.
"""

from .layer import LayerConstruction, prune_block, prune_layer
from .one_weight import OneWeight, PairChoice, choose_pairs, prune_one_weight
from .probability import (
    empirical_success_probability,
    layer_width_bound,
    pair_success_probability,
    sampled_pair_errors,
    unit_success_probability,
    worst_case_unit_probability,
)
from .random_network import RandomBlock, random_mlp, sample_block, sample_uniform, sample_weights
from .verify import sample_unit_ball

__all__ = [
    "LayerConstruction",
    "OneWeight",
    "PairChoice",
    "RandomBlock",
    "choose_pairs",
    "empirical_success_probability",
    "layer_width_bound",
    "pair_success_probability",
    "prune_block",
    "prune_layer",
    "prune_one_weight",
    "random_mlp",
    "sample_block",
    "sample_uniform",
    "sample_unit_ball",
    "sample_weights",
    "sampled_pair_errors",
    "unit_success_probability",
    "worst_case_unit_probability",
]
