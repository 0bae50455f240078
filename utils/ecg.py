"""A simulated ECG dataset with a planted abnormality whose position is known exactly.

No labelled ECG set ships offline, and a real one would not tell us *where* the
evidence for a diagnosis lies. This module simulates normal heartbeats with the
ECGSYN model (McSharry et al. 2003, *A dynamical model for generating synthetic
electrocardiogram signals*, IEEE TBME) through :func:`neurokit2.ecg_simulate`,
plants an abnormality into half of them and records the sample range it
occupies: the ground truth for scoring explanations (day 3).

How a sample is made
--------------------
1. A pool of clean beats is cut around the R peaks of a few 30 s recordings
   (sampled at 500 Hz) with different mean heart rates (55-90 bpm), heart-rate
   variability and slightly different P, Q, S and T amplitudes.
2. Each sample draws a beat from the pool (both classes draw from the same pool).
   For class 1 the abnormality is planted into that clean beat:

   * ``"wide_qrs"``: the QRS complex (R peak +- 50 ms) is stretched in time by a
     factor drawn from [1.5, 2.0]; the flat PR and ST stretches next to it are
     compressed so that nothing outside ``R +- W`` moves
     (``W = factor * 50 ms + 40 ms``). A QRS of about 100 ms becomes 150-200 ms,
     as in a bundle branch block.
   * ``"inverted_t"``: the T wave (measured against a straight line between its
     ends) is flipped and scaled by a factor drawn from [0.4, 1.0], with a
     smooth taper at the ends, over ``T peak +- 2.5 sigma`` of the beat's T wave.

3. The window of ``length`` samples at ``fs`` Hz puts the R peak at
   0.3 s +- 0.08 s (uniform jitter); then every sample gets an amplitude factor
   in [0.8, 1.2], baseline wander (offset, slope, slow sinusoid) and white noise
   of 0.01-0.04 mV. No single sample separates the classes well (best
   threshold on one sample: about 60 % accuracy for wide QRS, 88 % for inverted
   T); a small 1D CNN (three conv layers) reaches > 95 % test accuracy.

The *region* of a sample is ``[start, stop)`` in sample indices of its window:
for an abnormal beat, the smallest range that holds every sample the
abnormality changed (before noise was added, samples outside it equal those of
the clean beat); for a normal beat, the range the abnormality *would* have
occupied in that beat (its QRS complex or its T wave, found the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import describe, one_of, real_number
from .datasets import Dataset, _split

ABNORMALITIES: dict[str, str] = {
    "wide_qrs": "wide QRS",
    "inverted_t": "inverted T",
}

_SIM_FS = 500  # Hz, sampling rate of the simulated pool
_BEFORE, _AFTER = 0.5, 1.8  # s kept before/after each R peak in the pool
_R_AT, _R_JITTER = 0.3, 0.08  # s, position of the R peak in the output window
_QRS_HALF = 0.05  # s, half-width of the QRS core that is stretched
_T_SIGMAS = 2.5  # half-width of the T-wave region in Gaussian widths
_T_WIDTH = 0.4  # ECGSYN's Gaussian width of the T wave (radians)


@dataclass
class EcgData:
    """A simulated ECG dataset and the ground-truth region of every sample.

    Attributes
    ----------
    dataset : Dataset
        ``X_train``/``X_test``: float32 ``(n, length)`` windows in mV, one beat
        each, R peak near 0.3 s; ``y``: 0 = normal, 1 = abnormal.
    regions_train, regions_test : numpy.ndarray
        int64 ``(n, 2)``: ``[start, stop)`` sample indices of the abnormality
        (class 1) or of the same segment of the normal beat (class 0).
    fs : float
        Sampling rate in Hz.
    abnormality : str
        ``"wide_qrs"`` or ``"inverted_t"``.

    Raises
    ------
    TypeError
        If a field has the wrong type.
    ValueError
        If the regions are not one ``[start, stop)`` per window inside it, ``fs`` is
        not positive or the abnormality is unknown.
    """

    dataset: Dataset
    regions_train: np.ndarray
    regions_test: np.ndarray
    fs: float
    abnormality: str

    def __post_init__(self) -> None:
        """Check the fields: regions must be ``[start, stop)`` pairs, one per window."""
        if not isinstance(self.dataset, Dataset):
            raise TypeError(f"dataset: expected a utils.Dataset, got {describe(self.dataset)}")
        for split in ("train", "test"):
            regions = getattr(self, f"regions_{split}")
            X = getattr(self.dataset, f"X_{split}")
            if not isinstance(regions, np.ndarray) or regions.dtype.kind not in "iu":
                raise TypeError(f"regions_{split}: expected an integer array (n, 2), got "
                                f"{describe(regions)}")  # fmt: skip
            if regions.shape != (len(X), 2) or np.any(regions[:, 0] < 0) \
                    or np.any(regions[:, 0] >= regions[:, 1]) \
                    or np.any(regions[:, 1] > np.shape(X)[-1]):  # fmt: skip
                raise ValueError(f"regions_{split}: expected one [start, stop) per window, "
                                 f"0 <= start < stop <= {np.shape(X)[-1]}, shape "
                                 f"({len(X)}, 2); got shape {regions.shape}")  # fmt: skip
        real_number(self.fs, "fs", minimum=0.0, strict=True)
        one_of(self.abnormality, "abnormality", tuple(ABNORMALITIES))

    def __repr__(self) -> str:
        return f"EcgData({self.abnormality!r}, fs={self.fs:g} Hz, {self.dataset!r})"


@dataclass
class _Beat:
    signal: np.ndarray  # clean, at _SIM_FS, R peak at index r
    r: int
    t_peak: int  # index of the T-wave peak
    t_sigma: float  # Gaussian width of the T wave in samples


def _beat_pool(n_beats: int, rng: np.random.Generator) -> list[_Beat]:
    """Simulate 30 s recordings until ``n_beats`` clean beats are collected."""
    import neurokit2 as nk
    from scipy.signal import find_peaks

    pool: list[_Beat] = []
    before, after = int(_BEFORE * _SIM_FS), int(_AFTER * _SIM_FS)
    while len(pool) < n_beats:
        hr = rng.uniform(55, 90)
        ai = (1.2, -5.0, 30.0, -7.5, 0.75) * np.r_[rng.uniform(0.7, 1.3, 2), 1.0,
                                                    rng.uniform(0.7, 1.3, 2)]  # fmt: skip
        # 30 s: ECGSYN simulates the next power of two of seconds (32 s), then cuts
        ecg = nk.ecg_simulate(duration=30, sampling_rate=_SIM_FS, noise=0, heart_rate=hr,
                              heart_rate_std=4, random_state=int(rng.integers(2**31)),
                              ai=tuple(ai))  # fmt: skip
        peaks, _ = find_peaks(ecg, height=0.6, distance=int(0.3 * _SIM_FS))
        for i in range(1, len(peaks) - 1):
            r = peaks[i]
            if r < before or r + after > len(ecg):
                continue
            rr = (peaks[i + 1] - r) / _SIM_FS
            lo, hi = int(0.1 * _SIM_FS), int(0.6 * rr * _SIM_FS)
            t_peak = before + lo + int(np.argmax(ecg[r + lo : r + hi]))
            sigma = _T_WIDTH * np.sqrt(hr / 60) * rr / (2 * np.pi) * _SIM_FS
            pool.append(_Beat(ecg[r - before : r + after].copy(), before, t_peak, sigma))
    return pool[:n_beats]


def _plant(
    beat: _Beat, abnormality: str, factor: float, apply: bool
) -> tuple[np.ndarray, int, int]:
    """Return the (possibly modified) beat and its first and last modifiable index."""
    x = beat.signal.copy()
    if abnormality == "inverted_t":
        half = int(round(_T_SIGMAS * beat.t_sigma))
        a, b = beat.t_peak - half, beat.t_peak + half + 1
        if apply:
            seg = x[a:b]
            wave = seg - np.linspace(seg[0], seg[-1], len(seg))  # T wave above its chord
            n = max(len(seg) // 5, 1)  # cosine taper over the outer fifth on each side
            ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
            taper = np.r_[ramp, np.ones(len(seg) - 2 * n), ramp[::-1]]
            x[a:b] = seg - (1.0 + factor) * taper * wave
        return x, a + 1, b - 2  # the end points themselves are unchanged
    # wide_qrs: piecewise linear time warp u -> phi(u) around the R peak
    h = _QRS_HALF * _SIM_FS
    k_h, w = factor * h, factor * h + 0.04 * _SIM_FS
    a, b = beat.r - int(np.ceil(w)), beat.r + int(np.ceil(w)) + 1
    if apply:
        u = np.arange(a, b) - beat.r
        au = np.abs(u)
        phi = np.where(au <= k_h, au / factor, h + (au - k_h) * (w - h) / (w - k_h))
        phi = np.sign(u) * np.minimum(phi, au)  # identity beyond w (where au > w)
        x[a:b] = np.interp(beat.r + phi, np.arange(len(x)), beat.signal)
    return x, a + 1, b - 2


def _sample(
    beat: _Beat, abnormality: str, factor: float, apply: bool, r_out: int, length: int, fs: float
) -> tuple[np.ndarray, int, int]:
    """Plant (or not), resample at ``fs`` with the R peak at ``r_out``; return x, start, stop."""
    signal, a, b = _plant(beat, abnormality, factor, apply)
    t = beat.r + (np.arange(length) - r_out) / fs * _SIM_FS  # positions in the pool beat
    x = np.interp(t, np.arange(len(signal)), signal)
    # output samples whose linear interpolation reads a pool sample in [a, b]
    start = int(np.floor(r_out + (a - 1 - beat.r) * fs / _SIM_FS)) + 1
    stop = int(np.ceil(r_out + (b + 1 - beat.r) * fs / _SIM_FS))
    return x, max(start, 0), min(stop, length)


def make_ecg_dataset(
    n_per_class: int = 300,
    length: int = 100,
    fs: float = 100.0,
    abnormality: str = "wide_qrs",
    seed: int = 0,
    test_size: float = 0.25,
) -> EcgData:
    """Simulate single-beat ECG windows, half of them with a planted abnormality.

    See the module docstring for how beats are simulated and modified.

    Parameters
    ----------
    n_per_class : int, default 300
        Beats per class (at least 10).
    length : int, default 100
        Samples per window; ``length / fs`` must lie in [0.9, 2.0] s so that the
        whole beat fits.
    fs : float, default 100.0
        Sampling rate in Hz, in [50, 500].
    abnormality : {"wide_qrs", "inverted_t"}
        What distinguishes class 1.
    seed : int, default 0
        Seeds the simulation, the noise and the stratified split.
    test_size : float, default 0.25
        Fraction of beats held out for testing.

    Returns
    -------
    EcgData
        ``.dataset`` (a :class:`~utils.datasets.Dataset`) and the ground-truth
        ``.regions_train`` / ``.regions_test``, int ``(n, 2)`` arrays of
        ``[start, stop)`` indices aligned with the rows of ``X_train``/``X_test``.

    Raises
    ------
    TypeError
        If ``abnormality`` is not a string.
    ValueError
        For an unknown abnormality or sizes/rates outside the ranges above.

    Examples
    --------
    >>> ecg = make_ecg_dataset(n_per_class=100, abnormality="inverted_t")
    >>> ecg.dataset.X_train.shape, ecg.regions_train.shape
    ((150, 100), (150, 2))
    """
    if not isinstance(abnormality, str):
        raise TypeError(f"abnormality: expected one of {sorted(ABNORMALITIES)}, got "
                        f"{describe(abnormality)}")  # fmt: skip
    if abnormality not in ABNORMALITIES:
        raise ValueError(f"Unknown abnormality {abnormality!r}; expected one of "
                         f"{sorted(ABNORMALITIES)}")  # fmt: skip
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)) \
            or n_per_class < 10:  # fmt: skip
        raise ValueError(f"n_per_class must be an integer >= 10, got {n_per_class!r}")
    if not isinstance(fs, (int, float, np.number)) or not 50 <= fs <= 500:
        raise ValueError(f"fs must be a sampling rate in [50, 500] Hz, got {fs!r}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) \
            or not 0.9 <= length / fs <= 2.0:  # fmt: skip
        raise ValueError(f"length must be an integer with length / fs in [0.9, 2.0] s "
                         f"(e.g. {int(fs)} at fs={fs:g}), got length={length!r}")  # fmt: skip
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(test_size, (float, int)) or not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    rng = np.random.default_rng(seed)
    n, fs = 2 * int(n_per_class), float(fs)
    pool = _beat_pool(int(np.clip(n // 4, 30, 300)), rng)  # each beat reused ~4 times
    y = np.repeat([0, 1], n_per_class).astype(np.int64)
    X = np.empty((n, length), dtype=np.float32)
    regions = np.empty((n, 2), dtype=np.int64)
    t = np.arange(length) / fs
    lo, hi = (1.5, 2.0) if abnormality == "wide_qrs" else (0.4, 1.0)
    for i in range(n):
        beat = pool[rng.integers(len(pool))]
        factor = rng.uniform(lo, hi)
        r_out = int(round((_R_AT + rng.uniform(-_R_JITTER, _R_JITTER)) * fs))
        x, start, stop = _sample(beat, abnormality, factor, bool(y[i]), r_out, length, fs)
        regions[i] = start, stop
        wander = (rng.normal(0, 0.15) + rng.normal(0, 0.15) * t
                  + rng.uniform(0, 0.1) * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t
                                                 + rng.uniform(0, 2 * np.pi)))  # fmt: skip
        noise = rng.normal(0, rng.uniform(0.01, 0.04), length)
        X[i] = rng.uniform(0.8, 1.2) * x + wander + noise
    idx_tr, idx_te, y_tr, y_te = _split(np.arange(n), y, test_size, seed)
    name = ABNORMALITIES[abnormality]
    description = (
        f"Simulated single-beat ECG windows ({length} samples at {fs:g} Hz, R peak near "
        f"{_R_AT} s) from ECGSYN (McSharry et al. 2003) via neurokit2; class 1 has a planted "
        f"{name} at a recorded position (regions_train/regions_test)."
    )
    dataset = Dataset(f"ecg_{abnormality}", X[idx_tr], X[idx_te], y_tr, y_te, [],
                      ["normal", name], description)  # fmt: skip
    return EcgData(dataset, regions[idx_tr], regions[idx_te], fs, abnormality)
