"""Shared helpers of the course "Introduction to Explainable Deep Learning on Supercomputers".

Importing this package has no side effects and is light: each public name is
imported from its module on first use (PEP 562), so ``import utils`` in a
tabular notebook does not load torch. Call :func:`setup_notebook` at the top of a
notebook to seed everything, set the plot style and (for deep-learning notebooks)
pick the device.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the submodule that defines it.
_WHERE: dict[str, str] = {
    "attention_rollout": "attention",
    "merge_heads": "attention",
    "multi_head_attention": "attention",
    "scaled_dot_product_attention": "attention",
    "sinusoidal_positional_encoding": "attention",
    "split_heads": "attention",
    "agreement_matrix": "attribution_metrics",
    "completeness_gap": "attribution_metrics",
    "mean_rank_correlation": "attribution_metrics",
    "randomize_layers": "attribution_metrics",
    "rank_correlation": "attribution_metrics",
    "library_grad_cam_1d": "cam1d",
    "mass_in_region": "cam1d",
    "pointing_game": "cam1d",
    "region_fraction": "cam1d",
    "region_mask": "cam1d",
    "signal_cam": "cam1d",
    "upsample_1d": "cam1d",
    "CheckResult": "checks",
    "answer_key": "checks",
    "check_choice": "checks",
    "check_close": "checks",
    "check_true": "checks",
    "claim": "checks",
    "data_dir": "data_files",
    "data_path": "data_files",
    "sha256sum": "data_files",
    "Dataset": "datasets",
    "PHOTOS": "datasets",
    "list_datasets": "datasets",
    "load_dataset": "datasets",
    "load_mitbih_snippet": "datasets",
    "load_photo": "datasets",
    "device_banner": "device",
    "gather_shards": "distributed",
    "init_distributed": "distributed",
    "shard_indices": "distributed",
    "get_device": "device",
    "in_colab": "device",
    "EcgData": "ecg",
    "make_ecg_dataset": "ecg",
    "disparate_impact_ratio": "fairness",
    "selection_rates": "fairness",
    "area_under_curve": "faithfulness",
    "deletion_auc": "faithfulness",
    "deletion_curve": "faithfulness",
    "deletion_curves": "faithfulness",
    "patch_scores": "faithfulness",
    "jaccard_matrix": "forest",
    "matched_jaccard": "forest",
    "proximity_matrix": "forest",
    "class_activation_map": "gradcam",
    "grad_cam": "gradcam",
    "upsample_cam": "gradcam",
    "ActivationRecorder": "hooks",
    "get_layer": "hooks",
    "layer_names": "hooks",
    "receptive_fields": "hooks",
    "record_activations": "hooks",
    "top_activating": "hooks",
    "grid_segmentation": "image_explain",
    "lime_image_map": "image_explain",
    "lime_predict_fn": "image_explain",
    "quiet_lime": "image_explain",
    "relabel_segments": "image_explain",
    "segment_rank": "image_explain",
    "segment_weights": "image_explain",
    "LocalSurrogate": "lime_by_hand",
    "RecordingPredictFn": "lime_by_hand",
    "default_kernel_width": "lime_by_hand",
    "explain_by_hand": "lime_by_hand",
    "fit_local_surrogate": "lime_by_hand",
    "interpretable_representation": "lime_by_hand",
    "lime_kernel": "lime_by_hand",
    "lime_weights": "lime_by_hand",
    "top_k_stability": "lime_by_hand",
    "weighted_r2": "lime_by_hand",
    "MnistCNN": "models",
    "SignalCNN": "models",
    "TinyViT": "models",
    "plot_attention": "plotting",
    "plot_importance": "plotting",
    "plot_signal_attribution": "plotting",
    "plot_token_attribution": "plotting",
    "show_attribution": "plotting",
    "show_attribution_grid": "plotting",
    "deprocess_imagenet": "pretrained",
    "imagenet_categories": "pretrained",
    "load_imagenet_cnn": "pretrained",
    "load_text_encoder": "pretrained",
    "preprocess_imagenet": "pretrained",
    "scale_imagenet_pixels": "pretrained",
    "seed_everything": "session",
    "set_plot_style": "session",
    "setup_notebook": "session",
    "check_shapley_values": "shapley",
    "coalition_values": "shapley",
    "exact_shapley_values": "shapley",
    "add_marker": "shortcuts",
    "attribution_mass_in_region": "shortcuts",
    "marker_region": "shortcuts",
    "peak_in_region": "shortcuts",
    "MeanPoolClassifier": "text",
    "encode_texts": "text",
    "linear_head_from_logistic": "text",
    "mean_pool": "text",
    "evaluate": "training",
    "load_weights": "training",
    "predict_proba": "training",
    "random_shift": "training",
    "save_weights": "training",
    "shipped_weights": "training",
    "train": "training",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static analysers and IDEs see the names without importing them at run time
    from .attention import (  # noqa: F401
        attention_rollout,
        merge_heads,
        multi_head_attention,
        scaled_dot_product_attention,
        sinusoidal_positional_encoding,
        split_heads,
    )
    from .attribution_metrics import (  # noqa: F401
        agreement_matrix,
        completeness_gap,
        mean_rank_correlation,
        randomize_layers,
        rank_correlation,
    )
    from .cam1d import (  # noqa: F401
        library_grad_cam_1d,
        mass_in_region,
        pointing_game,
        region_fraction,
        region_mask,
        signal_cam,
        upsample_1d,
    )
    from .checks import CheckResult, answer_key, check_choice, check_close, check_true, claim  # noqa: F401
    from .data_files import data_dir, data_path, sha256sum  # noqa: F401
    from .datasets import (  # noqa: F401
        PHOTOS,
        Dataset,
        list_datasets,
        load_dataset,
        load_mitbih_snippet,
        load_photo,
    )
    from .device import device_banner, get_device, in_colab  # noqa: F401
    from .distributed import gather_shards, init_distributed, shard_indices  # noqa: F401
    from .ecg import EcgData, make_ecg_dataset  # noqa: F401
    from .fairness import disparate_impact_ratio, selection_rates  # noqa: F401
    from .faithfulness import (  # noqa: F401
        area_under_curve,
        deletion_auc,
        deletion_curve,
        deletion_curves,
        patch_scores,
    )
    from .forest import jaccard_matrix, matched_jaccard, proximity_matrix  # noqa: F401
    from .gradcam import class_activation_map, grad_cam, upsample_cam  # noqa: F401
    from .hooks import (  # noqa: F401
        ActivationRecorder,
        get_layer,
        layer_names,
        receptive_fields,
        record_activations,
        top_activating,
    )
    from .image_explain import (  # noqa: F401
        grid_segmentation,
        lime_image_map,
        lime_predict_fn,
        quiet_lime,
        relabel_segments,
        segment_rank,
        segment_weights,
    )
    from .lime_by_hand import (  # noqa: F401
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
    from .models import MnistCNN, SignalCNN, TinyViT  # noqa: F401
    from .plotting import (  # noqa: F401
        plot_attention,
        plot_importance,
        plot_signal_attribution,
        plot_token_attribution,
        show_attribution,
        show_attribution_grid,
    )
    from .pretrained import (  # noqa: F401
        deprocess_imagenet,
        imagenet_categories,
        load_imagenet_cnn,
        load_text_encoder,
        preprocess_imagenet,
        scale_imagenet_pixels,
    )
    from .session import seed_everything, set_plot_style, setup_notebook  # noqa: F401
    from .shapley import check_shapley_values, coalition_values, exact_shapley_values  # noqa: F401
    from .shortcuts import add_marker, attribution_mass_in_region, marker_region, peak_in_region  # noqa: F401
    from .text import MeanPoolClassifier, encode_texts, linear_head_from_logistic, mean_pool  # noqa: F401
    from .training import (  # noqa: F401
        evaluate,
        load_weights,
        predict_proba,
        random_shift,
        save_weights,
        shipped_weights,
        train,
    )
