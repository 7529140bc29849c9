"""Checkers for chapter 13, VQA with compact bilinear pooling (``chapters/13_vqa.ipynb``)."""

from __future__ import annotations

import torch

from ..models.vqa import count_sketch, sketch_hashes
from . import ExerciseError, cases, check_close, passed, rng, run_student

__all__ = ["check_count_sketch", "check_circular_convolution", "circular_convolution_reference"]


def circular_convolution_reference(a, b):
    """Known-correct answer by the definition: ``c[k] = Σ_i a[i] b[(k − i) mod d]``."""
    d = a.shape[-1]
    idx = (torch.arange(d)[:, None] - torch.arange(d)[None, :]) % d  # (d, d): k - i mod d
    return (a[..., None, :] * b[..., idx]).sum(-1)  # (..., d)


def check_count_sketch(count_sketch_fn) -> None:
    """Exercise ex-13-count-sketch: ``Ψ(x)[..., k] = Σ_{i: h[i]=k} s[i] x[..., i]``."""
    g = rng(13)
    for n, d in cases([(6, 4), (20, 5), (9, 16)], [(12, 3), (30, 8)]):
        x = torch.randn(3, n, dtype=torch.float64, generator=g)
        h, s = sketch_hashes(n, d, g)
        got = run_student(count_sketch_fn, x.clone(), h.clone(), s.clone(), d, name="count_sketch",
                          forbid=[count_sketch])
        expected = count_sketch(x, h, s, d)
        got = torch.as_tensor(got)
        if got.shape == expected.shape and torch.allclose(got.double(), count_sketch(x, h, s.abs(), d)) \
                and not torch.allclose(got.double(), expected):
            raise ExerciseError("count_sketch: every coordinate went in with a + sign. Multiply "
                                "x[..., i] by its random sign s[i] before adding it to bucket h[i].")
        if got.shape == expected.shape and not torch.allclose(got.double(), expected) and len(set(h.tolist())) < n:
            last = torch.zeros_like(expected)
            for i in range(n):  # what an assignment (=) instead of an accumulation (+=) gives
                last[..., h[i]] = s[i] * x[..., i]
            if torch.allclose(got.double(), last):
                raise ExerciseError("count_sketch: when two coordinates share a bucket (h[i] == h[j]) "
                                    "their signed values must add up; yours keeps only the last one "
                                    "(use += or index_add, not =).")
        check_close(f"count_sketch with n={n}, d={d}", got.double(), expected, atol=1e-9,
                    hint="Bucket k holds the sum of s[i] * x[..., i] over all i with h[i] == k.")
    passed("count_sketch matches the package's, collisions and signs included.")


def check_circular_convolution(circular_convolution) -> None:
    """Exercise ex-13-fft: circular convolution of the last dimension via the FFT."""
    g = rng(31)
    for shape in cases([(8,), (2, 5), (3, 16), (7,)], [(4, 9), (11,)]):
        a = torch.randn(shape, dtype=torch.float64, generator=g)
        b = torch.randn(shape, dtype=torch.float64, generator=g)
        got = run_student(circular_convolution, a.clone(), b.clone(), name="circular_convolution")
        expected = circular_convolution_reference(a, b)
        got = torch.as_tensor(got)
        d = shape[-1]
        if got.shape[-1:] == (2 * d - 1,) or got.shape[-1:] == (2 * d,):
            raise ExerciseError(f"circular_convolution: got length {got.shape[-1]} for inputs of length "
                                f"{d}: that is a linear convolution. In a circular one the indices wrap "
                                f"around modulo d, so the output has length d (pass n=d to rfft and irfft).")
        check_close(f"circular_convolution of shape {shape}", got.double(), expected, atol=1e-9,
                    hint="Multiply the two spectra (rfft) and transform back with irfft(..., n=d): "
                         "without n, an odd d comes back one entry short.")
    passed("circular_convolution agrees with the definition c[k] = Σ_i a[i] b[(k - i) mod d].")
