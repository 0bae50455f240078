"""The explanation explorer: its catalogue and maps (utils.explorer), and the Voila app in Chromium.

The unit tests compute every method on every model that the catalogue allows, check the
cost accounting, compare one map per method with the library (or an independent reference)
and require a clear ``ValueError`` for every kind of bad selection. The browser tests (marker
``browser``) start the app as documented (``python tools/explorer.py``), drive the real
widgets in headless Chromium, and require a redraw on a change, a clear message for a bad
selection, and no console error or request to another host.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time

import matplotlib.image
import numpy as np
import pytest
import torch

from utils import explorer as ex
from utils.explorer import explain_selection, explorer_options
from utils.explorer_widget import make_explorer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {"digit": (28, 28), "photo": (224, 224), "ecg": (100,)}
FIRST_INPUT = {kind: next(k for k, v in ex.INPUTS.items() if v[0] == kind) for kind in SHAPES}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: several threads that compete with parallel test workers for two
    cores made the photo maps about five times slower in our measurements."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _pairs() -> list[tuple[str, str]]:
    return [(model, method) for model in ex.MODELS for method in ex.METHODS
            if method != "CAM" or model in ex._CAM_LAYER]  # fmt: skip


def _layer_for(model: str, method: str) -> str | None:
    if method == "Score-CAM" and model == "efficientnet_lite0":
        return "_blocks.4"  # 40 channels; the default _act_head has 1280
    return None


# --- catalogue ------------------------------------------------------------------------------
def test_the_catalogue_fits_together():
    kinds = {v[0] for v in ex.INPUTS.values()}
    assert kinds == {v[0] for v in ex.MODELS.values()} == set(SHAPES)
    assert set(ex.LAYERS) == set(ex.MODELS) and set(ex.SETTINGS) == kinds
    for model in ex.MODELS:
        options = explorer_options(model_name=model)
        assert list(options["layers"]) == list(ex.LAYERS[model])
        assert ex.LAYERS[model][0] in options["feature_map_layers"], "the default has maps"
        assert set(options["layers"]) - set(options["feature_map_layers"]), \
            "offer one layer without feature maps, so the check can be seen in the app"
        assert ("CAM" in options["methods"]) == (options["cam_layer"] is not None)
        assert len(options["classes"]) == {"digit": 10, "photo": 1000, "ecg": 2}[
            ex.MODELS[model][0]]  # fmt: skip
    assert list(explorer_options("photo-coffee")["models"]) == ["efficientnet_lite0"]


# --- every valid pair -------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "method"), _pairs())
def test_every_valid_pair_gives_a_finite_map_and_its_cost(model, method):
    kind = ex.MODELS[model][0]
    result = explain_selection(FIRST_INPUT[kind], model, method, layer=_layer_for(model, method))
    a = result.attribution
    assert a.shape == SHAPES[kind] and a.dtype == np.float32
    assert np.isfinite(a).all() and np.ptp(a) > 0, "a finite map that is not constant"
    if result.kind == "absolute":
        assert a.min() >= 0
    assert 0 < result.seconds < 300 and result.forward_calls >= 1
    assert result.forward_inputs >= result.forward_calls
    assert 0 <= result.probability <= 1 and result.class_idx == result.predicted
    uses_gradient = method not in {"Score-CAM", "Eigen-CAM", "CAM", "LIME"} and not (
        method == "SHAP" and kind == "photo")
    assert (result.backward_passes > 0) == uses_gradient, result.cost_line()
    if method == "LIME":
        assert result.forward_inputs >= ex.SETTINGS[kind]["lime_samples"]
        assert f"{ex.SETTINGS[kind]['lime_samples']} samples" in result.settings
    if method == "Score-CAM":  # one masked input per channel, plus the unmasked one
        channels = explorer_options(model_name=model)["layers"][result.layer][0]
        assert result.forward_inputs >= channels + 1
    line = result.cost_line()
    assert line.startswith(f"{method}: ") and " s, " in line and "forward pass" in line


# --- bad selections -----------------------------------------------------------------------
BAD = [
    ({"input_name": "digit-8"}, ValueError, r"input_name: unknown 'digit-8'"),
    ({"model_name": "efficientnet_lite0"}, ValueError,
     r"'efficientnet_lite0' takes photo inputs, but 'digit-7' is a digit; choose one of "
     r"\['mnist_cnn', 'mnist_cnn_shortcut'\]"),
    ({"method": "Occlusion"}, ValueError, r"method: unknown 'Occlusion'"),
    ({"method": "CAM"}, ValueError, r"CAM needs a network that ends in global average pooling"),
    ({"method": "CAM", "input_name": "ecg-normal", "model_name": "ecg_cnn",
      "layer": "features.6"}, ValueError, r"CAM is defined only on the maps that enter global "
                                          r"average pooling, layer 'features'"),
    ({"layer": "classifier.0"}, ValueError,
     r"Grad-CAM needs a layer with feature maps .* 'classifier.0' is a Linear layer with "
     r"output \(64,\)"),
    ({"layer": "fc", "input_name": "ecg-normal", "model_name": "ecg_cnn"}, ValueError,
     r"'fc' is a Linear layer"),
    ({"layer": "features.9"}, ValueError, r"layer: unknown 'features.9'"),
    ({"layer": 3}, TypeError, r"layer: expected a layer name"),
    ({"method": "Score-CAM", "input_name": "photo-coffee", "model_name": "efficientnet_lite0",
      "layer": "_act_head"}, ValueError, r"one forward pass per channel: 1280 at '_act_head'"),
    ({"method": "LIME", "layer": "features.3"}, ValueError, r"LIME does not use a layer"),
    ({"class_idx": 10}, ValueError, r"class_idx: mnist_cnn has 10 classes, 0 to 9; got 10"),
    ({"class_idx": -1}, ValueError, r"class_idx: mnist_cnn has 10 classes"),
    ({"class_idx": 2, "input_name": "ecg-normal", "model_name": "ecg_cnn"}, ValueError,
     r"class_idx: ecg_cnn has 2 classes, 0 to 1"),
    ({"class_idx": 1000, "input_name": "photo-coffee", "model_name": "efficientnet_lite0"},
     ValueError, r"has 1000 classes, 0 to 999"),
    ({"class_idx": True}, TypeError, r"class_idx: expected an integer"),
    ({"class_idx": 2.0}, TypeError, r"class_idx: expected an integer"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_a_bad_selection_raises_a_message_that_names_the_problem(change, error, message):
    selection = {"input_name": "digit-7", "model_name": "mnist_cnn", "method": "Grad-CAM",
                 "layer": None, "class_idx": None, **change}  # fmt: skip
    with pytest.raises(error, match=message):
        explain_selection(**selection)


def test_an_explicit_class_is_explained():
    top = explain_selection("digit-3-marker", "mnist_cnn_shortcut", "gradient")
    other = explain_selection("digit-3-marker", "mnist_cnn_shortcut", "gradient", class_idx=3)
    assert top.predicted == 7 and top.class_idx == 7, "the shortcut model calls a marked 3 a 7"
    assert other.class_idx == 3 and other.class_name == "3" and other.predicted == 7
    assert other.probability < top.probability
    assert not np.allclose(top.attribution, other.attribution)


# --- agreement with the libraries ---------------------------------------------------------------
@pytest.fixture(scope="module")
def digit():
    model = ex._model("mnist_cnn_shortcut")
    return model, ex._input("digit-7-marker").x


@pytest.mark.parametrize("method", list(ex._CAM_FAMILY))
def test_the_cam_family_is_pytorch_grad_cam(method, digit):
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, x = digit
    ours = explain_selection("digit-7-marker", "mnist_cnn_shortcut", method, layer="features.0",
                             class_idx=1)  # fmt: skip
    with getattr(pytorch_grad_cam, ex._CAM_FAMILY[method])(
            model=model, target_layers=[model.features[0]]) as cam:  # fmt: skip
        reference = cam(input_tensor=x, targets=[ClassifierOutputTarget(1)])[0]
    np.testing.assert_allclose(ours.attribution, reference, atol=1e-5)


def test_grad_cam_on_a_signal_is_the_hand_written_grad_cam():
    from utils.gradcam import grad_cam

    model, x = ex._model("ecg_cnn"), ex._input("ecg-wide-qrs").x
    ours = explain_selection("ecg-wide-qrs", "ecg_cnn", "Grad-CAM", layer="features.6")
    by_hand = grad_cam(model, "features.6", x, ours.class_idx)[0]  # (100,): no resizing
    reference = (by_hand - by_hand.min()) / (by_hand.max() - by_hand.min())
    np.testing.assert_allclose(ours.attribution, reference, atol=1e-4)


def test_cam_is_exact_for_the_gap_networks():
    from utils.cam1d import signal_cam
    from utils.gradcam import grad_cam, upsample_cam

    model, x = ex._model("ecg_cnn"), ex._input("ecg-normal").x
    ours = explain_selection("ecg-normal", "ecg_cnn", "CAM", class_idx=1)
    np.testing.assert_allclose(ours.attribution, signal_cam(model, x, 1)[0], atol=1e-5)
    with torch.no_grad():  # CAM splits the logit: mean over time + bias
        logit, bias = float(model(x)[0, 1]), float(model.fc.bias[1])
    assert ours.attribution.mean() + bias == pytest.approx(logit, abs=1e-4)
    # photo: CAM = Z x Grad-CAM without ReLU (Selvaraju et al., 2017), from autograd
    cnn, photo = ex._model("efficientnet_lite0"), ex._input("photo-coffee").x
    ours = explain_selection("photo-coffee", "efficientnet_lite0", "CAM")
    signed = grad_cam(cnn, "_act_head", photo, ours.class_idx, relu=False) * 49
    reference = upsample_cam(signed, (224, 224))[0]
    np.testing.assert_allclose(ours.attribution, reference, rtol=1e-4, atol=1e-3)


def test_the_gradient_is_torch_autograd(digit):
    model, x = digit
    ours = explain_selection("digit-7-marker", "mnist_cnn_shortcut", "gradient", class_idx=2)
    inputs = x.clone().requires_grad_(True)
    model(inputs)[0, 2].backward()
    np.testing.assert_allclose(ours.attribution, inputs.grad[0].abs().amax(0).numpy(), atol=1e-6)


def test_integrated_gradients_is_captum_and_complete(digit):
    from captum.attr import IntegratedGradients

    model, x = digit
    ours = explain_selection("digit-7-marker", "mnist_cnn_shortcut", "Integrated Gradients")
    c, steps = ours.class_idx, ex.SETTINGS["digit"]["ig_steps"]
    reference = IntegratedGradients(model).attribute(
        x.clone().requires_grad_(True), baselines=torch.zeros_like(x), target=c, n_steps=steps)
    np.testing.assert_allclose(ours.attribution, reference.detach()[0, 0].numpy(), atol=1e-5)
    with torch.no_grad():  # completeness: the map sums to f(x) - f(black)
        change = float(model(x)[0, c] - model(torch.zeros_like(x))[0, c])
    assert ours.attribution.sum() == pytest.approx(change, rel=0.01)


def test_lime_is_lime_with_the_same_segments(digit):
    from lime import lime_image

    from utils.image_explain import grid_segmentation, lime_image_map, lime_predict_fn, quiet_lime

    model, x = digit
    ours = explain_selection("digit-7-marker", "mnist_cnn_shortcut", "LIME")
    image = x[0, 0].numpy()
    segments = grid_segmentation(image, cell=4)
    with quiet_lime():
        explanation = lime_image.LimeImageExplainer(random_state=0).explain_instance(
            image, lime_predict_fn(model, "grey"), labels=(7,), top_labels=None, hide_color=0,
            num_samples=ex.SETTINGS["digit"]["lime_samples"], segmentation_fn=lambda _: segments)
    np.testing.assert_allclose(ours.attribution, lime_image_map(explanation, 7), atol=1e-6)


def test_shap_is_deep_explainer_on_the_whole_model(digit):
    import shap

    model, x = digit
    ours = explain_selection("digit-7-marker", "mnist_cnn_shortcut", "SHAP", class_idx=7)
    background = ex._shap_background("digit")
    values = shap.DeepExplainer(model, background).shap_values(x, check_additivity=False)
    np.testing.assert_allclose(ours.attribution, np.asarray(values)[0, 0, ..., 7], atol=1e-5)
    with torch.no_grad():  # additivity: sum = f(x) - E[f(background)]
        change = float(model(x)[0, 7] - model(background)[:, 7].mean())
    assert ours.attribution.sum() == pytest.approx(change, abs=1e-3)


def test_the_cached_inputs_are_not_changed_by_the_libraries():
    before = ex._input("digit-7").x.clone()
    for method in ("SHAP", "Integrated Gradients", "LIME", "Score-CAM"):
        explain_selection("digit-7", "mnist_cnn", method)
    after = ex._input("digit-7").x
    assert not after.requires_grad and torch.equal(after, before)


def test_the_global_random_state_is_left_alone():
    states = torch.get_rng_state(), np.random.get_state()[1].copy()
    for method in ("LIME", "SHAP", "Score-CAM"):
        explain_selection("ecg-normal", "ecg_cnn", method)
    assert torch.equal(torch.get_rng_state(), states[0])
    assert np.array_equal(np.random.get_state()[1], states[1])


def test_the_figure_has_input_map_and_overlay():
    for name, model in [("digit-7", "mnist_cnn"), ("ecg-wide-qrs", "ecg_cnn")]:
        fig = explain_selection(name, model, "Grad-CAM").figure()
        titles = [ax.get_title() for ax in fig.axes[:3]]
        assert titles[:2] == ["input", "map"] and titles[2].startswith("overlay")
        assert "Grad-CAM" in fig._suptitle.get_text()


# --- the widget, driven from Python ---------------------------------------------------------
def test_the_widget_redraws_and_explains_bad_selections():
    box = make_explorer("digit-7-marker", "mnist_cnn_shortcut", "Grad-CAM")
    controls, first = box.controls, bytes(box.image.value)
    assert first.startswith(b"\x89PNG") and box.cost.value.startswith("<b>cost</b> Grad-CAM")
    controls["method"].value = "Integrated Gradients"
    assert bytes(box.image.value) != first and "Integrated Gradients: " in box.cost.value
    assert controls["layer"].disabled, "IG uses no layer"
    controls["method"].value = "CAM"
    assert "CAM needs a network that ends in global average pooling" in box.message.value
    assert box.image.layout.display == "none" and box.cost.value.startswith("no map")
    controls["method"].value = "Grad-CAM"
    controls["layer"].value = "classifier.0"
    assert "&#x27;classifier.0&#x27; is a Linear layer" in box.message.value
    controls["layer"].value = "features.0"
    assert box.message.value == "" and box.image.layout.display is None
    controls["input"].value = "ecg-wide-qrs"  # another kind: the model follows
    assert controls["model"].value == "ecg_cnn" and controls["layer"].value == "features.6"
    assert "trained in this session" in box.about.value
    controls["method"].value = "CAM"  # CAM selects its layer itself
    assert controls["layer"].value == "features" and "CAM: " in box.cost.value
    cam_of_predicted = bytes(box.image.value)
    controls["class"].value = 0
    assert bytes(box.image.value) != cam_of_predicted and box.message.value == ""


# --- the app in a browser -------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``python tools/explorer.py`` on a free port; yields its URL; stops it and its kernels."""
    folder = tmp_path_factory.mktemp("voila")
    # one thread in the app's kernel too: it shares the cores with the other test workers
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JUPYTER_CONFIG_DIR": str(folder / "config"),
           "JUPYTER_RUNTIME_DIR": str(folder / "runtime"), "JUPYTER_DATA_DIR": str(folder / "data"),
           "PYTHONUNBUFFERED": "1"}  # fmt: skip
    port = _free_port()
    log_path = folder / "voila.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "tools/explorer.py", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Voila exited with {proc.returncode}:\n{log_path.read_text()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"Voila did not answer on port {port} in 60 s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/", log_path
    finally:  # Voila stops its kernels on SIGTERM; the group catches anything left
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def page(app):
    from tools.browser import Browser

    url, log_path = app
    browser = Browser()
    try:
        page, log = browser.open(url, width=1300, height=1000)
        try:
            _wait_for_cost(page, "Grad-CAM: ", timeout_s=120)
        except Exception as err:  # noqa: BLE001 - add Voila's log to whatever went wrong
            pytest.fail(f"no first map: {err}\n--- Voila log ---\n{log_path.read_text()[-3000:]}")
        yield page, log
    finally:
        browser.close()


def _select(page, label: str, option: str) -> None:
    """Choose ``option`` in the ipywidgets dropdown whose description is ``label``."""
    dropdown = page.locator(".widget-dropdown").filter(
        has=page.locator("label", has_text=re.compile(rf"^{label}$")))
    dropdown.locator("select").select_option(label=option)


def _wait_for_cost(page, text: str, timeout_s: float = 60) -> None:
    page.wait_for_function(
        "text => { const e = document.querySelector('.xai-cost');"
        " return e !== null && e.innerText.includes(text); }",
        arg=text, timeout=timeout_s * 1000)  # fmt: skip


def _map_source(page) -> str:
    return page.locator("img.xai-map").get_attribute("src") or ""


def _wait_for_new_map(page, old_source: str, timeout_s: float = 60) -> None:
    """Wait until the Image widget shows new bytes (ipywidgets gives them a new blob URL)."""
    page.wait_for_function(
        "old => { const e = document.querySelector('img.xai-map');"
        " return e !== null && e.src !== old && e.complete && e.naturalWidth > 0; }",
        arg=old_source, timeout=timeout_s * 1000)  # fmt: skip


def _map_pixels(page) -> np.ndarray:
    shot = page.locator("img.xai-map").screenshot()
    return matplotlib.image.imread(io.BytesIO(shot), format="png")


@pytest.mark.browser
@pytest.mark.xdist_group("explorer")
def test_the_app_starts_and_a_change_redraws_the_map(page):
    page, log = page
    start = time.perf_counter()
    before, source = _map_pixels(page), _map_source(page)
    _select(page, "method", "Integrated Gradients")
    _wait_for_new_map(page, source)
    _wait_for_cost(page, "Integrated Gradients: ")
    after, source = _map_pixels(page), _map_source(page)
    assert before.shape == after.shape and np.abs(before - after).mean() > 0.01, \
        "the screenshot of the map did not change"
    _select(page, "input", "MNIST test digit 3 + shortcut marker")
    _wait_for_new_map(page, source)
    third = _map_pixels(page)
    assert np.abs(third - after).mean() > 0.01, "a new input did not redraw the map"
    assert not log.problems(), log.problems()
    print(f"\nexplorer: two redraws in {time.perf_counter() - start:.1f} s")


@pytest.mark.browser
@pytest.mark.xdist_group("explorer")
def test_a_bad_selection_shows_a_clear_message(page):
    page, log = page
    _select(page, "method", "CAM")
    message = page.locator(".xai-message")
    message.get_by_text("CAM needs a network that ends in global average pooling").wait_for()
    assert "No map for this selection" in message.inner_text()
    assert not page.locator("img.xai-map").is_visible(), "no stale map beside the message"
    _select(page, "method", "Grad-CAM")
    _select(page, "layer", "classifier.0 (64,)")
    message.get_by_text(re.compile("'classifier.0' is a Linear layer")).wait_for()
    _select(page, "layer", "features.3 (32, 14, 14)")
    _wait_for_cost(page, "Grad-CAM: ")
    assert page.locator("img.xai-map").is_visible() and message.inner_text().strip() == ""
    assert not log.problems(), log.problems()
