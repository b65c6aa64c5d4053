"""`python -m convbert_edge.train` with the in-memory toy data set of tests/test_train.py.

tests/test_distributed.py starts this under torchrun: the CLI's own ``main`` (torchrun's
environment, the process group, the data-parallel loop) on a data set that needs no
download. Arguments are the CLI's; ``--dataset toy`` picks the toy set. With
TOY_PID_DIR set, each rank writes its pid to TOY_PID_DIR/rank<RANK>.pid (the kill test).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from test_train import TOY

from convbert_edge import train as train_cli
from convbert_edge.data import DATASETS
from convbert_edge.training import loop

if __name__ == "__main__":
    # "toy" passes --dataset's choices and the config check as a registry name would;
    # the loop is handed TOY instead of loading anything.
    DATASETS["toy"] = dataclasses.replace(DATASETS["movie_reviews"], name="toy")
    loop.training_data = lambda name, cache_dir: TOY
    if "TOY_PID_DIR" in os.environ:
        pid_file = Path(os.environ["TOY_PID_DIR"]) / f"rank{os.environ['RANK']}.pid"
        pid_file.write_text(str(os.getpid()))
    train_cli.main(sys.argv[1:])
