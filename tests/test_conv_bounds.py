"""Image-level conv bounds: the exact conv matrix, and the pair's η_img against the patch bound and an adversary."""

from __future__ import annotations

import pytest
import torch

from lottolib.adversary import strong_adversary
from lottolib.conv import prune_conv
from lottolib.conv_bounds import conv_matrix, conv_operator_norm_bound, conv_output_size, conv_pair_eta


def test_conv_matrix_is_the_convolution():
    generator = torch.Generator().manual_seed(0)
    kernel = torch.rand(2, 1, 3, 3, generator=generator, dtype=torch.float64) * 2 - 1
    x = torch.randn(5, 1, 6, 6, generator=generator, dtype=torch.float64)
    matrix = conv_matrix(kernel, (1, 6, 6), padding=1)
    direct = torch.nn.functional.conv2d(x, kernel, padding=1).flatten(1)
    assert torch.allclose(x.flatten(1) @ matrix.T, direct, atol=1e-12)
    assert conv_operator_norm_bound(kernel, (1, 6, 6), padding=1) >= float(torch.linalg.matrix_norm(matrix, ord=2))


def test_image_level_eta_bounds_the_pair_and_beats_the_patch_bound():
    generator = torch.Generator().manual_seed(1)
    kernel = torch.rand(2, 1, 3, 3, generator=generator, dtype=torch.float64) * 2 - 1
    construction = prune_conv(kernel, k=40, seed=3)
    plus = construction.layer.plus_error.reshape(kernel.shape)
    minus = construction.layer.minus_error.reshape(kernel.shape)
    eta_image = conv_pair_eta(plus, minus, (1, 6, 6))
    pair = construction.module().double()

    def err(x):
        return (pair(x) - torch.nn.functional.conv2d(x, kernel)).flatten(1).norm(dim=1)

    found = strong_adversary(err, (1, 6, 6), samples=512, starts=16, steps=60)
    assert found.error <= eta_image
    assert eta_image <= construction.certificate * (1 + 1e-12)  # the patch bound η √(hw), no image size given
    sized = prune_conv(kernel, k=40, seed=3, image_size=(6, 6))
    assert found.error <= sized.certificate <= eta_image * (1 + 1e-9)  # image-level, with the rounding slack


@pytest.mark.parametrize(("image", "kernel", "padding"), [((5, 7), (3, 3), 0), ((5, 7), (3, 2), 1), ((2, 2), (3, 3), 1),
                                                           ((2, 2), (5, 5), 0), ((1, 9), (1, 4), 2)])
def test_the_conv_output_size_is_what_torch_computes(image, kernel, padding):
    rows, cols = conv_output_size(*image, kernel, padding)
    if rows < 1 or cols < 1:  # torch refuses a kernel larger than the padded image
        with pytest.raises(RuntimeError):
            torch.nn.functional.conv2d(torch.zeros(1, 1, *image), torch.zeros(1, 1, *kernel), padding=padding)
    else:
        out = torch.nn.functional.conv2d(torch.zeros(1, 1, *image), torch.zeros(1, 1, *kernel), padding=padding)
        assert out.shape[2:] == (rows, cols)
