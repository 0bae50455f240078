"""The ipywidgets front end of the explanation explorer (:mod:`utils.explorer` is the logic).

``explorer/explorer.ipynb`` calls :func:`make_explorer`; ``python tools/explorer.py`` serves
that notebook with Voila.
"""

from __future__ import annotations

import io
from typing import Any

from .explorer import (
    _CAM_FAMILY,
    _CAM_LAYER,
    INPUTS,
    LAYERS,
    METHODS,
    MODELS,
    _check_kinds,
    _model_note,
    _name,
    explain_selection,
    explorer_options,
)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def make_explorer(
    input_name: str = "digit-7-marker", model_name: str = "mnist_cnn_shortcut",
    method: str = "Grad-CAM",
) -> Any:  # fmt: skip
    """Build the explorer's ipywidgets interface (JupyterLab, or ``python tools/explorer.py``).

    Dropdowns choose the input, model, method, layer and class; every change redraws the
    figure (input | map | overlay) and the cost line. A selection that does not fit (CAM on
    a network without global average pooling, Grad-CAM on a linear layer, Score-CAM on
    1280 channels, ...) shows the :class:`ValueError` of :func:`explain_selection` in a
    message area instead of a map. Changing the input switches to a model that takes it;
    choosing CAM selects the layer where CAM is defined.

    Parameters
    ----------
    input_name, model_name, method : str
        The first selection (see :data:`INPUTS`, :data:`MODELS`, :data:`METHODS`).

    Returns
    -------
    ipywidgets.VBox
        Display it as the last expression of a cell. Its attributes ``controls`` (dict of
        the dropdowns: input, model, method, layer, class), ``cost``, ``message``, ``about``
        (HTML) and ``image`` (Image) let code drive it.

    Raises
    ------
    TypeError, ValueError
        For a first selection that is not in the catalogue or does not fit together.
    ImportError
        If ipywidgets is not installed.
    """
    import html

    import ipywidgets as w

    _name(input_name, "input_name", INPUTS)
    _name(model_name, "model_name", MODELS)
    _check_kinds(input_name, model_name)
    _name(method, "method", METHODS)
    wide = {"layout": w.Layout(width="460px"), "style": {"description_width": "60px"}}
    controls = {
        "input": w.Dropdown(description="input", value=input_name,
                            options=[(v[1], k) for k, v in INPUTS.items()], **wide),  # fmt: skip
        "model": w.Dropdown(description="model", value=model_name,
                            options=[(v[1], k) for k, v in MODELS.items()], **wide),  # fmt: skip
        "method": w.Dropdown(description="method", value=method, options=list(METHODS), **wide),
        "layer": w.Dropdown(description="layer", **wide),
        "class": w.Dropdown(description="class", **wide),
    }
    cost = w.HTML().add_class("xai-cost")
    message = w.HTML().add_class("xai-message")
    about = w.HTML().add_class("xai-about")
    image = w.Image(format="png", layout=w.Layout(width="960px")).add_class("xai-map")
    state = {"updating": False}

    def fill_model_options() -> None:
        model = controls["model"].value
        if model == "ecg_cnn":
            cost.value = "<i>training the ECG model on simulated beats (first use only)...</i>"
        options = explorer_options(model_name=model)
        controls["layer"].options = [(f"{k} {v}", k) for k, v in options["layers"].items()]
        controls["layer"].value = LAYERS[model][0]
        controls["class"].options = [("predicted class", -1)] + [
            (f"{i}: {name}", i) for i, name in enumerate(options["classes"])]
        controls["class"].value = -1

    def fit_layer_to_method() -> None:
        chosen, model = controls["method"].value, controls["model"].value
        uses_layer = chosen in _CAM_FAMILY or chosen == "CAM"
        controls["layer"].disabled = not uses_layer
        if chosen == "CAM" and model in _CAM_LAYER:
            controls["layer"].value = _CAM_LAYER[model]

    def redraw() -> None:
        chosen = {k: c.value for k, c in controls.items()}
        uses_layer = chosen["method"] in _CAM_FAMILY or chosen["method"] == "CAM"
        message.value = ""
        cost.value = f"<i>computing {html.escape(chosen['method'])}...</i>"
        about.value = (f"<small>{html.escape(METHODS[chosen['method']])}<br>"
                       f"{html.escape(_model_note(chosen['model']))}</small>")  # fmt: skip
        try:
            result = explain_selection(
                chosen["input"], chosen["model"], chosen["method"],
                layer=chosen["layer"] if uses_layer else None,
                class_idx=None if chosen["class"] == -1 else chosen["class"])
        except (TypeError, ValueError) as err:
            message.value = (f"<div style='color:#b00020'><b>No map for this selection.</b> "
                             f"{html.escape(str(err))}</div>")  # fmt: skip
            cost.value = "no map: change the selection"
            image.layout.display = "none"
            return
        image.value = _png(result.figure())
        image.layout.display = None
        cost.value = f"<b>cost</b> {html.escape(result.cost_line())}"

    def on_change(change: dict) -> None:
        if state["updating"]:
            return
        state["updating"] = True
        try:
            owner = change["owner"]
            if owner is controls["input"]:
                kind = INPUTS[controls["input"].value][0]
                if MODELS[controls["model"].value][0] != kind:
                    controls["model"].value = next(m for m, v in MODELS.items() if v[0] == kind)
                    fill_model_options()
            elif owner is controls["model"]:
                fill_model_options()
            fit_layer_to_method()
        finally:
            state["updating"] = False
        redraw()

    fill_model_options()
    fit_layer_to_method()
    for control in controls.values():
        control.observe(on_change, names="value")
    redraw()
    box = w.VBox([w.HBox([w.VBox([controls["input"], controls["model"], controls["method"]]),
                          w.VBox([controls["layer"], controls["class"]])]),
                  message, cost, image, about])  # fmt: skip
    box.controls, box.cost, box.message, box.about, box.image = (controls, cost, message,
                                                                   about, image)  # fmt: skip
    return box
