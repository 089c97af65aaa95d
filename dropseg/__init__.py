"""dropseg: dropout, DropBlock and UOut in DeepLabV3+ semantic segmentation.

A toolkit to rerun and inspect Spilsbury and Camps 2019, "Don't ignore Dropout in Fully
Convolutional Networks" (https://arxiv.org/abs/1908.09162).
"""

from .models import build_model
from .variants import paper_matrix, parse_variant

__version__ = "0.1.0"

__all__ = ["__version__", "build_model", "paper_matrix", "parse_variant"]
