"""Shared helpers of the course "Introduction to Explainable Deep Learning on Supercomputers".

Importing this package has no side effects: call :func:`setup_notebook` at the
top of a notebook to seed everything, set the plot style and pick the device.
"""

from .attention import (
    attention_rollout,
    merge_heads,
    multi_head_attention,
    scaled_dot_product_attention,
    sinusoidal_positional_encoding,
    split_heads,
)
from .attribution_metrics import (
    agreement_matrix,
    completeness_gap,
    mean_rank_correlation,
    randomize_layers,
    rank_correlation,
)
from .checks import (
    CheckResult,
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
from .gradcam import class_activation_map, grad_cam, upsample_cam
from .hooks import (
    ActivationRecorder,
    get_layer,
    layer_names,
    receptive_fields,
    record_activations,
    top_activating,
)
from .image_explain import (
    grid_segmentation,
    lime_image_map,
    lime_predict_fn,
    quiet_lime,
    relabel_segments,
    segment_rank,
    segment_weights,
)
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
from .text import (
    MeanPoolClassifier,
    encode_texts,
    linear_head_from_logistic,
    mean_pool,
)
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
    "ActivationRecorder",
    "CheckResult",
    "Dataset",
    "EcgData",
    "LocalSurrogate",
    "MeanPoolClassifier",
    "MnistCNN",
    "PHOTOS",
    "RecordingPredictFn",
    "SignalCNN",
    "TinyViT",
    "add_marker",
    "agreement_matrix",
    "answer_key",
    "attention_rollout",
    "attribution_mass_in_region",
    "check_choice",
    "check_close",
    "check_shapley_values",
    "check_true",
    "class_activation_map",
    "coalition_values",
    "completeness_gap",
    "data_dir",
    "data_path",
    "default_kernel_width",
    "deprocess_imagenet",
    "device_banner",
    "disparate_impact_ratio",
    "encode_texts",
    "evaluate",
    "exact_shapley_values",
    "explain_by_hand",
    "fit_local_surrogate",
    "get_device",
    "get_layer",
    "grad_cam",
    "grid_segmentation",
    "imagenet_categories",
    "in_colab",
    "interpretable_representation",
    "jaccard_matrix",
    "layer_names",
    "lime_image_map",
    "lime_kernel",
    "lime_predict_fn",
    "lime_weights",
    "linear_head_from_logistic",
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
    "mean_pool",
    "mean_rank_correlation",
    "merge_heads",
    "multi_head_attention",
    "plot_attention",
    "plot_importance",
    "plot_signal_attribution",
    "plot_token_attribution",
    "predict_proba",
    "preprocess_imagenet",
    "proximity_matrix",
    "quiet_lime",
    "random_shift",
    "randomize_layers",
    "rank_correlation",
    "receptive_fields",
    "record_activations",
    "relabel_segments",
    "save_weights",
    "scaled_dot_product_attention",
    "seed_everything",
    "segment_rank",
    "segment_weights",
    "selection_rates",
    "set_plot_style",
    "setup_notebook",
    "sha256sum",
    "shipped_weights",
    "show_attribution",
    "show_attribution_grid",
    "sinusoidal_positional_encoding",
    "split_heads",
    "top_activating",
    "top_k_stability",
    "train",
    "upsample_cam",
    "weighted_r2",
]
