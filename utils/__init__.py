"""Shared helpers of the course "Introduction to Explainable Deep Learning on Supercomputers".

Importing this package has no side effects: call :func:`setup_notebook` at the
top of a notebook to seed everything, set the plot style and pick the device.
"""

from .checks import (
    answer_key,
    check_choice,
    check_close,
    check_true,
)
from .data_files import data_dir, data_path, sha256sum
from .datasets import (
    PHOTOS,
    Dataset,
    list_datasets,
    load_dataset,
    load_mitbih_snippet,
    load_photo,
)
from .device import device_banner, get_device, in_colab
from .ecg import EcgData, make_ecg_dataset
from .fairness import disparate_impact_ratio, selection_rates
from .forest import jaccard_matrix, matched_jaccard, proximity_matrix
from .lime_by_hand import (
    LocalSurrogate,
    RecordingPredictFn,
    default_kernel_width,
    explain_by_hand,
    fit_local_surrogate,
    interpretable_representation,
    lime_kernel,
    lime_weights,
    top_k_stability,
    weighted_r2,
)
from .models import MnistCNN, SignalCNN, TinyViT
from .plotting import (
    plot_attention,
    plot_importance,
    plot_signal_attribution,
    plot_token_attribution,
    show_attribution,
    show_attribution_grid,
)
from .pretrained import (
    deprocess_imagenet,
    imagenet_categories,
    load_imagenet_cnn,
    load_text_encoder,
    preprocess_imagenet,
)
from .session import seed_everything, set_plot_style, setup_notebook
from .shapley import check_shapley_values, coalition_values, exact_shapley_values
from .shortcuts import add_marker, attribution_mass_in_region, marker_region
from .training import (
    evaluate,
    load_weights,
    predict_proba,
    random_shift,
    save_weights,
    shipped_weights,
    train,
)

__all__ = [
    "Dataset",
    "EcgData",
    "LocalSurrogate",
    "MnistCNN",
    "PHOTOS",
    "RecordingPredictFn",
    "SignalCNN",
    "TinyViT",
    "add_marker",
    "answer_key",
    "attribution_mass_in_region",
    "check_choice",
    "check_close",
    "check_shapley_values",
    "check_true",
    "coalition_values",
    "data_dir",
    "data_path",
    "default_kernel_width",
    "deprocess_imagenet",
    "device_banner",
    "disparate_impact_ratio",
    "evaluate",
    "exact_shapley_values",
    "explain_by_hand",
    "fit_local_surrogate",
    "get_device",
    "imagenet_categories",
    "in_colab",
    "interpretable_representation",
    "jaccard_matrix",
    "lime_kernel",
    "lime_weights",
    "list_datasets",
    "load_dataset",
    "load_imagenet_cnn",
    "load_mitbih_snippet",
    "load_photo",
    "load_text_encoder",
    "load_weights",
    "make_ecg_dataset",
    "marker_region",
    "matched_jaccard",
    "plot_attention",
    "plot_importance",
    "plot_signal_attribution",
    "plot_token_attribution",
    "predict_proba",
    "preprocess_imagenet",
    "proximity_matrix",
    "random_shift",
    "save_weights",
    "seed_everything",
    "selection_rates",
    "set_plot_style",
    "setup_notebook",
    "sha256sum",
    "shipped_weights",
    "show_attribution",
    "show_attribution_grid",
    "top_k_stability",
    "train",
    "weighted_r2",
]
