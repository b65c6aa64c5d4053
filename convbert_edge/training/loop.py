"""Fine-tune a ConvBERT classifier: one seeded, reproducible run from config to card.

``train(config)`` loads the data, builds the model (from a checkpoint with a fresh head,
or from scratch with optional MiniLM word embeddings), runs AdamW with linear warmup and
decay, scores dev after each epoch (``objectives``: accuracy, entity F1, or SQuAD exact
match and F1, the objective's ``metric`` choosing the best epoch), and keeps
the best epoch in ``out_dir`` as a Hugging Face checkpoint with vocab.txt, metrics.json
and MODEL_CARD.md.

Training batches all have exactly ``batch_size`` rows (the last partial batch of an epoch
is dropped): PT2E quantization-aware training, the next step, needs that static shape.

With a ``Distributed`` (torchrun; ``convbert_edge.launch``) the run is data-parallel:
``batch_size`` stays the global batch and each rank computes its share of it
(``data_parallel``), DistributedDataParallel sums the gradients, dev is scored on shards
whose logits are gathered, and only rank 0 logs and writes; the other ranks return after
the last epoch, before rank 0 scores the test split from the written checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict

import torch

from convbert_edge.config import ConvBertConfig
from convbert_edge.data import DATASETS
from convbert_edge.distributed import Distributed, all_reduce
from convbert_edge.errors import ConfigError
from convbert_edge.io_utils import atomic_write_text
from convbert_edge.tokenizer import checkpoint_tokenizer
from convbert_edge.training import data_parallel
from convbert_edge.training.config import TrainConfig
from convbert_edge.training.data import TrainingData, encode, training_data
from convbert_edge.training.embeddings import minilm_start
from convbert_edge.training.model_card import write_model_card
from convbert_edge.training.objectives import OBJECTIVES, Objective, evaluate
from convbert_edge.training.results import EpochResult, TrainResult

Log = Callable[[str], None]


def build_model(config: TrainConfig, objective: Objective, id2label: dict[int, str]):
    """(model, one line saying how it was initialised); call after seeding torch."""
    if config.model_dir is not None:
        model = objective.model_class.from_pretrained(
            config.model_dir, new_head=True, id2label=id2label
        )
        start = f"fine-tuned from {config.model_dir} (new classification head)"
    else:
        changes = dict(config.model_overrides, id2label=id2label)
        if config.num_layers is not None:
            changes["num_hidden_layers"] = config.num_layers
        try:
            model_config = ConvBertConfig.preset(config.preset, **changes)
        except TypeError as err:  # an unknown --model-arg name
            raise ConfigError(f"bad --model-arg: {err}") from None
        model = objective.model_class(model_config)
        start = f"from scratch: {config.preset} widths, {model_config.num_hidden_layers} layers"
        if config.init_embeddings == "minilm":
            start += "; " + minilm_start(model, config.cache_dir)
    if config.seq_len > model.config.max_position_embeddings:
        raise ConfigError(
            f"seq_len {config.seq_len} exceeds the model's max_position_embeddings "
            f"{model.config.max_position_embeddings}"
        )
    return model, start


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; biases and LayerNorm weights (every 1-D parameter) get no weight decay."""
    decay, no_decay = [], []
    for _, param in sorted(model.named_parameters()):
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr)


def linear_schedule(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """LR factor: 0 -> 1 over warmup_steps, then 1 -> 0 at total_steps."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def train(
    config: TrainConfig,
    data: TrainingData | None = None,
    log: Log = print,
    distributed: Distributed | None = None,
) -> TrainResult:
    """Run one fine-tuning as configured; see the module docstring for what is written.

    Args:
        config: the run; validated first, so bad values fail before any work.
        data: the texts and labels; None loads ``config.dataset`` from the registry
            (tests pass a small in-memory set).
        log: where progress lines go (rank 0's only).
        distributed: this process's rank in an open process group; None: one process.
    """
    config.validate(tuple(DATASETS) if data is None else (data.name,))
    micro = data_parallel.micro_batch_size(config.batch_size, config.accumulate, distributed)
    main = distributed is None or distributed.is_main
    if not main:
        log = _silent
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    if data is None:
        data = training_data(config.dataset, config.cache_dir)
    objective = OBJECTIVES[data.task]
    tokenizer = checkpoint_tokenizer(config.model_dir)
    train_split = data.train.head(config.max_train_examples)
    dev_split = data.dev.head(config.max_eval_examples)
    train_set = encode(tokenizer, train_split, config.seq_len, training=True)
    dev_set = encode(tokenizer, dev_split, config.seq_len)
    steps_per_epoch = len(train_set) // config.batch_size
    if steps_per_epoch == 0:
        raise ConfigError(
            f"batch_size {config.batch_size} exceeds the {len(train_set)} training examples"
        )
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)

    torch.manual_seed(config.seed)
    model, start = build_model(config, objective, data.id2label)
    device = torch.device("cpu")
    if distributed is not None:
        device = distributed.device
        model.to(device)
        torch.manual_seed(data_parallel.dropout_seed(config.seed, distributed))
    net = data_parallel.wrap(model, distributed)  # forward passes go through net
    optimizer = build_optimizer(model, config)
    warmup_steps = round(config.warmup_ratio * total_steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, linear_schedule(warmup_steps, total_steps)
    )
    out = config.out_dir
    if main:
        out.mkdir(parents=True, exist_ok=True)
    processes = 1 if distributed is None else distributed.world_size
    result = TrainResult(out, metric=objective.metric, start=start, processes=processes)
    rows = ""
    if (len(train_set), len(dev_set)) != (len(train_split), len(dev_split)):
        rows = f" ({len(train_set)} / {len(dev_set)} windows)"
    log(
        f"{data.name}: {len(train_split)} train / {len(dev_split)} dev examples{rows}, "
        f"seq_len {config.seq_len}, {steps_per_epoch} steps per epoch, {total_steps} steps; "
        f"{start}"
    )
    if processes > 1 or config.accumulate > 1:
        log(
            f"global batch {config.batch_size} = {micro} rows x {processes} processes x "
            f"{config.accumulate} accumulation steps"
        )

    step, train_seconds = 0, 0.0
    for epoch in range(1, config.epochs + 1):
        if step >= total_steps:
            break
        model.train()
        order = torch.randperm(len(train_set), generator=_epoch_generator(config.seed, epoch))
        losses: list[float] = []
        tick, tick_step, epoch_start = time.perf_counter(), step, time.perf_counter()
        for b in range(steps_per_epoch):
            if step >= total_steps:
                break
            rows = order[b * config.batch_size : (b + 1) * config.batch_size]
            loss = accumulate_gradients(
                net, train_set, rows, objective, config.accumulate, distributed, device
            )
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(float(loss.detach()))
            if step % config.log_every == 0 or step == total_steps:
                now = time.perf_counter()
                rate = (step - tick_step) / max(now - tick, 1e-9)
                log(
                    f"epoch {epoch} step {step}/{total_steps} loss {losses[-1]:.4f} "
                    f"lr {schedule.get_last_lr()[0]:.2e} {rate:.2f} it/s"
                )
                tick, tick_step = now, step
        seconds = time.perf_counter() - epoch_start
        train_seconds += seconds
        dev_scores = evaluate(
            model, dev_set, objective, data.id2label, config.eval_batch_size, distributed
        )
        dev = dev_scores.get(objective.metric, 0.0)
        mean_loss = sum(losses) / len(losses)
        result.history.append(EpochResult(epoch, step, mean_loss, dev, seconds, dev_scores))
        log(f"epoch {epoch}: train loss {mean_loss:.4f}, {_named(dev_scores, 'dev')}")
        if dev > result.best_dev_score:
            result.best_epoch, result.best_dev_score = epoch, dev
            result.best_dev_scores = dev_scores
            if main:
                model.save_pretrained(out, dtype=config.save_dtype)
                log(f"saved epoch {epoch} to {out}")

    result.steps = step
    result.seconds_per_step = train_seconds / max(1, step)
    if not main:  # what follows reads and writes rank 0's files
        return result
    if data.test is not None:
        best = objective.model_class.from_pretrained(out)
        test_split = data.test.head(config.max_eval_examples)
        test_set = encode(tokenizer, test_split, config.seq_len)
        result.test_scores = evaluate(
            best, test_set, objective, data.id2label, config.eval_batch_size
        )
        result.test_score = result.test_scores.get(objective.metric, 0.0)
        log(f"best epoch {result.best_epoch}: {_named(result.test_scores, 'test')}")
    tokenizer.save_pretrained(out)
    sizes = {"train": len(train_split), "dev": len(dev_split)}
    if data.test is not None:
        sizes["test"] = len(test_split)
    if (len(train_set), len(dev_set)) != (len(train_split), len(dev_split)):
        sizes |= {"train windows": len(train_set), "dev windows": len(dev_set)}
    metrics = {
        "config": config.to_dict(),
        "command": config.command(),
        "split_sizes": sizes,
        **{k: v for k, v in asdict(result).items() if k != "out_dir"},
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_model_card(
        out / "MODEL_CARD.md", config, data, sizes, result, model, objective.description
    )
    return result


def accumulate_gradients(
    net: torch.nn.Module,
    train_set,
    rows: torch.Tensor,
    objective: Objective,
    accumulate: int,
    distributed: Distributed | None,
    device: torch.device,
) -> torch.Tensor:
    """Backward passes of this rank's micro-batches of the global batch ``rows``; returns
    the global batch's mean loss (the same on every rank).

    Each micro-batch's mean loss is weighted by its share of the global batch's loss
    terms (x world size, which DDP's averaging divides out): with one process and no
    accumulation the weight is exactly 1.0, the loop as it was.
    """
    total = data_parallel.loss_terms(train_set.labels[rows])
    world = 1 if distributed is None else distributed.world_size
    parts = data_parallel.rank_micro_batches(rows, accumulate, distributed)
    step_loss = torch.zeros((), device=device)
    for k, part in enumerate(parts):
        ids, mask, types, labels = (t.to(device) for t in train_set.batch(part))
        share = data_parallel.loss_terms(labels) / max(total, 1)
        with data_parallel.gradient_sync(net, last=k == len(parts) - 1):
            logits = objective.logits(net(ids, mask, types))  # (b, labels), (b, s, labels|2)
            loss = objective.loss(logits, labels)
            if share == 0.0:  # no labelled term here: a mean of nothing is nan, weigh 0
                loss = logits.sum() * 0.0
            (loss * (share * world)).backward()
        step_loss += loss.detach() * share
    return step_loss if distributed is None else all_reduce(step_loss)


def _silent(_line: str) -> None:
    pass


def _named(scores: dict[str, float], split: str) -> str:
    """Scores as a log line, e.g. "dev exact match 0.1000, dev F1 0.2000"."""
    return ", ".join(f"{split} {name} {value:.4f}" for name, value in scores.items())


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The data order of an epoch depends on (seed, epoch) only, not on the global RNG."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)
