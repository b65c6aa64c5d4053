"""convbert_edge: ConvBERT models to phones and plain CPUs, quantized and verified.

Light at import: the model stacks (torch, tensorflow) load only when asked for.
"""

from convbert_edge.config import ConvBertConfig
from convbert_edge.errors import (
    CheckpointError,
    ConfigError,
    ConvBertEdgeError,
    InputError,
    TokenizerError,
)
from convbert_edge.tasks import Task

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ConfigError",
    "ConvBertConfig",
    "ConvBertEdgeError",
    "ConvBertTokenizer",
    "ConvBertTokenizerFast",
    "InputError",
    "Task",
    "TokenizerError",
    "__version__",
]


def __getattr__(name: str):
    # The tokenizers are imported on first use so that `import convbert_edge` stays cheap.
    if name in ("ConvBertTokenizer", "ConvBertTokenizerFast"):
        from convbert_edge import tokenizer

        return getattr(tokenizer, name)
    raise AttributeError(f"module 'convbert_edge' has no attribute {name!r}")
