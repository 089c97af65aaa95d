"""The explorer on a runs folder without any run: the page reports it and shows how to create one."""

from __future__ import annotations

from explorer.app import DEMO_COMMAND, list_runs
from explorer.services import Services


def test_no_runs_shows_demo_command(tmp_path):
    names, message = list_runs(Services.create(tmp_path, 64))
    assert names == []
    assert "No runs found" in message
    assert str(tmp_path) in message
    assert DEMO_COMMAND in message
    assert "bash demo.sh" in message
    assert "--runs" in message


def test_runs_listed_without_message(explorer_smoke_run):
    names, message = list_runs(Services.create(explorer_smoke_run.parent, 64))
    assert "smoke" in names
    assert message == ""
