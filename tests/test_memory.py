"""The memory limit: refused before allocation, and the estimate stays above the measured peak."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch

import lottolib as L
from lottolib import memory


def test_refusal_happens_before_anything_is_sampled(monkeypatch):
    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled before the memory check")

    monkeypatch.setattr("lottolib.random_network.sample_uniform", no_sampling)
    with pytest.raises(L.MemoryLimitError, match="2000x2000 target with k = 3000"):
        L.prune_layer(torch.zeros(2000, 2000), k=3000, seed=0)


def test_the_limit_can_be_raised_and_restored():
    previous = L.set_memory_limit("1GiB")
    try:
        assert L.memory_limit() == 2**30
        with pytest.raises(L.MemoryLimitError, match=r"above the limit of 1\.0 GiB"):
            L.prune_layer(torch.zeros(100, 100), k=10_000, seed=0)
    finally:
        L.set_memory_limit(previous)
    assert L.memory_limit() == previous


def test_search_stops_at_the_limit_with_a_message():
    previous = L.set_memory_limit(600 * 2**20)
    try:
        with pytest.raises(L.MemoryLimitError, match="no k below the memory limit certifies eps=1e-06"):
            L.prune_random_network([torch.full((3, 3), 0.9)], 1e-6, seed=0)
    finally:
        L.set_memory_limit(previous)


PEAK = textwrap.dedent("""
    import json, sys, torch
    import lottolib as L
    torch.set_num_threads(1)
    def peak():
        status = open("/proc/self/status").read()
        return int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) * 1024
    n, d, k, method = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    target = L.random_target([d, n], seed=0)
    before = peak()
    construction = L.prune_random_network(target, 0.01, seed=0, k=k, method=method)
    print(json.dumps({"increase": peak() - before, "parameters": construction.random_parameters}))
""")


@pytest.mark.parametrize(("n", "d", "k", "method"), [(300, 300, 120, "pair"), (300, 300, 120, "subset_sum"),
                                                      (50, 600, 40, "pair")])
def test_estimate_is_above_the_measured_peak(n, d, k, method):
    result = json.loads(subprocess.run([sys.executable, "-c", PEAK, str(n), str(d), str(k), method],
                                       capture_output=True, text=True, check=True).stdout)
    assert result["parameters"] == d * k * d + n * d * k
    assert memory.estimated_peak_bytes(result["parameters"]) >= result["increase"]
    assert memory.estimated_peak_bytes(result["parameters"]) <= 4 * result["increase"] + memory.OVERHEAD_BYTES
