"""Shared helpers of the course "Introduction to Explainable Deep Learning on Supercomputers".

Importing this package has no side effects and is light: each public name is
imported from its module on first use (PEP 562), so ``import utils`` in a
tabular notebook does not load torch. Call :func:`setup_notebook` at the top of a
notebook to seed everything, set the plot style and (for deep-learning notebooks)
pick the device.
"""

from __future__ import annotations

import importlib
from typing import Any

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
    "fourier_scale": "featvis",
    "image_to_spectrum": "featvis",
    "spectrum_to_image": "featvis",
    "total_variation": "featvis",
    "visualise_feature": "featvis",
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
    "max_activating_tokens": "neurons",
    "neuron_token_stats": "neurons",
    "token_activations": "neurons",
    "MnistCNN": "models",
    "SignalCNN": "models",
    "TinyViT": "models",
    "plot_attention": "plotting",
    "plot_importance": "plotting",
    "plot_signal_attribution": "plotting",
    "plot_token_attribution": "plotting",
    "show_attribution": "plotting",
    "show_attribution_grid": "plotting",
    "ChannelMask": "pruning",
    "ablation_importance": "pruning",
    "activation_importance": "pruning",
    "feature_map_correlation": "pruning",
    "pruning_curve": "pruning",
    "taylor_importance": "pruning",
    "top_input_overlap": "pruning",
    "zero_channels": "pruning",
    "deprocess_imagenet": "pretrained",
    "imagenet_categories": "pretrained",
    "load_imagenet_cnn": "pretrained",
    "load_text_encoder": "pretrained",
    "preprocess_imagenet": "pretrained",
    "scale_imagenet_pixels": "pretrained",
    "seed_everything": "session",
    "set_plot_style": "session",
    "setup_notebook": "session",
    "check_setup": "setup_check",
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

