"""How well per-pixel reliability (``embed --reliability``) ranks a map's errors. Dropping the
pixels below a reliability before fitting or mapping is the heads' quality screen
(``tessera.access.quality.screen``, ``--min-reliability``)."""

from __future__ import annotations

import numpy as np

from tessera.errors import LabelError


def reliability_auc(trust: np.ndarray, wrong: np.ndarray) -> float:
    """AUC of ``1 − trust`` for telling ``wrong`` pixels from right ones (NaN trust dropped):
    0.5 ranks nothing, 1 puts every error below every right pixel. A trust that is the same for
    every pixel — a model that ignores its input — ranks nothing and is refused in one line."""
    from sklearn.metrics import roc_auc_score

    trust, wrong = np.asarray(trust, np.float64).ravel(), np.asarray(wrong, bool).ravel()
    keep = np.isfinite(trust)
    trust, wrong = trust[keep], wrong[keep]
    if trust.size == 0:
        raise LabelError("no pixel has a reliability; embed with --reliability first")
    if np.ptp(trust) == 0:
        raise LabelError(
            f"reliability is {trust[0]:.3f} for every pixel: it cannot rank them (a model whose embeddings do not "
            "depend on the observations, e.g. constant or untrained weights?)"
        )
    if wrong.all() or not wrong.any():
        raise LabelError("the pixels are all right or all wrong: there is nothing for reliability to rank")
    return float(roc_auc_score(wrong, -trust))
