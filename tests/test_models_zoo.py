"""One registry of attention names (arnn_lite.models.zoo, issue 17): every model and CLI takes
its names from it, the names shipped results files record are in it, and every shipped
checkpoint still loads into the model its config names."""

import json
from pathlib import Path

import pytest
import torch

from arnn_lite.experiments import bench, gpucheck, scalability
from arnn_lite.models import cbam, mbg, mgan, vqa, zoo
from arnn_lite.toys import shapes
from arnn_lite.train import load_checkpoint

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "results"
ACCEPTED = {  # each model's names (its own tuple) and where a CLI or study uses them
    "models.mbg.ATTENTIONS": mbg.ATTENTIONS, "models.mbg.FRONTS": mbg.FRONTS[1:],
    "models.cbam.SPATIAL": cbam.SPATIAL, "models.vqa.ATTENTIONS": vqa.ATTENTIONS,
    "models.mgan.ATTENTIONS": mgan.ATTENTIONS, "toys.shapes.ATTENTIONS": shapes.ATTENTIONS,
    "experiments.scalability.FRONTS": scalability.FRONTS,
    "experiments.gpucheck": gpucheck.MEMORY_MODELS + gpucheck.AMP_MODELS,
    "experiments.bench": tuple(c.attention for c in {**bench.MODULES, **bench.NETWORKS}.values()),
}
KEYS = ("model", "attention", "spatial", "front")  # where results files record an attention


def _shipped():
    return sorted(SHIPPED.glob("*/*/*.json"))


@pytest.mark.parametrize("where", ACCEPTED)
def test_every_models_names_are_registry_names(where):
    unknown = [name for name in ACCEPTED[where] if name not in zoo.ATTENTIONS]
    assert not unknown, f"{where}: {unknown} not in arnn_lite.models.zoo.ATTENTIONS"
    assert all(zoo.ATTENTIONS[name] for name in ACCEPTED[where])  # each one described


def test_every_name_a_results_file_records_is_in_the_registry():
    recorded = {(path.relative_to(SHIPPED).as_posix(), key, value)
                for path in _shipped() for key, value in json.loads(path.read_text())["config"].items()
                if key in KEYS and isinstance(value, str)}
    assert len(recorded) > 20  # mbg, mbg_inv, mbg_scale, cbam, vqa, mgan
    assert [r for r in recorded if r[2] not in zoo.ATTENTIONS] == []


@pytest.mark.parametrize("name", list(zoo.ATTENTIONS))
@pytest.mark.parametrize("query_dim", [None, 3])
def test_every_registry_name_builds_a_mask(name, query_dim, one_thread):
    torch.manual_seed(0)
    if name in zoo.NO_QUERY and query_dim is not None:
        with pytest.raises(ValueError, match=f"query_dim: expected None for '{name}'"):
            zoo.make_attention(name, 4, query_dim)
        return
    module = zoo.make_attention(name, 4, query_dim, hidden=2, block_size=2)
    if name == "none":
        assert module is None
        return
    x, q = torch.randn(2, 4, 7, 6), (None if query_dim is None else torch.randn(2, query_dim))
    with torch.no_grad():
        mask = module(x, q)
    assert mask.shape == (2, 1, 7, 6) and float(mask.min()) >= 0 and float(mask.max()) <= 1


def test_options_reach_the_module():
    arnn = zoo.make_attention("arnn", 4, 3, normalization="softmax", hidden=5, context_size=1)
    assert arnn.normalization == "softmax" and arnn.hidden_channels == 5
    assert zoo.make_attention("brnn", 4, block_size=3).block_size == 3
    assert zoo.make_attention("cbam", 4, context_size=7).conv.kernel_size == (7, 7)
    assert set(zoo.make_attention("mgan", 4).state_dict()) == {"weight", "bias"}  # shipped keys


@pytest.mark.parametrize("call, message", [
    (lambda: zoo.make_attention("arnnn", 4), "attention: expected one of"),
    (lambda: zoo.make_attention("ctx", 4, normalization="sigmod"), "normalization: expected one of"),
    (lambda: zoo.make_attention("mgan", 4, context_size=2), "kernel_size: expected a positive odd"),
    (lambda: shapes.ToyNet("unet2"), "attention: expected one of"),
    (lambda: mbg.MBGNet("att"), "attention: expected one of"),
])
def test_an_unknown_or_unfit_name_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _model(result, state):
    """The network a shipped results file's config names, built from the config alone."""
    c, experiment = result["config"], result["experiment"]
    if experiment == "mbg_scale":
        return mbg.MBGNet(c["model"], front=c["front"], block_size=c["block_size"])
    if experiment in ("mbg", "mbg_inv"):
        inverse = experiment == "mbg_inv"
        return mbg.MBGNet(c["model"], num_classes=10 if inverse else 5, query_dim=5 if inverse else 10)
    if experiment == "cbam":
        return cbam.cbam_resnet(c["depth"], 10 if c["dataset"] == "mnist" else 100, c["spatial"],
                                c["context_size"], c["width"])
    if experiment == "vqa":  # the vocabularies' sizes from the weights: the data are not needed
        return vqa.MCBNet(c["attention"], vocab_size=len(state["question.embed.weight"]),
                          num_answers=len(state["classifier.1.weight"]), seed=result["provenance"]["seed"],
                          **c["model"])
    if experiment == "mgan":
        return mgan.ModularGenerator(c["attention"], **c["generator"])
    assert experiment == "mgan_classifier", experiment
    return mgan.HairClassifier()


@pytest.mark.parametrize("path", [p.relative_to(SHIPPED).as_posix() for p in _shipped()
                                  if json.loads(p.read_text()).get("checkpoint")
                                  and (p.parent / json.loads(p.read_text())["checkpoint"]["file"]).exists()])
def test_every_shipped_checkpoint_loads_into_the_named_model(path, one_thread):
    result = json.loads((SHIPPED / path).read_text())
    record = result["checkpoint"]
    state = load_checkpoint((SHIPPED / path).parent / record["file"], record["sha256"])
    _model(result, state).load_state_dict(state)  # strict: the same keys and shapes


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("channels,query_dim", [(32, 10), (32, 5), (16, 10)])
def test_capacity_matched_ctx_has_arnns_parameter_count(channels, query_dim):
    """CTX-wide: CTX with a wider context, the smallest width whose module has at least the
    AttentionRNN's parameters (so "ARNN has more parameters" can be ruled in or out)."""
    wide = zoo.make_attention("ctx_wide", channels, query_dim)
    arnn = zoo.make_attention("arnn", channels, query_dim)
    narrower = zoo.make_attention("ctx", channels, query_dim, context_channels=wide.out_channels - 1)
    assert _count(narrower) < _count(arnn) <= _count(wide) <= _count(arnn) * 1.02
    assert wide(torch.randn(2, channels, 6, 6), torch.randn(2, query_dim)).shape == (2, 1, 6, 6)


def test_mbgnet_with_capacity_matched_ctx_matches_arnns_size():
    wide, arnn, ctx = (_count(mbg.MBGNet(a)) for a in ("ctx_wide", "arnn", "ctx"))
    assert ctx < arnn <= wide <= arnn * 1.02
