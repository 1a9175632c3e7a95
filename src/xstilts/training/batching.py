"""Length-grouped batches: shuffle, then sort within mega-batches so each batch pads little (the same idea as
``transformers``' ``group_by_length``), deterministic given (seed, epoch)."""

from __future__ import annotations

import numpy as np


def length_grouped_batches(
    lengths: list[int] | np.ndarray, batch_size: int, seed: int, epoch: int, mega: int = 50
) -> list[list[int]]:
    """Indices of every row, batched: random order, sorted by length inside windows of ``mega`` batches.

    The longest batch comes first so an out-of-memory error shows at step one, not hours in.
    """
    lengths = np.asarray(lengths)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    window = batch_size * mega
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    if len(batches) > 1:
        longest = max(range(len(batches)), key=lambda b: lengths[batches[b][0]])
        batches[0], batches[longest] = batches[longest], batches[0]
        tail = batches[1:]
        perm = rng.permutation(len(tail))
        batches = [batches[0]] + [tail[i] for i in perm]
    return batches


def sorted_batches(lengths: list[int] | np.ndarray, max_tokens: int, max_batch: int) -> list[list[int]]:
    """Inference batches: rows sorted by length, packed up to a padded-token budget (no padding waste)."""
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    batches, current, width = [], [], 0
    for i in order.tolist():
        w = max(width, int(lengths[i]))
        if current and (w * (len(current) + 1) > max_tokens or len(current) >= max_batch):
            batches.append(current)
            current, w = [], int(lengths[i])
        current.append(i)
        width = w
    if current:
        batches.append(current)
    return batches
