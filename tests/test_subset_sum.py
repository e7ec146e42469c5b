import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import lottolib as L
from lottolib.subset_sum import (
    MAX_SIDE_CANDIDATES,
    _SortedSide,
    _window,
    choose_subsets,
    eta_floor,
    floor_note,
    searched_units,
    subset_bits,
    values_per_weight,
)


def all_subset_sums(values: list[float]) -> torch.Tensor:
    """Every subset sum of ``values`` by doubling the list one value at a time (not the library's bit matrix)."""
    sums = torch.zeros(1, dtype=torch.float64)
    for value in values:
        sums = torch.cat([sums, sums + value])
    return sums


def best_error(values: list[float], w: float) -> float:
    """The smallest |Σ_S values − w| over all subsets S, by brute force."""
    return float((all_subset_sums(values) - w).abs().min())


def random_side_problem(batch: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(batch, k, generator=generator, dtype=torch.float64) * 2 - 1
    products = u * (torch.rand(batch, k, generator=generator, dtype=torch.float64) * 2 - 1)
    w = (torch.rand(batch, generator=generator, dtype=torch.float64) * 2 - 1) * 0.5
    return products, u, w


@given(st.integers(1, 12), st.integers(1, 6), st.integers(0, 10**6))
def test_meet_in_the_middle_finds_the_exact_best_subset(size, batch, seed):
    generator = torch.Generator().manual_seed(seed)
    products = torch.rand(batch, size, generator=generator, dtype=torch.float64) * 2 - 1
    signs = torch.ones(batch, size)
    w = torch.rand(batch, generator=generator, dtype=torch.float64) * 2 - 1
    choice = L.choose_subsets(products, signs, w)
    for row in range(batch):
        assert choice.plus_error[row].abs() == pytest.approx(best_error(products[row].tolist(), float(w[row])), abs=1e-12)
    assert torch.allclose((products * choice.keep).sum(dim=1) - w, choice.plus_error, atol=1e-12)
    assert torch.equal(choice.minus_error, -w)  # no unit with u < 0: the empty subset


@given(st.integers(1, 24), st.integers(0, 10**6))
def test_each_side_is_exact_over_all_its_units_up_to_the_cap(k, seed):
    products, u, w = random_side_problem(4, k, seed)
    u[0, 0] = 0.0  # a unit on neither side is never kept
    choice = L.choose_subsets(products, u, w)
    for row in range(4):
        for side, error in ((u[row] > 0, choice.plus_error[row]), (u[row] < 0, choice.minus_error[row])):
            values = products[row][side].tolist()
            assert len(values) <= MAX_SIDE_CANDIDATES
            assert float(error.abs()) == pytest.approx(best_error(values, float(w[row])), abs=1e-12)
            kept = choice.keep[row] & side
            assert float(error) == pytest.approx(float(products[row][kept].sum() - w[row]), abs=1e-15)
    assert not choice.keep[0, 0]
    assert torch.equal(choice.keep, choice.keep & (u != 0))


@given(st.integers(7, 14), st.integers(2, 6), st.integers(0, 10**6))
def test_a_larger_side_gets_the_exact_best_over_its_searched_window(k, max_units, seed):
    products, u, w = random_side_problem(6, k, seed)
    on_side = u > 0
    choice = choose_subsets(products, u, w, max_units=max_units)
    side = _SortedSide.of(products, on_side)
    rows = torch.arange(6)
    count = side.available.clamp(max=max_units)
    for row in range(6):
        c = int(count[row])
        start = int(_window(side, rows[row:row + 1], w[row:row + 1], c,
                            (torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.long))))
        window = side.order[row, start:start + c]
        searched = products[row, window].tolist()
        assert float(choice.plus_error[row].abs()) == pytest.approx(best_error(searched, float(w[row])), abs=1e-12)
        kept = choice.keep[row] & on_side[row]
        assert set(kept.nonzero().flatten().tolist()) <= set(window.tolist())  # only searched units are kept
        every = best_error(products[row][on_side[row]].tolist(), float(w[row]))
        assert float(choice.plus_error[row].abs()) >= every - 1e-12  # no better than the best over all units


def todays_choice_errors(products: torch.Tensor, on_side: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The rule before the cap was lifted, written out: at most 16 units, evenly spaced in the sorted
    products, then the exact best subset of those (by brute force over all 2^16 subsets)."""
    rows = products.shape[0]
    values = torch.zeros(rows, 16, dtype=torch.float64)  # padding units of product 0 add no new sums
    for row in range(rows):
        side = products[row][on_side[row]].sort().values
        if len(side) > 16:
            side = side[[int((i + 0.5) * len(side) / 16) for i in range(16)]]
        values[row, : len(side)] = side
    errors = torch.empty(rows, dtype=torch.float64)
    for part in torch.arange(rows).split(32):
        sums = torch.zeros(len(part), 1, dtype=torch.float64)
        for item in range(16):
            sums = torch.cat([sums, sums + values[part, item : item + 1]], dim=1)
        errors[part] = (sums - w[part].unsqueeze(1)).abs().min(dim=1).values
    return errors


@pytest.mark.slow
@pytest.mark.parametrize("k", [48, 64, 128])
def test_no_worse_than_the_evenly_spaced_sample_as_k_grows(k):
    target = L.random_target([16, 16], seed=0)[0]
    construction = L.prune_layer(target, eps=0.01, k=k, seed=0, method="subset_sum")
    u = construction.block.first.view(16, k, 16).diagonal(dim1=0, dim2=2).T.double()  # (d, k)
    products = (construction.block.second.view(16, 16, k).double() * u).reshape(-1, k)
    signs = u.expand(16, 16, k).reshape(-1, k)
    w = target.reshape(-1)
    today = torch.stack([todays_choice_errors(products, signs > 0, w), todays_choice_errors(products, signs < 0, w)])
    today = today.view(2, 16, 16)
    today_eta = float(torch.linalg.matrix_norm(torch.cat([today[0], today[1]], dim=1), ord=2))
    assert construction.eta <= today_eta * (1 + 1e-9)
    now = torch.stack([construction.plus_error, construction.minus_error]).abs()
    assert (now <= today * (1 + 1e-9)).double().mean() >= 0.95  # and weight by weight, nearly always


def test_subset_sum_certifies_eps_1e_5_on_a_16x16_target():
    target = L.random_target([16, 16], seed=0)[0]
    construction = L.prune_layer(target, eps=1e-5, k=64, seed=0, method="subset_sum")
    assert construction.succeeded, construction.message
    errors = torch.cat([construction.plus_error, construction.minus_error], dim=1)
    assert construction.eta == pytest.approx(float(torch.linalg.svdvals(errors)[0]), rel=1e-9)


def test_each_side_keeps_only_units_of_its_sign_within_the_candidate_limit():
    construction = L.prune_layer(torch.full((3, 4), 0.7), k=80, seed=1, method="subset_sum")
    u = construction.block.first.view(4, 80, 4).diagonal(dim1=0, dim2=2).T  # (d, k)
    kept = construction.second_mask.view(3, 4, 80)
    for sign in (u > 0, u < 0):
        assert (kept & sign).sum(dim=2).max() <= MAX_SIDE_CANDIDATES
    assert construction.max_weight_error < 1e-4


def test_subset_sum_beats_the_pair_method_at_equal_width():
    target = L.random_target([16, 16], seed=0)[0]
    for k in (48, 96):
        pair = L.prune_layer(target, k=k, seed=0)
        subset = L.prune_layer(target, k=k, seed=0, method="subset_sum")
        assert subset.eta < pair.eta / 10


@pytest.mark.slow
def test_subset_sum_certifies_with_fewer_random_parameters_than_the_pair_method():
    target = L.random_target([8, 8, 4], seed=0)
    sizes = {}
    for method in L.METHODS:
        k = L.smallest_width(target, 0.05, seeds=4, method=method)
        sizes[method] = L.prune_random_network(target, 0.05, seed=0, k=k, method=method).random_parameters
    assert sizes["subset_sum"] * 5 < sizes["pair"]


def test_subset_bits_lists_every_subset_once():
    bits = subset_bits(4)
    assert bits.shape == (16, 4)
    assert {tuple(row.tolist()) for row in bits} == set(itertools.product((0.0, 1.0), repeat=4))


def test_subset_bits_row_s_is_the_binary_expansion_of_s():
    bits = subset_bits(3)
    for code in range(8):  # bit i of s is item i
        assert bits[code].tolist() == [float((code >> i) & 1) for i in range(3)]
    assert bits.dtype == torch.float64  # the default dtype
    part = subset_bits(5, dtype=torch.int64, start=6, stop=9)
    assert part.dtype == torch.int64
    assert part.tolist() == [[(code >> i) & 1 for i in range(5)] for code in (6, 7, 8)]


@pytest.mark.parametrize(("method", "k"), [("pair", 30), ("subset_sum", 30), ("subset_sum", 64)])
def test_chunking_does_not_change_the_result(monkeypatch, method, k):
    target = L.random_target([6, 9], seed=2)[0]
    whole = L.prune_layer(target, k=k, seed=3, method=method)
    monkeypatch.setattr("lottolib.layer.CHUNK_ELEMENTS", 1)  # one output row per chunk
    chunked = L.prune_layer(target, k=k, seed=3, method=method)
    assert torch.equal(whole.second_mask, chunked.second_mask)
    assert torch.equal(whole.plus_error, chunked.plus_error)
    assert torch.equal(whole.minus_error, chunked.minus_error)


@pytest.mark.parametrize("tolerance", [0.0, 1e-6])
def test_each_weight_depends_only_on_its_own_inputs(tolerance):
    products, u, w = random_side_problem(40, 56, seed=5)  # sides of about 28 units: windows of 20
    whole = choose_subsets(products, u, w, tolerance=tolerance)
    order = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    for part in order.split(7):
        piece = choose_subsets(products[part], u[part], w[part], tolerance=tolerance)
        assert torch.equal(piece.keep, whole.keep[part])
        assert torch.equal(piece.plus_error, whole.plus_error[part])
        assert torch.equal(piece.minus_error, whole.minus_error[part])


@pytest.mark.slow
def test_a_tolerance_stops_the_search_early_but_never_above_it_when_more_units_help():
    products, u, w = random_side_problem(60, 64, seed=7)
    full = choose_subsets(products, u, w, max_units=24)
    first = choose_subsets(products, u, w, max_units=16)
    for tolerance in (1e-7, 1e-5, 1e-3):
        staged = choose_subsets(products, u, w, max_units=24, tolerance=tolerance)
        for error, top, low in ((staged.plus_error, full.plus_error, first.plus_error),
                                (staged.minus_error, full.minus_error, first.minus_error)):
            assert torch.all(error.abs() <= low.abs() + 1e-15)  # the windows grow around the first one
            assert torch.all((error.abs() <= tolerance) | (error.abs() <= low.abs()))
            stopped_early = error.abs() > top.abs() + 1e-15
            assert torch.all(error[stopped_early].abs() <= tolerance)  # worse than the full search only below it
    assert torch.equal(choose_subsets(products, u, w, tolerance=0).keep, choose_subsets(products, u, w).keep)


def test_bad_search_settings_are_refused_with_a_message():
    products, u, w = random_side_problem(2, 5, seed=0)
    for bad in (0, 41, 2.5, True):
        with pytest.raises(ValueError, match="max_units"):
            choose_subsets(products, u, w, max_units=bad)
    for bad in (-1e-3, math.nan, math.inf):
        with pytest.raises(ValueError, match="tolerance"):
            choose_subsets(products, u, w, tolerance=bad)


def test_values_per_weight_follows_its_formula():
    # 16 k + 2 * 2^floor(m/2) + 8 * min(2^ceil(m/2), 4096), with m = min(k, cap)
    def formula(k, cap=20):
        m = min(k, cap)
        return 16 * k + 2 * 2 ** (m // 2) + 8 * min(2 ** (m - m // 2), 4096)

    for k, cap in [(1, 20), (7, 20), (20, 20), (64, 20), (64, 28), (64, 30), (5, 3)]:
        assert values_per_weight(k, max_units=cap) == formula(k, cap), (k, cap)
    assert values_per_weight(64) == formula(64)  # the default cap, 20


def test_eta_floor_and_its_note_follow_the_formula():
    for n, d, m in [(16, 16, 20), (300, 784, 20), (1, 1, 16), (4, 9, 24)]:
        expected = 0.1 * 2.0 ** -m * (math.sqrt(n) + math.sqrt(2 * d))
        assert eta_floor(n, d, m) == pytest.approx(expected, rel=1e-12)
    assert eta_floor(16, 16) == eta_floor(16, 16, 20)
    assert floor_note(16, 16, 20) == ("SubsetSum searches at most 20 units per side (max_units); for a 16x16 "
                                      "layer its eta floor is about 9.2e-07 at any k")
    assert floor_note(3, 5) == floor_note(3, 5, 20)
    assert floor_note(16, 16, 24) == ("SubsetSum searches at most 24 units per side (max_units); for a 16x16 "
                                      f"layer its eta floor is about {eta_floor(16, 16, 24):.2g} at any k")
    assert f"{eta_floor(16, 16, 24):.2g}" == "5.8e-08"  # 0.1 * 2**-24 * (4 + sqrt(32))


def test_sizes_for_chunking_and_the_floor_estimate():
    assert searched_units(8) == 8 and searched_units(100) == MAX_SIDE_CANDIDATES
    assert searched_units(100, max_units=28) == 28
    sizes = [values_per_weight(k) for k in (1, 8, 16, 20, 40, 400)]
    assert all(a < b for a, b in itertools.pairwise(sizes))
    assert values_per_weight(64, max_units=28) > 2 ** 14  # the sorted half of 2^14 sums
    assert eta_floor(16, 16) < 1e-5 < eta_floor(16, 16, max_units=16)
    assert eta_floor(300, 784) > eta_floor(16, 16)
    assert "at most 20 units per side" in floor_note(16, 16, 20) and "9.2e-07" in floor_note(16, 16, 20)


def test_eta_floor_is_where_a_wide_layer_levels_off(monkeypatch):
    target = L.random_target([16, 16], seed=0)[0]
    monkeypatch.setattr("lottolib.subset_sum.MAX_SIDE_CANDIDATES", 16)
    etas = [L.prune_layer(target, eps=0.01, k=k, seed=0, method="subset_sum").eta for k in (128, 256)]
    assert eta_floor(16, 16, 16) / 3 < min(etas) < 3 * eta_floor(16, 16, 16)


def test_layer_tolerance_spreads_eps_over_the_error_matrix():
    from lottolib.subset_sum import layer_tolerance

    assert layer_tolerance(1e-3, 300, 784) == pytest.approx(1e-3 / (2 * (math.sqrt(300) + math.sqrt(1568))))
    target = L.random_target([16, 16], seed=0)[0]
    block = L.sample_block(16, 16, 64, 0)
    u = block.first.view(16, 64, 16).diagonal(dim1=0, dim2=2).T.double()
    products = block.second.view(16, 16, 64).double() * u
    choice = choose_subsets(products, u, target, tolerance=layer_tolerance(1e-4, 16, 16))
    eta = float(torch.linalg.matrix_norm(torch.cat([choice.plus_error, choice.minus_error], dim=1), ord=2))
    assert eta <= 1e-4


def test_threads_change_neither_the_result_nor_torch_settings():
    products, u, w = random_side_problem(300, 48, seed=11)
    saved = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3, 4):
            torch.set_num_threads(threads)
            results.append(choose_subsets(products, u, w))
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(saved)
    for other in results[1:]:
        assert torch.equal(other.keep, results[0].keep)
        assert torch.equal(other.plus_error, results[0].plus_error)
        assert torch.equal(other.minus_error, results[0].minus_error)


def test_a_layer_below_the_search_floor_says_so_and_names_the_cap():
    target = L.random_target([16, 16], seed=0)[0]
    below = L.prune_layer(target, eps=1e-9, k=64, seed=0, method="subset_sum")
    assert not below.succeeded
    assert "max_units" in below.message and "increase eps" in below.message
    loose = L.prune_layer(target, eps=0.01, k=4, seed=0, method="subset_sum")
    assert not loose.succeeded and loose.message.endswith("increase k or eps")
