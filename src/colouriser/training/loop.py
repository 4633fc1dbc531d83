"""The training loop: resumable, atomic checkpoints, a CSV log, validation-based model selection."""

from __future__ import annotations

import csv
import json
import math
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console

from .. import models
from ..allocator import keep_freed_memory
from ..bins import (
    DEFAULT_TEMPERATURE,
    in_gamut_bins,
    nearest_bin,
    nearest_bins,
    rebalancing_weights,
    soft_cross_entropy,
)
from ..colour import rgb_to_lab
from ..hints import simulate_hints
from ..models.unet import FINE_BRANCH, encoder_config, with_fine_branch
from ..prepare import DEFAULT_SIZE
from ..weights import WEIGHTS_FILE, atomic_write, load_model, save_model
from . import MAX_ROTATE, MAX_STRETCH
from .critic import PatchCritic, critic_loss, generated_ab, generator_adversarial_loss, real_ab
from .data import PhotoSet, cutmix
from .degrade import degrade
from .semantic import SemanticLoss
from .validate import SCORE_VERSION, ValSet, best_temperature, validate

ARCH = "unet-effnet-lite"
CHECKPOINT = "checkpoint.pt"
LOG = "log.csv"


@dataclass
class TrainConfig:
    data: list[str]
    out: str
    val: list[str] = field(default_factory=list)
    encoder: str = "lite0"
    init: str | None = None  # a model file to start from instead of ImageNet (fine-tuning, resuming shipped weights)
    batch: int = 24
    crop: int = 128
    store_side: int | None = None  # photos are kept in memory at this short side; None: 1.25 x crop
    crop_scale: float = 0.6  # each crop's side is this share (up to all) of the stored photo's short side
    rotate: float = 0.0  # each crop turned by up to this many degrees either way (data.warped_crop); 0 = off
    stretch: float = 1.0  # each crop stretched by up to this ratio, width against height (data.warped_crop); 1 = off
    lr: float = 5e-4
    weight_decay: float = 1e-4  # AdamW's, decoupled (the shipped model went on at 0.05: docs/quality.md, Memorising)
    cutmix: float = 0.0  # share of training photos given a box from another photo of the batch (data.cutmix)
    semantic: float = 0.0  # weight of the semantic-consistency term (training.semantic); 0 = off
    semantic_crops: int = 8  # crops of each batch it is computed on (a frozen classifier's passes are not cheap)
    semantic_temperature: float = 0.6  # the colouring it judges: annealed mean at this temperature
    warmup_steps: int = 300
    schedule_images: int = 1_500_000  # cosine decay of the learning rate spans this many images seen
    retimed: list[list[int]] = field(default_factory=list)  # [step, images into the run, old schedule] per re-timing
    rebalance_lambda: float = 0.7  # as the CLI; the shipped model went on at 0.85 (README: Quality)
    hint_none_share: float = 0.5
    ema_decay: float = 0.999
    max_steps: int | None = None
    max_minutes: float | None = None
    val_every: int = 1000
    val_limit: int | None = None
    checkpoint_minutes: float = 5.0
    folder_weights: dict[str, float] = field(default_factory=dict)
    holdout: float = 0.0  # with no --val: hold out this share of the data photos for validation
    patience: int | None = None  # stop after this many validations without improvement
    freeze_encoder_steps: int = 0  # keep the encoder's stem and first three stages frozen for these steps
    fine_head: int = 0  # add a stride-2 branch of this many channels to a network that has none (models.unet)
    fine_only: bool = False  # train only the fine branch; the rest of the network stays exactly as it is
    coarse_only: bool = False  # train all but the fine branch, at stride 4; the branch stays exactly as it is
    freeze_bn: bool = False  # batch norm normalises by its running statistics, which stay as they are
    gan: bool = False  # NoGAN refinement: pretrain a critic, then train adversarially with the loss kept
    gan_critic_steps: int = 300  # critic-only steps before the adversarial phase
    gan_weight: float = 0.02  # weight of the adversarial term in the generator's loss
    gan_lr: float = 1e-4
    gan_temperature: float = DEFAULT_TEMPERATURE
    seed: int = 0
    threads: int | None = None

    def __post_init__(self) -> None:  # checked before any photo is loaded
        if self.store_side is not None and self.store_side < self.crop:
            raise ValueError(f"--store-side ({self.store_side}) must be at least --crop ({self.crop})")
        if not 0 <= self.rotate <= MAX_ROTATE:
            raise ValueError(f"--rotate is the largest turn in degrees, 0 to {MAX_ROTATE:g}, not {self.rotate}")
        if not 1 <= self.stretch <= MAX_STRETCH:
            raise ValueError(f"--stretch is the largest ratio of width to height, 1 to {MAX_STRETCH:g}, not "
                             f"{self.stretch}")
        if self.semantic and self.gan:
            raise ValueError("--semantic and --gan do not go together (a NoGAN step has no semantic term)")
        if self.fine_head < 0:
            raise ValueError(f"--fine-head must be a number of channels, not {self.fine_head}")
        if self.fine_only and not self.init:
            raise ValueError("--fine-only trains the fine branch of a trained network, the rest kept as it is: "
                             "give that network with --init")
        if self.freeze_bn and not self.init:
            raise ValueError("--freeze-bn keeps a trained network's batch-norm statistics: give that network with "
                             "--init")
        if self.fine_only and self.coarse_only:
            raise ValueError("--fine-only and --coarse-only do not go together (one trains what the other keeps)")


def stored_side(crop: int, store_side: int | None) -> int:
    """The short side training photos are kept at in memory: ``store_side``, by default 1.25 x the crop."""
    return store_side or int(crop * 1.25)


def _lr(cfg: TrainConfig, step: int, seen: int) -> float:
    """Linear warm-up, then cosine decay to 5% over ``schedule_images`` images seen in this run."""
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    progress = min(1.0, seen / cfg.schedule_images)
    return cfg.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def estimate_prior(photos: PhotoSet, centres: torch.Tensor, rng: np.random.Generator,
                   batches: int = 60, crop: int = 128) -> torch.Tensor:
    """Empirical distribution of ab bins over pixels of the photos, as the sampler draws them."""
    counts = torch.zeros(len(centres), dtype=torch.float64)
    for _ in range(batches):
        ab = F.avg_pool2d(rgb_to_lab(photos.batch(32, crop, rng))[:, 1:], 4)
        counts += torch.bincount(nearest_bin(ab, centres).flatten(), minlength=len(centres)).double()
    return (counts / counts.sum()).float()


def export_last(run: str | Path, path: Path) -> int:
    """Write a run's last weights (the EMA of its checkpoint: a run folder's, or a checkpoint file such as a copy
    taken mid-run) to the model file ``path``; the number of images they have seen."""
    run = Path(run)
    checkpoint = run if run.is_file() else run / CHECKPOINT
    if not checkpoint.exists():
        raise FileNotFoundError(f"{run}: no {CHECKPOINT}")
    trainer = Trainer(TrainConfig(data=[], out=str(checkpoint.parent)), load_photos=False, checkpoint=checkpoint)
    trainer.export(path)
    return trainer.seen


class Trainer:
    def __init__(self, cfg: TrainConfig, console: Console | None = None, load_photos: bool = True,
                 checkpoint: Path | None = None) -> None:
        """A new run, or the run in ``cfg.out`` resumed from its checkpoint (or from the ``checkpoint`` file given);
        ``load_photos=False`` resumes it without its training photos, to export its weights."""
        self.cfg = cfg
        self.out = Path(cfg.out)
        ckpt_path = checkpoint or self.out / CHECKPOINT  # either way, later checkpoints are saved in cfg.out
        self.console = console or Console(soft_wrap=True)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if load_photos:  # a trainer that will take steps (not one that only exports): 1.22x faster a whole step
            keep_freed_memory()
        self.rng = np.random.default_rng(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.step = 0
        self.seen = 0
        self.cpu_seconds = 0.0
        self.best_score = -math.inf
        self.best: dict[str, Any] = {}
        self.stop_requested = False
        self.stale = 0  # validations since the best one
        self.init_seen = 0  # images the starting model had seen before this run
        self.photos: PhotoSet | None = None
        if checkpoint is not None and not checkpoint.exists():
            raise FileNotFoundError(f"{checkpoint}: no such checkpoint")
        if ckpt_path.exists():
            self._resume(ckpt_path, load_photos)
        else:
            self._start()
        self.out.mkdir(parents=True, exist_ok=True)  # once the settings are known to go together

    # -- set-up ----------------------------------------------------------------------------------
    def _start(self) -> None:
        """A new run: the network first (from ``init`` or ImageNet, with the fine branch if asked), checked against
        the settings before any photo is loaded, then the photos and the bin prior."""
        cfg = self.cfg
        prior = None
        if cfg.init:
            model, meta = load_model(Path(cfg.init))
            self.arch, self.model_config = meta["arch"], meta["config"]
            self.model = model.train()
            prior = meta["extra"].get("prior")
            self.seen = self.init_seen = int(meta["extra"].get("images_seen", 0))
            self.cpu_seconds = float(meta["extra"].get("cpu_seconds", 0.0))
            self.console.print(f"starting from {cfg.init} ({self.seen:,} images seen before)")
        else:
            centres = in_gamut_bins()
            self.arch = ARCH
            self.model_config = {"centres": centres.tolist(), **encoder_config(cfg.encoder)}
            self.model = models.build(self.arch, **self.model_config)
            self.model.init_encoder_from_imagenet(cfg.encoder)
            self.console.print(f"starting from ImageNet EfficientNet-{cfg.encoder}, {len(centres)} ab bins")
        if cfg.fine_head and not self.model_config.get("fine"):
            # a new branch's last layer starts at zero (kept as it is, it would add nothing but time), and it has no
            # batch-norm statistics yet (held at 0 and 1, they would never be learned)
            for flag, asked, why in (("--coarse-only", cfg.coarse_only, "keeps the fine branch as it is, and a branch "
                                      "added now by --fine-head starts at zero"),
                                     ("--freeze-bn", cfg.freeze_bn, "keeps a trained network's batch-norm statistics, "
                                      "and a branch added now by --fine-head has none yet")):
                if asked:
                    raise ValueError(f"{flag} {why}: train it first (--fine-only), then go on with {flag} from that "
                                     "model")
            self.model, self.model_config = with_fine_branch(self.model, self.model_config, cfg.fine_head)
            self.console.print(f"added a stride-2 fine branch of {cfg.fine_head} channels")
        elif cfg.fine_head and self.model_config["fine"] != cfg.fine_head:
            self.console.print(f"{cfg.init} has a fine branch of {self.model_config['fine']} channels already: "
                               f"using that one (--fine-head {cfg.fine_head} not used)")
        for flag, asked, source in (("--fine-only", cfg.fine_only, "--fine-head N, or an --init model with one"),
                                    ("--coarse-only", cfg.coarse_only, "an --init model with a trained one")):
            if asked and not self.model_config.get("fine"):
                raise ValueError(f"{flag} needs a network with a fine branch ({source})")
        self.photos = self._load_photos()
        self.prior = torch.tensor(prior) if prior else estimate_prior(self.photos, self.model.centres, self.rng)
        self._make_optimiser()

    def _make_optimiser(self) -> None:
        self._train_mode()
        self.model = self.model.to(memory_format=torch.channels_last)
        self.ema = torch.optim.swa_utils.AveragedModel(
            self.model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(self.cfg.ema_decay),
            use_buffers=True)
        self.opt = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=self.cfg.lr,
                                     weight_decay=self.cfg.weight_decay, foreach=True)
        self.class_weights = rebalancing_weights(self.prior, self.cfg.rebalance_lambda, centres=self.model.centres)
        self.critic: PatchCritic | None = None
        self.critic_opt: torch.optim.Optimizer | None = None
        self.gan_step = 0
        self.semantic: SemanticLoss | None = None  # built at the first step that needs it (not to export weights)
        if self.cfg.gan:
            self.critic = PatchCritic()
            self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=self.cfg.gan_lr, betas=(0.0, 0.9))

    def _train_mode(self) -> None:
        """Training mode; with ``fine_only``, for the fine branch alone: the rest keeps its weights and runs as at
        inference (batch-norm statistics kept), and autograd does not go through it. With ``coarse_only`` the
        other way round: the branch keeps its weights and is not run (``_forward`` asks for stride-4 logits)."""
        self.model.train()
        if self.cfg.fine_only or self.cfg.coarse_only:
            for name, p in self.model.named_parameters():
                p.requires_grad_(name.startswith(FINE_BRANCH) == self.cfg.fine_only)
            for name, module in self.model.named_children():
                module.train((f"{name}." in FINE_BRANCH) == self.cfg.fine_only)
        self._hold_batchnorm()

    def _hold_batchnorm(self, within: list[torch.nn.Module] | None = None) -> None:
        """With ``freeze_bn``, every batch-norm layer (of the whole model, or of the modules ``within``) runs as at
        inference: it normalises by its running statistics (not the batch's) and leaves them as they are, so
        training and validation see the same network; its scale and shift still learn."""
        if self.cfg.freeze_bn:
            for part in within or [self.model]:
                for module in part.modules():
                    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                        module.eval()

    def _load_photos(self) -> PhotoSet:
        t = time.time()
        photos = PhotoSet.load([Path(d) for d in self.cfg.data],
                               short_side=stored_side(self.cfg.crop, self.cfg.store_side),
                               weight_overrides=self.cfg.folder_weights, holdout=self.cfg.holdout)
        shares = ", ".join(f"{n} {w:.0%}" for n, w in photos.weights.items())
        self.console.print(f"{len(photos):,} training photos ({photos.dropped} near-grey or unreadable dropped) "
                           f"in {time.time() - t:.0f} s; sampling shares: {shares}")
        return photos

    def _resume(self, path: Path, load_photos: bool = True) -> None:
        state = torch.load(path, map_location="cpu", weights_only=False)
        saved = TrainConfig(**state["config"])
        for flag, name in (("--fine-only", "fine_only"), ("--coarse-only", "coarse_only")):
            if getattr(self.cfg, name) and not getattr(saved, name):  # left out, the run's own setting is kept
                raise ValueError(f"{self.out} is a run that was not started with {flag}, and a run trains what it "
                                 f"started training: start a new run from its weights (--init, another --out)")
        # The run's own settings win, except for how long to go on and how often to check, and a decay length
        # other than the default, which re-times the learning rate for the rest of the run.
        for name in ("max_steps", "max_minutes", "val_every", "checkpoint_minutes", "threads"):
            setattr(saved, name, getattr(self.cfg, name))
        if self.cfg.schedule_images not in (TrainConfig.schedule_images, saved.schedule_images):
            self.console.print(f"learning-rate decay re-timed from {saved.schedule_images:,} to "
                               f"{self.cfg.schedule_images:,} images")
            saved.retimed = [*saved.retimed, [state["step"], state["seen"] - state.get("init_seen", 0),
                                              saved.schedule_images]]
            saved.schedule_images = self.cfg.schedule_images
        if self.cfg.freeze_bn and not saved.freeze_bn:  # safe to turn on mid-run: from now on the statistics stay
            self.console.print("batch-norm statistics held from here on (--freeze-bn)")
            saved.freeze_bn = True
        self.cfg = saved
        self.arch, self.model_config = state["arch"], state["model_config"]
        self.model = models.build(self.arch, **self.model_config)
        self.model.load_state_dict(state["model"])
        self.prior = state["prior"]
        self._make_optimiser()
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        if self.critic is not None and self.critic_opt is not None and "critic" in state:
            self.critic.load_state_dict(state["critic"])
            self.critic_opt.load_state_dict(state["critic_opt"])
            self.gan_step = state["gan_step"]
        self.step, self.seen, self.cpu_seconds = state["step"], state["seen"], state["cpu_seconds"]
        # version 3 scored a subset of version 4's temperatures and took the best: its best score is a lower bound
        # of the same weights' score now, so it stays the bar a worse validation cannot overwrite the file under
        if state.get("score_version") in (3, SCORE_VERSION):
            self.best_score, self.best = state["best_score"], state["best"]
            self.stale = state.get("stale", 0)
        else:  # scored by an older rule: its best is not comparable, so the next validation sets a new one
            self.console.print("the checkpoint's best validation score used an older rule: starting afresh")
        self.init_seen = state.get("init_seen", 0)
        self.rng = np.random.default_rng()
        if isinstance(state["rng"], dict):  # the generator's exact state, so the run goes on drawing as it would have
            self.rng.bit_generator.state = state["rng"]
        else:  # older checkpoints stored a fresh seed
            self.rng = np.random.default_rng(state["rng"])
        if load_photos:
            self.photos = self._load_photos()
        self.console.print(f"resumed {path} at step {self.step:,} ({self.seen:,} images seen)")

    # -- saving ----------------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        state = {
            "config": asdict(self.cfg), "arch": self.arch, "model_config": self.model_config,
            "model": self.model.state_dict(), "ema": self.ema.state_dict(), "opt": self.opt.state_dict(),
            "prior": self.prior, "step": self.step, "seen": self.seen, "cpu_seconds": self.cpu_seconds,
            "best_score": self.best_score, "best": self.best, "stale": self.stale,
            "score_version": SCORE_VERSION, "init_seen": self.init_seen,
            **({"critic": self.critic.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                "gan_step": self.gan_step} if self.critic is not None and self.critic_opt is not None else {}),
            "rng": self.rng.bit_generator.state,
        }
        # Written to a temporary file and moved over the old checkpoint only once complete (the temporary file
        # is removed if the write fails), so an interrupted save leaves the previous checkpoint as it was.
        atomic_write(self.out / CHECKPOINT, lambda tmp: torch.save(state, tmp))

    def model_extra(self, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        metrics = metrics or {}
        defaults = {"size": DEFAULT_SIZE, "temperature": metrics.get("temperature", DEFAULT_TEMPERATURE),
                    "saturation": round(float(metrics.get("saturation", 1.0)), 2)}
        return {
            "defaults": defaults,
            "images_seen": self.seen, "steps": self.step, "cpu_seconds": round(self.cpu_seconds),
            "prior": [round(float(p), 8) for p in self.prior], "train_config": asdict(self.cfg),
            "validation": metrics,
        }

    def export(self, path: Path, metrics: dict[str, Any] | None = None) -> None:
        save_model(self.ema.module, self.arch, self.model_config, path, self.model_extra(metrics))

    # -- the loop --------------------------------------------------------------------------------
    def _forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(rebalanced cross-entropy, logits, clean Lab) for a batch of colour crops."""
        lab = rgb_to_lab(rgb)
        light = degrade(lab[:, :1], self.rng)
        ab = lab[:, 1:]
        hint_ab, hint_mask = simulate_hints(ab, self.rng, self.cfg.hint_none_share)
        logits = self.model(light.contiguous(memory_format=torch.channels_last), hint_ab, hint_mask,
                            coarse=self.cfg.coarse_only)
        target_ab = F.adaptive_avg_pool2d(ab, logits.shape[-2:])
        idx, wts = nearest_bins(target_ab, self.model.centres)
        ce = soft_cross_entropy(logits, idx, wts)
        return (ce * self.class_weights[idx[:, 0]]).mean(), logits, lab  # weighted by the nearest bin

    def train_step(self) -> torch.Tensor:
        """Draw a batch of crops and take one optimiser step on it (a NoGAN step in a GAN run); the loss."""
        assert self.photos is not None
        batch = self.photos.batch(self.cfg.batch, self.cfg.crop, self.rng, self.cfg.crop_scale, self.cfg.rotate,
                                  self.cfg.stretch)
        if self.cfg.cutmix:
            batch = cutmix(batch, self.cfg.cutmix, self.rng)
        if self.cfg.gan:
            return self._gan_step(batch)
        ce, logits, lab = self._forward(batch)
        loss = ce
        if self.cfg.semantic:
            self.semantic = self.semantic or SemanticLoss()
            k = min(self.cfg.semantic_crops, len(batch))
            fake = generated_ab(logits[:k], self.model.centres, lab.shape[-2:], self.cfg.semantic_temperature)
            # judged against the original colour at the network's colour resolution, which a prediction can reach
            loss = loss + self.cfg.semantic * self.semantic(lab[:k, :1], fake, real_ab(lab[:k, 1:], logits.shape[-2:]))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.opt.step()
        self.ema.update_parameters(self.model)
        # the log's loss stays the cross-entropy, comparable across runs with and without extras (not across grids:
        # a --coarse-only run's is on the stride-4 logits)
        return ce.detach()

    def _gan_step(self, rgb: torch.Tensor) -> torch.Tensor:
        """One NoGAN step: the critic learns on every step; the generator only once the critic is pretrained,
        with its own loss plus the adversarial term."""
        assert self.critic is not None and self.critic_opt is not None
        cfg = self.cfg
        adversarial = self.gan_step >= cfg.gan_critic_steps
        if not adversarial:
            self.model.eval()  # while the critic learns, the generator stays exactly as it is
        with torch.set_grad_enabled(adversarial):
            ce, logits, lab = self._forward(rgb)
        if not adversarial:
            self._train_mode()
            self._freeze_early_encoder(self.step < cfg.freeze_encoder_steps)
        light = lab[:, :1]
        fake = generated_ab(logits, self.model.centres, lab.shape[-2:], cfg.gan_temperature)
        if adversarial:
            loss = ce + cfg.gan_weight * generator_adversarial_loss(self.critic, light, fake)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
            self.opt.step()
            self.ema.update_parameters(self.model)
        d_loss = critic_loss(self.critic, light, real_ab(lab[:, 1:], logits.shape[-2:]), fake)
        self.critic_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.critic_opt.step()
        self.gan_step += 1
        return ce.detach() if adversarial else d_loss.detach()

    def run(self) -> dict[str, Any]:
        assert self.photos is not None
        cfg = self.cfg
        log_path = self.out / LOG
        new_log = not log_path.exists()
        log = log_path.open("a", newline="")
        writer = csv.writer(log)
        if new_log:
            writer.writerow(["step", "images_seen", "cpu_seconds", "lr", "loss", "images_per_s",
                             "val_temperature", "val_psnr", "val_psnr_grey", "val_colourfulness_ratio",
                             "val_grey_share", "val_score"])
        valset = None
        if cfg.val:
            valset = ValSet.load([Path(v) for v in cfg.val], limit=cfg.val_limit)
        elif cfg.holdout:
            valset = ValSet.load([Path(d) for d in cfg.data], limit=cfg.val_limit, holdout=cfg.holdout)
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def request_stop(signum: int, frame: Any) -> None:
            self.stop_requested = True

        for s in previous:
            signal.signal(s, request_stop)
        start = time.time()
        last_ckpt = time.time()
        losses: list[float] = []
        tick, tick_seen = time.time(), self.seen
        try:
            while not self.stop_requested:
                if cfg.max_steps is not None and self.step >= cfg.max_steps:
                    break
                if cfg.max_minutes is not None and time.time() - start > cfg.max_minutes * 60:
                    break
                if cfg.patience is not None and self.stale >= cfg.patience:
                    self.console.print(f"no improvement in {self.stale} validations: stopping early")
                    break
                self._freeze_early_encoder(self.step < cfg.freeze_encoder_steps)
                cpu0 = time.process_time()
                lr = _lr(cfg, self.step, self.seen - self.init_seen)
                for group in self.opt.param_groups:
                    group["lr"] = lr
                loss = self.train_step()
                self.step += 1
                self.seen += cfg.batch
                self.cpu_seconds += time.process_time() - cpu0
                losses.append(float(loss.detach()))
                if self.step % 50 == 0:
                    now = time.time()
                    rate = (self.seen - tick_seen) / (now - tick)  # a resumed run's first report is short
                    tick, tick_seen = now, self.seen
                    elapsed = now - start  # in this session; the estimate goes by its pace so far
                    left = [cfg.max_minutes * 60 - elapsed] if cfg.max_minutes is not None else []
                    if cfg.max_steps is not None:
                        left.append((cfg.max_steps - self.step) * elapsed / len(losses))
                    eta = f", eta {max(0.0, min(left)) / 60:,.0f} min" if left else ""
                    self.console.print(f"step {self.step:,}  seen {self.seen:,}  loss {np.mean(losses[-50:]):.4f}  "
                                       f"lr {lr:.2e}  {rate:.1f} img/s  elapsed {elapsed / 60:,.0f} min{eta}",
                                       highlight=False)
                    writer.writerow([self.step, self.seen, round(self.cpu_seconds), f"{lr:.3e}",
                                     f"{np.mean(losses[-50:]):.5f}", f"{rate:.1f}"] + [""] * 6)
                    log.flush()
                if valset is not None and self.step % cfg.val_every == 0:
                    self._validate(valset, writer)
                    log.flush()
                if time.time() - last_ckpt > cfg.checkpoint_minutes * 60:
                    self.save_checkpoint()
                    last_ckpt = time.time()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.save_checkpoint()
            log.close()
        if valset is not None and not self.best:  # stopped before its first validation
            self._validate(valset, None)
        if valset is None:
            self.export(self.out / WEIGHTS_FILE)
        return {"step": self.step, "seen": self.seen, "losses": losses, "best": self.best}

    def _freeze_early_encoder(self, frozen: bool) -> None:
        """Fine-tuning a small collection starts with the generic low-level features kept as they are."""
        if self.cfg.fine_only:  # all but the fine branch is frozen already, and stays so
            return
        encoder = self.model.encoder
        early = [encoder._conv_stem, encoder._bn0] + [b for b, s in zip(encoder._blocks, encoder.specs, strict=True)
                                                      if s[5] < 3]
        for module in early:
            module.requires_grad_(not frozen)
            module.train(not frozen)  # and their batch-norm statistics stay put
        self._hold_batchnorm(early)  # every step: only the modules whose mode was just set

    def _validate(self, valset: ValSet, writer: Any) -> None:
        """Score the EMA weights on ``valset`` at matched colourfulness (``checkpoint_score``) and export them
        when they beat the best so far, with the best temperature and its matching saturation as defaults, then
        write a checkpoint: it holds the score the best model file has, so a resumed run (after a stop, or a crash
        before the next timed checkpoint) cannot let a worse validation overwrite that file."""
        results = validate(self.ema.module, valset, matched=True)
        t, m = best_temperature(results)
        self.console.print(f"validation at step {self.step:,}: best temperature {t}: at saturation "
                           f"{m['saturation_matched']:.2f} ({m['colourfulness_ratio_matched']:.0%} of the originals' "
                           f"colourfulness) PSNR {m['psnr_matched']:.2f} (grey {m['psnr_grey']:.2f}), "
                           f"{m['grey_share_matched']:.0%} left grey, score {m['checkpoint_score']:.3f}",
                           highlight=False)
        if writer is not None:
            writer.writerow([self.step, self.seen, round(self.cpu_seconds), "", "", "", t, f"{m['psnr_matched']:.3f}",
                             f"{m['psnr_grey']:.3f}", f"{m['colourfulness_ratio_matched']:.3f}",
                             f"{m['grey_share_matched']:.3f}", f"{m['checkpoint_score']:.4f}"])
        (self.out / "validation.jsonl").open("a").write(
            json.dumps({"step": self.step, "seen": self.seen, "results": {str(k): v for k, v in results.items()}})
            + "\n")
        self.stale += 1
        if m["checkpoint_score"] > self.best_score:
            self.stale = 0
            self.best_score = m["checkpoint_score"]
            self.best = {"step": self.step, "seen": self.seen, "temperature": t, **m}
            self.export(self.out / WEIGHTS_FILE, {"temperature": t, "saturation": m["saturation_matched"], **m})
            self.console.print(f"new best model written to {self.out / WEIGHTS_FILE}")
            self.save_checkpoint()
