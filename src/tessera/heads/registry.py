"""What tessera knows of each task and each head, held once: which task predicts classes, what a
map holds where there is no prediction, which metric a curve is read by; which heads serve which
task, which one works on whole images (the UNet) and how each is saved. Code asks these tables
rather than comparing names. NumPy only: the models themselves are built in ``models``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from tessera.errors import ConfigError, LabelError
from tessera.heads.labels import NO_LABEL

Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = get_args(Task)


@dataclass(frozen=True)
class TaskSpec:
    """One task's facts."""

    name: Task
    classes: bool  # predicts class ids (int32, NO_LABEL = none) rather than values (float32, NaN = none)
    metric: str  # what learning curves are plotted and compared by

    @property
    def dtype(self) -> type[np.generic]:
        return np.int32 if self.classes else np.float32

    @property
    def no_value(self) -> float:
        """A map's value (and a label's) where there is none: NO_LABEL or NaN."""
        return NO_LABEL if self.classes else float("nan")

    def labelled(self, labels: np.ndarray) -> np.ndarray:
        """True where ``labels`` hold a label (or a map a prediction)."""
        return labels != NO_LABEL if self.classes else ~np.isnan(labels)

    def empty(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """An array of ``shape`` holding no value anywhere, in the task's dtype."""
        return np.full(shape, self.no_value, self.dtype)


TASK_SPECS: dict[str, TaskSpec] = {
    "classification": TaskSpec("classification", classes=True, metric="accuracy"),
    "regression": TaskSpec("regression", classes=False, metric="r2"),
}


def task_spec(task: str) -> TaskSpec:
    """The facts of ``task``, or a one-line error naming the choices."""
    try:
        return TASK_SPECS[task]
    except KeyError:
        raise LabelError(f"task {task!r} must be classification or regression") from None


def check_task(task: str) -> Task:
    """``task`` as a :data:`Task`, or a one-line error naming the choices."""
    return task_spec(task).name


@dataclass(frozen=True)
class HeadSpec:
    """One head's facts."""

    name: str
    tasks: tuple[Task, ...]
    spatial: bool = False  # fits and predicts whole (H, W, D) images, not labelled pixels
    suffix: str = ".skops"  # how a fitted head is saved (``persist``): skops, or safetensors for torch heads


HEADS: dict[str, HeadSpec] = {
    "logistic": HeadSpec("logistic", ("classification",)),
    "knn": HeadSpec("knn", ("classification",)),
    "rf": HeadSpec("rf", ("classification", "regression")),
    "mlp": HeadSpec("mlp", ("classification", "regression")),
    "ridge": HeadSpec("ridge", ("regression",)),
    "unet": HeadSpec("unet", ("classification",), spatial=True, suffix=".safetensors"),
}

# The pixel heads of each task, in the order the CLI lists them.
CLASSIFIERS = tuple(n for n, h in HEADS.items() if "classification" in h.tasks and not h.spatial)
REGRESSORS = tuple(n for n, h in HEADS.items() if "regression" in h.tasks and not h.spatial)


def head_spec(name: str, task: str = "classification") -> HeadSpec:
    """The facts of head ``name`` for ``task``, or a one-line error naming the heads that task has."""
    task = check_task(task)
    spec = HEADS.get(name)
    choices = ", ".join(n for n, h in HEADS.items() if task in h.tasks)
    if spec is None:
        raise ConfigError(f"head {name!r} is not one of {choices} for {task}")
    if task not in spec.tasks:
        raise ConfigError(f"the {name} head does {' and '.join(spec.tasks)} only; for {task} use one of {choices}")
    return spec
