from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colouriser.models.unet import FINE_BRANCH
from colouriser.training.data import PhotoSet
from colouriser.training.loop import CHECKPOINT, LOG, TrainConfig, Trainer, estimate_prior, export_last
from colouriser.training.validate import ValSet
from colouriser.weights import WEIGHTS_FILE, load_model, read_metadata, save_model

from .conftest import synthetic_photo


def skimage_valset(names: tuple[str, ...] = ("astronaut", "coffee", "chelsea"), size: int = 96):
    """scikit-image's sample photos, long side ``size``, as a quick-validation set."""
    import skimage.data


    images = []
    for name in names:
        im = Image.fromarray(getattr(skimage.data, name)())
        im.thumbnail((size, size))
        images.append(torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)[None])
    return ValSet(images)


@pytest.fixture(scope="module")
def photo_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for group, n in (("landscapes", 24), ("more", 8)):
        (root / "train" / group).mkdir(parents=True)
        for i in range(n):
            Image.fromarray((synthetic_photo(rng, 72) * 255).astype(np.uint8)).save(root / "train" / group / f"{i}.png")
    (root / "val").mkdir()
    for i in range(4):
        Image.fromarray((synthetic_photo(rng, 64) * 255).astype(np.uint8)).save(root / "val" / f"{i}.png")
    grey = (np.random.default_rng(1).random((72, 72)) * 255).astype(np.uint8)
    Image.fromarray(grey).convert("RGB").save(root / "train" / "more" / "grey.png")
    return root / "train", root / "val"


def _config(photo_dirs: tuple[Path, Path], out: Path, **kw: object) -> TrainConfig:
    train, val = photo_dirs
    base = dict(data=[str(train)], val=[str(val)], out=str(out), batch=8, crop=64, lr=2e-3, warmup_steps=1,
                val_every=10, checkpoint_minutes=100.0, hint_none_share=1.0, seed=1)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_photo_set_drops_grey_photos_and_weights_groups(photo_dirs: tuple[Path, Path]) -> None:
    photos = PhotoSet.load([photo_dirs[0]], short_side=80, weight_overrides={"more": 2.0}, workers=1)
    assert len(photos) == 32 and photos.dropped == 1
    assert photos.weights["more"] / photos.weights["landscapes"] == pytest.approx(2 * np.sqrt(8 / 24))
    batch = photos.batch(5, 48, np.random.default_rng(0))
    assert batch.shape == (5, 3, 48, 48) and batch.min() >= 0 and batch.max() <= 1


def test_the_bin_prior_counts_the_colours_as_the_sampler_draws_them() -> None:
    from colouriser.bins import in_gamut_bins, nearest_bin
    from colouriser.colour import rgb_to_lab

    centres = in_gamut_bins()
    colours = {"green": (60, 160, 60), "blue": (40, 80, 200)}
    photos = PhotoSet({n: [np.full((90, 120, 3), c, np.uint8)] for n, c in colours.items()},
                      {"green": 0.75, "blue": 0.25}, 0)
    prior = estimate_prior(photos, centres, np.random.default_rng(0), batches=10, crop=64)
    assert prior.shape == (len(centres),) and float(prior.sum()) == pytest.approx(1.0)
    bins = {}
    for name, colour in colours.items():
        ab = rgb_to_lab(torch.tensor(colour, dtype=torch.float32).reshape(1, 3, 1, 1) / 255)[:, 1:]
        bins[name] = int(nearest_bin(ab, centres))
    assert float(prior[bins["green"]] + prior[bins["blue"]]) == pytest.approx(1.0)  # no other colour drawn
    assert float(prior[bins["green"]]) == pytest.approx(0.75, abs=0.1)  # drawn by the groups' weights


def test_crops_take_the_asked_share_of_the_photo_and_never_fewer_pixels_than_the_crop() -> None:
    """A photo whose red channel is its column number: a crop's span of red values is its side in the photo."""
    x = np.arange(250, dtype=np.uint8)
    photo = np.stack([np.tile(x, (100, 1)), np.zeros((100, 250), np.uint8), np.zeros((100, 250), np.uint8)], 2)
    photos = PhotoSet({"only": [photo]}, {"only": 1.0}, 0)

    def sides(crop: int, min_scale: float) -> np.ndarray:
        red = photos.batch(60, crop, np.random.default_rng(3), min_scale)[:, 0, crop // 2] * 255
        return (red.max(1).values - red.min(1).values + 1).numpy()  # flips do not change the span

    assert np.allclose(sides(32, 1.0), 100, atol=2)  # the whole short side, every time
    varied = sides(32, 0.5)
    assert varied.min() >= 48 and varied.max() <= 101 and varied.max() - varied.min() > 30
    assert sides(64, 0.1).min() >= 62  # never fewer pixels than the crop: no upsampled crops


def test_turned_and_stretched_crops_stay_inside_the_photo_within_the_asked_angle_and_ratio() -> None:
    """A photo whose red channel is its column and green its row: fitting each crop's red and green to its pixel
    coordinates gives the map from crop to photo, so its angle and ratio of width to height. Blue is 255 all over,
    so a crop reaching outside the photo (filled black) would show."""
    h, w = 320, 480
    rows, cols = np.mgrid[0:h, 0:w]
    photo = np.stack([cols * 255 / (w - 1), rows * 255 / (h - 1), np.full((h, w), 255.0)], 2).round().astype(np.uint8)
    photos = PhotoSet({"only": [photo]}, {"only": 1.0}, 0)
    ys, xs = np.mgrid[0:64, 0:64]
    design = np.stack([xs.ravel(), ys.ravel(), np.ones(64 * 64)], 1)

    def warps(rotate: float, stretch: float) -> tuple[np.ndarray, np.ndarray]:
        batch = photos.batch(40, 64, np.random.default_rng(5), 0.55, rotate, stretch) * 255
        assert batch.shape == (40, 3, 64, 64) and batch[:, 2].min() >= 254
        angles, ratios = [], []
        for crop in batch.numpy():
            red = np.linalg.lstsq(design, crop[0].ravel(), rcond=None)[0] * (w - 1) / 255
            green = np.linalg.lstsq(design, crop[1].ravel(), rcond=None)[0] * (h - 1) / 255
            jac = np.array([red[:2], green[:2]])  # photo pixels per crop pixel, along the crop's x and y
            if np.linalg.det(jac) < 0:  # a flipped crop
                jac[:, 0] *= -1
            angles.append(np.degrees(np.arctan2(jac[1, 0], jac[0, 0])))
            ratios.append(np.linalg.norm(jac[:, 0]) / np.linalg.norm(jac[:, 1]))
        return np.array(angles), np.array(ratios)

    angles, ratios = warps(0.0, 1.0)  # off: upright and square, as ever
    assert np.abs(angles).max() < 0.5 and np.abs(ratios - 1).max() < 0.02
    small = PhotoSet({"only": [photo[:64, :200]]}, {"only": 1.0}, 0)  # short side = crop: off, a crop is a slice
    for crop in (small.batch(8, 64, np.random.default_rng(2)) * 255).round().byte().permute(0, 2, 3, 1).numpy():
        slices = [photo[:64, x:x + 64] for x in range(200 - 64 + 1)]
        assert any(np.array_equal(crop, s) or np.array_equal(crop, s[:, ::-1]) for s in slices)  # not resampled
    for wrong in ({"rotate": 60.0}, {"stretch": 0.5}):
        with pytest.raises(ValueError, match=r"--rotate is the largest turn|--stretch is the largest ratio"):
            TrainConfig(data=["photos"], out="run", **wrong)  # type: ignore[arg-type]
    angles, ratios = warps(15.0, 1.0)
    assert np.abs(angles).max() <= 15.5 and angles.min() < -5 and angles.max() > 5
    assert np.abs(ratios - 1).max() < 0.02
    angles, ratios = warps(0.0, 1.3)
    assert np.abs(angles).max() < 0.5 and ratios.min() >= 1 / 1.3 - 0.02 and ratios.max() <= 1.3 + 0.02
    assert ratios.min() < 0.9 and ratios.max() > 1.1
    turned = photos.batch(8, 64, np.random.default_rng(9), 0.55, 15.0, 1.3)
    assert torch.equal(turned, photos.batch(8, 64, np.random.default_rng(9), 0.55, 15.0, 1.3))  # reproducible


def test_cutmix_pastes_a_box_of_another_photo_of_the_batch() -> None:
    """Each mixed photo keeps its own pixels except one box, which holds, at the same place, another photo's
    pixels; a share of 0 leaves the batch as it was, and the same generator state gives the same mix."""
    from colouriser.training.data import cutmix

    rng = np.random.default_rng(0)
    batch = torch.stack([torch.full((3, 32, 40), float(i)) for i in range(6)])
    assert torch.equal(cutmix(batch, 0.0, rng), batch)
    mixed = cutmix(batch, 1.0, np.random.default_rng(1))
    assert torch.equal(mixed, cutmix(batch, 1.0, np.random.default_rng(1)))
    assert torch.equal(batch, torch.stack([torch.full((3, 32, 40), float(i)) for i in range(6)]))  # input kept
    for i in range(6):
        other = mixed[i] != i
        assert other.any(), "every photo mixed at share 1"
        rows, cols = other[0].any(1).nonzero().flatten(), other[0].any(0).nonzero().flatten()
        box = mixed[i, :, rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert 8 <= box.shape[1] <= 16 and 10 <= box.shape[2] <= 20  # a quarter to a half of each side
        assert len(box.unique()) == 1 and float(box.unique()) != i  # one other photo, colour and lightness
        assert int(other[0].sum()) == box.shape[1] * box.shape[2]  # nothing outside the box changed


def test_twenty_steps_lower_the_loss(photo_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    trainer = Trainer(_config(photo_dirs, tmp_path / "run", max_steps=20))
    result = trainer.run()
    losses = result["losses"]
    assert len(losses) == 20
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert (tmp_path / "run" / CHECKPOINT).exists()
    assert (tmp_path / "run" / WEIGHTS_FILE).exists()  # the best checkpoint by validation score
    defaults = read_metadata(tmp_path / "run" / WEIGHTS_FILE)["extra"]["defaults"]
    assert defaults["temperature"] == result["best"]["temperature"]
    assert defaults["saturation"] == round(result["best"]["saturation_matched"], 2)
    log = (tmp_path / "run" / LOG).read_text().splitlines()
    assert log[0].startswith("step,images_seen") and len(log) >= 3


def test_resume_continues_where_it_stopped(photo_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = Trainer(_config(photo_dirs, out, max_steps=6))
    first.run()
    assert first.best["step"] == 6  # stopped before its first validation (every 10 steps): validated at the stop
    saved = {k: v.clone() for k, v in first.model.state_dict().items()}
    resumed = Trainer(_config(photo_dirs, out, max_steps=9, lr=123.0))  # the run's own settings win
    assert resumed.step == 6 and resumed.seen == 48 and resumed.cfg.lr == 2e-3
    # the stop's validation is remembered, so a worse one later cannot overwrite the best model file
    assert resumed.best == first.best and resumed.best_score == first.best_score
    for k, v in resumed.model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    resumed.run()
    state = torch.load(out / CHECKPOINT, weights_only=False)
    assert state["step"] == 9 and state["seen"] == 72
    retimed = Trainer(_config(photo_dirs, out, max_steps=10, schedule_images=1000))  # re-times the decay
    assert retimed.cfg.schedule_images == 1000 and retimed.cfg.lr == 2e-3
    assert retimed.cfg.retimed == [[9, 72, TrainConfig.schedule_images]]  # when, and from what (the model card's)
    retimed.run()
    again = Trainer(_config(photo_dirs, out))
    assert again.cfg.schedule_images == 1000  # the default keeps the run's own
    assert again.cfg.retimed == [[9, 72, TrainConfig.schedule_images]]  # kept in the checkpoint, not re-timed again
    assert again.model_extra()["train_config"]["retimed"] == [[9, 72, TrainConfig.schedule_images]]


def test_training_can_start_from_a_shipped_model_file(photo_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    Trainer(_config(photo_dirs, tmp_path / "a", max_steps=3, val=[])).run()
    model_file = tmp_path / "a" / WEIGHTS_FILE
    assert read_metadata(model_file)["extra"]["images_seen"] == 24
    fine = Trainer(_config(photo_dirs, tmp_path / "b", max_steps=5, val=[], init=str(model_file)))
    assert fine.seen == 24
    start, _ = load_model(model_file)
    for k, v in start.state_dict().items():
        if v.is_floating_point():
            assert torch.allclose(fine.model.state_dict()[k], v), k
    fine.run()
    assert read_metadata(tmp_path / "b" / WEIGHTS_FILE)["extra"]["images_seen"] == 24 + 5 * 8


def test_a_fine_branch_added_to_a_model_trains_alone_and_the_rest_stays_as_it_was(
        photo_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    Trainer(_config(photo_dirs, tmp_path / "a", max_steps=3, val=[])).run()
    model_file = tmp_path / "a" / WEIGHTS_FILE
    start, _ = load_model(model_file)
    fine = Trainer(_config(photo_dirs, tmp_path / "b", max_steps=8, init=str(model_file), fine_head=8,
                           fine_only=True))
    assert fine.model_config["fine"] == 8 and fine.seen == 24
    result = fine.run()
    assert result["losses"][-1] < result["losses"][0]
    trained, meta = load_model(tmp_path / "b" / WEIGHTS_FILE)  # the best by validation, with the branch
    assert meta["config"]["fine"] == 8 and meta["extra"]["images_seen"] == 24 + 8 * 8
    before = start.state_dict()
    for k, v in trained.state_dict().items():
        if k.startswith(("reduce2.", "up2.", "head2.")):
            continue
        assert torch.allclose(v, before[k], atol=2e-3 * (1 + before[k].abs().max())), k  # fp16 files: rounding
    assert trained.head2.weight.abs().sum() > 0  # the branch learned something
    # a second phase trains it all, from the model with the branch; resuming keeps the branch-only setting
    whole = Trainer(_config(photo_dirs, tmp_path / "c", max_steps=2, val=[], init=str(tmp_path / "b" / WEIGHTS_FILE)))
    assert whole.model_config["fine"] == 8 and all(p.requires_grad for p in whole.model.parameters())
    resumed = Trainer(_config(photo_dirs, tmp_path / "b", max_steps=9))
    assert resumed.cfg.fine_only
    assert [n for n, p in resumed.model.named_parameters() if p.requires_grad] == [
        n for n, _ in resumed.model.named_parameters() if n.startswith(("reduce2.", "up2.", "head2."))]
    with pytest.raises(ValueError, match="--fine-only needs a network with a fine branch"):
        Trainer(_config(photo_dirs, tmp_path / "d", max_steps=1, val=[], init=str(model_file), fine_only=True))
    # a branch-only run from a model that has its branch already resumes and exports without that model file
    branch_model = tmp_path / "moved.safetensors"
    (tmp_path / "b" / WEIGHTS_FILE).rename(branch_model)
    Trainer(_config(photo_dirs, tmp_path / "e", max_steps=1, val=[], init=str(branch_model), fine_only=True)).run()
    branch_model.unlink()
    again = Trainer(_config(photo_dirs, tmp_path / "e", max_steps=2, val=[], init=str(branch_model), fine_only=True))
    assert again.step == 1 and again.cfg.fine_only and again.model_config["fine"] == 8
    assert export_last(tmp_path / "e", tmp_path / "e.safetensors") == 24 + 8 * 8 + 8  # one more step of 8


def test_coarse_only_trains_all_but_the_fine_branch_which_the_exported_model_keeps(
        photo_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    Trainer(_config(photo_dirs, tmp_path / "a", max_steps=2, val=[], fine_head=8)).run()
    model_file = tmp_path / "a" / WEIGHTS_FILE
    start, _ = load_model(model_file)
    with torch.no_grad():  # a branch that colours something, so that keeping it is a visible choice
        start.head2.bias.add_(torch.linspace(-1, 1, start.head2.bias.numel()))
    meta = read_metadata(model_file)
    save_model(start, meta["arch"], meta["config"], model_file, meta["extra"])
    start, _ = load_model(model_file)
    run = Trainer(_config(photo_dirs, tmp_path / "b", max_steps=6, init=str(model_file), coarse_only=True))
    assert sorted(n for n, p in run.model.named_parameters() if not p.requires_grad) == sorted(
        n for n, _ in run.model.named_parameters() if n.startswith(FINE_BRANCH))
    light = torch.rand(2, 1, 64, 64) * 100
    assert run._forward(torch.rand(2, 3, 64, 64))[1].shape[-2:] == (16, 16)  # stride-4 logits: branch not run
    run.run()
    trained, meta = load_model(tmp_path / "b" / WEIGHTS_FILE)  # exported with the branch, as validated
    assert meta["config"]["fine"] == 8
    before = start.state_dict()
    for k, v in trained.state_dict().items():
        if k.startswith(FINE_BRANCH):
            assert torch.equal(v, before[k]), k  # exactly: weights and batch-norm statistics, through fp16 files
    assert not torch.allclose(trained.head.weight, before["head.weight"], atol=1e-3)  # the rest learned
    assert trained.eval()(light).shape[-2:] == (32, 32)
    resumed = Trainer(_config(photo_dirs, tmp_path / "b", max_steps=7))
    assert resumed.cfg.coarse_only and not any(p.requires_grad for p in resumed.model.head2.parameters())
    with pytest.raises(ValueError, match="--coarse-only needs a network with a fine branch"):
        Trainer(_config(photo_dirs, tmp_path / "c", max_steps=1, val=[], coarse_only=True))
    with pytest.raises(ValueError, match="starts at zero"):  # a new branch, never to be trained
        Trainer(_config(photo_dirs, tmp_path / "c", max_steps=1, val=[], coarse_only=True, fine_head=8))
    with pytest.raises(ValueError, match="do not go together"):
        _config(photo_dirs, tmp_path / "d", init=str(model_file), coarse_only=True, fine_only=True)
    with pytest.raises(ValueError, match="not started with --fine-only"):  # a run trains what it started training
        Trainer(_config(photo_dirs, tmp_path / "b", max_steps=8, init=str(model_file), fine_only=True))
    assert not (tmp_path / "c").exists()


def test_freeze_bn_keeps_the_batch_norm_statistics_while_the_rest_learns(photo_dirs: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    Trainer(_config(photo_dirs, tmp_path / "a", max_steps=2, val=[])).run()
    model_file = tmp_path / "a" / WEIGHTS_FILE
    before = load_model(model_file)[0].state_dict()
    stats = [k for k in before if k.endswith(("running_mean", "running_var"))]

    def held(trainer: Trainer) -> bool:
        return all(torch.equal(trainer.model.state_dict()[k], before[k]) for k in stats)

    # the early encoder is frozen for the first 2 steps and trains after: batch norm stays held there too
    frozen = Trainer(_config(photo_dirs, tmp_path / "b", max_steps=4, val=[], init=str(model_file), freeze_bn=True,
                             freeze_encoder_steps=2))
    frozen.train_step()  # a step taken outside run() (benchmarks/train_step.py does) holds them as well
    assert held(frozen)
    frozen.run()
    assert held(frozen)
    free = Trainer(_config(photo_dirs, tmp_path / "c", max_steps=4, val=[], init=str(model_file),
                           freeze_encoder_steps=2))
    free.run()
    assert sum(not torch.equal(free.model.state_dict()[k], before[k]) for k in stats) > len(stats) * 0.9
    exported, _ = load_model(tmp_path / "b" / WEIGHTS_FILE)  # the EMA, buffers included, keeps them as well
    for k in stats:
        assert torch.allclose(exported.state_dict()[k], before[k], rtol=1e-3, atol=1e-6), k
    for trainer in (frozen, free):  # the weights, batch norm's scale and shift among them, learned either way
        assert not torch.allclose(trainer.model.head.weight, before["head.weight"], atol=1e-4)
        assert not torch.allclose(trainer.model.encoder._bn0.weight, before["encoder._bn0.weight"], atol=1e-5)
    light = torch.rand(2, 1, 64, 64) * 100
    with torch.no_grad():  # training and inference see the same network
        assert torch.allclose(frozen.model(light), frozen.model.eval()(light))
    assert Trainer(_config(photo_dirs, tmp_path / "b", max_steps=5)).cfg.freeze_bn  # a resumed run keeps it
    # and a run started without it can turn it on when resumed; from then on its statistics stay
    late = Trainer(_config(photo_dirs, tmp_path / "c", max_steps=6, init=str(model_file), freeze_bn=True))
    assert late.cfg.freeze_bn
    kept = {k: late.model.state_dict()[k].clone() for k in stats}
    late.run()
    assert all(torch.equal(late.model.state_dict()[k], kept[k]) for k in stats)
    with pytest.raises(ValueError, match="--freeze-bn keeps a trained network"):
        _config(photo_dirs, tmp_path / "d", freeze_bn=True)  # from ImageNet there are no statistics to keep
    with pytest.raises(ValueError, match="has none yet"):  # nor has a fine branch added now
        Trainer(_config(photo_dirs, tmp_path / "e", max_steps=1, val=[], init=str(model_file), freeze_bn=True,
                        fine_head=8))
    assert not (tmp_path / "e").exists()


def test_a_run_scored_by_the_previous_rule_keeps_its_best_as_the_bar(photo_dirs: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "run"
    Trainer(_config(photo_dirs, out, max_steps=2)).run()
    state = torch.load(out / CHECKPOINT, weights_only=False)
    best = state["best_score"]
    for version, kept in ((3, True), (2, False)):  # 3 scored fewer temperatures: a lower bound; 2 another rule
        torch.save({**state, "score_version": version}, out / CHECKPOINT)
        resumed = Trainer(_config(photo_dirs, out, max_steps=3))
        assert (resumed.best_score == best) is kept and (resumed.best == state["best"]) is kept


def test_a_runs_last_weights_export_from_its_folder_or_a_copied_checkpoint(photo_dirs: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    """Shipping and the benchmarks score a run's last (EMA) weights, from the run folder or from a copy of its
    checkpoint taken mid-run, which goes on being the copy's state however far the run has gone since."""
    import shutil


    out = tmp_path / "run"
    Trainer(_config(photo_dirs, out, max_steps=2, val=[])).run()
    copy = Path(shutil.copy(out / CHECKPOINT, out / "step2.pt"))  # beside the run's own checkpoint.pt
    trainer = Trainer(_config(photo_dirs, out, max_steps=4, val=[]))
    trainer.run()
    assert export_last(out, tmp_path / "last.safetensors") == 32
    assert export_last(copy, tmp_path / "step2.safetensors") == 16
    last, _ = load_model(tmp_path / "last.safetensors")
    for k, v in trainer.ema.module.state_dict().items():
        if v.is_floating_point():
            assert torch.allclose(last.state_dict()[k], v.half().float()), k
    early, _ = load_model(tmp_path / "step2.safetensors")
    assert any(not torch.equal(early.state_dict()[k], v) for k, v in last.state_dict().items())
    with pytest.raises(FileNotFoundError, match=r"no checkpoint\.pt"):
        export_last(tmp_path / "nothing", tmp_path / "x.safetensors")
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        Trainer(_config(photo_dirs, out), checkpoint=out / "missing.pt")


def test_checkpoints_are_compared_at_matched_colourfulness() -> None:
    """Of two models that differ only in how bold their colour is, neither may win the checkpoint score for it:
    both are measured at the saturation that brings their outputs to the same share of the originals'
    colourfulness (at saturation 1 their PSNRs differ)."""
    import copy

    from colouriser.pipeline import resolve_model
    from colouriser.training.validate import MATCH_COLOURFULNESS, validate

    model, _ = load_model(resolve_model(None))
    model.centres.mul_(2.0)  # so that both models reach the target well inside the saturations allowed (0.1-2)
    bold_model = copy.deepcopy(model)
    bold_model.centres.mul_(1.5)  # the same predictions decoded to 150% of the chroma
    valset = skimage_valset()
    temperatures = (0.45, 1.0)
    full = validate(model, valset, temperatures, matched=True)
    bold = validate(bold_model, valset, temperatures, matched=True)
    assert full[0.45]["psnr_matched"] != pytest.approx(full[1.0]["psnr_matched"], abs=1e-3)  # per temperature
    for t in temperatures:
        assert bold[t]["colourfulness_ratio"] > 1.15 * full[t]["colourfulness_ratio"]  # plainly bolder as it is
        assert bold[t]["psnr"] != pytest.approx(full[t]["psnr"], abs=0.05)
        for m in (full[t], bold[t]):
            assert m["colourfulness_ratio_matched"] == pytest.approx(MATCH_COLOURFULNESS, abs=0.0025)
            assert m["checkpoint_score"] == pytest.approx(m["psnr_gain_matched"] - 10 * m["grey_share_matched"],
                                                          abs=0.06)
        assert bold[t]["saturation_matched"] == pytest.approx(full[t]["saturation_matched"] / 1.5, rel=0.03)
        assert bold[t]["checkpoint_score"] == pytest.approx(full[t]["checkpoint_score"], abs=0.03)
        # the reported numbers are those of the reported saturation
        again = validate(model, valset, (t,), saturation=full[t]["saturation_matched"])[t]
        assert again["psnr"] == pytest.approx(full[t]["psnr_matched"], abs=1e-6)


def test_quick_validation_lifts_a_near_grey_colouring_like_the_pipeline() -> None:
    """A model whose colouring comes out nearly grey (mean chroma 2.2, under the 3 that counts as left grey) is
    lifted by the pipeline to its chroma floor; the quick validation, which picks checkpoints and the exported
    temperature, must see the same colouring and not count the photo as left grey."""
    import skimage.data

    from colouriser.bins import annealed_mean
    from colouriser.colour import rgb_to_lab
    from colouriser.pipeline import resolve_model
    from colouriser.predict import CHROMA_FLOOR
    from colouriser.training.validate import validate

    model, _ = load_model(resolve_model(None))
    im = Image.fromarray(skimage.data.coffee())
    im.thumbnail((96, 96))
    rgb = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        chroma = float(annealed_mean(model(rgb_to_lab(rgb)[:, :1]), model.centres, 1.0).norm(dim=1).mean())
    model.centres.mul_(2.2 / chroma)
    lifted = validate(model, ValSet([rgb]), (1.0,))[1.0]
    assert lifted["grey_share"] == 0.0
    # turned back down by the factor the lift applied, it is the grey colouring it was
    undone = validate(model, ValSet([rgb]), (1.0,), saturation=2.2 / CHROMA_FLOOR)[1.0]
    assert undone["grey_share"] == 1.0
    assert lifted["colourfulness"] > 1.3 * undone["colourfulness"]


def test_quick_validation_can_run_the_network_at_another_working_size() -> None:
    """``benchmarks/working_size.py`` scores the network at several working sizes on photos kept at one size: the
    network sees the photo shrunk to the working size, and the colouring is scored at the photo's own size."""
    from colouriser.pipeline import resolve_model
    from colouriser.training.validate import validate

    model, _ = load_model(resolve_model(None))
    valset = skimage_valset(("astronaut",), size=128)
    seen: list[tuple[int, ...]] = []
    model.register_forward_hook(lambda module, args, output: seen.append(tuple(args[0].shape[-2:])))
    full = validate(model, valset, (0.6,))[0.6]
    same = validate(model, valset, (0.6,), work_size=128)[0.6]
    small = validate(model, valset, (0.6,), work_size=64)[0.6]
    assert seen == [(128, 128), (128, 128), (64, 64)]
    assert same == full
    assert small["psnr_grey"] == full["psnr_grey"]  # scored against the same 128 px photo
    assert small["psnr"] != full["psnr"]


def test_tune_matched_stores_the_temperature_with_the_best_matched_score(tmp_path: Path) -> None:
    """Shipping chooses the default temperature as training picks checkpoints (PSNR gain at 90% of the originals'
    colourfulness) and the saturation that reaches it; both go into the model file, with the validation PSNR."""
    import shutil

    from colouriser.pipeline import Colouriser, resolve_model
    from colouriser.training.tune import tune_matched
    from colouriser.training.validate import validate

    path = tmp_path / "model.safetensors"
    shutil.copyfile(resolve_model(None), path)
    valset = skimage_valset()
    best = tune_matched(path, valset, (0.45, 1.0), log=lambda _: None)
    model, _ = load_model(path)
    measured = validate(model, valset, (0.45, 1.0), matched=True)
    winner = max(measured, key=lambda t: measured[t]["checkpoint_score"])
    extra = read_metadata(path)["extra"]
    assert extra["defaults"]["temperature"] == best["temperature"] == winner
    assert extra["defaults"]["saturation"] == pytest.approx(measured[winner]["saturation_matched"], abs=0.005)
    assert extra["validation"]["psnr"] == pytest.approx(measured[winner]["psnr_matched"], abs=1e-6)
    settings = Colouriser.from_pretrained(path).settings
    assert (settings.temperature, settings.saturation) == (winner, extra["defaults"]["saturation"])


def test_tuning_at_a_working_size_scores_there_and_makes_it_the_models_default(tmp_path: Path) -> None:
    """Defaults tuned at another working size are chosen by the score at that size, and that size becomes the
    model's default working size (the pipeline then runs the network there)."""
    import shutil

    from colouriser.pipeline import Colouriser, resolve_model
    from colouriser.training.tune import tune_matched
    from colouriser.training.validate import validate

    path = tmp_path / "model.safetensors"
    shutil.copyfile(resolve_model(None), path)
    valset = skimage_valset(size=128)
    best = tune_matched(path, valset, (0.45, 1.0), log=lambda _: None, work_size=64)
    model, _ = load_model(path)
    at_64 = validate(model, valset, (0.45, 1.0), matched=True, work_size=64)
    as_loaded = validate(model, valset, (0.45, 1.0), matched=True)
    assert best["checkpoint_score"] == pytest.approx(at_64[best["temperature"]]["checkpoint_score"], abs=1e-9)
    assert best["checkpoint_score"] != pytest.approx(as_loaded[best["temperature"]]["checkpoint_score"], abs=1e-6)
    extra = read_metadata(path)["extra"]
    assert extra["defaults"]["size"] == extra["validation"]["work_size"] == 64
    assert Colouriser.from_pretrained(path).settings.size == 64
    # Scored on the photos as loaded (as training validates), stored as another default working size.
    as_is = tune_matched(path, valset, (0.45, 1.0), log=lambda _: None, default_size=320)
    assert as_is["checkpoint_score"] == pytest.approx(as_loaded[as_is["temperature"]]["checkpoint_score"], abs=1e-9)
    assert read_metadata(path)["extra"]["defaults"]["size"] == 320


def test_checkpoints_are_scored_at_the_temperature_the_shipped_model_colours_at() -> None:
    from colouriser.pipeline import resolve_model
    from colouriser.training.tune import TEMPERATURES as TUNED
    from colouriser.training.validate import TEMPERATURES

    shipped = read_metadata(resolve_model("default"))["extra"]["defaults"]["temperature"]
    assert shipped in TEMPERATURES and TEMPERATURES == TUNED  # a run picks its best where shipping tunes
