"""The dropseg explorer: a Gradio app over run folders written by ``python -m training train``.

Only this package imports gradio; the library (``dropseg``) stays free of it.
"""

from .app import build_app
from .services import Services

__all__ = ["Services", "build_app"]
