"""VQA data: a synthetic question set over MBG-style scenes, and a VQA v2 loader.

Chapter 13 (``chapters/13_vqa.ipynb``) uses both. **Synthetic scenes (ours):** the MBG
recipe (:mod:`arnn_lite.datasets.mbg`: photo background, palette blobs, distractor
crops, non-overlapping coloured MNIST digits) on a small canvas, with one templated
question per image. Four question types:

* ``colour``: "what colour is the three ?" (answer: a colour);
* ``digit``: "which digit is red ?" (the colour is held by exactly one digit);
* ``count``: "how many digits are blue ?" (answer: "zero" ... "three");
* ``position``: "is the three left of the seven ?" (yes / no, by box centres).

Each item is a function of ``(seed, split, index)`` alone, like MBG's.

**VQA v2** (Goyal et al., 2017): :class:`VQAv2Features` reads the official question and
annotation JSON files plus image features you computed beforehand (e.g. ResNet-152
``res5c``, 14×14×2048, as MCB used), one ``<image_id>.pt`` file per image.
"""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .._checks import check_choice, check_positive
from .mbg import COLOUR_NAMES, MBG, PALETTE, SPLIT_IDS, _digit_pool, _resize

__all__ = ["VQAScenes", "QTYPES", "VOCAB", "ANSWERS", "DIGIT_WORDS", "MAX_LEN", "encode",
           "decode", "tokenize", "VQAv2Features", "VQA2_QTYPES", "vqa2_files"]

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
QTYPES = ("colour", "digit", "count", "position")
RELATIONS = {"left": ("left", "of"), "right": ("right", "of"), "above": ("above",), "below": ("below",)}
VOCAB = ("<pad>", "<unk>", "what", "colour", "is", "the", "which", "digit", "how", "many",
         "digits", "are", "left", "right", "of", "above", "below", "?") + COLOUR_NAMES + DIGIT_WORDS
ANSWERS = COLOUR_NAMES + DIGIT_WORDS + ("yes", "no")
MAX_LEN = 8  # "is the three left of the seven ?"


def encode(words, vocab=VOCAB, max_len=MAX_LEN):
    """Words -> ``(max_len,)`` long token ids (0 pads at the end; unknown words -> 1) and
    the length (truncated to ``max_len``)."""
    index = {w: k for k, w in enumerate(vocab)}
    ids = [index.get(w, 1) for w in words][:max_len]
    return torch.tensor(ids + [0] * (max_len - len(ids))), len(ids)


def decode(tokens, vocab=VOCAB) -> str:
    """Token ids ``(L,)`` -> the question as text (padding dropped)."""
    return " ".join(vocab[int(t)] for t in tokens if int(t) != 0)


class VQAScenes(Dataset):
    """Synthetic VQA over MBG-style scenes.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"`` (disjoint MNIST pools, as MBG).
        size: number of items; seed: dataset seed; canvas: image side.
        num_digits, scales, distractors, blobs: the scene recipe (see :class:`MBG`); the
            defaults (the book protocol's) clutter less than MBG's, which a short CPU run
            could not learn beyond the answer priors.
        qtypes: the question types to draw from (uniformly).

    Items: ``image`` ``(3, canvas, canvas)`` in [0, 1]; ``question`` ``(MAX_LEN,)`` long;
    ``length`` int; ``answer`` int (index into :data:`ANSWERS`); ``qtype`` int (index into
    :data:`QTYPES`); ``box`` ``(4,)`` ``(x0, y0, x1, y1)`` of the digit the question is
    about (colour and digit questions; ``-1`` otherwise).
    """

    def __init__(self, split="train", size=1000, seed=0, canvas=48, num_digits=(2, 3),
                 scales=(0.7, 0.9), distractors=2, blobs=0, qtypes=QTYPES):
        if isinstance(qtypes, str):
            raise ValueError(f"qtypes: expected a sequence of question types from {list(QTYPES)}, "
                             f"got the string {qtypes!r} (write ({qtypes!r},))")
        if not len(qtypes):
            raise ValueError(f"qtypes: expected at least one of {list(QTYPES)}, got {qtypes!r}")
        for q in qtypes:
            check_choice(q, QTYPES, "qtypes")
        if num_digits[0] < 2:
            raise ValueError(f"num_digits: expected at least 2 digits (position questions), got {num_digits}")
        if 2 * int(28 * scales[0]) > canvas:
            raise ValueError(f"scales: two digits of the smallest scale must fit side by side on "
                             f"canvas={canvas}, i.e. 2 * int(28 * low) <= canvas, got {scales}")
        self.scene = MBG(split, size, seed, canvas=canvas, num_digits=num_digits, scales=scales,
                         distractors=distractors, blobs=blobs, version=1)  # the scenes chapter 13 was run on
        self.split, self.size, self.seed, self.canvas = split, size, seed, canvas
        self.qtypes = tuple(qtypes)
        self.vocab, self.answers, self.qtype_names = VOCAB, ANSWERS, QTYPES

    def __len__(self):
        return self.size

    def rng(self, index: int) -> np.random.Generator:
        """The random stream of one item (distinct from MBG's streams by the last key)."""
        return np.random.default_rng([self.seed, SPLIT_IDS[self.split], index, 13])

    def __getitem__(self, index):
        if not 0 <= index < self.size:
            raise IndexError(f"index: expected 0 <= index < {self.size}, got {index}")
        rng = self.rng(index)
        qtype = self.qtypes[int(rng.integers(len(self.qtypes)))]
        digits_img, by_class = _digit_pool(self.split)
        image = self.scene.background(rng)  # (3, S, S) in 0..255
        self.scene.scatter_distractors(rng, image, digits_img)
        placed = self.scene.place_digits(rng)  # [(digit, side, x0, y0)], distinct digits
        while len(placed) < 2:  # rare on a crowded canvas: lay out again from the same stream
            placed = self.scene.place_digits(rng)
        colours = self.colours(rng, qtype, len(placed))
        for (digit, side, x0, y0), colour in zip(placed, colours):
            ink = _resize(digits_img[int(rng.choice(by_class[digit]))], side)  # (side, side)
            self.scene.paint(rng, image, ink, PALETTE[colour], x0, y0)
        words, answer, box = self.ask(rng, qtype, placed, colours)
        question, length = encode(words)
        return {"image": (image / 255.0).clamp(0, 1).float(), "question": question,
                "length": length, "answer": ANSWERS.index(answer),
                "qtype": QTYPES.index(qtype), "box": torch.tensor(box)}

    @staticmethod
    def colours(rng, qtype, count):
        """Colour indices; for ``digit`` questions the first digit's colour is unique."""
        if qtype != "digit":
            return [int(c) for c in rng.integers(5, size=count)]
        target = int(rng.integers(5))
        others = [c for c in range(5) if c != target]
        return [target] + [others[int(i)] for i in rng.integers(4, size=count - 1)]

    @staticmethod
    def ask(rng, qtype, placed, colours):
        """The question's words, the answer word and the box of the digit asked about."""
        digit, side, x0, y0 = placed[0]  # digit classes are drawn in random order
        box = [x0, y0, x0 + side, y0 + side]
        if qtype == "colour":
            return ["what", "colour", "is", "the", DIGIT_WORDS[digit], "?"], COLOUR_NAMES[colours[0]], box
        if qtype == "digit":
            return ["which", "digit", "is", COLOUR_NAMES[colours[0]], "?"], DIGIT_WORDS[digit], box
        if qtype == "count":  # half the time a colour that is present, so counts are not mostly zero
            c = colours[int(rng.integers(len(colours)))] if rng.random() < 0.5 else int(rng.integers(5))
            words = ["how", "many", "digits", "are", COLOUR_NAMES[c], "?"]
            return words, DIGIT_WORDS[sum(k == c for k in colours)], [-1] * 4
        return VQAScenes.ask_position(rng, placed)

    @staticmethod
    def ask_position(rng, placed):
        """"is the A left of / right of / above / below the B ?" by box centres; an axis on
        which the two centres are under 4 px apart is swapped for the other axis."""
        (a, sa, xa, ya), (b, sb, xb, yb) = placed[0], placed[1]
        dx, dy = (xa + sa / 2) - (xb + sb / 2), (ya + sa / 2) - (yb + sb / 2)  # A minus B
        relation = ("left", "right", "above", "below")[int(rng.integers(4))]
        horizontal = relation in ("left", "right")
        if abs(dx if horizontal else dy) < 4:  # boxes do not overlap: the other axis separates them
            relation = {"left": "above", "right": "below", "above": "left", "below": "right"}[relation]
        truth = {"left": dx < 0, "right": dx > 0, "above": dy < 0, "below": dy > 0}[relation]
        words = ["is", "the", DIGIT_WORDS[a], *RELATIONS[relation], "the", DIGIT_WORDS[b], "?"]
        return words, "yes" if truth else "no", [-1] * 4


# -- VQA v2 from precomputed features ------------------------------------------------
VQA2_QTYPES = ("yes/no", "number", "other")


def vqa2_files(root, split: str) -> dict:
    """The files :class:`VQAv2Features` expects under ``root`` for ``split`` (``train``/``val``)."""
    root = Path(root)
    return {"questions": root / f"v2_OpenEnded_mscoco_{split}2014_questions.json",
            "annotations": root / f"v2_mscoco_{split}2014_annotations.json",
            "features": root / "features" / f"{split}2014"}


def tokenize(text: str) -> list[str]:
    """Lower-case words of a question (punctuation dropped, apostrophes kept)."""
    return re.findall(r"[a-z0-9']+", text.lower())


class VQAv2Features(Dataset):
    """VQA v2 questions over precomputed image features.

    Args:
        root: folder holding, for ``split``, the official
            ``v2_OpenEnded_mscoco_<split>2014_questions.json`` and
            ``v2_mscoco_<split>2014_annotations.json``, and
            ``features/<split>2014/<image_id>.pt`` (a tensor ``(C, H, W)`` per image).
        split: ``"train"`` or ``"val"``.
        vocab, answers: word and answer lists (pass the training set's for ``val``);
            built from this split when ``None`` (most frequent ``num_answers`` answers).
        max_len: questions are truncated to this many words.

    Items as :class:`VQAScenes` (``image`` is the feature map; ``answer`` is ``-1`` when
    the most common answer is outside :attr:`answers`) plus ``scores`` ``(A,)``: the
    VQA accuracy of each answer, ``min(#annotators who gave it / 3, 1)``.
    """

    def __init__(self, root, split="train", vocab=None, answers=None, num_answers=3000, max_len=14):
        check_choice(split, ("train", "val"), "split")
        check_positive(max_len, "max_len")
        check_positive(num_answers, "num_answers")
        files = vqa2_files(root, split)
        missing = [str(p) for p in files.values() if not p.exists()]
        if missing:
            raise FileNotFoundError(
                f"VQA v2 ({split}): expected under {root}: {', '.join(p.name for p in files.values())} "
                f"(features/{split}2014/ holds one <image_id>.pt tensor (C, H, W) per image); "
                f"missing: {', '.join(missing)}")
        questions = json.loads(files["questions"].read_text())["questions"]
        notes = {a["question_id"]: a for a in json.loads(files["annotations"].read_text())["annotations"]}
        self.items = [(q, notes[q["question_id"]]) for q in questions]
        self.features, self.max_len = files["features"], max_len
        if vocab is None:
            words = collections.Counter(w for q, _ in self.items for w in tokenize(q["question"]))
            vocab = ("<pad>", "<unk>") + tuple(sorted(words))
        if answers is None:
            counts = collections.Counter(a["multiple_choice_answer"] for _, a in self.items)
            answers = tuple(a for a, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:num_answers])
        self.vocab, self.answers, self.qtype_names = tuple(vocab), tuple(answers), VQA2_QTYPES
        self._answer_index = {a: k for k, a in enumerate(self.answers)}

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        q, note = self.items[index]
        question, length = encode(tokenize(q["question"]), self.vocab, self.max_len)
        scores = torch.zeros(len(self.answers))
        for answer, n in collections.Counter(a["answer"] for a in note["answers"]).items():
            if answer in self._answer_index:
                scores[self._answer_index[answer]] = min(n / 3.0, 1.0)
        image = torch.load(self.features / f"{q['image_id']}.pt", weights_only=True).float()
        return {"image": image, "question": question, "length": max(length, 1),
                "answer": self._answer_index.get(note["multiple_choice_answer"], -1),
                "qtype": VQA2_QTYPES.index(note["answer_type"]) if note["answer_type"] in VQA2_QTYPES else 2,
                "box": torch.tensor([-1] * 4), "scores": scores}
