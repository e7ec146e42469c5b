import itertools
import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import lottolib as L
from lottolib.subset_sum import (
    MAX_SIDE_CANDIDATES,
    _all_sums,
    _best_subset,
    _count_below,
    _sorted,
    _SortedSide,
    _stage_windows,
    _stages,
    _window,
    choose_subsets,
    eta_floor,
    floor_note,
    full_search_lower_bound,
    layer_tolerance,
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


def tie_rule_reference(values: list[float], w: float) -> tuple[list[bool], float]:
    """The meet in the middle's choice, written out with exact rationals over all subsets.

    The first ⌈c/2⌉ values are the enumerated half, the rest the sorted half; a subset of either half
    has the code Σ 2^i over its items i (in order). For each enumerated subset (sum s) the sorted
    half's sum nearest to w − s is taken (the lower of two equally near); the smallest gap wins, among
    equal gaps the smallest enumerated code, and of the sorted half's subsets with the sum taken the
    smallest code. Returns the kept values (in order) and the error Σ_kept − w. For values whose sums
    are exact in float64 (dyadic), as the library's rounding then plays no part.
    """
    low = len(values) - len(values) // 2
    halves = [Fraction(v) for v in values[:low]], [Fraction(v) for v in values[low:]]
    sums = [[sum((half[i] for i in range(len(half)) if code >> i & 1), Fraction(0)) for code in range(1 << len(half))]
            for half in halves]
    target = Fraction(w)
    best = None
    for low_code, low_sum in enumerate(sums[0]):
        wanted = target - low_sum
        high_sum = min(sums[1], key=lambda h: (abs(h - wanted), h))  # nearest, then the lower
        if best is None or abs(high_sum - wanted) < best[0]:
            best = abs(high_sum - wanted), low_code, high_sum
    _, low_code, high_sum = best
    high_code = sums[1].index(high_sum)
    keep = [bool(low_code >> i & 1) for i in range(low)] + [bool(high_code >> i & 1) for i in range(len(values) - low)]
    return keep, float(sum((Fraction(v) for v, kept in zip(values, keep, strict=True) if kept), Fraction(0)) - target)


@pytest.mark.parametrize("low_block", [1 << 12, 4])  # 4: the enumerated half in blocks of 2 items
@given(st.integers(1, 11), st.integers(1, 6), st.integers(0, 10**6))
def test_the_search_breaks_ties_as_the_rule_says(low_block, size, batch, seed):
    """Dyadic values with many equal sums and equal gaps: the kept units themselves are the rule's, bit for bit."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.randint(-8, 9, (batch, size), generator=generator).double() / 8  # zeros and repeats included
    w = torch.randint(-24, 25, (batch,), generator=generator).double() / 16  # often halfway between two sums
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("lottolib.subset_sum.LOW_BLOCK", low_block)
        keep, error = _best_subset(values, w)
    for row in range(batch):
        expected_keep, expected_error = tie_rule_reference(values[row].tolist(), float(w[row]))
        assert keep[row].tolist() == expected_keep
        assert float(error[row]) == expected_error


FLOATS_WITH_TIES = st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 3.0, 2.0**-1074, -(2.0**-1074), 1e300,
                                              -1e300, 0.1, -0.1]), min_size=1, max_size=9)


@given(st.lists(FLOATS_WITH_TIES, min_size=1, max_size=4).filter(lambda rows: len({len(r) for r in rows}) == 1))
def test_the_sums_sort_as_a_stable_float_sort_does(rows):
    """Subset sums of values with −0.0, ties, subnormals and huge values: the same order and sums as torch's stable sort."""
    sums = _all_sums(torch.tensor(rows, dtype=torch.float64))
    expected, expected_order = sums.sort(dim=1, stable=True)
    ordered, order = _sorted(sums)
    assert torch.equal(order, expected_order)
    assert torch.equal(ordered, expected) and torch.equal(ordered.signbit(), expected.signbit())


@given(st.integers(0, 8), st.integers(1, 5), st.integers(1, 40), st.integers(0, 10**6))
def test_counting_below_by_binary_lifting_is_a_left_binary_search(bits, batch, queries, seed):
    """Sorted rows of 2^bits entries (many equal, the last +inf) and queries equal to entries or between them."""
    generator = torch.Generator().manual_seed(seed)
    ordered = torch.randint(-6, 7, (batch, 1 << bits), generator=generator).double().sort(dim=1).values / 4
    ordered[:, -1] = torch.inf
    wanted = torch.randint(-30, 31, (batch, queries), generator=generator).double() / 8
    assert torch.equal(_count_below(ordered, wanted), torch.searchsorted(ordered, wanted))


def sorted_side(products: torch.Tensor, on_side: torch.Tensor) -> _SortedSide:
    """One side's units sorted by product, as the library's search builds it (all units sorted once, then split)."""
    ordered, order = products.sort(dim=1, stable=True)
    return _SortedSide.of(ordered, order, on_side.gather(1, order))


def top_window(products: torch.Tensor, on_side: torch.Tensor, w: torch.Tensor, max_units: int) -> list[list[int]]:
    """Per row, the units of the side's top window, in sorted order: all of them up to max_units, else
    the window :func:`_window` picks among the windows that fit."""
    side = sorted_side(products, on_side)
    start = _window(side, w, max_units, torch.zeros_like(side.available), side.available - max_units)
    return [side.order[row, : int(side.available[row])].tolist() if int(side.available[row]) <= max_units
            else side.order[row, int(start[row]) : int(start[row]) + max_units].tolist() for row in range(len(w))]


@given(st.integers(7, 14), st.integers(2, 6), st.integers(0, 10**6))
def test_a_larger_side_gets_the_exact_best_over_its_searched_window(k, max_units, seed):
    products, u, w = random_side_problem(6, k, seed)
    on_side = u > 0
    choice = choose_subsets(products, u, w, max_units=max_units)
    for row, window in enumerate(top_window(products, on_side, w, max_units)):
        assert len(window) == min(int(on_side[row].sum()), max_units) == int(choice.searched[0, row])
        searched = products[row, window].tolist()
        assert float(choice.plus_error[row].abs()) == pytest.approx(best_error(searched, float(w[row])), abs=1e-12)
        kept = choice.keep[row] & on_side[row]
        assert set(kept.nonzero().flatten().tolist()) <= set(window)  # only searched units are kept
        every = best_error(products[row][on_side[row]].tolist(), float(w[row]))
        assert float(choice.plus_error[row].abs()) >= every - 1e-12  # no better than the best over all units


def staged_reference(products: torch.Tensor, on_side: torch.Tensor, w: torch.Tensor, max_units: int,
                     tolerance: float) -> tuple[list[int], list[float]]:
    """The stop rule written out, row by row, with brute force for each search: windows of 8, 12, 16, …
    units (then the top window), each the window :func:`_window` picks inside the next larger one; stop
    at the first whose best subset is within the tolerance. Returns the units searched and |error|."""
    side = sorted_side(products, on_side)
    counts, errors = [], []
    tops = top_window(products, on_side, w, max_units)
    for row in range(len(w)):
        top = tops[row]
        first = side.order[row].tolist().index(top[0]) if top else 0
        sizes = [*range(8, max_units, 4), max_units]
        windows = {len(top): (first, len(top))}  # stage size -> (first position, units)
        outer = (first, len(top))
        for size in reversed(sizes[:-1]):
            if len(top) > size:
                start = int(_window(side, w, size, torch.full_like(side.available, outer[0]),
                                    torch.full_like(side.available, outer[0] + outer[1] - size))[row])
                outer = windows[size] = (start, size)
        error = abs(float(w[row]))  # the empty subset's
        searched = 0
        for size in sizes if error > tolerance else []:
            start, count = windows.get(size, windows[len(top)]) if size < len(top) else windows[len(top)]
            if count <= searched:
                continue
            values = side.values[row, start : start + count].tolist()
            error, searched = best_error(values, float(w[row])), count
            if error <= tolerance:
                break
        counts.append(searched)
        errors.append(error)
    return counts, errors


@pytest.mark.parametrize(("k", "tolerance", "seed"), [(40, 1e-3, 0), (40, 1e-5, 1), (56, 1e-4, 2), (18, 1e-4, 3)])
def test_a_tolerance_stops_each_side_at_the_first_window_size_whose_best_subset_meets_it(k, tolerance, seed):
    products, u, w = random_side_problem(12, k, seed)
    choice = choose_subsets(products, u, w, tolerance=tolerance)
    for index, (on_side, error) in enumerate(((u > 0, choice.plus_error), (u < 0, choice.minus_error))):
        counts, errors = staged_reference(products, on_side, w, MAX_SIDE_CANDIDATES, tolerance)
        assert choice.searched[index].tolist() == counts
        tops = on_side.sum(dim=1).clamp(max=MAX_SIDE_CANDIDATES)
        assert torch.equal(choice.complete[index], torch.tensor(counts) == tops)  # the top window was searched
        assert error.abs().tolist() == pytest.approx(errors, abs=1e-12)
        kept = choice.keep & on_side
        assert torch.allclose((products * kept).sum(dim=1) - w, error, atol=1e-14, rtol=0)  # recomputed from the kept units
    assert set(choice.searched.flatten().tolist()) - {0, 8, 12, 16, 20} <= set((u > 0).sum(dim=1).tolist()) | set(
        (u < 0).sum(dim=1).tolist())  # a stage's size, or all of a smaller side


@pytest.mark.parametrize(("max_units", "tolerance"), [(20, 1e-5), (20, 1e-3), (24, 1e-7), (13, 1e-4)])
def test_a_side_that_misses_the_tolerance_ends_with_exactly_the_full_search(max_units, tolerance):
    products, u, w = random_side_problem(300, 64, seed=max_units)
    staged = choose_subsets(products, u, w, max_units=max_units, tolerance=tolerance)
    full = choose_subsets(products, u, w, max_units=max_units)
    sides = ((u > 0, staged.plus_error, full.plus_error), (u < 0, staged.minus_error, full.minus_error))
    for index, (on_side, error, best) in enumerate(sides):
        missed = error.abs() > tolerance
        assert torch.equal(error[missed], best[missed])  # the same computation, bit for bit
        assert torch.equal((staged.keep & on_side)[missed], (full.keep & on_side)[missed])
        assert torch.equal(staged.searched[index][missed], full.searched[index][missed])
        assert torch.all(error.abs()[~missed] <= tolerance)
        assert torch.all(missed <= (best.abs() > tolerance))  # meets the tolerance wherever the full search does
        assert torch.all(error.abs() >= best.abs() - 1e-15)  # the full search is never worse
    assert bool((staged.searched < full.searched).any())  # and the tolerance did stop some searches early


def test_a_side_whose_error_equals_the_tolerance_stops_there():
    products, u, w = random_side_problem(40, 40, seed=9)
    first = choose_subsets(products, u, w, tolerance=1e-4)
    assert len(set(first.searched[0].tolist())) >= 3  # sides stopped at several window sizes
    for row in (first.plus_error.abs() <= 1e-4).nonzero().flatten().tolist():  # stopped at the first window that met it
        tolerance = float(first.plus_error[row].abs())
        again = choose_subsets(products[row:row + 1], u[row:row + 1], w[row:row + 1], tolerance=tolerance)
        assert int(again.searched[0, 0]) == int(first.searched[0, row])  # |error| <= tolerance: no larger window
    small = choose_subsets(products, u, torch.full_like(w, 1e-4), tolerance=1e-4)
    assert torch.all(small.searched == 0) and torch.all(small.plus_error == -1e-4)  # the empty subset meets it
    assert not bool(small.keep.any())


@given(st.integers(20, 64), st.integers(8, 30), st.integers(0, 10**6))
def test_each_stage_window_lies_inside_the_next_larger_one(k, max_units, seed):
    products, u, w = random_side_problem(30, k, seed)
    side = sorted_side(products, u > 0)
    stages = _stages(max_units, 1e-3)
    top_count = side.available.clamp(max=max_units)
    top_start = _window(side, w, max_units, torch.zeros_like(top_count), side.available - max_units)
    top_start = torch.where(side.available > max_units, top_start, 0)
    windows = _stage_windows(side, w, stages, top_start, top_count)
    assert sorted(windows) == stages and torch.equal(windows[stages[-1]], top_start)
    for small, large in itertools.pairwise(stages):
        small_count, large_count = top_count.clamp(max=small), top_count.clamp(max=large)
        assert torch.all(windows[small] >= windows[large])
        assert torch.all(windows[small] + small_count <= windows[large] + large_count)
        assert torch.all(windows[small] + small_count <= side.available)


def test_the_window_sizes_grow_by_four_from_eight_to_the_cap():
    assert _stages(20, 1e-3) == [8, 12, 16, 20]
    assert _stages(22, 1e-3) == [8, 12, 16, 20, 22]
    assert _stages(9, 1e-3) == [8, 9]
    assert _stages(8, 1e-3) == [8] and _stages(5, 1e-3) == [5]
    assert _stages(20, 0.0) == [20]  # no tolerance: the full search at once


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
    construction = L.prune_layer(target, eps=0.01, k=k, seed=0, method="subset_sum", exact=True)
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


def test_bad_search_settings_are_refused_with_a_message():
    products, u, w = random_side_problem(2, 5, seed=0)
    for bad in (0, 41, 2.5, True):
        with pytest.raises(ValueError, match="max_units"):
            choose_subsets(products, u, w, max_units=bad)
    for bad in (-1e-3, math.nan, math.inf):
        with pytest.raises(ValueError, match="tolerance"):
            choose_subsets(products, u, w, tolerance=bad)


def test_values_per_weight_counts_the_products_and_their_copies():
    assert [values_per_weight(k) for k in (1, 7, 64, 400)] == [4, 28, 256, 1600]  # 4 k: products, copy, keep masks


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
    assert eta_floor(16, 16) < 1e-5 < eta_floor(16, 16, max_units=16)
    assert eta_floor(300, 784) > eta_floor(16, 16)
    assert "at most 20 units per side" in floor_note(16, 16, 20) and "9.2e-07" in floor_note(16, 16, 20)


def test_eta_floor_is_where_a_wide_layer_levels_off(monkeypatch):
    target = L.random_target([16, 16], seed=0)[0]
    monkeypatch.setattr("lottolib.subset_sum.MAX_SIDE_CANDIDATES", 16)
    etas = [L.prune_layer(target, eps=0.01, k=k, seed=0, method="subset_sum", exact=True).eta for k in (128, 256)]
    assert eta_floor(16, 16, 16) / 3 < min(etas) < 3 * eta_floor(16, 16, 16)


def test_layer_tolerance_spreads_eps_over_the_error_matrix():
    assert layer_tolerance(1e-3, 300, 784) == pytest.approx(1e-3 / (math.sqrt(300) + math.sqrt(1568)))
    target = L.random_target([16, 16], seed=0)[0]
    block = L.sample_block(16, 16, 64, 0)
    u = block.first.view(16, 64, 16).diagonal(dim1=0, dim2=2).T.double()
    products = block.second.view(16, 16, 64).double() * u
    for eps in (1e-2, 1e-3, 1e-4):
        choice = choose_subsets(products, u, target, tolerance=layer_tolerance(eps, 16, 16))
        eta = float(torch.linalg.matrix_norm(torch.cat([choice.plus_error, choice.minus_error], dim=1), ord=2))
        assert eta <= eps
        assert bool((choice.searched < MAX_SIDE_CANDIDATES).any())  # and it stopped some searches early


@given(st.integers(1, 6), st.integers(1, 6), st.floats(0.0, 1.0), st.integers(0, 10**6))
def test_the_full_search_lower_bound_is_below_every_matrix_the_full_search_could_give(n, m, share, seed):
    """Entries marked complete are the full search's; elsewhere the full search is at most as large in
    magnitude, with any sign: every such matrix has a spectral norm at least the bound."""
    generator = torch.Generator().manual_seed(seed)
    errors = torch.rand(n, m, generator=generator, dtype=torch.float64) * 2 - 1
    complete = torch.rand(n, m, generator=generator) < share
    bound = full_search_lower_bound(errors, complete)
    for _ in range(20):
        shrink = torch.rand(n, m, generator=generator, dtype=torch.float64) * 2 - 1  # |factor| ≤ 1, either sign
        full = torch.where(complete, errors, errors * shrink)
        assert bound <= float(torch.linalg.matrix_norm(full, ord=2))
    if bool(complete.all()):
        assert bound == pytest.approx(float(torch.linalg.matrix_norm(errors, ord=2)), rel=1e-8)
    if not bool(complete.any()):
        assert bound == 0.0


def test_the_full_search_lower_bound_on_two_small_cases():
    errors = torch.tensor([[3.0, 1.0], [0.0, 0.5]], dtype=torch.float64)
    complete = torch.tensor([[True, False], [False, True]])
    assert full_search_lower_bound(errors, complete) == pytest.approx(3.0, rel=1e-8)  # |E*_11| = 3 whatever the rest
    errors = torch.full((2, 2), 2.0, dtype=torch.float64)
    complete = torch.tensor([[True, True], [True, False]])
    bound = full_search_lower_bound(errors, complete)
    assert 0 < bound <= 2 * math.sqrt(2)  # E*_22 = -2 gives [[2, 2], [2, -2]], of norm 2√2


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


def layer_products(construction):
    """(n, d, k) products u_a v_a and (d, k) first weights u of a layer, from the block's definition."""
    block = construction.block
    u = block.first.view(block.d, block.k, block.d).diagonal(dim1=0, dim2=2).T.double()
    return block.second.view(block.n, block.d, block.k).double() * u, u


@pytest.mark.parametrize(("k", "eps", "seed"), [(24, 0.05, 0), (32, 0.01, 1), (40, 1e-3, 2), (48, 1e-4, 3), (64, 1e-5, 4)])
def test_a_layer_stopped_at_eps_succeeds_whenever_the_full_search_does(k, eps, seed):
    target = L.random_target([16, 16], seed=seed)[0]
    staged = L.prune_layer(target, k=k, seed=seed, method="subset_sum", eps=eps)
    full = L.prune_layer(target, k=k, seed=seed, method="subset_sum", eps=eps, exact=True)
    assert staged.succeeded >= full.succeeded
    assert full.exact
    products, u = layer_products(staged)
    keep = staged.second_mask.view(16, 16, k)
    assert torch.allclose(((products * keep) * (u > 0)).sum(dim=2) - target, staged.plus_error, atol=1e-14, rtol=0)
    assert torch.allclose(((products * keep) * (u < 0)).sum(dim=2) - target, staged.minus_error, atol=1e-14, rtol=0)
    if not staged.exact:
        tolerance = layer_tolerance(eps, 16, 16)
        for errors, best, index in ((staged.plus_error, full.plus_error, 0), (staged.minus_error, full.minus_error, 1)):
            missed = errors.abs() > tolerance
            assert torch.equal(errors[missed], best[missed])  # searched fully where the tolerance was missed
            assert torch.all(staged.searched[index] <= full.searched[index])


def test_a_layer_whose_stopped_search_misses_eps_is_searched_fully(monkeypatch):
    target = L.random_target([16, 16], seed=0)[0]
    full = L.prune_layer(target, k=64, seed=0, method="subset_sum", eps=1e-4, exact=True)
    assert full.succeeded
    monkeypatch.setattr("lottolib.subset_sum.TOLERANCE_SHARE", 1e3)  # stop every search after 8 units: η misses
    construction = L.prune_layer(target, k=64, seed=0, method="subset_sum", eps=1e-4)
    assert construction.exact and construction.succeeded
    assert torch.equal(construction.second_mask, full.second_mask)
    assert torch.equal(construction.plus_error, full.plus_error) and construction.eta == full.eta


@pytest.mark.parametrize(("share", "eps", "expected"), [(1.0, 1e-4, [1.0]), (1e3, 1e-4, [1.0, 0.25, 0.0]),
                                                       (1.0, 1e-9, [1.0])])
def test_a_layer_searches_again_at_a_quarter_of_the_tolerance_then_fully(monkeypatch, share, eps, expected):
    from lottolib import layer

    tolerances = []
    choose = layer._choose
    monkeypatch.setattr(layer, "_choose", lambda *args: tolerances.append(args[-1]) or choose(*args))
    monkeypatch.setattr("lottolib.subset_sum.TOLERANCE_SHARE", share)
    target = L.random_target([16, 16], seed=0)[0]
    L.prune_layer(target, k=64, seed=0, method="subset_sum", eps=eps)
    assert tolerances == pytest.approx([factor * layer_tolerance(eps, 16, 16) for factor in expected], rel=1e-12)


def test_a_layer_the_full_search_cannot_certify_keeps_its_stopped_search_and_fails():
    target = L.random_target([16, 16], seed=0)[0]
    construction = L.prune_layer(target, k=48, seed=0, method="subset_sum", eps=1e-9)
    assert not construction.succeeded and not construction.exact  # the lower bound ruled out the full search
    assert "FAILED" in construction.message
    full = L.prune_layer(target, k=48, seed=0, method="subset_sum", eps=1e-9, exact=True)
    assert not full.succeeded and full.eta <= construction.eta


def test_each_layer_gets_the_largest_budget_that_keeps_the_certificate_within_eps():
    from lottolib import bounds
    from lottolib.network import _next_budget, _shares

    weights = [torch.zeros(300, 784), torch.zeros(100, 300), torch.zeros(10, 100)]  # only the shapes count
    shares = _shares(weights)
    costs = [(n * d * math.sqrt(math.sqrt(n) + math.sqrt(2 * d))) ** (2 / 3) for n, d in (w.shape for w in weights)]
    assert shares == pytest.approx([c / sum(costs) for c in costs], rel=1e-12)
    assert shares[0] > 0.7  # the 300 x 784 layer gets most of eps
    norms = [0.9, 1.3, 0.7]
    for eps, etas in ((0.01, []), (1e-3, [2e-4]), (1e-3, [2e-4, 5e-4])):
        budget = _next_budget(norms, etas, shares, eps)
        later = [budget / shares[len(etas)] * share for share in shares[len(etas) + 1:]]
        assert bounds.certificate(norms, [*etas, budget, *later]) <= eps
        assert bounds.certificate(norms, [*etas, budget * 1.001, *[x * 1.001 for x in later]]) > eps
    assert _next_budget(norms, [0.02], shares, 0.01) == 0.0  # nothing left


@pytest.mark.parametrize("k", [12, 16, 24, 32])
def test_a_network_stopped_at_its_budgets_succeeds_whenever_the_full_search_does(k):
    target = L.random_target([12, 10, 6], seed=1)
    for eps in (0.05, 0.01, 1e-3):
        staged = L.prune_random_network(target, eps, seed=k, k=k, method="subset_sum")
        full = L.prune_random_network(target, eps, seed=k, k=k, method="subset_sum", exact=True)
        assert staged.succeeded >= full.succeeded, (k, eps)
        assert all(layer.exact for layer in full.layers)
        if staged.succeeded:
            assert staged.certificate <= eps


def test_a_network_searches_fully_the_layers_that_stopped_when_that_can_still_meet_eps(monkeypatch):
    from lottolib import network

    target = L.random_target([12, 10, 6], seed=1)
    full = L.prune_random_network(target, 0.01, seed=0, k=32, method="subset_sum", exact=True)
    assert full.succeeded
    budgets = iter([0.5, 1e-12])  # the first layer stops far too early, the second cannot meet its budget
    monkeypatch.setattr(network, "_next_budget", lambda *args: next(budgets))
    construction = L.prune_random_network(target, 0.01, seed=0, k=32, method="subset_sum")
    assert construction.succeeded
    assert all(layer.exact for layer in construction.layers)
    assert construction.certificate == full.certificate
