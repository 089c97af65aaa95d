"""Every explorer endpoint driven with gradio_client against the real server on a smoke run."""

from __future__ import annotations

import csv
import io
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import EXPLORER_VARIANTS
from explorer_files import BAD_UPLOAD_PHRASES, bad_uploads, good_uploads
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from dropseg import runs

pytestmark = pytest.mark.slow

BASE_VARIANTS = ["none", "all-chandrop-sched"]


@pytest.fixture(scope="module")
def client(explorer_url) -> Client:
    return Client(explorer_url, verbose=False)


@pytest.fixture(scope="module")
def val_id(explorer_smoke_run) -> str:
    return runs.read_run(explorer_smoke_run)["val_ids"][0]


def compare(
    client: Client, upload=None, image_id=None, variants=BASE_VARIANTS, epoch="best", passes=0, run="smoke"
):
    return client.predict(run, upload, image_id, variants, epoch, 0.6, passes, api_name="/compare")


def test_runs_lists_both_runs(client):
    assert client.predict(api_name="/runs") == ["smoke", "smoke-damaged"]


def test_compare_validation_image(client, explorer_smoke_run, val_id):
    overlays, uncertainty, truth, legend, disagreement, table, status = compare(
        client, image_id=val_id, variants=list(EXPLORER_VARIANTS)
    )
    assert [item["caption"].split(" · ")[0] for item in overlays] == list(EXPLORER_VARIANTS)
    for item in overlays:
        assert Path(item["image"]).is_file()
    assert uncertainty == []
    assert Path(truth).is_file()
    assert Path(legend).is_file()
    assert Path(disagreement).is_file()
    assert "disagree on" in status

    # The captions carry the per-image mIoU that training stored for that image and epoch.
    caption = overlays[0]["caption"]
    assert "epoch" in caption
    epoch = int(caption.split("epoch ")[1].split(" ")[0])
    expected = runs.read_per_image(explorer_smoke_run, "none", 0, epoch)[val_id]
    assert f"{expected:.3f}" in caption
    assert f"| none | {epoch} | {expected:.3f} |" in table


def test_compare_upload_with_monte_carlo(client, voc_root):
    photo = next((voc_root / "VOCdevkit" / "VOC2012" / "JPEGImages").glob("*.jpg"))
    overlays, uncertainty, truth, legend, _, table, status = compare(
        client, upload=handle_file(photo), passes=3
    )
    assert len(overlays) == 2
    assert len(uncertainty) == 2
    assert "entropy of 3 passes" in uncertainty[1]["caption"]
    assert truth is None
    assert table == ""
    assert "Uncertainty" in status


def test_compare_fixed_epoch(client, val_id):
    overlays = compare(client, image_id=val_id, epoch="1")[0]
    assert all("epoch 1 " in item["caption"] for item in overlays)


@pytest.mark.parametrize(
    ("name", "phrase"),
    BAD_UPLOAD_PHRASES,
)
def test_compare_rejects_bad_upload(client, tmp_path_factory, voc_root, name, phrase):
    jpeg = next((voc_root / "VOCdevkit" / "VOC2012" / "JPEGImages").glob("*.jpg"))
    files = bad_uploads(tmp_path_factory.mktemp("bad"), jpeg)
    overlays, *_, status = compare(client, upload=handle_file(files[name]))
    assert overlays == []
    assert status.startswith("**Error:**")
    assert phrase in status
    assert "Traceback" not in status
    assert client.predict(api_name="/runs") == ["smoke", "smoke-damaged"]


@pytest.mark.parametrize(
    "name", ["cmyk.jpg", "gray16.png", "palette.png", "rgba.png", "exif.jpg", "large.jpg"]
)
def test_compare_accepts_awkward_upload(client, tmp_path_factory, name):
    files = good_uploads(tmp_path_factory.mktemp("good"))
    overlays, *_, status = compare(client, upload=handle_file(files[name]))
    assert len(overlays) == 2, status
    expected = {"exif.jpg": "64 x 96", "large.jpg": "513 x 342"}.get(name, "96 x 64")
    assert f"on a {expected} image" in status


def test_compare_corrupt_weights_spares_others(client, val_id):
    overlays, *_, status = compare(
        client, image_id=val_id, variants=["none", "spp-uout"], epoch="2", run="smoke-damaged"
    )
    assert [item["caption"].split(" · ")[0] for item in overlays] == ["spp-uout"]
    assert "none:" in status
    assert "weights of none epoch 2" in status
    assert "unreadable" in status


@pytest.mark.parametrize(
    ("arguments", "phrase"),
    [
        ({"variants": ["no-such-variant"]}, "unknown variant 'no-such-variant'"),
        ({"epoch": "99"}, "epoch 99 of none is not finished"),
        ({"epoch": "two"}, "invalid epoch 'two'"),
        ({"run": "../.."}, "unknown run '../..'"),
        ({"image_id": "../../../etc/passwd"}, "unknown validation image"),
        ({"variants": []}, "no variant selected"),
    ],
)
def test_compare_validates_request(client, val_id, arguments, phrase):
    request = {"image_id": val_id, **arguments}
    overlays, *_, status = compare(client, **request)
    assert phrase in status
    if "variants" not in arguments or arguments["variants"] == []:
        assert overlays == []


def test_compare_rejects_too_many_passes(client, val_id):
    # Gradio checks the slider range before the handler runs, and names the limit.
    with pytest.raises(AppError, match="greater than maximum value 32"):
        compare(client, image_id=val_id, passes=1000)


def test_timeline_steps_through_epochs(client, explorer_smoke_run):
    tracked = runs.read_run(explorer_smoke_run)["tracked_ids"]
    frames = {}
    for epoch in (1, 2):
        items, status = client.predict("smoke", BASE_VARIANTS, epoch, api_name="/timeline")
        assert len(items) == len(tracked) * (1 + len(BASE_VARIANTS))
        assert f"Epoch {epoch}" in status
        assert all(f"epoch {epoch} " in item["caption"] for item in items[len(tracked) :])
        frames[epoch] = [Path(item["image"]).read_bytes() for item in items[len(tracked) :]]
    assert frames[1] != frames[2]


def test_timeline_names_unfinished_epoch(client):
    items, status = client.predict("smoke", BASE_VARIANTS, 5, api_name="/timeline")
    assert "Not finished at epoch 5" in status


def test_timeline_curves_plot(client):
    plot, status = client.predict("smoke", list(EXPLORER_VARIANTS), 2, api_name="/timeline_curves")
    assert plot["type"] == "matplotlib"
    assert plot["plot"].startswith("data:image")
    assert status == ""


def test_ranked_groups_with_miou(client, explorer_smoke_run):
    items, status = client.predict("smoke", "none", "2", api_name="/ranked")
    metrics = runs.read_json(runs.epoch_paths(explorer_smoke_run, "none", 0, 2).metrics)
    values = runs.read_per_image(explorer_smoke_run, "none", 0, 2)
    groups = metrics["predictions"]
    assert len(items) == 3 * sum(len(groups[g]) for g in ("best", "middle", "worst"))
    best_id = groups["best"][0]
    assert items[0]["caption"] == f"best · {best_id}"
    assert items[2]["caption"] == f"none · epoch 2 · per-image mIoU {values[best_id]:.3f}"
    assert items[-3]["caption"].startswith("worst · ")


def test_results_table_and_csv(client, explorer_smoke_run):
    table, comparison, plot, csv_path, notes, status = client.predict("smoke", api_name="/results")
    variants = [row[0] for row in table["data"]]
    assert set(variants) == {*EXPLORER_VARIANTS, "pretrained-base"}
    none_row = table["data"][variants.index("none")]
    assert none_row[table["headers"].index("paper mean")] == 0.49
    best = runs.read_json(runs.epoch_paths(explorer_smoke_run, "none", 0, int(none_row[1])).metrics)
    assert none_row[table["headers"].index("mean")] == round(best["per_image_miou"]["mean"], 4)
    assert [row[0] for row in comparison["data"]] == [
        v for v in variants if v not in ("none", "pretrained-base")
    ]
    assert plot["type"] == "matplotlib"
    rows = list(csv.DictReader(io.StringIO(Path(csv_path).read_text())))
    assert {row["variant"] for row in rows} == set(variants)
    assert "divided by the batch size" in notes
    assert status == ""


def test_results_survive_corrupt_metrics(client):
    table, *_, status = client.predict("smoke-damaged", api_name="/results")
    assert "spp-uout" in [row[0] for row in table["data"]]
    assert "metrics of spp-uout epoch 1 is unreadable" in status


def test_run_info_shows_config(client):
    summary, details, status = client.predict("smoke", api_name="/run_info")
    assert details["config"]["preset"] == "smoke"
    assert "torch" in details["library_versions"]
    assert "no problems found" in summary
    damaged_summary = client.predict("smoke-damaged", api_name="/run_info")[0]
    assert "problem(s)" in damaged_summary


def test_new_variant_appears_without_restart(client, explorer_root):
    source = explorer_root / "smoke-damaged" / "variants" / "decoder-dropblock"
    shutil.copytree(source, explorer_root / "smoke-damaged" / "variants" / "upper-uout")
    table = client.predict("smoke-damaged", api_name="/results")[0]
    assert "upper-uout" in [row[0] for row in table["data"]]


def test_eight_concurrent_clients(explorer_url, val_id):
    def session(index: int) -> str:
        own = Client(explorer_url, verbose=False)
        items, status = own.predict("smoke", BASE_VARIANTS, 1 + index % 2, api_name="/timeline")
        assert items, status
        overlays, *_, status = compare(own, image_id=val_id, epoch=str(1 + index % 2))
        assert len(overlays) == 2, status
        return status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(session, range(8), timeout=240))
    assert all("Error" not in status for status in statuses)
