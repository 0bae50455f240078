"""One look for every explanation plot of the course (matplotlib only).

Colour convention, the same in every function: signed attributions use
:data:`SIGNED_CMAP`, centred at 0 with symmetric limits, so **red is evidence
for** the explained output and **blue is evidence against** it; magnitudes
(absolute attributions, Grad-CAM, attention weights) use the sequential
:data:`ABSOLUTE_CMAP`. Every function draws into ``ax`` (a new figure when it
is None), returns the Axes (the Figure for grids) and never calls
``plt.show()``. Inputs may be NumPy arrays, lists or torch tensors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.transforms import offset_copy

from ._common import describe, finite_array, real_number, resize_linear, strings

#: Diverging colormap of signed attributions: red = for, blue = against, white = 0.
SIGNED_CMAP = "RdBu_r"
#: Sequential colormap of magnitudes (absolute attributions, Grad-CAM, attention).
ABSOLUTE_CMAP = "inferno"
#: Bar colours of positive ("for") and negative ("against") values.
POSITIVE_COLOR = colormaps[SIGNED_CMAP](0.85)
NEGATIVE_COLOR = colormaps[SIGNED_CMAP](0.15)
#: Colour of ground-truth regions (distinct from both ends of SIGNED_CMAP).
HIGHLIGHT_COLOR = "#1a9641"


def _array(x: object, name: str) -> np.ndarray:
    """Numbers to draw: a non-empty, finite float array (no silent gaps in a plot)."""
    return finite_array(x, name)


def _squeeze_leading(a: np.ndarray, ndim: int) -> np.ndarray:
    while a.ndim > ndim and a.shape[0] == 1:  # drop batch dimensions of size 1
        a = a[0]
    return a


def _image(image: object, name: str = "image") -> np.ndarray:
    """Return an (H, W) or (H, W, 3) float image in [0, 1] for display."""
    is_uint8 = str(getattr(image, "dtype", "")).endswith("uint8")
    a = _squeeze_leading(_array(image, name), 3)
    if a.ndim == 3 and a.shape[-1] not in (1, 3, 4) and a.shape[0] in (1, 3):
        a = np.moveaxis(a, 0, -1)  # CHW -> HWC
    if a.ndim == 3 and a.shape[-1] in (1, 3, 4):
        a = a[..., 0] if a.shape[-1] == 1 else a[..., :3]
    if a.ndim not in (2, 3):
        raise ValueError(f"{name}: expected shape (H, W), (H, W, 3) or (C, H, W) with C in "
                         f"(1, 3), got {np.shape(image)}")  # fmt: skip
    if is_uint8:
        return a / 255.0
    if a.min() < 0 or a.max() > 1:  # e.g. normalised with ImageNet statistics
        a = (a - a.min()) / (np.ptp(a) or 1.0)
    return a


def _resize(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bilinear (linear for 1D) resize, pixel centres aligned as in OpenCV/torch."""
    if a.shape == tuple(shape):
        return a
    return resize_linear(np.asarray(a, dtype=np.float64), tuple(shape))


def _attribution_map(attribution: object, hw: tuple[int, int], kind: str) -> np.ndarray:
    """Reduce an attribution to (H, W): channels are summed, then resized to ``hw``."""
    if kind not in ("signed", "absolute"):
        raise ValueError(f"kind must be 'signed' or 'absolute', got {kind!r}")
    a = _squeeze_leading(_array(attribution, "attribution"), 2)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a.sum(axis=0)  # channel sum, as in captum's visualisation
    elif a.ndim == 3 and a.shape[-1] in (1, 3):
        a = a.sum(axis=-1)
    if a.ndim != 2 or a.shape[0] > hw[0] or a.shape[1] > hw[1]:
        raise ValueError(f"attribution: expected shape (h, w) or (C, h, w) no larger than the "
                         f"image {hw}, got {np.shape(attribution)}")  # fmt: skip
    a = _resize(a, hw)
    return np.abs(a) if kind == "absolute" else a


def _limits(values: np.ndarray, kind: str, vmax: float | None) -> tuple[float, float]:
    top = float(np.nanmax(np.abs(values))) if vmax is None else float(vmax)
    top = top if top > 0 else 1e-12
    return (-top, top) if kind == "signed" else (0.0, top)


def _opaque(image: object) -> ScalarMappable:
    """A colour-bar source with the image's colours at full opacity."""
    return ScalarMappable(image.norm, image.cmap)


def _finish(ax: Axes, heat: object, title: str | None, colorbar: bool, label: str = "") -> Axes:
    if colorbar:
        ax.figure.colorbar(_opaque(heat), ax=ax, fraction=0.046, pad=0.03, label=label)
    if title:
        ax.set_title(title)
    return ax


def _subplots(*args: int, **kwargs: object):
    import matplotlib.pyplot as plt  # lazily: importing utils stays light

    return plt.subplots(*args, **kwargs)


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    return _subplots(figsize=figsize)[1] if ax is None else ax


def show_attribution(
    image: object, attribution: object, ax: Axes | None = None, title: str | None = None,
    kind: str = "signed", alpha: float = 0.5, cmap: str | None = None,
    colorbar: bool = True, vmax: float | None = None, grey: bool = True,
) -> Axes:  # fmt: skip
    """Draw an attribution map over an image.

    Parameters
    ----------
    image : array_like or tensor
        ``(H, W)``, ``(H, W, 3)`` or ``(C, H, W)`` (C = 1 or 3), uint8 or float.
    attribution : array_like or tensor
        ``(h, w)`` or ``(C, h, w)``; channels are summed. A smaller map (e.g. a
        7x7 Grad-CAM for a 28x28 image) is resized to the image with bilinear
        interpolation (pixel centres aligned, as in OpenCV and pytorch-grad-cam).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    title : str, optional
        Axes title.
    kind : {"signed", "absolute"}
        ``"signed"``: :data:`SIGNED_CMAP` with limits ``[-m, m]`` (red = for,
        blue = against); ``"absolute"``: ``|attribution|`` in :data:`ABSOLUTE_CMAP`
        with limits ``[0, m]``. ``m`` is the largest magnitude, or ``vmax``.
    alpha : float, default 0.5
        Opacity of the heat map.
    cmap : str, optional
        Override the colormap (keep the defaults for a consistent course).
    colorbar : bool, default True
        Add a colour bar (opaque colours, whatever ``alpha``).
    vmax : float, optional
        Colour limit ``m``, e.g. shared by several plots.
    grey : bool, default True
        Show a colour image in grey so that the heat map's colours stand out.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        If the image or attribution are not numbers, or ``alpha`` not a number.
    ValueError
        For empty or non-finite inputs, shapes that do not fit, an unknown ``kind`` or
        ``alpha`` outside [0, 1].

    Examples
    --------
    >>> ax = show_attribution(x[0], grad_cam_map, kind="absolute")  # doctest: +SKIP
    """
    real_number(alpha, "alpha")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    img = _image(image)
    if grey and img.ndim == 3:
        img = img @ np.array([0.299, 0.587, 0.114])
    amap = _attribution_map(attribution, img.shape[:2], kind)
    ax = _axes(ax, (4.0, 4.0))
    ax.imshow(img, cmap="gray", vmin=0, vmax=1)
    lo, hi = _limits(amap, kind, vmax)
    cmap = cmap or (SIGNED_CMAP if kind == "signed" else ABSOLUTE_CMAP)
    heat = ax.imshow(amap, cmap=cmap, vmin=lo, vmax=hi, alpha=alpha)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)
    return _finish(ax, heat, title, colorbar)


def _is_nested(x: object) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0 and isinstance(x[0], (list, tuple))


def show_attribution_grid(
    images: Sequence, attributions: Sequence, titles: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None, kind: str = "signed", shared_scale: bool = True,
    alpha: float = 0.5, cmap: str | None = None, size: float = 2.2,
) -> Figure:  # fmt: skip
    """Draw a grid of attribution maps, e.g. rows = methods, columns = images.

    Parameters
    ----------
    images : sequence
        One image per column (repeated down the rows), or a nested list
        ``images[row][col]`` (e.g. rows = images, columns = methods).
    attributions : sequence
        Nested ``attributions[row][col]``, or an array ``(rows, cols, ...)``.
    titles, row_labels : sequence of str, optional
        Column titles (top row) and row labels (left column).
    kind, alpha, cmap :
        As in :func:`show_attribution`.
    shared_scale : bool, default True
        One colour scale (and one colour bar) for all maps, so that they can be
        compared; otherwise each map is scaled to its own maximum.
    size : float, default 2.2
        Size of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        If ``images`` or ``attributions`` are not sequences (of numbers), or the labels
        not strings.
    ValueError
        For grids whose sizes do not fit, or images and maps as in :func:`show_attribution`.
    """
    for what, value in (("images", images), ("attributions", attributions)):
        if not isinstance(value, (list, tuple, np.ndarray)) and not hasattr(value, "detach"):
            raise TypeError(f"{what}: expected a sequence (list or array), got "
                            f"{describe(value)}")  # fmt: skip
    if isinstance(attributions, np.ndarray) or hasattr(attributions, "detach"):
        attributions = list(_array(attributions, "attributions"))
    if not _is_nested(attributions) and not (len(attributions) and np.ndim(attributions[0]) >= 3):
        raise ValueError("attributions: expected a nested list [row][col] or an array (rows, "
                         f"cols, ...), got a {type(attributions).__name__} of "
                         f"{len(attributions)} items")  # fmt: skip
    n_rows, n_cols = len(attributions), len(attributions[0])
    if any(len(row) != n_cols for row in attributions):
        raise ValueError(f"attributions: every row needs {n_cols} maps, got "
                         f"{[len(row) for row in attributions]}")  # fmt: skip
    if _is_nested(images) and [len(row) for row in images] == [n_cols] * n_rows:
        grid = images
    elif not _is_nested(images) and len(images) == n_cols:
        grid = [list(images)] * n_rows
    else:
        raise ValueError(f"images: expected {n_cols} (one per column) or a nested "
                         f"{n_rows}x{n_cols} list, got {len(images)} items")  # fmt: skip
    for labels, n, what in ((titles, n_cols, "titles"), (row_labels, n_rows, "row_labels")):
        if labels is not None and len(strings(labels, what)) != n:
            raise ValueError(f"{what}: expected {n} labels, got {len(labels)}")
    imgs = [[_image(grid[r][c], "images") for c in range(n_cols)] for r in range(n_rows)]
    maps = [[_attribution_map(attributions[r][c], imgs[r][c].shape[:2], kind)
             for c in range(n_cols)] for r in range(n_rows)]  # fmt: skip
    vmax = max(float(np.abs(m).max()) for row in maps for m in row) if shared_scale else None
    fig, axes = _subplots(n_rows, n_cols, figsize=(size * n_cols + 0.8, size * n_rows),
                          squeeze=False, layout="constrained")  # fmt: skip
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            show_attribution(imgs[r][c], maps[r][c], ax=ax, kind=kind, alpha=alpha, cmap=cmap,
                             colorbar=not shared_scale, vmax=vmax)  # fmt: skip
            if titles is not None and r == 0:
                ax.set_title(titles[c])
            if row_labels is not None and c == 0:
                ax.set_ylabel(row_labels[r])
    if shared_scale:
        fig.colorbar(_opaque(axes[0, 0].images[-1]), ax=axes, shrink=0.8)
    return fig


def _vector(x: object, name: str) -> np.ndarray:
    a = _squeeze_leading(_array(x, name), 1)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1D array (length,) or (1, length), "
                         f"got shape {np.shape(x)}")  # fmt: skip
    return a


def plot_signal_attribution(
    signal: object, attribution: object, ax: Axes | None = None, title: str | None = None,
    fs: float | None = None, highlight: Sequence | None = None, colorbar: bool = True,
    vmax: float | None = None,
) -> Axes:  # fmt: skip
    """Draw a 1D signal over a coloured background showing its signed attribution.

    Parameters
    ----------
    signal : array_like or tensor
        ``(length,)`` or ``(1, length)``.
    attribution : array_like or tensor
        Same length, or shorter (e.g. a Grad-CAM map of a conv layer), then
        resized with linear interpolation. Colours as in :func:`show_attribution`.
    ax, title, colorbar, vmax :
        As in :func:`show_attribution`.
    fs : float, optional
        Sampling rate in Hz: the x-axis shows seconds instead of samples.
    highlight : sequence of (start, stop), optional
        Ground-truth regions in sample indices, ``[start, stop)``, drawn as
        hatched green boxes (e.g. the regions of :func:`utils.make_ecg_dataset`).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        If an input is not numbers, or ``fs`` not a number.
    ValueError
        For empty or non-finite inputs, shapes that do not fit, regions outside the
        signal, or a sampling rate that is not positive.
    """
    x = _vector(signal, "signal")
    a = _vector(attribution, "attribution")
    if len(a) > len(x):
        raise ValueError(f"attribution: expected at most {len(x)} values (the signal's "
                         f"length), got {len(a)}")  # fmt: skip
    a = _resize(a, x.shape)
    if fs is not None:
        real_number(fs, "fs", minimum=0.0, strict=True)
    no_spans = highlight is None or np.size(highlight) == 0
    spans = np.empty((0, 2)) if no_spans else np.atleast_2d(_array(highlight, "highlight"))
    if spans.ndim != 2 or spans.shape[1] != 2 or np.any(spans[:, 0] < 0) \
            or np.any(spans[:, 1] > len(x)) or np.any(spans[:, 0] >= spans[:, 1]):  # fmt: skip
        raise ValueError(f"highlight: expected (start, stop) pairs with 0 <= start < stop <= "
                         f"{len(x)}, got {np.asarray(highlight).tolist()}")  # fmt: skip
    dt = 1.0 / fs if fs else 1.0
    ax = _axes(ax, (8.0, 2.8))
    lo, hi = _limits(a, "signed", vmax)
    pad = 0.05 * (np.ptp(x) or 1.0)
    extent = (-0.5 * dt, (len(x) - 0.5) * dt, x.min() - pad, x.max() + pad)
    heat = ax.imshow(a[None, :], cmap=SIGNED_CMAP, vmin=lo, vmax=hi, aspect="auto",
                     extent=extent, interpolation="nearest", origin="lower")  # fmt: skip
    ax.plot(np.arange(len(x)) * dt, x, color="black", lw=1.2,
            path_effects=[patheffects.withStroke(linewidth=3, foreground="white")])  # fmt: skip
    for k, (start, stop) in enumerate(spans):
        ax.axvspan((start - 0.5) * dt, (stop - 0.5) * dt, fill=False, hatch="///", lw=1.5,
                   edgecolor=HIGHLIGHT_COLOR, label="ground truth" if k == 0 else None)  # fmt: skip
    if len(spans):
        ax.legend(loc="upper right", frameon=True)
    ax.set_xlabel("time (s)" if fs else "sample")
    return _finish(ax, heat, title, colorbar, "attribution")


def plot_token_attribution(
    tokens: Sequence[str], scores: object, ax: Axes | None = None, title: str | None = None,
    vmax: float | None = None, fontsize: float = 11.0,
) -> Axes:  # fmt: skip
    """Draw tokens as boxes coloured by their signed attribution, wrapped over lines.

    Parameters
    ----------
    tokens : sequence of str
    scores : array_like or tensor
        One score per token; red = for, blue = against (see :data:`SIGNED_CMAP`).
    ax, title, vmax :
        As in :func:`show_attribution`. A new figure grows to fit all lines; a
        given ``ax`` should be wide and tall enough.
    fontsize : float, default 11

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        If ``tokens`` are not strings or ``scores`` not numbers.
    ValueError
        For empty or non-finite scores, or not one score per token.
    """
    s = _vector(scores, "scores")
    tokens = strings(tokens, "tokens")
    if len(tokens) != len(s):
        raise ValueError(f"scores: expected one per token ({len(tokens)}), got {len(s)}")
    new = ax is None
    ax = _axes(ax, (8.0, 1.0))
    ax.set_axis_off()
    fig = ax.figure
    renderer = getattr(fig.canvas, "get_renderer", fig._get_renderer)()  # to measure text
    if new:
        fig.subplots_adjust(left=0.02, right=0.98)
    lo, hi = _limits(s, "signed", vmax)
    norm, cmap = Normalize(lo, hi), colormaps[SIGNED_CMAP]
    width = ax.get_window_extent(renderer).width
    line_h, x, line = 2.0 * fontsize, 0.0, 0
    gap = 0.8 * fontsize * fig.dpi / 72 / width  # box padding + space, as a fraction of ax
    for tok, score in zip(tokens, s, strict=True):
        for _ in range(2):  # place; move to the next line if it overflows
            shift = offset_copy(ax.transAxes, fig, y=-line * line_h, units="points")
            box = {"boxstyle": "round,pad=0.25", "fc": cmap(norm(score)), "ec": "none"}
            text = ax.text(x, 1.0, str(tok), transform=shift, va="top", fontsize=fontsize,
                           color="white" if abs(norm(score) - 0.5) > 0.35 else "black",
                           bbox=box)  # fmt: skip
            w = text.get_window_extent(renderer).width / width
            if x == 0.0 or x + w <= 1.0:
                break
            text.remove()
            x, line = 0.0, line + 1
        x += w + gap
    if new:  # grow the figure to fit all lines below a fixed top margin
        margin = 0.1 + (0.3 if title else 0.0)
        height = margin + (line + 1) * line_h / 72 + 0.1
        fig.set_size_inches(8.0, height)
        fig.subplots_adjust(top=1 - margin / height, bottom=0.0)
    if title:
        ax.set_title(title, loc="left")
    return ax


def plot_importance(
    values: object, names: Sequence[str], ax: Axes | None = None, errors: object = None,
    title: str | None = None, top: int | None = None, sort: bool = True,
    xlabel: str = "importance",
) -> Axes:  # fmt: skip
    """Draw feature importances as horizontal bars, largest on top.

    Parameters
    ----------
    values : array_like or tensor
        One importance per feature; negative values are drawn in the
        "against" colour (:data:`NEGATIVE_COLOR`), positive ones in red.
    names : sequence of str
        Feature names, same length.
    ax, title :
        As in :func:`show_attribution`.
    errors : array_like, optional
        Non-negative error bars, e.g. the standard deviation over repeats.
    top : int, optional
        Show only the ``top`` features with the largest ``|value|``.
    sort : bool, default True
        Order by ``|value|`` (largest on top); otherwise keep the given order.
    xlabel : str, default "importance"

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        If ``values`` or ``errors`` are not numbers, or ``names`` not strings.
    ValueError
        For empty or non-finite values, lengths that differ, negative errors, or a
        ``top`` that is not a positive integer.
    """
    v = _vector(values, "values")
    if len(strings(names, "names")) != len(v):
        raise ValueError(f"names: expected one per value ({len(v)}), got {len(names)}")
    err = None if errors is None else _vector(errors, "errors")
    if err is not None and (len(err) != len(v) or np.any(err < 0)):
        raise ValueError(f"errors: expected {len(v)} non-negative values, got {len(err)} "
                         f"values {np.round(err, 3).tolist()[:5]}...")  # fmt: skip
    if top is not None and (isinstance(top, bool) or not isinstance(top, (int, np.integer))
                            or top < 1):  # fmt: skip
        raise ValueError(f"top: expected a positive integer, got {top!r}")
    order = np.argsort(-np.abs(v), kind="stable") if sort else np.arange(len(v))
    order = order[:top][::-1]  # barh draws bottom-up: largest last = on top
    ax = _axes(ax, (6.0, 0.6 + 0.28 * len(order)))
    colours = [POSITIVE_COLOR if v[i] >= 0 else NEGATIVE_COLOR for i in order]
    ax.barh(np.arange(len(order)), v[order], color=colours,
            xerr=None if err is None else err[order], capsize=3 if err is not None else 0,
            error_kw={"ecolor": "0.3", "lw": 1})  # fmt: skip
    ax.set_yticks(np.arange(len(order)), [str(names[i]) for i in order])
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel(xlabel)
    return _finish(ax, None, title, colorbar=False)


def plot_attention(
    matrix: object, tokens: Sequence[str] | None = None, ax: Axes | None = None,
    title: str | None = None, colorbar: bool = True,
) -> Axes:  # fmt: skip
    """Draw an attention matrix: rows = queries (attending), columns = keys (attended).

    Parameters
    ----------
    matrix : array_like or tensor
        ``(n_queries, n_keys)``; select a layer and head first (e.g. ``attn[0, head]``).
    tokens : sequence of str, optional
        Labels of the rows and columns (self-attention: ``n_queries == n_keys``).
    ax, title, colorbar :
        As in :func:`show_attribution`; colours: :data:`ABSOLUTE_CMAP` from 0.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        If ``matrix`` is not numbers or ``tokens`` not strings.
    ValueError
        For an empty or non-finite matrix, a shape other than ``(n_queries, n_keys)``, or
        labels that do not fit.
    """
    m = _squeeze_leading(_array(matrix, "matrix"), 2)
    if m.ndim != 2:
        raise ValueError("matrix: expected (n_queries, n_keys); select one layer and head, "
                         f"got shape {np.shape(matrix)}")  # fmt: skip
    if tokens is not None and not (len(strings(tokens, "tokens")) == m.shape[0] == m.shape[1]):
        raise ValueError(f"tokens: expected {m.shape[0]} labels for a square matrix, got "
                         f"{len(tokens)} labels for shape {m.shape}")  # fmt: skip
    n = max(m.shape)
    ax = _axes(ax, (min(1.2 + 0.32 * n, 10.0), min(1.0 + 0.32 * n, 10.0)))
    heat = ax.imshow(m, cmap=ABSOLUTE_CMAP, vmin=0, vmax=max(float(m.max()), 1e-12))
    if tokens is not None:
        ax.set_xticks(np.arange(n), [str(t) for t in tokens], rotation=90)
        ax.set_yticks(np.arange(n), [str(t) for t in tokens])
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    return _finish(ax, heat, title, colorbar, "attention weight")
