"""Small heads on per-pixel features: the classifiers and regressors the field uses, by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tessera.errors import ConfigError
from tessera.heads.registry import CLASSIFIERS, REGRESSORS, head_spec, task_spec

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = ["CLASSIFIERS", "REGRESSORS", "make_head"]


def make_head(name: str, task: str = "classification", seed: int = 0) -> Pipeline:
    """A scikit-learn pipeline (standardise → model). Defaults suit 10²–10⁵ labelled pixels."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if head_spec(name, task).spatial:
        raise ConfigError(f"the {name} head works on whole images, not pixels: fit it with heads.mapping.fit_head")
    if task_spec(task).classes:
        models = {
            "logistic": lambda: LogisticRegression(max_iter=2000),
            "knn": lambda: KNeighborsClassifier(n_neighbors=5, weights="distance"),
            "rf": lambda: RandomForestClassifier(n_estimators=200, n_jobs=-1, random_state=seed),
            "mlp": lambda: MLPClassifier((256,), max_iter=500, early_stopping=False, random_state=seed),
        }
    else:
        models = {
            "ridge": lambda: Ridge(alpha=1.0),
            "rf": lambda: RandomForestRegressor(n_estimators=200, n_jobs=-1, random_state=seed),
            "mlp": lambda: MLPRegressor((256,), max_iter=500, random_state=seed),
        }
    return make_pipeline(StandardScaler(), models[name]())
