"""Exact cosine k-nearest-neighbour search by chunked matrix products (what faiss ``IndexFlatIP`` computes)."""

from __future__ import annotations

import numpy as np
import torch


def l2_normalized(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); an all-zero row stays zero instead of becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.finfo(np.float32).tiny)


def knn(
    queries: np.ndarray, index: np.ndarray, k: int, *, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Inner-product top-``k`` of each query row among the ``index`` rows, best first: (similarities
    ``[n, k]`` float32, row indices ``[n, k]`` int64). Pass L2-normalised rows for cosine. Queries go in
    chunks so memory stays at ``chunk × len(index)`` floats."""
    if not 1 <= k <= len(index):
        raise ValueError(f"k={k} neighbours requested from an index of {len(index)} rows")
    q, db = torch.from_numpy(np.ascontiguousarray(queries)), torch.from_numpy(np.ascontiguousarray(index))
    sims, inds = [], []
    for start in range(0, len(q), chunk):
        top = torch.topk(q[start : start + chunk] @ db.T, k, dim=1)
        sims.append(top.values.numpy())
        inds.append(top.indices.numpy())
    if not sims:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
    return np.concatenate(sims), np.concatenate(inds)
