"""lottolib.conv against independent code: convolutions by their definition (tests/reference.py), hand-built
matrices, exact size arithmetic, exact error messages."""

import math
import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
import reference
import torch
from torch import nn

import lottolib as L
from lottolib.conv import (
    EXACT_CONV_ENTRIES,
    _sqrt_up,
    exact_bounds_fit,
    kernel_matrix,
    operator_bound,
    prune_cnn,
    prune_conv,
    target_cnn_forward,
)
from lottolib.memory import OVERHEAD_BYTES
from lottolib.residual import prune_conv_residual

RANGE = ("{name} has an entry of magnitude 1.5 > 1.0: the construction needs every weight in [-1.0, 1.0]; rescale "
         "the target (ReLU networks are positively homogeneous)")
NAN = "{name} holds 1 NaN or infinite entries; every weight must be a finite number"
SHAPE = "a convolution kernel has shape (c_out, c_in, h, w), got {shape}"


def kernel(*shape, seed=0):
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1) * 0.9


def raises(error, message):
    return pytest.raises(error, match=re.escape(message))


# ---------------------------------------------------------------- kernels and their matrix

def test_kernel_checks_name_the_kernel():
    for call in (lambda K: prune_conv(K, k=2, seed=0), lambda K: prune_cnn(K, torch.zeros(1, 4), k=2, seed=0)):
        with raises(ValueError, SHAPE.format(shape=(2, 3, 3))):
            call(torch.zeros(2, 3, 3))
        with raises(ValueError, SHAPE.format(shape=(0, 1, 3, 3))):
            call(torch.zeros(0, 1, 3, 3))
        bad = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
        bad[0, 0, 1, 1] = 1.5
        with raises(ValueError, RANGE.format(name="kernel")):
            call(bad)
        bad[0, 0, 1, 1] = math.nan
        with raises(ValueError, NAN.format(name="kernel")):
            call(bad)


def test_kernel_matrix_is_the_kernel_flattened_in_patch_order():
    K = kernel(2, 3, 2, 4)
    hand = np.zeros((2, 3 * 2 * 4))
    for o in range(2):
        for c in range(3):
            for i in range(2):
                for j in range(4):
                    hand[o, (c * 2 + i) * 4 + j] = K[o, c, i, j]
    matrix = kernel_matrix(K)
    assert matrix.dtype == torch.float64
    np.testing.assert_array_equal(matrix.numpy(), hand)
    x = kernel(1, 3, 5, 6, seed=1)  # K̂ applied to every patch (F.unfold's order) is the convolution
    patches = nn.functional.unfold(x, (2, 4))
    np.testing.assert_allclose((matrix @ patches).view(1, 2, 4, 3).numpy(), reference.conv2d(x, K), atol=1e-13)
    with raises(ValueError, SHAPE.format(shape=(2, 3))):
        kernel_matrix(torch.zeros(2, 3))


@pytest.mark.parametrize("value", range(1, 70))
def test_sqrt_up_is_exact_on_squares_and_never_below(value):
    root = _sqrt_up(value)
    assert Fraction(root) ** 2 >= value
    if math.isqrt(value) ** 2 == value:
        assert root == math.isqrt(value)
    else:  # at most two floats above the exact root (one rounding, one step up)
        assert Fraction(math.nextafter(math.nextafter(root, 0), 0)) ** 2 < value


@pytest.mark.parametrize("shape", [(2, 1, 2, 3), (1, 2, 3, 1), (3, 2, 3, 3)])
def test_operator_bound_is_the_rounded_up_patch_bound_and_bounds_the_convolution(shape):
    K = kernel(*shape)
    c_out, c_in, h, w = shape
    exact = reference.spectral_norm(K.reshape(c_out, -1).numpy()) * math.sqrt(h * w)
    bound = operator_bound(K)
    assert exact <= bound <= exact * (1 + 1e-12)
    for padding in (0, 1, 2):
        dense = reference.conv_dense_matrix(K.numpy(), (c_in, 5, 4), padding)
        assert reference.spectral_norm(dense) <= bound


# ---------------------------------------------------------------- when the exact image-level matrices are used

def test_exact_bounds_fit_counts_the_pair_of_conv_matrices():
    """The pair's two matrices have (c_out·H'·W') × (c_in·H·W) entries each, H'×W' the output of the padded image:
    2 c_out c_in H W H' W' ≤ 2²². With a 3×3 kernel and padding 1 the output is H×W: 2 c_out c_in (H W)²."""
    assert EXACT_CONV_ENTRIES == 2**22
    two_by_one, one_by_two = torch.zeros(2, 1, 3, 3), torch.zeros(1, 2, 3, 3)
    for K in (two_by_one, one_by_two):
        assert exact_bounds_fit(K, (32, 32), padding=1)  # 2 · 2 · 1024² = 2²² exactly
        assert exact_bounds_fit(K, (16, 64), padding=1)
        assert exact_bounds_fit(K, (64, 16), padding=1)
        assert not exact_bounds_fit(K, (32, 33), padding=1)
        assert not exact_bounds_fit(K, (33, 32), padding=1)
        assert not exact_bounds_fit(K, (1, 1025), padding=1)
        assert not exact_bounds_fit(K, None, padding=1)
        assert exact_bounds_fit(K, (32, 33))  # padding 0: 2 · 2 · 1056 · 930 = 3928320 ≤ 2²² (the output is 30×31)
        assert not exact_bounds_fit(K, (34, 33))  # 2 · 2 · 1122 · 992 = 4452096
    one = torch.zeros(1, 1, 3, 3)  # 2 (H W)² ≤ 2²² ⇔ H W ≤ 1448
    assert exact_bounds_fit(one, (1, 1448), padding=1) and not exact_bounds_fit(one, (1, 1449), padding=1)
    # padding 2 on a 1×1000 image: 3×1002 outputs for 1000 inputs, 2 · 1000 · 3006 > 2²² (counting inputs twice: 2·10⁶)
    assert exact_bounds_fit(one, (1, 1000), padding=1) and not exact_bounds_fit(one, (1, 1000), padding=2)


# ---------------------------------------------------------------- the target CNN

@pytest.mark.parametrize("padding", [0, 1])
def test_target_cnn_forward_is_the_book_formula_in_the_input_dtype(padding):
    K, weight = kernel(2, 1, 3, 3), kernel(3, 2 * (4 + 2 * padding) ** 2, seed=1)
    x = kernel(2, 1, 6, 6, seed=2)
    expected = reference.cnn_forward(K.numpy(), weight.numpy(), x.numpy(), padding)
    np.testing.assert_allclose(target_cnn_forward(K, weight, x, padding).numpy(), expected, atol=1e-12)
    single = target_cnn_forward(K, weight, x.float(), padding)  # a float32 batch through float64 weights
    assert single.dtype == torch.float32
    np.testing.assert_allclose(single.numpy(), expected, atol=1e-5)


# ---------------------------------------------------------------- the conv pair

def pruned(construction):
    return [torch.where(mask, weight.double(), 0.0)
            for mask, weight in zip(construction.masks, construction.random_weights, strict=True)]


@pytest.mark.parametrize("padding", [0, 1])
def test_conv_pair_module_is_the_pruned_random_convolutions(padding):
    K = kernel(2, 2, 3, 2)
    conv = prune_conv(K, k=4, seed=3, padding=padding)
    first, second = pruned(conv)
    x = kernel(3, 2, 5, 6, seed=4)
    expected = reference.conv2d(np.maximum(reference.conv2d(x, first.numpy(), padding), 0), second.numpy())
    used = int(first.flatten(1).any(dim=1).sum())
    assert 0 < used < first.shape[0]
    for compact in (False, True):
        for dtype in (torch.float64, torch.float32):
            module = conv.module(compact=compact, dtype=dtype)
            assert module[0].out_channels == (used if compact else first.shape[0])
            assert module[0].padding == (padding, padding) and module[0].bias is None and module[2].bias is None
            assert all(p.dtype == dtype for p in module.parameters())
            np.testing.assert_allclose(module(x.to(dtype)).double().numpy(), expected,
                                       atol=1e-12 if dtype == torch.float64 else 1e-4)
    target = conv.target_forward(x.float())  # float64 whatever the input dtype
    assert target.dtype == torch.float64
    np.testing.assert_allclose(target.numpy(), reference.conv2d(x.float().double(), K, padding), atol=1e-13)


def test_prune_conv_checks_k_and_the_image_size():
    K = kernel(1, 1, 2, 2)
    with raises(ValueError, "k must be an integer >= 1, got 0; use at least k=1"):
        prune_conv(K, k=0, seed=0)
    for size in ((3,), (3, 4, 5), 3, "3x4"):
        with raises(TypeError, f"image_size must be a pair (H, W), got {size!r}"):
            prune_conv(K, k=2, seed=0, image_size=size)
    with raises(ValueError, "image height must be an integer >= 1, got 0; use at least image height=1"):
        prune_conv(K, k=2, seed=0, image_size=(0, 4))
    with raises(ValueError, "image width must be an integer >= 1, got 0; use at least image width=1"):
        prune_conv(K, k=2, seed=0, image_size=(4, 0))
    assert prune_conv(K, k=2, seed=0, image_size=[3, 4]).image_size == (3, 4)


# ---------------------------------------------------------------- the CNN: image sizes

@pytest.mark.parametrize(("shape", "padding", "size"), [
    ((1, 1, 3, 3), 1, (4, 5)),  # 3×3 with padding 1 keeps the size: 20 outputs
    ((1, 1, 3, 3), 1, (2, 2)),  # the padded image is only just larger than the kernel
    ((2, 1, 3, 2), 0, (3, 2)),  # kernel = image: one output per channel
    ((1, 1, 2, 3), 2, (1, 1)),
])
def test_cnn_accepts_every_image_size_that_fits_the_weight(shape, padding, size):
    _, _, h, w = shape
    outputs = shape[0] * (size[0] + 2 * padding - h + 1) * (size[1] + 2 * padding - w + 1)
    cnn = prune_cnn(kernel(*shape), kernel(2, outputs, seed=1), k=2, seed=0, padding=padding, image_size=size)
    assert cnn.image_size == size and cnn.conv.image_size == size and cnn.input_shape == (shape[1], *size)


@pytest.mark.parametrize(("shape", "padding", "side", "size"), [
    ((1, 1, 3, 3), 1, 4, (4, 4)),
    ((2, 1, 3, 2), 1, 4, (4, 3)),
    ((1, 1, 1, 1), 0, 1, (1, 1)),
    ((1, 1, 3, 3), 1, 1, (1, 1)),
    ((1, 1, 3, 3), 0, 2, (4, 4)),
])
def test_cnn_infers_the_image_from_a_square_output(shape, padding, side, size):
    """H = side − 2p + h − 1 (and W alike) inverts side = H + 2p − h + 1."""
    cnn = prune_cnn(kernel(*shape), kernel(2, shape[0] * side * side, seed=1), k=2, seed=0, padding=padding)
    assert cnn.image_size == size and cnn.conv.image_size == size


def test_cnn_image_errors_are_exact():
    K = kernel(2, 1, 3, 3)
    with raises(ValueError, "an image of size 1x5 gives 0 conv outputs, but the linear weight takes 6 inputs"):
        prune_cnn(K, torch.zeros(1, 6), k=2, seed=0, image_size=(1, 5))
    with raises(ValueError, "an image of size 5x1 gives 0 conv outputs, but the linear weight takes 3 inputs"):
        prune_cnn(K[:1], torch.zeros(1, 3), k=2, seed=0, image_size=(5, 1))  # 3 rows but no column
    with raises(ValueError, "an image of size 1x5 gives 0 conv outputs, but the linear weight takes 3 inputs"):
        prune_cnn(K[:1], torch.zeros(1, 3), k=2, seed=0, image_size=(1, 5))
    with raises(ValueError, "an image of size 5x5 gives 18 conv outputs, but the linear weight takes 32 inputs"):
        prune_cnn(K, torch.zeros(1, 32), k=2, seed=0, image_size=(5, 5))
    with raises(ValueError, "the linear weight takes 5 inputs, not a multiple of the 2 conv channels: it fits no "
                            "image"):
        prune_cnn(K, torch.zeros(1, 5), k=2, seed=0)
    with raises(ValueError, "the linear weight takes 10 = 2 x 5 inputs, not a square image per channel: pass "
                            "image_size=(H, W)"):
        prune_cnn(K, torch.zeros(1, 10), k=2, seed=0)
    with raises(ValueError, "no image gives 1x1 conv outputs with a 3x3 kernel and padding 2"):
        prune_cnn(K, torch.zeros(1, 2), k=2, seed=0, padding=2)


def test_a_kernel_larger_than_the_image_gives_no_output():
    """A 4×4 kernel on a 2×2 image has no valid position: 0 outputs, whatever the sign arithmetic says."""
    with raises(ValueError, "an image of size 2x2 gives 0 conv outputs, but the linear weight takes 1 inputs"):
        prune_cnn(kernel(1, 1, 4, 4), torch.zeros(1, 1), k=2, seed=0, image_size=(2, 2))


# ---------------------------------------------------------------- the CNN: inputs, memory, module

def test_cnn_input_errors_name_the_argument():
    K, weight = kernel(2, 1, 3, 3), torch.zeros(1, 8)
    with raises(ValueError, "weight must be a non-empty 2-D matrix (n outputs x d inputs), got shape (8,)"):
        prune_cnn(K, torch.zeros(8), k=2, seed=0)
    bad = torch.zeros(1, 8, dtype=torch.float64)
    bad[0, 3] = 1.5
    with raises(ValueError, RANGE.format(name="weight")):
        prune_cnn(K, bad, k=2, seed=0)
    bad[0, 3] = math.inf
    with raises(ValueError, NAN.format(name="weight")):
        prune_cnn(K, bad, k=2, seed=0)
    with raises(ValueError, "padding must be an integer >= 0, got -1"):
        prune_cnn(K, weight, k=2, seed=0, padding=-1)
    for k in (0, (0, 2), (2, 0)):
        with raises(ValueError, "k must be an integer >= 1, got 0; use at least k=1"):
            prune_cnn(K, weight, k=k, seed=0)
    with raises(ValueError, "eps must be a finite number > 0, got -1.0; pass e.g. eps=0.05"):
        prune_cnn(K, weight, k=2, seed=0, eps=-1)
    assert prune_cnn(K, weight, k=2, seed=0).eps is None
    cnn = prune_cnn(K, weight, k=2, seed=0, eps=1)
    assert cnn.eps == 1.0 and isinstance(cnn.eps, float)


def test_cnn_memory_check_counts_every_random_weight():
    """Conv pair: c_in·h·w·k filters of c_in·h·w weights, then c_out × (c_in·h·w·k); linear pair: (D k × D) and
    (n × D k). The construction fits a limit of exactly 16 bytes per weight plus the overhead, not one byte less."""
    K, weight = kernel(2, 1, 2, 3), kernel(3, 2 * 2 * 2, seed=1)  # images 3×4 → 2 × 2 × 2 outputs
    entries, D, n, k_conv, k_linear = 6, 8, 3, 2, 3
    parameters = entries * k_conv * entries + 2 * entries * k_conv + D * k_linear * D + n * D * k_linear
    limit = 16 * parameters + OVERHEAD_BYTES
    previous = L.set_memory_limit(limit)
    try:
        prune_cnn(K, weight, k=(k_conv, k_linear), seed=0)
        L.set_memory_limit(limit - 1)
        with raises(L.MemoryLimitError, f"a random CNN with k = [2, 3] has {parameters:.3g} random weights: an "
                                        "estimated peak of "):
            prune_cnn(K, weight, k=(k_conv, k_linear), seed=0)
    finally:
        L.set_memory_limit(previous)


def test_cnn_module_and_target():
    K, padding = kernel(2, 1, 3, 3), 1
    weight = kernel(3, 2 * 4 * 4, seed=1)
    cnn = prune_cnn(K, weight, k=(3, 2), seed=2, padding=padding)
    first, second, third, fourth = pruned(cnn)
    x = kernel(2, 1, 4, 4, seed=3)
    hidden = reference.conv2d(np.maximum(reference.conv2d(x, first.numpy(), padding), 0), second.numpy())
    expected = reference.relu_network([third.numpy(), fourth.numpy()], np.maximum(hidden, 0).reshape(2, -1))
    conv_used = int(first.flatten(1).any(dim=1).sum())
    linear_used = int(third.any(dim=1).sum())
    assert conv_used < first.shape[0] and linear_used < third.shape[0]
    for compact in (False, True):
        for dtype in (torch.float64, torch.float32):
            module = cnn.module(compact=compact, dtype=dtype)
            assert module[0].out_channels == (conv_used if compact else first.shape[0])
            assert module[5].out_features == (linear_used if compact else third.shape[0])
            assert all(p.dtype == dtype for p in module.parameters())
            np.testing.assert_allclose(module(x.to(dtype)).double().numpy(), expected,
                                       atol=1e-12 if dtype == torch.float64 else 1e-4)
    target = cnn.target_forward(x.float())
    assert target.dtype == torch.float64
    np.testing.assert_allclose(target.numpy(), reference.cnn_forward(K, weight, x.float().double(), padding),
                               atol=1e-13)


# ---------------------------------------------------------------- which sizes a certificate covers

SIZED = ("convolution 2x1x3x3 with k=4 units per kernel entry (pair) was certified for inputs of shape (1, 3, 3) "
         "(image_size=(3, 3)) only; its certificate does not hold for inputs of shape (1, 16, 16): prune it with "
         "image_size=(16, 16), or with image_size=None for a certificate that holds at every size")


def test_a_sized_convolution_is_certified_at_its_size_only():
    """Built for 3×3 images, the exact image-level certificate is below the error on 16×16 images (the
    issue's case: a strong adversary finds more than the certificate there), so other sizes are refused
    by error and empirical_error and flagged by the export; without image_size every size is certified."""
    K = kernel(2, 1, 3, 3)
    sized = prune_conv(K, k=4, seed=0, image_size=(3, 3))
    anywhere = prune_conv(K, k=4, seed=0)
    large = torch.randn(8, 1, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert sized.certificate < anywhere.certificate
    with raises(ValueError, SIZED):
        L.empirical_error(sized, input_shape=(1, 16, 16))
    with raises(ValueError, SIZED):
        sized.error(large)
    measured = L.empirical_error(anywhere, input_shape=(1, 16, 16), samples=32, starts=2, steps=10)
    assert measured.adversarial > sized.certificate  # why the sized certificate must not be used at 16×16
    assert measured.adversarial <= anywhere.certificate
    assert L.empirical_error(sized, samples=256, starts=8, steps=40).adversarial <= sized.certificate
    exported = L.to_torch(sized)
    assert exported.certified_input_shape == (1, 3, 3) and L.to_torch(anywhere).certified_input_shape is None
    with pytest.warns(UserWarning, match=re.escape("this pruned network's certificate holds for inputs of shape "
                                                   "(1, 3, 3) only, got (1, 16, 16)")):
        exported(large.float())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exported(large[:, :, :3, :3].float())  # its own size: no warning
        exported(large[0, :, :3, :3].float())  # one image without a batch dimension, as Conv2d allows


def test_inputs_that_fit_no_convolution_are_refused_with_the_message():
    anywhere = prune_conv(kernel(2, 1, 3, 3), k=4, seed=0, padding=1)
    with raises(ValueError, "convolution 2x1x3x3 with k=4 units per kernel entry (pair) takes images of shape "
                            "(1, H, W), got inputs of shape (2, 5, 5)"):
        anywhere.error(torch.zeros(3, 2, 5, 5))
    with raises(ValueError, "input_shape must be a non-empty tuple of integers >= 1 (e.g. (3,) or (1, 8, 8)), got "
                            "(1, 1, 0)"):
        L.empirical_error(anywhere, input_shape=(1, 1, 0))
    assert float(anywhere.error(torch.ones(2, 1, 1, 1)).max()) >= 0  # 1×1 images fit a 3×3 kernel with padding 1
    unpadded = prune_conv(kernel(2, 1, 3, 3), k=4, seed=0)
    with raises(ValueError, "convolution 2x1x3x3 with k=4 units per kernel entry (pair): a 3x3 kernel does not fit "
                            "an image of size 2x5 with padding 0"):
        L.empirical_error(unpadded, input_shape=(1, 2, 5))


def test_a_pair_that_keeps_no_unit_computes_zero():
    """A zero kernel keeps no unit: the compact module still runs (one zero filter), its error is 0."""
    zero = prune_conv(torch.zeros(2, 1, 3, 3), k=2, seed=0)
    assert zero.kept_parameters == 0 and zero.certificate == 0.0
    images = torch.randn(4, 1, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for compact in (False, True):
        assert torch.equal(zero.module(compact=compact)(images), torch.zeros(4, 2, 3, 4, dtype=torch.float64))
    assert torch.equal(zero.error(images), torch.zeros(4, dtype=torch.float64))
    assert L.empirical_error(zero, input_shape=(1, 5, 6), samples=64, starts=2, steps=5).adversarial == 0.0
    cnn = prune_cnn(torch.zeros(2, 1, 3, 3), kernel(3, 2 * 3 * 4), k=2, seed=0, image_size=(5, 6))
    assert L.empirical_error(cnn, samples=64, starts=2, steps=5).adversarial == 0.0  # the linear pair reads zeros
    block = prune_conv_residual(torch.zeros(2, 1, 3, 3), torch.zeros(1, 2, 3, 3), k=2, seed=0)  # x ↦ x + 0
    assert torch.equal(block.error(images), torch.zeros(4, dtype=torch.float64))
