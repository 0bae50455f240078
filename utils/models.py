"""Small PyTorch models of the course, built for explanation methods.

Every model follows the rules that hook-based methods need:

* each activation is its own module (``nn.ReLU(inplace=False)``), no module is
  used twice in ``forward`` (SHAP's DeepExplainer, guided backprop, LRP);
* no in-place operations (backward hooks of Grad-CAM break on them);
* the interesting layers have names, so notebooks can hook them.

==================  ===========================  =====================================
model               input                        layer to explain
==================  ===========================  =====================================
:class:`MnistCNN`   ``(n, 1, 28, 28)`` images    ``model.target_layer`` (last conv)
:class:`SignalCNN`  ``(n, C, T)`` signals        ``model.features`` (CAM is exact)
:class:`TinyViT`    ``(n, 1, 28, 28)`` images    ``block.attn.last_attention``
==================  ===========================  =====================================
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_input(x: torch.Tensor, ndim: int, channels: int, layout: str, model: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model} expects a torch.Tensor {layout}, got {type(x).__name__}")
    if x.ndim != ndim or x.shape[1] != channels:
        raise ValueError(
            f"{model} expects input of shape {layout} with C={channels}, got shape {tuple(x.shape)}"
        )


class MnistCNN(nn.Module):
    """A small CNN for 28x28 grey-value digits (about 105 k parameters).

    Architecture::

        features   [0] Conv2d(1, 16, 3, padding=1)  -> 16 x 28 x 28
                   [1] ReLU
                   [2] MaxPool2d(2)                 -> 16 x 14 x 14
                   [3] Conv2d(16, 32, 3, padding=1) -> 32 x 14 x 14   <- last conv layer
                   [4] ReLU
                   [5] MaxPool2d(2)                 -> 32 x 7 x 7
        flatten                                     -> 1568
        classifier [0] Linear(1568, 64)
                   [1] ReLU
                   [2] Linear(64, n_classes)        -> logits

    The last convolutional layer, the usual Grad-CAM target, is
    ``model.features[3]``, also available as :attr:`target_layer`.

    Parameters
    ----------
    n_classes : int, default 10
        Number of output logits.

    Examples
    --------
    >>> model = MnistCNN()
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> model.target_layer is model.features[3]
    True
    """

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.n_classes = _check_positive_int(n_classes, "n_classes")
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(32 * 7 * 7, 64),
            nn.ReLU(inplace=False),
            nn.Linear(64, n_classes),
        )

    @property
    def target_layer(self) -> nn.Conv2d:
        """The last convolutional layer (``features[3]``), the Grad-CAM target."""
        return self.features[3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits ``(n, n_classes)`` of images ``(n, 1, 28, 28)``."""
        _check_input(x, 4, 1, "(n, 1, 28, 28)", "MnistCNN")
        if x.shape[-2:] != (28, 28):
            raise ValueError(f"MnistCNN expects 28x28 images, got shape {tuple(x.shape)}")
        return self.classifier(torch.flatten(self.features(x), 1))


class SignalCNN(nn.Module):
    r"""A 1D CNN for time series whose class activation map (CAM) is exact.

    Three conv blocks (Conv1d, BatchNorm1d, ReLU; ``padding`` keeps the length
    ``T``), global average pooling (GAP) over time and **one** linear layer::

        features  Conv1d(C, 32, 7) BN ReLU  Conv1d(32, 64, 5) BN ReLU
                  Conv1d(64, 64, 3) BN ReLU                    -> maps A, (n, 64, T)
        gap       mean over time                               -> (n, 64)
        fc        Linear(64, n_classes)                        -> logits

    Because GAP and ``fc`` are both linear, the logit of class :math:`c` is the
    time average of its class activation map (Zhou et al., 2016, *Learning
    Deep Features for Discriminative Localization*, CVPR):

    .. math::

        z_c = \frac{1}{T}\sum_t \mathrm{CAM}_c(t) + b_c, \qquad
        \mathrm{CAM}_c(t) = \sum_k w_{ck} A_k(t),

    with ``w = model.fc.weight`` and ``b = model.fc.bias``. This holds exactly,
    in training and in eval mode.

    Parameters
    ----------
    n_classes : int
        Number of output logits.
    in_channels : int, default 1
        Number of input channels ``C``. With ``in_channels=1`` the model also
        accepts ``(n, T)`` input and adds the channel axis itself.

    Examples
    --------
    >>> model = SignalCNN(n_classes=2).eval()
    >>> x = torch.randn(4, 1, 150)
    >>> maps = model.features(x)                      # (4, 64, 150)
    >>> cam = torch.einsum("ck,nkt->nct", model.fc.weight, maps)
    >>> torch.allclose(cam.mean(-1) + model.fc.bias, model(x), atol=1e-5)
    True
    """

    def __init__(self, n_classes: int, in_channels: int = 1) -> None:
        super().__init__()
        self.n_classes = _check_positive_int(n_classes, "n_classes")
        self.in_channels = _check_positive_int(in_channels, "in_channels")
        self.features = nn.Sequential(
            nn.Conv1d(in_channels, 32, kernel_size=7, padding=3),
            nn.BatchNorm1d(32),
            nn.ReLU(inplace=False),
            nn.Conv1d(32, 64, kernel_size=5, padding=2),
            nn.BatchNorm1d(64),
            nn.ReLU(inplace=False),
            nn.Conv1d(64, 64, kernel_size=3, padding=1),
            nn.BatchNorm1d(64),
            nn.ReLU(inplace=False),
        )
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(64, n_classes)

    @property
    def target_layer(self) -> nn.Conv1d:
        """The last convolutional layer (``features[6]``), for Grad-CAM."""
        return self.features[6]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits ``(n, n_classes)`` of signals ``(n, C, T)``."""
        if isinstance(x, torch.Tensor) and x.ndim == 2 and self.in_channels == 1:
            x = x.unsqueeze(1)
        _check_input(x, 3, self.in_channels, "(n, C, T)", "SignalCNN")
        maps = self.features(x)
        return self.fc(torch.flatten(self.gap(maps), 1))


class Attention(nn.Module):
    r"""Multi-head self-attention, written out so that it can be read.

    .. math::

        \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(
        \frac{QK^\top}{\sqrt{d_\text{head}}}\right) V

    (Vaswani et al., 2017, *Attention Is All You Need*, NeurIPS). After each
    forward pass the attention weights are kept in :attr:`last_attention`
    (detached, shape ``(n, heads, tokens, tokens)``, each row sums to 1). They
    also pass through the identity module :attr:`attn_map`: hook it to keep
    their gradient (gradient-weighted attention).

    Parameters
    ----------
    dim : int
        Token dimension; must be divisible by ``heads``.
    heads : int
        Number of attention heads.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads, got dim={dim}, heads={heads}")
        self.heads = heads
        self.head_dim = dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attn_map = nn.Identity()
        self.proj = nn.Linear(dim, dim)
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map tokens ``(n, tokens, dim)`` to tokens of the same shape."""
        n, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(n, tokens, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (n, heads, tokens, head_dim)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        attn = self.attn_map(scores.softmax(dim=-1))  # (n, heads, tokens, tokens)
        self.last_attention = attn.detach()
        out = (attn @ v).transpose(1, 2).reshape(n, tokens, dim)
        return self.proj(out)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 2) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map tokens ``(n, tokens, dim)`` to tokens of the same shape."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A tiny vision transformer (Dosovitskiy et al., 2021, *An Image Is Worth
    16x16 Words*, ICLR), written from scratch for teaching.

    * ``patch_embed``: ``Conv2d(in_channels, dim, patch_size, stride=patch_size)``
      cuts the image into non-overlapping patches (a 4x4 grid of 7x7 patches
      for MNIST) and embeds each one;
    * ``cls_token`` is prepended, so token 0 is [CLS] and tokens ``1 ...``
      are the patches in row-major order; ``pos_embed`` is added;
    * ``blocks``: ``depth`` pre-norm transformer :class:`Block` modules; the
      attention weights of the last forward pass are in
      ``model.blocks[i].attn.last_attention``, shape ``(n, heads, tokens, tokens)``
      (see :meth:`attention_maps`);
    * ``norm`` + ``head``: LayerNorm and a linear layer on the [CLS] token.

    Parameters
    ----------
    image_size : int, default 28
        Height and width of the (square) input images.
    patch_size : int, default 7
        Side of a patch; must divide ``image_size``.
    dim : int, default 64
        Token dimension.
    depth : int, default 4
        Number of transformer blocks.
    heads : int, default 4
        Attention heads per block; must divide ``dim``.
    n_classes : int, default 10
        Number of output logits.
    in_channels : int, default 1
        Image channels.

    Examples
    --------
    >>> model = TinyViT()
    >>> logits = model(torch.zeros(2, 1, 28, 28))
    >>> model.blocks[0].attn.last_attention.shape   # 1 + 4*4 tokens
    torch.Size([2, 4, 17, 17])
    """

    def __init__(
        self,
        image_size: int = 28,
        patch_size: int = 7,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
        n_classes: int = 10,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        for name, value in [("image_size", image_size), ("patch_size", patch_size),
                            ("dim", dim), ("depth", depth), ("heads", heads),
                            ("n_classes", n_classes), ("in_channels", in_channels)]:  # fmt: skip
            _check_positive_int(value, name)
        if image_size % patch_size:
            raise ValueError(
                f"patch_size must divide image_size, got image_size={image_size}, "
                f"patch_size={patch_size}"
            )
        if dim % heads:
            raise ValueError(f"heads must divide dim, got dim={dim}, heads={heads}")
        self.image_size, self.patch_size = image_size, patch_size
        self.in_channels, self.n_classes = in_channels, n_classes
        self.grid_size = image_size // patch_size
        self.n_tokens = 1 + self.grid_size**2
        self.patch_embed = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.n_tokens, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Return the tokens after the last block, ``(n, tokens, dim)``; index 0 is [CLS]."""
        size = (self.image_size, self.image_size)
        layout = f"(n, {self.in_channels}, {self.image_size}, {self.image_size})"
        _check_input(x, 4, self.in_channels, layout, "TinyViT")
        if tuple(x.shape[-2:]) != size:
            raise ValueError(f"TinyViT expects input {layout}, got shape {tuple(x.shape)}")
        patches = self.patch_embed(x).flatten(2).transpose(1, 2)  # (n, grid*grid, dim)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        z = torch.cat([cls, patches], dim=1) + self.pos_embed
        for block in self.blocks:
            z = block(z)
        return z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits ``(n, n_classes)`` of images ``(n, C, H, W)``."""
        return self.head(self.norm(self.tokens(x))[:, 0])

    def attention_maps(self) -> torch.Tensor:
        """Return the attention weights of the last forward pass of every block.

        Returns
        -------
        torch.Tensor
            Shape ``(depth, n, heads, tokens, tokens)``; row ``i`` of a map is
            how token ``i`` distributes its attention (it sums to 1).

        Raises
        ------
        RuntimeError
            If the model has not been run yet.
        """
        maps = [block.attn.last_attention for block in self.blocks]
        if any(m is None for m in maps):
            raise RuntimeError("No attention stored yet: run the model on a batch first.")
        return torch.stack(maps)

    def reshape_transform(self, tokens: torch.Tensor) -> torch.Tensor:
        """Turn tokens ``(n, 1 + g*g, dim)`` into maps ``(n, dim, g, g)``, dropping [CLS].

        Pass it as ``reshape_transform`` to ``pytorch_grad_cam`` to run Grad-CAM
        on a transformer block (e.g. ``target_layers=[model.blocks[-1].norm1]``).
        """
        n, count, dim = tokens.shape
        if count != self.n_tokens:
            raise ValueError(
                f"expected {self.n_tokens} tokens (1 [CLS] + {self.grid_size}x{self.grid_size} "
                f"patches), got {count}"
            )
        grid = tokens[:, 1:].reshape(n, self.grid_size, self.grid_size, dim)
        return grid.permute(0, 3, 1, 2)
