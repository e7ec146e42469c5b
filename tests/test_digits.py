import pytest
import torch

import lottolib as L
from lottolib.digits import accuracy, digits_target, load_digits_unit_ball


@pytest.fixture(scope="module")
def target():
    return digits_target(hidden=(16,), seed=1, epochs=200)


def test_inputs_lie_in_the_unit_ball_with_a_constant_coordinate():
    x_train, _, x_test, _ = load_digits_unit_ball()
    x = torch.cat([x_train, x_test])
    assert (x.norm(dim=1) <= 1 + 1e-12).all()
    assert torch.allclose(x[:, -1], torch.full((len(x),), 65**-0.5, dtype=torch.float64))


def test_target_meets_the_norm_assumption_and_learned_something(target):
    assert all(float(torch.linalg.matrix_norm(w, ord=2)) == pytest.approx(1.0) for w in target.weights)
    assert accuracy(target.weights, target.x_test, target.y_test) > 0.9


def test_training_is_deterministic_and_leaves_the_global_generator_alone(target):
    state = torch.get_rng_state()
    again = digits_target(hidden=(16,), seed=1, epochs=200)
    assert torch.equal(state, torch.get_rng_state())
    assert all(torch.equal(a, b) for a, b in zip(target.weights, again.weights, strict=True))


def test_pruned_random_network_matches_target_accuracy_within_half_a_point(target):
    construction = L.prune_random_network(target.weights, 0.01, seed=0, k=3000)
    assert construction.succeeded
    pruned = accuracy(construction.module(compact=True), target.x_test, target.y_test)
    assert abs(pruned - accuracy(target.weights, target.x_test, target.y_test)) <= 0.005
