"""lottolib: the strong lottery ticket constructions of Malach et al. (ICML 2020), executable and certified.

Data path: target → random network (seed) → prune → pruned network → verify → export. Every
construction follows one protocol, :class:`Construction`: masks, random weights, a certificate
rounded outward, ``succeeded``/``message``, ``module()`` and ``error(x)``.
"""

from .bounds import certificate
from .construction import Construction
from .export import pruned_sequential, sparsity, to_torch
from .layer import METHODS, LayerConstruction, prune_block, prune_layer
from .memory import MemoryLimitError, memory_limit, set_memory_limit
from .network import (
    NetworkConstruction,
    forward_target,
    network_width_bound,
    prune_random_network,
    target_weights,
)
from .one_weight import OneWeight, PairChoice, choose_pairs, prune_one_weight
from .own_model import ModelConstruction, prune, prune_model
from .probability import (
    empirical_success_probability,
    layer_width_bound,
    pair_success_probability,
    sampled_pair_errors,
    unit_success_probability,
    worst_case_unit_probability,
)
from .random_network import RandomBlock, random_mlp, sample_block, sample_uniform, sample_weights
from .subset_sum import SubsetChoice, choose_subsets
from .targets import random_target
from .verify import EmpiricalError, empirical_error, sample_unit_ball
from .width import pruning_lower_bound, random_parameters_per_weight, smallest_width, success_rate

__all__ = [
    "METHODS",
    "Construction",
    "EmpiricalError",
    "LayerConstruction",
    "MemoryLimitError",
    "ModelConstruction",
    "NetworkConstruction",
    "OneWeight",
    "PairChoice",
    "RandomBlock",
    "SubsetChoice",
    "certificate",
    "choose_pairs",
    "choose_subsets",
    "empirical_error",
    "empirical_success_probability",
    "forward_target",
    "layer_width_bound",
    "memory_limit",
    "network_width_bound",
    "pair_success_probability",
    "prune",
    "prune_block",
    "prune_layer",
    "prune_model",
    "prune_one_weight",
    "prune_random_network",
    "pruned_sequential",
    "pruning_lower_bound",
    "random_mlp",
    "random_parameters_per_weight",
    "random_target",
    "sample_block",
    "sample_uniform",
    "sample_unit_ball",
    "sample_weights",
    "sampled_pair_errors",
    "set_memory_limit",
    "smallest_width",
    "sparsity",
    "success_rate",
    "target_weights",
    "to_torch",
    "unit_success_probability",
    "worst_case_unit_probability",
]
