import os

import torch
from hypothesis import settings

# Property tests: deterministic examples. Under mutation testing (`make mutants`, which sets
# MUTANT_UNDER_TEST) fewer examples per property keep each mutant's run short.
settings.register_profile("lottobook", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("mutants", max_examples=10, deadline=None, derandomize=True)
settings.load_profile("mutants" if os.environ.get("MUTANT_UNDER_TEST") else "lottobook")
torch.set_num_threads(2)
