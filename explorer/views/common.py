"""Helpers shared by the views: turning expected errors into page messages, and choice lists."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr

from ..store import StoreError
from ..uploads import UploadError

_logger = logging.getLogger(__name__)

__all__ = ["MAX_VARIANTS", "check_variants", "error_text", "reports_errors"]

# Variants one comparison or timeline shows at most; each costs a model (compare) or a row.
MAX_VARIANTS = 8


def error_text(message: str) -> str:
    return f"**Error:** {message}"


def reports_errors(empty: Callable[[], tuple]) -> Callable[[Callable[..., tuple]], Callable[..., tuple]]:
    """Wrap a handler whose last output is a status Markdown.

    An expected error (:class:`StoreError`, :class:`UploadError`, ``ValueError``) becomes a
    warning toast and the status text beside ``empty()`` outputs. Any other exception is
    logged with its traceback and shown as a short message, so the page never shows a
    traceback and the server keeps serving.
    """

    def decorate(handler: Callable[..., tuple]) -> Callable[..., tuple]:
        name = getattr(handler, "__name__", None) or getattr(handler, "func", handler).__name__

        @functools.wraps(handler)
        def wrapper(*args: Any) -> tuple:
            try:
                return handler(*args)
            except (StoreError, UploadError, ValueError) as error:
                _logger.info("%s rejected a request: %s", name, error)
                message = str(error)
            except Exception:
                _logger.exception("%s failed", name)
                message = "an internal error occurred; the server log has the details"
            gr.Warning(message)
            return (*empty(), error_text(message))

        return wrapper

    return decorate


def check_variants(variants: list[str] | str | None) -> list[str]:
    """Return the requested variant names, without repeats; reject none or too many."""
    if isinstance(variants, str):
        variants = [variants]
    names = list(dict.fromkeys(v for v in variants or [] if v))
    if not names:
        raise ValueError("no variant selected; pick at least one variant")
    if len(names) > MAX_VARIANTS:
        raise ValueError(f"{len(names)} variants selected; pick at most {MAX_VARIANTS}")
    return names
