"""The objects every view shares: the run store, the model cache and the predictor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .hub import HubRunStore, is_hub_location, parse_hub_location
from .inference import Predictor
from .store import RunStore
from .weights import DEFAULT_BUDGET_MB, ModelCache

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    store: RunStore
    models: ModelCache
    predictor: Predictor

    @classmethod
    def create(cls, runs_root: str | Path, budget_mb: int = DEFAULT_BUDGET_MB) -> Services:
        """Create the services over ``runs_root`` (a folder, or ``hf://OWNER/NAME[@REVISION]``)
        with a model cache of ``budget_mb`` MiB.

        Raises:
            StoreError: if a Hub repository cannot be read.
            ValueError: for a malformed ``hf://`` location.
        """
        if is_hub_location(runs_root):
            store: RunStore = HubRunStore.open(parse_hub_location(str(runs_root)))
        else:
            store = RunStore(runs_root)
        models = ModelCache(store, budget_mb)
        return cls(store, models, Predictor(models))
