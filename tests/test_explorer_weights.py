"""The explorer's model cache rebuilds each epoch's model as it was trained."""

from __future__ import annotations

import json
import shutil

import pytest

from dropseg import runs
from dropseg.regularizers import iter_regularizers
from explorer.store import RunStore
from explorer.weights import ModelCache


@pytest.fixture(scope="module")
def store(explorer_smoke_run):
    return RunStore(explorer_smoke_run)


def _drop_probs(model) -> list[float]:
    return sorted({module.drop_prob for module in iter_regularizers(model)})


def test_scheduled_variant_drops_what_it_was_trained_with(store):
    key = store.key(store.run_names()[0], "all-chandrop-sched")
    models = ModelCache(store)
    configured = store.run_record(key.run)["config"]["drop_prob"]

    for epoch in store.epochs(key):
        trained = store.metrics(key, epoch)["drop_prob"]
        assert _drop_probs(models.model(key, epoch)) == [pytest.approx(trained)]
    # The ramp has not reached p after the first of the two smoke epochs.
    assert store.metrics(key, 1)["drop_prob"] < configured


def test_unreadable_record_falls_back_to_configured_p(explorer_smoke_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(explorer_smoke_run, copy)
    metrics = runs.epoch_paths(copy, "decoder-dropblock", 0, 1).metrics
    record = json.loads(metrics.read_text())
    record["drop_prob"] = 7.0
    metrics.write_text(json.dumps(record))
    store = RunStore(copy)
    key = store.key(store.run_names()[0], "decoder-dropblock")

    model = ModelCache(store).model(key, 1)

    assert _drop_probs(model) == [store.run_record(key.run)["config"]["drop_prob"]]
