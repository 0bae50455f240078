"""Unit tests of utils.plotting: return types, colour conventions, input checks."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from utils import plotting


@pytest.fixture(autouse=True)
def _headless(monkeypatch):
    """Agg backend, no plt.show(), no style changes, every figure closed afterwards."""
    matplotlib.use("Agg")
    before = dict(matplotlib.rcParams)

    def forbidden(*args, **kwargs):
        raise AssertionError("plotting functions must not call plt.show()")

    monkeypatch.setattr(plt, "show", forbidden)
    yield
    assert dict(matplotlib.rcParams) == before, "a plotting function changed rcParams"
    plt.close("all")


def _heat(ax: Axes):
    return ax.images[-1]


# --- show_attribution ----------------------------------------------------------------------
def test_signed_attribution_symmetric_limits_and_cmap():
    rng = np.random.default_rng(0)
    image = rng.random((28, 28))
    attribution = rng.normal(size=(28, 28)) + 0.5  # skewed: max |a| is on one side
    ax = plotting.show_attribution(image, attribution, title="IG")
    assert isinstance(ax, Axes) and ax.get_title() == "IG"
    lo, hi = _heat(ax).get_clim()
    assert lo == pytest.approx(-hi) and hi == pytest.approx(np.abs(attribution).max())
    assert _heat(ax).get_cmap().name == plotting.SIGNED_CMAP


def test_absolute_attribution_starts_at_zero_and_takes_magnitude():
    attribution = -np.ones((5, 5))
    ax = plotting.show_attribution(np.zeros((5, 5)), attribution, kind="absolute")
    assert _heat(ax).get_clim() == (0.0, 1.0)
    assert _heat(ax).get_cmap().name == plotting.ABSOLUTE_CMAP
    assert np.all(_heat(ax).get_array() == 1.0)


def test_small_map_is_resized_bilinearly_to_the_image():
    cam = np.zeros((7, 7))
    cam[3, 3] = 1.0
    ax = plotting.show_attribution(np.zeros((28, 28)), cam, kind="absolute", colorbar=False)
    heat = np.asarray(_heat(ax).get_array())
    assert heat.shape == (28, 28)
    assert 0.0 < heat[12:16, 12:16].min() and heat.max() <= 1.0  # smooth, not blocky
    assert len(np.unique(np.round(heat, 6))) > 3
    assert np.unravel_index(heat.argmax(), heat.shape) in {(13, 13), (13, 14), (14, 13),
                                                           (14, 14)}  # fmt: skip


@pytest.mark.parametrize(("small", "big"), [((7, 7), (28, 28)), ((7, 5), (20, 17))])
def test_resize_matches_torch_bilinear(small, big):
    """Same pixel-centre alignment as torch (align_corners=False) and pytorch-grad-cam."""
    a = np.random.default_rng(0).random(small)
    reference = torch.nn.functional.interpolate(
        torch.tensor(a)[None, None], size=big, mode="bilinear", align_corners=False
    )[0, 0].numpy()
    np.testing.assert_allclose(plotting._resize(a, big), reference, atol=1e-12)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((3, 8, 8)),
        np.zeros((8, 8, 3), dtype=np.uint8),
        np.zeros((1, 1, 8, 8)),
        torch.zeros(1, 8, 8),
    ],
)
def test_image_layouts_and_tensors(image):
    attribution = torch.ones(3, 8, 8, requires_grad=True)  # channels are summed
    ax = plotting.show_attribution(image, attribution)
    assert ax.images[0].get_array().shape[:2] == (8, 8)
    assert np.allclose(_heat(ax).get_array(), 3.0)


def test_uses_given_axes_and_shared_vmax():
    fig, ax = plt.subplots()
    out = plotting.show_attribution(np.zeros((4, 4)), np.ones((4, 4)), ax=ax, vmax=5.0)
    assert out is ax and _heat(ax).get_clim() == (-5.0, 5.0)


@pytest.mark.parametrize(
    ("image", "attribution", "match"),
    [
        (np.zeros((8, 8)), np.zeros((9, 9)), r"no larger than the image \(8, 8\), got \(9, 9\)"),
        (np.zeros((8, 8)), np.zeros((2, 8, 8)), r"\(C, h, w\).*got \(2, 8, 8\)"),
        (np.zeros((2, 2, 8, 8)), np.zeros((8, 8)), r"image: expected .*got \(2, 2, 8, 8\)"),
        (np.zeros(8), np.zeros(8), r"image: expected shape \(H, W\).*got \(8,\)"),
    ],
)
def test_show_attribution_bad_shapes(image, attribution, match):
    with pytest.raises(ValueError, match=match):
        plotting.show_attribution(image, attribution)


def test_show_attribution_bad_options():
    with pytest.raises(ValueError, match="kind must be 'signed' or 'absolute', got 'abs'"):
        plotting.show_attribution(np.zeros((4, 4)), np.zeros((4, 4)), kind="abs")
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 2"):
        plotting.show_attribution(np.zeros((4, 4)), np.zeros((4, 4)), alpha=2)
    with pytest.raises(TypeError, match="attribution: expected numbers"):
        plotting.show_attribution(np.zeros((4, 4)), "map")


# --- show_attribution_grid -----------------------------------------------------------------
def test_grid_shared_scale_and_labels():
    rng = np.random.default_rng(1)
    images = [rng.random((8, 8)) for _ in range(3)]
    maps = [[rng.normal(size=(8, 8)) * (r + 1) for _ in range(3)] for r in range(2)]
    fig = plotting.show_attribution_grid(images, maps, titles=["a", "b", "c"],
                                         row_labels=["IG", "SmoothGrad"])  # fmt: skip
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 6
    top = max(np.abs(m).max() for row in maps for m in row)
    for ax in panels:
        assert _heat(ax).get_clim() == pytest.approx((-top, top))
    assert [ax.get_title() for ax in panels[:3]] == ["a", "b", "c"]
    assert panels[3].get_ylabel() == "SmoothGrad"


def test_grid_own_scales_and_nested_images():
    maps = np.stack([np.stack([np.full((4, 4), r + c + 1.0) for c in range(2)]) for r in range(2)])
    images = [[np.zeros((4, 4))] * 2, [np.ones((4, 4))] * 2]  # rows = images
    fig = plotting.show_attribution_grid(images, maps, shared_scale=False, kind="absolute")
    clims = [_heat(ax).get_clim()[1] for ax in fig.axes if ax.images]
    assert clims == [1.0, 2.0, 2.0, 3.0]


def test_grid_bad_input():
    maps = [[np.zeros((4, 4))] * 3] * 2
    with pytest.raises(ValueError, match="images: expected 3 .*got 2"):
        plotting.show_attribution_grid([np.zeros((4, 4))] * 2, maps)
    with pytest.raises(ValueError, match="nested 2x3 list, got 2 items"):
        plotting.show_attribution_grid([[np.zeros((4, 4))] * 2] * 2, maps)
    with pytest.raises(ValueError, match="titles: expected 3 labels, got 1"):
        plotting.show_attribution_grid([np.zeros((4, 4))] * 3, maps, titles=["x"])
    with pytest.raises(ValueError, match="nested list"):
        plotting.show_attribution_grid([np.zeros((4, 4))], [np.zeros((4, 4))])
    with pytest.raises(ValueError, match=r"every row needs 3 maps, got \[3, 1\]"):
        plotting.show_attribution_grid([np.zeros((4, 4))] * 3, [maps[0], maps[0][:1]])


# --- plot_signal_attribution ---------------------------------------------------------------
def test_signal_attribution_background_and_highlight():
    x = np.sin(np.linspace(0, 6, 100))
    a = np.linspace(-1, 2, 100)
    ax = plotting.plot_signal_attribution(x, a, fs=100.0, highlight=[(10, 20), (50, 60)])
    assert isinstance(ax, Axes) and ax.get_xlabel() == "time (s)"
    assert _heat(ax).get_clim() == pytest.approx((-2.0, 2.0))
    assert _heat(ax).get_cmap().name == plotting.SIGNED_CMAP
    spans = [p for p in ax.patches if p.get_hatch()]
    assert len(spans) == 2
    ax.figure.canvas.draw()
    (x0, _), (x1, _) = ax.transData.inverted().transform(spans[0].get_extents())
    assert (x0, x1) == pytest.approx((0.095, 0.195), abs=2e-3)  # samples 10..19, in seconds


def test_signal_attribution_coarse_map_and_tensor_input():
    ax = plotting.plot_signal_attribution(torch.zeros(1, 50), torch.arange(5.0), colorbar=False,
                                          highlight=(0, 50))  # fmt: skip
    heat = np.asarray(_heat(ax).get_array())
    assert heat.shape == (1, 50) and np.all(np.diff(heat[0]) >= 0)
    assert ax.get_xlabel() == "sample"


@pytest.mark.parametrize(
    ("signal", "attribution", "highlight", "match"),
    [
        (np.zeros((2, 10)), np.zeros(10), None, r"signal: expected a 1D .*got shape \(2, 10\)"),
        (np.zeros(10), np.zeros(12), None, "at most 10 values .*got 12"),
        (np.zeros(10), np.zeros(10), [(5, 11)], r"0 <= start < stop <= 10, got \[\[5, 11\]\]"),
        (np.zeros(10), np.zeros(10), [(5, 5)], "start < stop"),
        (np.zeros(10), np.zeros(10), [1, 2, 3], r"\(start, stop\) pairs.*got \[1, 2, 3\]"),
    ],
)
def test_signal_attribution_bad_input(signal, attribution, highlight, match):
    with pytest.raises(ValueError, match=match):
        plotting.plot_signal_attribution(signal, attribution, highlight=highlight)


# --- plot_token_attribution ----------------------------------------------------------------
def test_tokens_coloured_and_wrapped():
    tokens = ("a rather long review that keeps going and going so that the tokens "
              "must wrap over several lines of the figure").split()  # fmt: skip
    scores = np.linspace(-1, 1, len(tokens))
    ax = plotting.plot_token_attribution(tokens, scores, title="review")
    assert isinstance(ax, Axes)
    texts = [t for t in ax.texts if t.get_bbox_patch() is not None]
    assert [t.get_text() for t in texts] == tokens
    colours = [t.get_bbox_patch().get_facecolor() for t in texts]
    assert colours[0][2] > colours[0][0] and colours[-1][0] > colours[-1][2]  # blue .. red
    renderer = ax.figure.canvas.get_renderer()
    rows = {round(t.get_window_extent(renderer).y0) for t in texts}
    assert len(rows) >= 2
    fig_box = ax.figure.bbox
    assert all(fig_box.contains(*t.get_window_extent(renderer).corners()[0]) for t in texts)


def test_tokens_bad_input():
    with pytest.raises(ValueError, match=r"one per token \(2\), got 3"):
        plotting.plot_token_attribution(["a", "b"], [1, 2, 3])


# --- plot_importance -----------------------------------------------------------------------
def test_importance_order_colours_errors_and_top():
    values = np.array([0.1, -0.5, 0.3, 0.05])
    ax = plotting.plot_importance(values, ["a", "b", "c", "d"], errors=[0.01] * 4, top=3)
    assert isinstance(ax, Axes)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["a", "c", "b"]  # bottom-up: the largest |value| is on top
    bars = ax.patches
    assert [b.get_width() for b in bars] == [0.1, 0.3, -0.5]
    assert bars[2].get_facecolor() == pytest.approx(to_rgba(plotting.NEGATIVE_COLOR))
    assert bars[0].get_facecolor() == pytest.approx(to_rgba(plotting.POSITIVE_COLOR))


def test_importance_unsorted_keeps_order():
    ax = plotting.plot_importance([1, 3, 2], ["x", "y", "z"], sort=False)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["z", "y", "x"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"names": ["a"]}, r"one per value \(2\), got 1"),
        ({"errors": [0.1, -0.1]}, "errors: expected 2 non-negative values"),
        ({"errors": [0.1]}, "errors: expected 2 non-negative values, got 1"),
        ({"top": 0}, "top: expected a positive integer, got 0"),
    ],
)
def test_importance_bad_input(kwargs, match):
    args = {"values": [1.0, 2.0], "names": ["a", "b"]} | kwargs
    with pytest.raises(ValueError, match=match):
        plotting.plot_importance(**args)


# --- plot_attention ------------------------------------------------------------------------
def test_attention_labels_and_limits():
    attn = torch.softmax(torch.randn(1, 4, 4), dim=-1)
    tokens = ["[CLS]", "not", "good", "[SEP]"]
    ax = plotting.plot_attention(attn, tokens=tokens, title="head 0")
    assert isinstance(ax, Axes)
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    assert [t.get_text() for t in ax.get_yticklabels()] == tokens
    assert _heat(ax).get_clim()[0] == 0.0
    assert _heat(ax).get_cmap().name == plotting.ABSOLUTE_CMAP


def test_attention_bad_input():
    with pytest.raises(ValueError, match=r"select one layer and head, got shape \(2, 4, 4\)"):
        plotting.plot_attention(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"expected 4 labels .*got 3 labels for shape \(4, 4\)"):
        plotting.plot_attention(np.zeros((4, 4)), tokens=["a", "b", "c"])
