"""What the chapter tests read back from the cache."""

import torch


def builders(cache, recipe):
    """The qualified builder names of the checkpoints ``recipe`` wrote (read from their stored keys)."""
    return sorted(torch.load(p, weights_only=True)["key"]["build"] for p in cache.glob(f"*{recipe}-*.pt"))
