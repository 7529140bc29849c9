"""The synthetic VQA scenes and the VQA v2 loader (on a tiny example written here)."""

import json

import pytest
import torch

from arnn_lite.datasets.mbg import PALETTE
from arnn_lite.datasets.vqa import (
    ANSWERS,
    DIGIT_WORDS,
    MAX_LEN,
    QTYPES,
    VOCAB,
    VQAScenes,
    VQAv2Features,
    decode,
    encode,
    vqa2_files,
)


@pytest.fixture(scope="module")
def scenes():
    ds = VQAScenes("val", size=60, seed=3)
    return ds, [ds[i] for i in range(len(ds))]


def test_items_are_deterministic_per_seed_and_index(scenes):
    ds, items = scenes
    again = VQAScenes("val", size=60, seed=3)[5]
    for key in ("image", "question", "box"):
        assert torch.equal(again[key], items[5][key])
    assert (again["answer"], again["length"]) == (items[5]["answer"], items[5]["length"])
    assert not torch.equal(items[5]["image"], items[6]["image"])
    assert not torch.equal(VQAScenes("val", size=60, seed=4)[5]["image"], items[5]["image"])


def test_shapes_and_every_question_type_appears(scenes):
    ds, items = scenes
    it = items[0]
    assert it["image"].shape == (3, 48, 48) and it["image"].dtype == torch.float32
    assert it["question"].shape == (MAX_LEN,) and it["question"].dtype == torch.long
    assert {QTYPES[i["qtype"]] for i in items} == set(QTYPES)


def test_answers_fit_their_question_type(scenes):
    _, items = scenes
    for it in items:
        text, answer, qtype = decode(it["question"]), ANSWERS[it["answer"]], QTYPES[it["qtype"]]
        assert len(text.split()) == it["length"]
        if qtype == "colour":
            assert text.startswith("what colour is the") and answer in ("red", "green", "blue", "yellow", "white")
        elif qtype == "digit":
            assert text.startswith("which digit is") and answer in DIGIT_WORDS
        elif qtype == "count":
            assert text.startswith("how many digits are") and answer in DIGIT_WORDS[:4]
        else:
            assert text.startswith("is the") and answer in ("yes", "no")
        assert (it["box"] >= 0).all() == (qtype in ("colour", "digit"))


def test_colour_answers_are_painted_inside_the_box():
    """The ink of the asked-about digit is the answer's colour (plus N(0, 10) noise);
    without distractors and blobs nothing else in its box has a palette colour."""
    ds = VQAScenes("val", size=40, seed=3, distractors=0, blobs=0, qtypes=("colour",))
    checked = 0
    for it in map(ds.__getitem__, range(len(ds))):
        if QTYPES[it["qtype"]] != "colour":
            continue
        x0, y0, x1, y1 = it["box"].tolist()
        patch = it["image"][:, y0:y1, x0:x1].reshape(3, -1) * 255  # (3, P)
        dist = (patch[None] - PALETTE[:, :, None]).norm(dim=1)  # (5, P)
        near = (dist < 40).sum(1)  # pixels close to each palette colour
        assert int(near.argmax()) == ("red", "green", "blue", "yellow", "white").index(ANSWERS[it["answer"]])
        checked += 1
    assert checked == 40


def test_encode_decode_roundtrip_and_unknown_words():
    tokens, length = encode(["what", "colour", "is", "the", "seven", "?"])
    assert decode(tokens) == "what colour is the seven ?" and length == 6
    tokens, _ = encode(["what", "shade"])
    assert tokens[1] == VOCAB.index("<unk>")


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="qtypes"):
        VQAScenes(qtypes=("colour", "shape"))
    with pytest.raises(ValueError, match="at least 2 digits"):
        VQAScenes(num_digits=(1, 3))
    with pytest.raises(ValueError, match="side by side"):
        VQAScenes(canvas=40, scales=(0.8, 1.0))


def write_tiny_vqa2(root, split, questions, features=(4, 3, 3)):
    """Official-format JSON files and one feature file per image, as a user would have."""
    files = vqa2_files(root, split)
    files["features"].mkdir(parents=True, exist_ok=True)
    qs, notes = [], []
    for k, (image_id, text, answers, answer_type) in enumerate(questions):
        qid = image_id * 10 + k
        qs.append({"image_id": image_id, "question": text, "question_id": qid})
        common = max(set(answers), key=answers.count)
        notes.append({"question_id": qid, "image_id": image_id, "answer_type": answer_type,
                      "question_type": "what", "multiple_choice_answer": common,
                      "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                                  for i, a in enumerate(answers)]})
        torch.save(torch.full(features, float(image_id)), files["features"] / f"{image_id}.pt")
    files["questions"].write_text(json.dumps({"questions": qs, "task_type": "Open-Ended"}))
    files["annotations"].write_text(json.dumps({"annotations": notes}))


def test_vqa2_loader_reads_the_official_format(tmp_path):
    write_tiny_vqa2(tmp_path, "train", [
        (1, "What colour is the cat?", ["black"] * 6 + ["grey"] * 4, "other"),
        (2, "Is it raining?", ["no"] * 9 + ["yes"], "yes/no"),
        (2, "How many dogs?", ["2"] * 5 + ["3"] * 2 + ["two"] * 3, "number")])
    write_tiny_vqa2(tmp_path, "val", [(3, "Is the cat asleep?", ["yes"] * 2 + ["maybe"] * 8, "yes/no")])
    train = VQAv2Features(tmp_path, "train")
    assert train.answers[:3] == ("2", "black", "no") and len(train) == 3
    it = train[0]
    assert it["image"].shape == (4, 3, 3) and float(it["image"][0, 0, 0]) == 1.0
    assert decode(it["question"], train.vocab) == "what colour is the cat" and it["length"] == 5
    assert train.answers[it["answer"]] == "black" and it["qtype"] == 2
    assert float(it["scores"][train.answers.index("black")]) == 1.0
    number = train[2]
    assert number["qtype"] == 1 and float(number["scores"][train.answers.index("2")]) == 1.0
    val = VQAv2Features(tmp_path, "val", vocab=train.vocab, answers=train.answers)
    v = val[0]
    assert v["answer"] == -1  # "maybe" is not among the training answers
    assert decode(v["question"], val.vocab) == "is the cat <unk>"
    assert float(v["scores"].sum()) == 0.0  # "yes" not in the tiny training answers either


def test_vqa2_loader_names_the_files_it_expects(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        VQAv2Features(tmp_path, "val")
    message = str(err.value)
    for name in ("v2_OpenEnded_mscoco_val2014_questions.json", "v2_mscoco_val2014_annotations.json",
                 "val2014", "<image_id>.pt"):
        assert name in message
