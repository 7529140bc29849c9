"""Chapter 13 checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import pytest
import torch

from arnn_lite.exercises import ExerciseError, ch13
from arnn_lite.models.vqa import count_sketch


def stub(*args):
    ...
    raise NotImplementedError


def fft_solution(a, b):
    d = a.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(a, n=d) * torch.fft.rfft(b, n=d), n=d)


def test_solutions_pass(capsys):
    ch13.check_count_sketch(count_sketch)
    ch13.check_circular_convolution(fft_solution)
    ch13.check_circular_convolution(ch13.circular_convolution_reference)
    assert capsys.readouterr().out.count("Correct!") == 3


@pytest.mark.parametrize("check", [ch13.check_count_sketch, ch13.check_circular_convolution])
def test_stubs_fail_with_not_implemented(check):
    with pytest.raises(ExerciseError, match="not implemented"):
        check(stub)


def test_assignment_instead_of_accumulation_is_explained():
    def overwrite(x, h, s, d):
        out = torch.zeros(*x.shape[:-1], d, dtype=x.dtype)
        for i in range(x.shape[-1]):
            out[..., h[i]] = s[i] * x[..., i]
        return out
    with pytest.raises(ExerciseError, match="must add up"):
        ch13.check_count_sketch(overwrite)


def test_forgotten_signs_are_explained():
    def unsigned(x, h, s, d):
        out = x.new_zeros(*x.shape[:-1], d)
        return out.index_add(-1, h, x)  # every coordinate with a + sign
    with pytest.raises(ExerciseError, match="random sign"):
        ch13.check_count_sketch(unsigned)


def test_linear_convolution_is_explained():
    def linear(a, b):
        n = 2 * a.shape[-1] - 1
        return torch.fft.irfft(torch.fft.rfft(a, n=n) * torch.fft.rfft(b, n=n), n=n)
    with pytest.raises(ExerciseError, match="linear convolution"):
        ch13.check_circular_convolution(linear)


def test_missing_length_for_odd_sizes_is_explained():
    def no_n(a, b):
        return torch.fft.irfft(torch.fft.rfft(a) * torch.fft.rfft(b))
    with pytest.raises(ExerciseError, match="without n"):
        ch13.check_circular_convolution(no_n)
