"""Speed-up of data-parallel training (torchrun, gloo) over one process, default model.

    python benchmarks/bench_distributed.py [--batch-size 32] [--seq-len 64] [--steps 5]

Times the training step of ``convbert_edge.train`` (training.loop's gradient step:
forward, backward, DDP's all-reduce, clipping, AdamW) on the default model's shape
(conv-bert-small widths, 4 layers, 2 labels; seq 64, global batch 32 as its card says) on
random token ids, in three set-ups on this machine: 1 process x 1 thread, 1 process x 2
threads, and torchrun with 2 processes x 1 thread (each computing half of the global
batch). It also times the all-reduce of the gradient alone, for the scaling model

    t(N) = t(1) / N + t_allreduce(N),   t_allreduce(N) ~ 2 (N - 1) / N * bytes / bandwidth

(compute splits N ways; a ring all-reduce moves 2 (N-1)/N of the gradient bytes per rank),
and prints what that model predicts for N = 2, 4, 8 and 16 from the measured numbers.
On a shared machine every figure is noisy: run it alone, and judge ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch


def worker(batch_size: int, seq_len: int, steps: int) -> None:
    """One rank (or the one process): time ``steps`` training steps after 2 warm-ups."""
    from convbert_edge.config import ConvBertConfig
    from convbert_edge.default_model import default_checkpoint
    from convbert_edge.distributed import all_reduce
    from convbert_edge.launch import distributed_from_environ, process_group
    from convbert_edge.tasks import Task
    from convbert_edge.training import TrainConfig, data_parallel
    from convbert_edge.training.data import EncodedSplit
    from convbert_edge.training.loop import accumulate_gradients, build_optimizer
    from convbert_edge.training.objectives import OBJECTIVES

    distributed = distributed_from_environ(os.environ)
    with process_group(distributed):
        torch.manual_seed(0)
        config = ConvBertConfig.from_pretrained(default_checkpoint())
        objective = OBJECTIVES[Task.SEQUENCE_CLASSIFICATION]
        model = objective.model_class(config)
        net = data_parallel.wrap(model, distributed)
        optimizer = build_optimizer(model, TrainConfig("bench", "."))
        n = batch_size * (steps + 2)
        ids = torch.randint(1000, config.vocab_size, (n, seq_len))  # (n, s)
        data = EncodedSplit(
            ids, torch.ones_like(ids), torch.zeros_like(ids), torch.randint(0, 2, (n,))
        )
        cpu = torch.device("cpu")
        times = []
        for step in range(steps + 2):
            rows = torch.arange(step * batch_size, (step + 1) * batch_size)
            start = time.perf_counter()
            accumulate_gradients(net, data, rows, objective, 1, distributed, cpu)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - start)
        grad_bytes = 4 * sum(p.numel() for p in model.parameters())
        allreduce = []
        if distributed is not None:
            flat = torch.zeros(grad_bytes // 4)
            for _ in range(5):
                start = time.perf_counter()
                all_reduce(flat)
                allreduce.append(time.perf_counter() - start)
        if distributed is None or distributed.is_main:
            print(
                json.dumps(
                    {
                        "step_s": statistics.median(times[2:]),
                        "grad_bytes": grad_bytes,
                        "allreduce_s": statistics.median(allreduce) if allreduce else None,
                    }
                )
            )


def measure(label: str, command: list[str], threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    result = json.loads([line for line in run.stdout.splitlines() if line.startswith("{")][-1])
    print(f"{label:34s} {result['step_s'] * 1000:8.0f} ms per step", flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=32, help="global batch")
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--steps", type=int, default=5, help="timed steps (after 2 warm-ups)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.batch_size, args.seq_len, args.steps)
        return

    me = [__file__, "--worker", "--batch-size", str(args.batch_size)]
    me += ["--seq-len", str(args.seq_len), "--steps", str(args.steps)]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    print(
        f"default model shape, global batch {args.batch_size} x seq {args.seq_len}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}; torch {torch.__version__}"
    )
    one = measure("1 process x 1 thread", [sys.executable, *me], 1)
    two_threads = measure("1 process x 2 threads", [sys.executable, *me], 2)
    two = measure("torchrun 2 processes x 1 thread", [*torchrun, "--nproc_per_node", "2", *me], 1)
    t1, t2, ar = one["step_s"], two["step_s"], two["allreduce_s"]
    print(f"speed-up of 2 processes over 1 process x 1 thread:  {t1 / t2:.2f}x")
    print(f"speed-up of 2 processes over 1 process x 2 threads: {two_threads['step_s'] / t2:.2f}x")
    mb = one["grad_bytes"] / 1e6
    bandwidth = 2 * (2 - 1) / 2 * one["grad_bytes"] / ar  # bytes/s of the 2-rank ring
    print(
        f"gradient {mb:.1f} MB; its all-reduce over 2 local processes {ar * 1000:.0f} ms "
        f"({bandwidth / 1e9:.2f} GB/s effective)"
    )
    print("model t(N) = t(1)/N + 2(N-1)/N * bytes / bandwidth, one core per process:")
    for n in (2, 4, 8, 16):
        t = t1 / n + 2 * (n - 1) / n * one["grad_bytes"] / bandwidth
        print(f"  N={n:2d}: {t * 1000:7.0f} ms per step, {t1 / t:5.2f}x")


if __name__ == "__main__":
    main()
