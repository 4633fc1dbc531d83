"""Privacy: photos and results live only in memory, and neither their bytes nor their names reach the logs.

The real server runs with TMPDIR, HOME and its working directory pointing at empty folders. The photo is made
in memory here (never written by the test) and is bigger than 1 MB: Starlette's multipart parser would spool
it to a temporary file, ours must not.
"""

from __future__ import annotations

import base64
import io
import os
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import skimage.data
from PIL import Image, PngImagePlugin

from .test_server_harness import running_server

SCAN_ROOTS = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))


def noisy_photo(marker: str) -> bytes:
    rng = np.random.default_rng(1)
    grey = np.asarray(Image.fromarray(skimage.data.camera()).resize((1400, 1100)), np.float32)
    grey = np.clip(grey + rng.normal(0, 30, grey.shape), 0, 255).astype(np.uint8)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", marker)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def everything_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def files_changed_since(since: float) -> list[Path]:
    found = []
    for root in SCAN_ROOTS:
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = Path(dirpath) / name
                try:
                    st = path.lstat()
                except OSError:
                    continue
                if path.is_file() and not path.is_symlink() and st.st_mtime >= since and st.st_size < 200_000_000:
                    found.append(path)
    return found


def test_no_photo_is_written_anywhere_nor_logged(tmp_path: Path) -> None:
    dirs = {name: tmp_path / name for name in ("tmp", "home", "cwd")}
    for d in dirs.values():
        d.mkdir()
    marker = f"privacy-marker-{uuid.uuid4().hex}"
    name = f"grandmother-{uuid.uuid4().hex[:8]}.png"
    photo = noisy_photo(marker)
    assert len(photo) > 1_200_000  # over python-multipart's 1 MB spooling threshold
    middle = photo[len(photo) // 2: len(photo) // 2 + 48]  # compressed pixel data
    env = {"TMPDIR": str(dirs["tmp"]), "TEMP": str(dirs["tmp"]), "TMP": str(dirs["tmp"]), "HOME": str(dirs["home"]),
           "XDG_CACHE_HOME": str(dirs["home"] / ".cache")}

    since = time.time() - 1
    with running_server("--workers", "1", "--queue-size", "2", "--max-pixels", "2000000", env=env,
                        cwd=dirs["cwd"]) as server:
        before = {k: everything_under(d) for k, d in dirs.items()}
        results = []
        r = httpx.post(f"{server.url}/api/colourise", files={"file": (name, photo, "image/png")}, timeout=120)
        assert r.status_code == 200, r.text
        results.append(r.content)
        r = httpx.post(f"{server.url}/api/colourise?format=jpg", content=photo, timeout=120,
                       headers={"content-type": "image/png", "content-disposition": f'attachment; filename="{name}"'})
        assert r.status_code == 200, r.text
        results.append(r.content)
        broken = photo[: len(photo) // 3]  # the error path must not leak either
        r = httpx.post(f"{server.url}/api/colourise", files={"file": (name, broken, "image/png")}, timeout=120)
        assert r.status_code == 422, r.text
        assert name not in r.text and marker not in r.text
        during = {k: everything_under(d) for k, d in dirs.items()}
        log = server.log_bytes
    after = {k: everything_under(d) for k, d in dirs.items()}

    assert before == during == after == {"tmp": set(), "home": set(), "cwd": set()}, (before, during, after)

    secrets = [marker.encode(), name.encode(), name.rsplit(".", 1)[0].encode(), middle,
               base64.b64encode(middle)[:40], middle.hex().encode()[:40]]
    secrets += [out[len(out) // 2: len(out) // 2 + 48] for out in results]
    for secret in secrets:
        assert secret not in log, f"the log holds {secret[:20]!r}"
    assert b"POST /api/colourise" in log  # the log is there, just without the photo

    for path in files_changed_since(since):
        try:
            content = path.read_bytes()
        except OSError:
            continue
        for secret in secrets:
            assert secret not in content, f"{path} holds part of the photo or its name"
