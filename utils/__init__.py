"""Shared helpers of the course "Introduction to Explainable Deep Learning on Supercomputers".

Importing this package has no side effects: call :func:`setup_notebook` at the
top of a notebook to seed everything, set the plot style and pick the device.
"""

from .checks import answer_key, check_choice, check_close, check_true
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
from .fairness import disparate_impact_ratio, selection_rates
from .session import seed_everything, set_plot_style, setup_notebook

__all__ = [
    "PHOTOS",
    "Dataset",
    "answer_key",
    "check_choice",
    "check_close",
    "check_true",
    "data_dir",
    "data_path",
    "device_banner",
    "disparate_impact_ratio",
    "get_device",
    "in_colab",
    "list_datasets",
    "load_dataset",
    "load_mitbih_snippet",
    "load_photo",
    "seed_everything",
    "selection_rates",
    "set_plot_style",
    "setup_notebook",
    "sha256sum",
]
