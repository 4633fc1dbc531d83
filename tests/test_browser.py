"""The page in a real browser: Playwright driving Debian's Chromium, headless, at a phone's width.

Chromium must be installed at /usr/bin/chromium (scripts/install-system-deps.sh): a missing browser fails
the test, it does not skip it. Playwright never downloads a browser here.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2lab

from .test_server_harness import Server, chroma, grey_photo, running_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server("--workers", "1", "--queue-size", "2") as s:
        yield s


@pytest.fixture
def page(tmp_path: Path, server: Server) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is not installed at /usr/bin/chromium: run scripts/install-system-deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=ARGS, headless=True,
            viewport=PHONE, device_scale_factor=2, is_mobile=False, has_touch=True, accept_downloads=True,
        )
        try:
            requested: list[str] = []
            context.on("request", lambda request: requested.append(request.url))
            page = context.pages[0] if context.pages else context.new_page()
            page.requested = requested  # type: ignore[attr-defined]
            yield page
        finally:
            context.close()


def test_upload_compare_and_download_on_a_phone_sized_screen(page, server: Server, tmp_path: Path) -> None:
    photo_path = tmp_path / "grandmother.jpg"
    photo_path.write_bytes(grey_photo(200, 150))
    page.goto(server.url + "/")
    assert page.title().startswith("Colouriser")
    page.set_input_files("#file", str(photo_path))
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    assert page.evaluate("document.getElementById('after').naturalWidth") == 200
    assert page.evaluate("document.getElementById('before').naturalWidth") == 200
    # fits a 375 px screen: nothing sticks out sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # drag the before/after divider from the middle to a fifth of the way
    box = page.locator("#compare").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.35, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=5)
    page.mouse.up()
    assert abs(float(page.input_value("#slider")) - 20) < 3
    assert page.evaluate("getComputedStyle(document.querySelector('.compare .after')).clipPath").startswith(
        "inset(0px 0px 0px 20")
    page.keyboard.press("ArrowRight")  # the keyboard moves it too (the range input has the focus)
    assert float(page.input_value("#slider")) > 20

    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "grandmother-colour.jpg"
    saved = tmp_path / "downloaded.jpg"
    download.save_as(saved)
    data = saved.read_bytes()
    image = Image.open(io.BytesIO(data))
    assert image.size == (200, 150) and image.mode == "RGB"
    assert chroma(data) > 1.0  # a colour image, from a grey one

    # the page fetched nothing from any other site
    assert page.requested and all(url.startswith((server.url, "blob:", "data:")) for url in page.requested), \
        page.requested


def test_a_bad_file_gives_a_readable_sentence(page, server: Server, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(grey_photo(200, 150)[:500])
    page.goto(server.url + "/")
    page.set_input_files("#file", str(broken))
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=60_000)
    text = error.inner_text()
    assert text.startswith("This photo cannot be coloured") and text.endswith("."), text
    assert page.locator("#pick").is_visible()  # and one can pick another photo straight away

    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    page.set_input_files("#file", str(notes))
    assert "not a photo" in error.inner_text()


DROP_OR_PASTE = """async ([how, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
  if (how === "drop") {
    const zone = document.getElementById("pick");
    zone.dispatchEvent(new DragEvent("dragenter", {bubbles: true, dataTransfer: data}));
    zone.dispatchEvent(new DragEvent("drop", {bubbles: true, cancelable: true, dataTransfer: data}));
  } else {
    document.dispatchEvent(new ClipboardEvent("paste", {bubbles: true, cancelable: true, clipboardData: data}));
  }
}"""


@pytest.mark.parametrize("how", ["drop", "paste"])
def test_a_photo_can_be_dropped_or_pasted(page, server: Server, how: str) -> None:
    import base64

    page.goto(server.url + "/")
    page.evaluate(DROP_OR_PASTE, [how, base64.b64encode(grey_photo(120, 90, "PNG")).decode()])
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    assert page.evaluate("document.getElementById('after').naturalWidth") == 120
    assert page.get_attribute("#download", "download") == "dropped-colour.png"


READ_PIXEL = """([x, y]) => {
  const img = document.getElementById("after");
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  const d = context.getImageData(Math.round(x * (canvas.width - 1)), Math.round(y * (canvas.height - 1)), 3, 3).data;
  const mean = [0, 1, 2].map((c) => [0, 1, 2, 3, 4, 5, 6, 7, 8].reduce((s, i) => s + d[i * 4 + c], 0) / 9);
  return mean;
}"""


def _lab(rgb: list[float]) -> np.ndarray:
    return rgb2lab(np.array(rgb, np.float64).reshape(1, 1, 3) / 255)[0, 0]


def _next_result(page, version: int) -> int:
    """Wait until the page shows a result newer than ``version``; its version."""
    page.wait_for_function("(v) => Number(document.getElementById('result').dataset.version) > v && "
                           "document.getElementById('result').dataset.busy === 'false'", arg=version, timeout=120_000)
    return int(page.get_attribute("#result", "data-version"))


def test_a_hint_recolours_the_photo_and_undo_takes_it_back(page, server: Server, tmp_path: Path) -> None:
    photo_path = tmp_path / "street.png"
    photo_path.write_bytes(grey_photo(200, 150, "PNG"))
    page.goto(server.url + "/")
    page.set_input_files("#file", str(photo_path))
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    version = _next_result(page, 0)
    first_url = page.get_attribute("#after", "src")
    fx, fy = 0.75, 0.83  # a mid-grey, flat stretch of ground
    original = page.evaluate(READ_PIXEL, [fx, fy])

    # place a hint: hint mode, click the spot; the picker starts with the colour that is there now
    page.click("#hint-mode")
    assert page.get_attribute("#hint-mode", "aria-pressed") == "true"
    box = page.locator("#compare").bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    page.wait_for_selector("#hint-panel:not([hidden])")
    start = page.input_value("#hint-colour")
    assert max(abs(int(start[i:i + 2], 16) - v) for i, v in zip((1, 3, 5), original, strict=True)) < 16, \
        (start, original)
    page.locator("#hint-colour").fill("#2050c0")  # a blue
    version = _next_result(page, version)
    assert page.locator("#markers .marker").count() == 1
    hinted = page.evaluate(READ_PIXEL, [fx, fy])
    want = _lab([0x20, 0x50, 0xc0])[1:]
    before_ab, after_ab = _lab(original)[1:], _lab(hinted)[1:]
    assert after_ab[1] < before_ab[1] - 10, (original, hinted)  # bluer (b* falls)
    assert np.hypot(*(after_ab - want)) < np.hypot(*(before_ab - want)) - 10, (original, hinted)
    assert page.get_attribute("#download", "href") == page.get_attribute("#after", "src") != first_url

    # undo: the first colouring is back
    page.click("#undo")
    version = _next_result(page, version)
    assert page.locator("#markers .marker").count() == 0
    back = page.evaluate(READ_PIXEL, [fx, fy])
    assert max(abs(a - b) for a, b in zip(back, original, strict=True)) < 4, (back, original)
    assert page.is_disabled("#undo")

    # the confidence overlay and its legend
    page.check("#show-confidence")
    page.wait_for_selector("#confidence:not([hidden])", timeout=120_000)
    page.wait_for_function("() => document.getElementById('confidence').naturalWidth === 200", timeout=120_000)
    assert "yellow = sure, purple = a guess" in page.inner_text("#legend")
    page.uncheck("#show-confidence")
    assert page.is_hidden("#confidence")

    # another colouring, and back to the first
    page.click("#another")
    version = _next_result(page, version)
    assert "Alternative 1" in page.inner_text("#variant-info")
    assert page.evaluate("document.getElementById('after').naturalWidth") == 200
    page.click("#automatic")
    version = _next_result(page, version)
    assert page.get_attribute("#after", "src") == first_url
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert all(url.startswith((server.url, "blob:", "data:")) for url in page.requested), page.requested
