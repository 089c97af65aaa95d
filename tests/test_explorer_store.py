"""Run discovery and naming of the explorer's run store."""

from __future__ import annotations

from explorer.store import RunStore


def test_run_folder_as_root_is_named_by_folder(explorer_smoke_run):
    store = RunStore(explorer_smoke_run)

    assert store.run_names() == ["."]
    assert store.run_label(".") == explorer_smoke_run.name


def test_nested_runs_keep_their_paths(explorer_smoke_run):
    store = RunStore(explorer_smoke_run.parent)
    name = explorer_smoke_run.name

    assert name in store.run_names()
    assert store.run_label(name) == name
