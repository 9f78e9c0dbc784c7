"""An independent NumPy DLRM (float64), written from the reference's semantics (mapper/apps/dlrm.py's
docstring), not from the rdagen graph: the click probabilities of a batch."""

from __future__ import annotations

import numpy as np

__all__ = ["forward"]


def _linear_stack(weights: dict, prefix: str, h: np.ndarray, sigmoid_last: bool) -> np.ndarray:
    layers = sorted(int(name.split(".")[1]) for name in weights if name.startswith(prefix) and name.endswith(".weight"))
    for n, j in enumerate(layers):
        w = weights[f"{prefix}.{j}.weight"].astype(np.float64)
        b = weights[f"{prefix}.{j}.bias"].astype(np.float64)
        h = h @ w.T + b
        h = 1 / (1 + np.exp(-h)) if sigmoid_last and n == len(layers) - 1 else np.maximum(h, 0)
    return h


def forward(weights: dict, dense_x: np.ndarray, offsets: np.ndarray, indices: list, interaction: str) -> np.ndarray:
    """Probabilities [B, n] of the batch (dense_x [B, 13], offsets [T, B], indices[K] for table K): the
    sigmoid of each of the top MLP's n last outputs, as the reference gives them."""
    x = _linear_stack(weights, "bot_l", np.asarray(dense_x, np.float64), sigmoid_last=False)
    batch = x.shape[0]
    embedded = []
    for k, idx in enumerate(indices):
        table = weights[f"emb_l.{k}.weight"].astype(np.float64)
        ends = list(offsets[k][1:]) + [len(idx)]
        embedded.append(np.array([table[idx[s:e]].sum(axis=0) for s, e in zip(offsets[k], ends)]).reshape(batch, -1))
    if interaction == "dot":
        t = np.stack([x] + embedded, axis=1)  # [B, F + 1, D]
        z = np.einsum("bid,bjd->bij", t, t)
        rows, cols = np.tril_indices(t.shape[1], -1)  # row-major strict lower triangle: (1,0), (2,0), (2,1), ...
        r = np.concatenate([x, z[:, rows, cols]], axis=1)
    else:
        r = np.concatenate([x] + embedded, axis=1)
    return _linear_stack(weights, "top_l", r, sigmoid_last=True)
