"""The trained models the book ships, loaded from their results files (chapters 09-14).

    from arnn_lite.book.models import load_model
    net = load_model(results.load_results("mbg/book/arnn.json")[0])   # eval mode, on the CPU

One function for every chapter that shows a shipped model at work: the classification runs
(MBG, MBGⁱⁿᵛ, the scalability study, CBAM, VQA) are rebuilt by
:func:`arnn_lite.experiments.predictions.rebuild`, the same code that reproduces their
recorded test accuracy; MGAN's generators (chapter 14) by the one line its experiment uses.
Weights are read from the file the results file names, next to it, SHA-256 checked.

Not imported by ``arnn_lite.book`` itself: it pulls in the experiments and the data sets,
which the setup cell must not need before it has installed their dependencies on Colab.
"""

from __future__ import annotations

from pathlib import Path

import torch.nn as nn

from ..experiments import results
from ..experiments.common import Refused
from ..experiments.predictions import BUILDERS, rebuild
from ..train import load_checkpoint

__all__ = ["LOADABLE", "load_model"]

LOADABLE = (*BUILDERS, "mgan")  # experiments whose shipped model load_model rebuilds


def _generator(result) -> nn.Module:
    """MGAN's generator as ``experiments.mgan.run`` builds it (the critic is not shipped)."""
    from ..models.mgan import ModularGenerator

    c = result["config"]
    return ModularGenerator(c["attention"], **c["generator"])


def load_model(result, device="cpu") -> nn.Module:
    """The trained model that ``result`` describes, its shipped weights loaded, in eval mode.

    Args:
        result: a results file as :func:`arnn_lite.experiments.results.load_results` gives
            it (with its ``path``), or the path of one.
        device: where the model goes.

    Raises:
        ValueError: ``result`` names an experiment without a model to load (e.g. a probe).
        Refused: no weights are shipped next to the results file (the U-Net runs).
        arnn_lite.train.CheckpointError: the weights file is not the one the run wrote.

    A classification run is rebuilt with its test split (:func:`~arnn_lite.experiments.
    predictions.rebuild`): the first call per split generates and caches it (seconds),
    later ones read the cache.
    """
    if isinstance(result, (str, Path)):
        result = {**results.read_result(result), "path": str(result)}
    experiment = result.get("experiment")
    if experiment not in LOADABLE:
        raise ValueError(f"result: expected a results file of one of {list(LOADABLE)}, got "
                         f"experiment {experiment!r} ({result.get('path', 'no path')})")
    if experiment in BUILDERS:
        return rebuild(result, device)[0]
    record = result.get("checkpoint")
    weights = Path(result["path"]).parent / record["file"] if record else None
    if weights is None or not weights.exists():
        raise Refused(f"no shipped weights ({weights.name if weights else 'none recorded'} is not "
                      f"next to {result['path']})")
    net = _generator(result)
    net.load_state_dict(load_checkpoint(weights, record["sha256"]))
    return net.eval().to(device)
