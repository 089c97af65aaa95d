"""Upload validation of the explorer, without a server."""

from __future__ import annotations

import pytest
from explorer_files import BAD_UPLOAD_PHRASES, PHOTO_SIZE, bad_uploads, good_uploads

from explorer.uploads import MAX_INFERENCE_SIDE, UploadError, load_upload


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return good_uploads(tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="module")
def bad(tmp_path_factory, voc_root):
    jpeg = next((voc_root / "VOCdevkit" / "VOC2012" / "JPEGImages").glob("*.jpg"))
    return bad_uploads(tmp_path_factory.mktemp("bad"), jpeg)


@pytest.mark.parametrize("name", ["cmyk.jpg", "gray16.png", "palette.png", "rgba.png"])
def test_upload_converts_to_rgb(good, name):
    image = load_upload(good[name])
    assert image.mode == "RGB"
    assert image.size == PHOTO_SIZE


def test_upload_16bit_keeps_contrast(good):
    # Scaling 16-bit values to 8 bits must keep the gradient, not clip it to white.
    values = load_upload(good["gray16.png"]).convert("L").getextrema()
    assert values[0] < 40
    assert values[1] > 200


def test_upload_rgba_composited_on_white(good):
    # Half-transparent black at (0, 0) over white gives mid gray, not black.
    red, green, blue = load_upload(good["rgba.png"]).getpixel((0, 0))
    assert min(red, green, blue) >= 120


def test_upload_exif_orientation_applied(good):
    assert load_upload(good["exif.jpg"]).size == (PHOTO_SIZE[1], PHOTO_SIZE[0])


def test_upload_large_downscaled(good):
    image = load_upload(good["large.jpg"])
    assert max(image.size) == MAX_INFERENCE_SIDE
    assert image.size == (MAX_INFERENCE_SIDE, round(1333 * MAX_INFERENCE_SIDE / 2000))


@pytest.mark.parametrize(
    ("name", "phrase"),
    BAD_UPLOAD_PHRASES,
)
def test_upload_rejects_bad_file(bad, name, phrase):
    with pytest.raises(UploadError, match=phrase) as raised:
        load_upload(bad[name])
    assert name in str(raised.value)


def test_upload_rejects_tiny_image(tmp_path):
    from PIL import Image

    path = tmp_path / "tiny.png"
    Image.new("RGB", (8, 300)).save(path)
    with pytest.raises(UploadError, match="16 pixels or more"):
        load_upload(path)
