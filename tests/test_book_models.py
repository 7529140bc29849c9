"""``arnn_lite.book.models.load_model``: every shipped model loads from its results file and
is the model that made the recorded per-item test predictions (checked on the first items of
its rebuilt test split); MGAN's generators load their shipped weights; files without a model
or without weights are refused with a message that names them."""

from pathlib import Path

import pytest
import torch
from torch.utils.data import Subset

from arnn_lite.book.models import LOADABLE, load_model
from arnn_lite.experiments import results
from arnn_lite.experiments.common import Refused
from arnn_lite.experiments.predictions import BUILDERS, rebuild
from arnn_lite.models.mgan import ModularGenerator
from arnn_lite.train import TrainConfig, load_checkpoint, make_loader
from tests.helpers import torch_threads

ITEMS = 8  # first test items whose predictions are recomputed
SHIPPED = [r for r in results.load_results("*/*/*.json")
           if r["experiment"] in LOADABLE and "checkpoint" in r
           and (Path(r["path"]).parent / r["checkpoint"]["file"]).exists()]


def _name(r):
    return str(Path(r["path"]).relative_to(Path(r["path"]).parents[2]))


CLASSIFIERS = [r for r in SHIPPED if r["experiment"] in BUILDERS]


def test_every_experiment_the_chapters_show_has_shipped_models():
    assert {r["experiment"] for r in SHIPPED} == set(LOADABLE)
    assert all(r["provenance"]["seed"] == 0 for r in SHIPPED)


@pytest.mark.parametrize("result", CLASSIFIERS, ids=_name)
def test_load_model_gives_the_model_of_the_recorded_predictions(result):
    recorded = results.read_predictions(result)
    assert recorded is not None, f"{_name(result)}: no per-item predictions shipped"
    with torch_threads(1):
        net = load_model(result)
        _, test, evaluate = rebuild(result)  # the split the predictions were made on
        first = Subset(test, range(ITEMS))
        loader = make_loader(first, TrainConfig(batch_size=ITEMS), 0, shuffle=False)
        with torch.no_grad():
            got = evaluate(net, loader, "cpu")
    assert not net.training
    assert got["labels"] == recorded["labels"][:ITEMS]
    assert got["predictions"] == recorded["predictions"][:ITEMS]


@pytest.mark.parametrize("result", [r for r in SHIPPED if r["experiment"] == "mgan"], ids=_name)
def test_load_model_loads_mgan_generators(result):
    net = load_model(result["path"])  # a path works as well as a loaded results file
    assert isinstance(net, ModularGenerator) and not net.training
    shipped = load_checkpoint(Path(result["path"]).parent / result["checkpoint"]["file"])
    state = net.state_dict()
    # checkpoints written before the inverse-raster direction was renamed call it "backward"
    shipped = {k.replace(".backward_lstm.", ".reverse_lstm."): v for k, v in shipped.items()}
    assert state.keys() == shipped.keys()
    assert all(torch.equal(state[k], shipped[k]) for k in state)


def test_results_without_a_model_or_weights_are_refused():
    judge = results.load_results("mgan/book/classifier.json")[0]  # the judge, not a shown model
    with pytest.raises(ValueError, match=r"^result: expected .*'mgan_classifier'"):
        load_model(judge)
    unet = results.load_results("mbg/book/unet2.json")[0]
    assert not (Path(unet["path"]).parent / unet["checkpoint"]["file"]).exists()  # over 5 MB
    with pytest.raises(Refused, match="no shipped weights"):
        load_model(unet)
    generator = results.load_results("mgan/book/mgan.json")[0]
    with pytest.raises(Refused, match="no shipped weights .*not next to"):
        load_model({**generator, "checkpoint": {"file": "missing.pt", "sha256": "0" * 64}})
