"""Shared test configuration: headless plotting, the repository root, shared fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib
import pytest
import torch

from utils.models import MnistCNN

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the tests import the maintenance tools in tools/
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="module")
def model() -> MnistCNN:
    """An untrained ``MnistCNN`` with seeded weights, in eval mode (no shipped file needed)."""
    torch.manual_seed(0)
    return MnistCNN().eval()
