"""arm64 without a phone: artifacts run by the aarch64 LiteRT / ExecuTorch under qemu-user.

    result = verify_on_arm64("artifacts/tflite-int8")   # builds the environment on first use

recipe.py says what the environment is made of, environment.py builds and caches it,
runner.py runs an artifact's golden inputs in it, emulated.py is what runs inside.
"""

from .environment import Arm64Environment, Arm64Error, ensure_environment
from .recipe import Arm64Recipe
from .runner import Arm64Options, verify_on_arm64

__all__ = [
    "Arm64Environment",
    "Arm64Error",
    "Arm64Options",
    "Arm64Recipe",
    "ensure_environment",
    "verify_on_arm64",
]
