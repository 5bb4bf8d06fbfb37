"""Format selection: the KL criterion, the weight and activation FL searches, on built distributions."""

import numpy as np
import pytest

from edgeadapt.quant import formats


def _dequant(w, fl, bits):
    lo, hi = {8: (-128, 127), 4: (-8, 7), 2: (-2, 1)}[bits]
    return formats.quantize_to_grid(w, fl, lo, hi) * 2.0**-fl


def test_round_half_up_matches_the_shift_rule():
    assert formats.round_half_up(np.array([2.5, -2.5, -2.51, 0.49])).tolist() == [3, -2, -3, 0]


def test_noclip_fl_is_the_largest_fl_without_saturation():
    # 0.9 * 2^7 = 115.2 fits 127, 0.9 * 2^8 = 230 does not
    assert formats.noclip_fl(0.9, -0.2, -128, 127) == 7
    # -1.0 * 2^7 = -128 fits exactly on the negative side
    assert formats.noclip_fl(0.1, -1.0, -128, 127) == 7
    # rounding half up: 0.996 * 2^7 = 127.49 rounds to 127, still inside
    assert formats.noclip_fl(0.996, 0.0, -128, 127) == 7
    # 2 bit: max code 1, so 0.74 needs FL 0 (0.74 rounds to 1), 0.74 * 2 = 1.48 rounds to 1 too
    assert formats.noclip_fl(0.74, 0.0, -2, 1) == 1
    assert formats.noclip_fl(0.0, 0.0, -128, 127) == 0


def test_kl_is_zero_for_identical_and_grows_with_coarser_grids():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.1, 4096)
    assert formats.histogram_kl(w, w) == pytest.approx(0.0, abs=1e-12)
    base = int(formats.noclip_fl(w.max(), w.min(), -128, 127))
    kls = [formats.histogram_kl(w, _dequant(w, fl, 8)) for fl in (base - 3, base - 2, base - 1, base)]
    assert all(a > b for a, b in zip(kls, kls[1:]))  # finer grid, less information lost
    assert kls[-1] <= formats.KL_EPS < kls[0]


def test_8_bit_gaussian_channel_is_lossless_at_the_noclip_fl():
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.05, (4, 3, 3, 64))
    fl, lossless = formats.weight_fl_adapt(w, 8)
    assert lossless.all()
    np.testing.assert_array_equal(fl, formats.weight_fl_minmax(w, 8))


def test_2_bit_falls_back_to_the_mse_optimal_fl():
    rng = np.random.default_rng(2)
    w = rng.laplace(0, 0.05, (3, 288))
    w[:, 0] = 0.6  # an outlier per channel: min/max would waste the four levels on it
    fl, lossless = formats.weight_fl_adapt(w, 2)
    assert not lossless.any()
    for c in range(3):
        base = int(formats.noclip_fl(w[c].max(), w[c].min(), -2, 1))
        mses = {f: np.mean((_dequant(w[c], f, 2) - w[c]) ** 2) for f in range(base, base + formats.MAX_EXTRA_FL + 1)}
        assert fl[c] == min(mses, key=mses.get)
        assert fl[c] > base  # the outlier is clipped


def test_zero_channel_gets_a_finite_fl():
    w = np.zeros((2, 9))
    w[1] = np.linspace(-0.5, 0.5, 9)
    fl, lossless = formats.weight_fl_adapt(w, 8)
    assert fl[0] == 0 and lossless[0]


def test_activation_mse_clips_a_rare_outlier_that_min_max_keeps():
    rng = np.random.default_rng(3)
    x = np.abs(rng.normal(0, 0.25, 100_000))
    x[0] = 10.0
    minmax = formats.activation_fl_minmax(x.max(), x.min())
    assert minmax == 3  # 10 * 8 = 80 fits, 10 * 16 = 160 does not
    chosen = formats.activation_fl_mse(x)
    assert chosen > minmax
    mse = lambda fl: np.mean((formats.quantize_to_grid(x, fl, -128, 127) * 2.0**-fl - x) ** 2)
    assert mse(chosen) < mse(minmax) / 3
    assert mse(chosen) <= min(mse(f) for f in range(minmax - 1, minmax + formats.MAX_EXTRA_FL + 1))


def test_activation_without_outliers_keeps_its_range():
    x = np.linspace(0, 1.9, 10_000)
    assert formats.activation_fl_mse(x) == formats.activation_fl_minmax(x.max(), x.min()) == 6
