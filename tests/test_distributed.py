"""Data-parallel training and QAT on torchrun give what one process gives (docs/distributed.md).

Fast tests check the pieces in one process (torchrun's environment, the split of a global
batch, the weighting that makes shard gradients sum to the one-process gradient). Slow
tests start ``python -m torch.distributed.run`` (torchrun's module) with 2 gloo ranks on
the CPU: the toy data set of test_train.py and the tiny classifier of test_torch_qat.py,
so nothing is downloaded.

Dropout is off in the training comparison: one process draws one mask per layer for the
whole batch, which ranks holding a share of its rows cannot reproduce (data_parallel
seeds each rank differently instead), so only dropout-free runs can be compared weight
for weight. The QAT student runs without dropout anyway.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file
from test_train import TINY, TOY

from convbert_edge.config import ConvBertConfig
from convbert_edge.distributed import Distributed, all_gather_rows, rank_range
from convbert_edge.errors import ConfigError
from convbert_edge.launch import distributed_from_environ
from convbert_edge.tasks import Task
from convbert_edge.tokenizer import ConvBertTokenizerFast
from convbert_edge.torch_stack import ConvBertForTokenClassification
from convbert_edge.training import LabelledWords, TrainConfig, train
from convbert_edge.training.data import encode_words
from convbert_edge.training.data_parallel import micro_batch_size, rank_micro_batches
from convbert_edge.training.loop import accumulate_gradients
from convbert_edge.training.objectives import OBJECTIVES

TESTS = Path(__file__).parent
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
# Summation order is all that differs between 1 and 2 ranks: gradients agree to ~1e-7
# relative, and Adam's lr * m / sqrt(v) turns that into weight differences that grew to
# 2.3e-6 (toy training on 2 ranks, 8 steps at lr 1e-2) and 8.7e-6 (one process, 4
# micro-batches) where measured. The tolerance leaves 6x-20x of room; the control run
# differs by far more (0.095 with the batch taken per rank). QAT sums in one canonical
# order (quantize.torch_qat_ranks) and is compared for equality.
TRAIN_ATOL = 5e-5


@pytest.fixture
def one_rank_group(tmp_path):
    """A real gloo group of one process: collectives run and return their input."""
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    yield
    dist.destroy_process_group()


def test_torchrun_environment_gives_rank_and_backend():
    env = {
        "RANK": "3",
        "WORLD_SIZE": "4",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "h",
        "MASTER_PORT": "1",
    }
    assert distributed_from_environ({}) is None
    assert distributed_from_environ(env, cuda_available=False) == Distributed(3, 4, 1, "gloo")
    on_gpu = distributed_from_environ(env, cuda_available=True)
    assert on_gpu.backend == "nccl" and on_gpu.device == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="MASTER_PORT missing"):
        distributed_from_environ({k: v for k, v in env.items() if k != "MASTER_PORT"})


def test_global_batch_must_divide_over_ranks_and_accumulation():
    assert micro_batch_size(32, 2, Distributed(0, 4)) == 4
    with pytest.raises(ConfigError, match="not divisible by 3 ranks x 2 accumulation"):
        micro_batch_size(32, 2, Distributed(0, 3))


def test_ranks_share_a_global_batch_each_row_once():
    rows = torch.randperm(24, generator=torch.Generator().manual_seed(0))
    parts = [rank_micro_batches(rows, 2, Distributed(r, 3)) for r in range(3)]
    taken = torch.cat([p for rank in parts for p in rank])
    assert sorted(taken.tolist()) == sorted(rows.tolist())
    assert {len(p) for rank in parts for p in rank} == {4}
    assert [len(rank_range(10, Distributed(r, 4))) for r in range(4)] == [3, 3, 3, 1]


def _word_split() -> LabelledWords:
    # sentences of 1 to 6 words: ranks get different numbers of labelled tokens
    words = [tuple(["good", "film", "the", "plot", "was", "dull"][: 1 + i % 6]) for i in range(8)]
    return LabelledWords(words, [[i % 3 for i in range(len(w))] for w in words])


def test_shard_gradients_sum_to_the_one_process_gradient(one_rank_group):
    torch.manual_seed(0)
    labels = {0: "O", 1: "B-x", 2: "I-x"}
    model_config = ConvBertConfig.preset(
        "conv-bert-small", num_hidden_layers=1, id2label=labels, **TINY, **NO_DROPOUT
    )
    model = ConvBertForTokenClassification(model_config)
    split = encode_words(ConvBertTokenizerFast.from_pretrained(None), _word_split(), 12)
    objective = OBJECTIVES[Task.TOKEN_CLASSIFICATION]
    rows = torch.arange(8)

    def grads(accumulate, distributed):
        model.zero_grad(set_to_none=True)
        loss = accumulate_gradients(
            model, split, rows, objective, accumulate, distributed, torch.device("cpu")
        )
        return float(loss), [p.grad.clone() for p in model.parameters()]

    whole_loss, whole = grads(1, None)
    # Two ranks of 2 micro-batches each; the 1-process group makes all_reduce the identity,
    # so each call returns its rank's part, and DDP's average is done here.
    parts = [grads(2, Distributed(r, 2)) for r in range(2)]
    summed = [(a + b) / 2 for a, b in zip(parts[0][1], parts[1][1], strict=True)]
    for got, want in zip(summed, whole, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    assert parts[0][0] + parts[1][0] == pytest.approx(whole_loss, rel=1e-6)
    # the weighting matters: averaging the shards' mean losses gives another gradient
    model.zero_grad(set_to_none=True)
    for r in range(2):
        for part in rank_micro_batches(rows, 2, Distributed(r, 2)):
            ids, mask, types, y = split.batch(part)
            (objective.loss(objective.logits(model(ids, mask, types)), y) / 4).backward()
    naive = [p.grad for p in model.parameters()]
    assert max(float((a - b).abs().max()) for a, b in zip(naive, whole, strict=True)) > 1e-3


def test_call_gradients_are_summed_as_autograd_accumulates_them(one_rank_group):
    from convbert_edge.quantize.torch_qat_ranks import sum_in_call_order, take_gradients

    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 32)
    params = list(layer.parameters())
    calls = [torch.randn(5, 64) * 10 ** (i % 3) for i in range(6)]
    for x in calls:  # one process: autograd accumulates into .grad call after call
        layer(x).square().mean().backward()
    want = [p.grad.clone() for p in params]
    layer.zero_grad(set_to_none=True)
    mine = []
    for x in calls:
        layer(x).square().mean().backward()
        mine.append(take_gradients(params))
    assert all(p.grad is None for p in params)
    sum_in_call_order(mine, params, Distributed(0, 1))
    for p, w in zip(params, want, strict=True):
        assert torch.equal(p.grad, w)
    # summed in another order the same gradients differ in their last bits
    reordered = torch.stack(mine[::-1]).sum(0)
    assert not torch.equal(reordered, torch.cat([w.reshape(-1) for w in want]))


def test_all_gather_rows_keeps_rank_order(one_rank_group):
    rows = torch.arange(6.0).reshape(3, 2)
    assert torch.equal(all_gather_rows(rows, Distributed(0, 1)), rows)


def test_under_torchrun_export_refuses_what_it_cannot_share(monkeypatch, capsys):
    from convbert_edge.export import main as export_main

    env = {
        "RANK": "0",
        "WORLD_SIZE": "2",
        "LOCAL_RANK": "0",
        "MASTER_ADDR": "x",
        "MASTER_PORT": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_:
        export_main(["--target", "tflite", "--int8", "--qat"])
    assert exit_.value.code == 2
    assert "only --target executorch --int8 --qat" in capsys.readouterr().err


def _toy_config(out_dir, **changes) -> TrainConfig:
    settings = dict(
        num_layers=1, model_overrides={**TINY, **NO_DROPOUT}, seq_len=16, batch_size=8,
        eval_batch_size=32, epochs=1, lr=1e-2, log_every=4, threads=1,
    )  # fmt: skip
    return TrainConfig("toy", out_dir, **{**settings, **changes})


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def test_accumulation_in_one_process_trains_the_same_model(tmp_path):
    train(_toy_config(tmp_path / "a"), TOY, log=lambda _: None)
    train(_toy_config(tmp_path / "b", accumulate=4), TOY, log=lambda _: None)
    a, b = (load_file(tmp_path / n / "model.safetensors") for n in "ab")
    assert _max_difference(a, b) < TRAIN_ATOL


def _cli_args(config: TrainConfig) -> list[str]:
    return config.command().split()[3:]  # without "python -m convbert_edge.train"


def _torchrun(script: str, args: list[str], nproc: int = 2, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*TORCHRUN, str(nproc), str(TESTS / script), *args],
        cwd=TESTS, env=env, capture_output=True, text=True, timeout=600, **kwargs,
    )  # fmt: skip


@pytest.mark.slow
def test_two_ranks_train_the_weights_of_one_process(tmp_path):
    one = _toy_config(tmp_path / "one")
    train(one, TOY, log=lambda _: None)
    two = _toy_config(tmp_path / "two")
    run = _torchrun("distributed_toy_train.py", _cli_args(two))
    assert run.returncode == 0, run.stderr[-3000:]

    a, b = (load_file(d / "model.safetensors") for d in (one.out_dir, two.out_dir))
    assert _max_difference(a, b) < TRAIN_ATOL
    # control: each rank training alone on its 4 rows a step (batch_size as per-rank)
    alone = _toy_config(tmp_path / "alone", batch_size=4)
    train(alone, TOY, log=lambda _: None)
    assert _max_difference(a, load_file(alone.out_dir / "model.safetensors")) > 1e-2

    assert run.stdout.count("toy: 64 train / 32 dev examples") == 1  # rank 0 logs alone
    card = (two.out_dir / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "Global batch 8 = 4 rows per pass x 2 processes x 1 accumulation" in card
    metrics = json.loads((two.out_dir / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["config"]["batch_size"] == 8


@pytest.mark.slow
def test_two_ranks_qat_the_fake_quantized_weights_of_one_process(tmp_path):
    from distributed_toy_qat import run as qat_run

    run = _torchrun("distributed_toy_qat.py", [str(tmp_path / "two.pt"), "0.0"])
    assert run.returncode == 0, run.stderr[-3000:]  # rank 1 ended with WorkerRankDone (0)
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    one = qat_run(0.0)
    assert one.keys() == two.keys()
    # the ranks add the step's call gradients in one process's order: equal, not close
    for name in one:
        assert torch.equal(one[name], two[name]), name
    # the comparison can fail: another visit order of the same calls trains other weights
    other_order = qat_run(0.0, seed=1)
    assert max(float((other_order[k] - one[k]).abs().max()) for k in one) > 1e-4


@pytest.mark.slow
def test_ranks_merge_the_ranges_one_process_observes(tmp_path):
    from distributed_toy_qat import observed_ranges

    run = _torchrun("distributed_toy_qat.py", [str(tmp_path / "ranges"), "ranges"])
    assert run.returncode == 0, run.stderr[-3000:]
    one = observed_ranges()
    ranks = [torch.load(tmp_path / f"ranges.{r}") for r in range(2)]
    assert one.keys() == ranks[0].keys() == ranks[1].keys()
    for name in one:  # min and max do not depend on order: equal, not close
        assert torch.equal(ranks[0][name], one[name]), name
        assert torch.equal(ranks[1][name], one[name]), name
    # rank 0's own calls alone give other ranges: the merge is what made them equal
    alone = observed_ranges(Distributed(0, 2), merge=False)
    assert any(not torch.equal(alone[name], one[name]) for name in one)


@pytest.mark.slow
def test_torchrun_qat_export_writes_a_pte_that_verifies(tmp_path):
    from convbert_edge.runtime.verify import verify_artifact
    from convbert_edge.torch_stack import ConvBertForSequenceClassification

    torch.manual_seed(0)
    config = ConvBertConfig.preset(
        "conv-bert-small", num_hidden_layers=1, id2label={0: "neg", 1: "pos"}, **TINY
    )
    ConvBertForSequenceClassification(config).save_pretrained(tmp_path / "model")
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TOY.train.texts + TOY.test.texts) + "\n", encoding="utf-8")
    out = tmp_path / "artifact"
    run = subprocess.run(
        [*TORCHRUN, "2", "-m", "convbert_edge.export", "--target", "executorch", "--int8",
         "--qat", "--qat-steps", "2", "--qat-accumulate", "2", "--qat-no-fallback",
         "--model", str(tmp_path / "model"), "--calibration", str(texts),
         "--calibration-samples", "8", "--golden-samples", "4", "--seq-len", "16",
         "--threads", "1", "--out", str(out)],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert run.stdout.count("PASS") == 1  # verified once, by rank 0
    assert verify_artifact(out, threads=1).passed


@pytest.mark.slow
def test_killing_one_rank_ends_the_others_without_a_partial_checkpoint(tmp_path):
    config = _toy_config(tmp_path / "run", epochs=500, log_every=1000)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOY_PID_DIR": str(tmp_path)}
    agent = subprocess.Popen(
        [*TORCHRUN, "2", str(TESTS / "distributed_toy_train.py"), *_cli_args(config)],
        cwd=TESTS, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not (config.out_dir / "model.safetensors").exists():  # training is under way
            assert agent.poll() is None and time.monotonic() < deadline, agent.stdout.read()
            time.sleep(0.2)
        victim = int((tmp_path / "rank1.pid").read_text())
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        status = agent.wait(timeout=60)
        seconds = time.monotonic() - killed
    finally:
        if agent.poll() is None:
            agent.kill()
    print(f"torchrun ended {seconds:.1f} s after rank 1 was killed, status {status}")
    assert status != 0 and seconds < 60
    survivor = int((tmp_path / "rank0.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(survivor, 0)
    assert not list(config.out_dir.glob(".*.tmp")), list(config.out_dir.iterdir())
    load_file(config.out_dir / "model.safetensors")  # whole: the last epoch rank 0 saved
