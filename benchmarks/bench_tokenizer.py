"""Tokenizer throughput: ours against transformers 4.57.6 on real sentences, same run.

    python benchmarks/bench_tokenizer.py [--sentences 10000] [--max-length 128]
        [--repeats 5] [--cache-dir DIR]

Encodes the first N movie-review snippets (convbert_edge.data, fetched on first use)
to int32/int64 numpy arrays of shape (N, max_length) with padding="max_length" and
truncation=True, in one batch call. Each variant runs once to warm up, then the
repeats go round-robin so that load from other processes hits all variants alike.
Prints the median seconds, sentences per second and each variant's time relative
to transformers' fast tokenizer. Checks first that all fast outputs are identical.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from convbert_edge import ConvBertTokenizer, ConvBertTokenizerFast
from convbert_edge.data import cache_dir_from_environ, load_movie_reviews
from convbert_edge.tokenizer_files import default_vocab_path

Encoder = Callable[[list[str]], dict]


def make_encoders(max_length: int, with_slow: bool) -> dict[str, Encoder]:
    from transformers.models.convbert import tokenization_convbert as hf_slow
    from transformers.models.convbert import tokenization_convbert_fast as hf_fast

    vocab = str(default_vocab_path())
    tokenizers = {
        "convbert_edge fast": ConvBertTokenizerFast(),
        "transformers fast": hf_fast.ConvBertTokenizerFast(vocab),
    }
    if with_slow:
        tokenizers["convbert_edge slow"] = ConvBertTokenizer()
        tokenizers["transformers slow"] = hf_slow.ConvBertTokenizer(vocab)
    kwargs = {"padding": "max_length", "truncation": True, "max_length": max_length,
              "return_tensors": "np"}  # fmt: skip
    return {name: (lambda texts, t=tok: t(texts, **kwargs)) for name, tok in tokenizers.items()}


def run_benchmark(texts: list[str], encoders: dict[str, Encoder], repeats: int) -> dict:
    """Median seconds per variant; raises if any variant's input_ids differ from the first."""
    reference = None
    for name, encode in encoders.items():  # warm-up, and a parity check of the outputs
        ids = np.asarray(encode(texts)["input_ids"])
        if "slow" in name:
            continue  # slow and fast may differ on rare inputs; the tests cover both
        if reference is None:
            reference = ids
        elif not np.array_equal(ids, reference):
            raise AssertionError(f"{name} gives different input_ids from the first variant")
    times: dict[str, list[float]] = {name: [] for name in encoders}
    for _ in range(repeats):
        for name, encode in encoders.items():
            start = time.perf_counter()
            encode(texts)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def report(medians: dict[str, float], n: int, max_length: int) -> str:
    base = medians["transformers fast"]
    header = f"{'variant':<22}{'seconds':>10}{'sentences/s':>14}{'time / transformers fast':>26}"
    lines = [f"{n} sentences -> ({n}, {max_length}) arrays, median of repeats:", header]
    for name, sec in medians.items():
        lines.append(f"{name:<22}{sec:>10.3f}{n / sec:>14,.0f}{sec / base:>26.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-slow", action="store_true", help="skip the slow tokenizers")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    cache_dir = args.cache_dir or cache_dir_from_environ(os.environ)
    texts = [e.text for e in load_movie_reviews(cache_dir)][: args.sentences]
    if len(texts) < args.sentences:
        raise SystemExit(f"only {len(texts)} sentences available")
    encoders = make_encoders(args.max_length, with_slow=not args.no_slow)
    medians = run_benchmark(texts, encoders, args.repeats)
    print(f"threads: RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}, "
          f"cpus={os.cpu_count()}")  # fmt: skip
    print(report(medians, len(texts), args.max_length))


if __name__ == "__main__":
    main()
