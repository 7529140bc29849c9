"""Every bad input to a public constructor or forward is a ``ValueError`` that names the
argument, what was expected and what came (DESIGN.md §3, issue 15 §3).

One table of ``(callable, expected message)``: wrong rank, channels, dtype or spatial size;
a missing or mis-shaped query; an unknown option; an obviously invalid size, count or seed.
Every case is checked at construction or at the forward's entry, never by a torch error
from deep inside (shapes and dtypes only: no value check that would sync a GPU).
"""

import math

import pytest
import torch

from arnn_lite import (
    AttentionRNN,
    BlockAttentionRNN,
    CBAMSpatialGate,
    ContextAttention,
    DiagonalBiLSTM,
    DiagonalLSTM,
    NoContextAttention,
    SANAttention,
    UNetAttention,
)
from arnn_lite.attention import QueryContext, UNet, normalize
from arnn_lite.datasets.cluttered import cluttered_mnist
from arnn_lite.datasets.faces import SyntheticFaces, celeba_hair
from arnn_lite.datasets.mbg import MBG
from arnn_lite.datasets.vqa import VQAScenes, VQAv2Features
from arnn_lite.models.cbam import CBAM, ARNNSpatialGate, BasicBlock, CBAMResNet, ChannelGate, cbam_resnet
from arnn_lite.models.mbg import MBGNet
from arnn_lite.models.mgan import Discriminator, Encoder, HairClassifier, ModularGenerator, Reconstructor, Transformer
from arnn_lite.models.vqa import CompactBilinearPooling, ImageEncoder, MCBNet, QuestionEncoder
from arnn_lite.models.zoo import make_attention

NAN, INF = math.nan, math.inf
LONG, BOOL = torch.long, torch.bool


def x(*shape, dtype=torch.float32):
    return torch.zeros(*shape, dtype=dtype)


def mbg(**kw):
    return MBGNet(**{"attention": "arnn", "channels": 4, "hidden": 2, **kw})


def gen(**kw):
    return ModularGenerator(**{"conv_dim": 4, "downsample": 1, "repeat": 0, "hidden": 4, **kw})


def mcb(**kw):
    return MCBNet(**{"attention": "arnn", "vocab_size": 20, "d": 32, "channels": 8, "hidden": 8,
                     "att_channels": 4, "arnn_hidden": 2, **kw})


def vqa_call(image=None, question=None, lengths=None):
    """MCBNet on a batch of 2: 12×12 images, questions of 5 words."""
    image = x(2, 3, 12, 12) if image is None else image
    question = torch.ones(2, 5, dtype=LONG) if question is None else question
    lengths = torch.tensor([5, 3]) if lengths is None else lengths
    return mcb()(image, question, lengths)


IMG = r"image: expected a 4-d tensor"
FLOAT = "expected a floating-point tensor"
SIZE = "expected height and width of at least"

BAD = [
    # -- core layers: options, sizes, dtypes, zero-size maps -----------------------
    ("normalize_unknown", lambda: normalize(x(1, 1, 2, 2), "sigmod"),
     r"normalization: expected one of \['sigmoid', 'softmax'\], got 'sigmod'"),
    ("normalize_rank", lambda: normalize(x(1, 4), "softmax"), "logits: expected a 4-d tensor"),
    ("temperature_nan", lambda: AttentionRNN(3, 2)(x(1, 3, 3, 3), sample=True, temperature=NAN),
     "temperature: expected a positive number, got nan"),
    ("temperature_inf", lambda: AttentionRNN(3, 2)(x(1, 3, 3, 3), sample=True, temperature=INF),
     "temperature: expected a positive number, got inf"),
    ("temperature_negative", lambda: AttentionRNN(3, 2)(x(1, 3, 3, 3), sample=True, temperature=-1.0),
     "temperature: expected a positive number, got -1.0"),
    ("brnn_temperature_nan",
     lambda: BlockAttentionRNN(3, 2)(x(1, 3, 4, 4), sample=True, temperature=NAN), "temperature"),
    ("ctx_context_channels_0", lambda: ContextAttention(3, context_channels=0),
     "context_channels: expected a positive integer, got 0"),
    ("arnn_context_channels_0", lambda: AttentionRNN(3, 2, context_channels=0),
     "context_channels: expected a positive integer, got 0"),
    ("san_context_channels_-1", lambda: SANAttention(3, context_channels=-1),
     "context_channels: expected a positive integer, got -1"),
    ("lstm_feedback_-1", lambda: DiagonalLSTM(3, 2, feedback_channels=-1),
     "feedback_channels: expected a non-negative integer, got -1"),
    ("lstm_feedback_float", lambda: DiagonalLSTM(3, 2, feedback_channels=1.5),
     "feedback_channels: expected a non-negative integer, got 1.5"),
    ("query_context_query_dim_0", lambda: QueryContext(3, 4, query_dim=0),
     "query_dim: expected a positive integer, got 0"),
    ("unet_query_dim_0", lambda: UNet(3, query_dim=0), "query_dim: expected a positive integer, got 0"),
    ("arnn_int_input", lambda: AttentionRNN(3, 2)(x(1, 3, 4, 4, dtype=LONG)), "x: " + FLOAT + ", got torch.int64"),
    ("arnn_bool_input", lambda: AttentionRNN(3, 2)(x(1, 3, 4, 4, dtype=BOOL)), "x: " + FLOAT + ", got torch.bool"),
    ("arnn_zero_height", lambda: AttentionRNN(3, 2)(x(1, 3, 0, 4)), r"x: " + SIZE + r" 1, got shape \(1, 3, 0, 4\)"),
    ("arnn_zero_width", lambda: AttentionRNN(3, 2)(x(1, 3, 4, 0)), "x: " + SIZE + " 1"),
    ("ctx_int_input", lambda: ContextAttention(3)(x(1, 3, 4, 4, dtype=LONG)), "x: " + FLOAT),
    ("ctx_zero_height", lambda: ContextAttention(3)(x(1, 3, 0, 4)), "x: " + SIZE),
    ("noctx_bool_input", lambda: NoContextAttention(3)(x(1, 3, 4, 4, dtype=BOOL)), "x: " + FLOAT),
    ("san_zero_width", lambda: SANAttention(3)(x(1, 3, 4, 0)), "x: " + SIZE),
    ("unet_att_zero_height", lambda: UNetAttention(3, base_channels=4)(x(1, 3, 0, 4)), "x: " + SIZE),
    ("unet_att_int", lambda: UNetAttention(3, base_channels=4)(x(1, 3, 4, 4, dtype=LONG)), "x: " + FLOAT),
    ("cbam_gate_int", lambda: CBAMSpatialGate(3, 3)(x(1, 3, 4, 4, dtype=LONG)), "x: " + FLOAT),
    ("cbam_gate_zero", lambda: CBAMSpatialGate(3, 3)(x(1, 3, 4, 0)), "x: " + SIZE),
    ("lstm_int", lambda: DiagonalLSTM(3, 2)(x(1, 3, 4, 4, dtype=LONG)), "x: " + FLOAT),
    ("lstm_zero_height", lambda: DiagonalLSTM(3, 2)(x(1, 3, 0, 4)), "x: " + SIZE),
    ("bilstm_bool", lambda: DiagonalBiLSTM(3, 2)(x(1, 3, 4, 4, dtype=BOOL)), "x: " + FLOAT),
    ("bilstm_zero_width", lambda: DiagonalBiLSTM(3, 2)(x(1, 3, 4, 0)), "x: " + SIZE),
    ("query_int", lambda: ContextAttention(3, query_dim=2)(x(1, 3, 4, 4), x(1, 2, dtype=LONG)),
     "query: " + FLOAT),
    ("query_context_channels", lambda: QueryContext(3, 4)(x(1, 2, 4, 4)), "x: expected 3 channels"),
    ("query_context_missing_query", lambda: QueryContext(3, 4, query_dim=2)(x(1, 3, 4, 4)),
     r"query: expected a tensor of shape \(B, 2\), got None"),
    ("unet_rank", lambda: UNet(3, base_channels=4)(x(3, 4, 4)), "x: expected a 4-d tensor"),
    ("unet_channels", lambda: UNet(3, base_channels=4)(x(1, 2, 4, 4)), "x: expected 3 channels"),
    # -- MBGNet ---------------------------------------------------------------------
    ("mbg_rank", lambda: mbg()(x(2, 3, 46), torch.eye(10)[:2]), IMG),
    ("mbg_unbatched", lambda: mbg()(x(3, 46, 46), torch.eye(10)[:1]), IMG),
    ("mbg_channels", lambda: mbg()(x(2, 1, 46, 46), torch.eye(10)[:2]),
     r"image: expected 3 channels, shape \(B, 3, H, W\), got 1 channels"),
    ("mbg_int", lambda: mbg()(x(2, 3, 46, 46, dtype=torch.uint8), torch.eye(10)[:2]),
     "image: " + FLOAT + ", got torch.uint8"),
    ("mbg_too_small", lambda: mbg()(x(2, 3, 20, 20), torch.eye(10)[:2]),
     r"image: " + SIZE + r" 46 \(4 stages of a valid 3×3 conv and a 2×2 pool\), got shape \(2, 3, 20, 20\)"),
    ("mbg_front_too_small", lambda: mbg(front="none")(x(2, 3, 60, 60), torch.eye(10)[:2]), "image: " + SIZE + " 94"),
    ("mbg_zero_height", lambda: mbg()(x(2, 3, 0, 46), torch.eye(10)[:2]), "image: " + SIZE),
    ("mbg_query_missing", lambda: mbg()(x(2, 3, 46, 46), None), r"query: expected a tensor of shape \(B, 10\), got None"),
    ("mbg_query_width", lambda: mbg()(x(2, 3, 46, 46), torch.eye(5)[:2]), r"query: expected shape \(2, 10\), got \(2, 5\)"),
    ("mbg_query_batch", lambda: mbg()(x(2, 3, 46, 46), torch.eye(10)[:3]), r"query: expected shape \(2, 10\), got \(3, 10\)"),
    ("mbg_query_rank", lambda: mbg()(x(2, 3, 46, 46), torch.eye(10)[0]), "query: expected a 2-d tensor"),
    ("mbg_query_int", lambda: mbg()(x(2, 3, 46, 46), torch.eye(10, dtype=LONG)[:2]), "query: " + FLOAT),
    ("mbg_none_query_missing", lambda: MBGNet("none", channels=4)(x(2, 3, 46, 46), None), "query: expected a tensor"),
    ("mbg_num_classes_0", lambda: mbg(num_classes=0), "num_classes: expected a positive integer, got 0"),
    ("mbg_hidden_0", lambda: mbg(hidden=0), "hidden: expected a positive integer, got 0"),
    ("mbg_none_hidden_0", lambda: MBGNet("none", hidden=0), "hidden: expected a positive integer, got 0"),
    ("mbg_query_dim_0", lambda: mbg(query_dim=0), "query_dim: expected a positive integer, got 0"),
    ("mbg_block_size_0", lambda: mbg(front="brnn", block_size=0), "block_size: expected a positive integer, got 0"),
    ("mbg_temperature_nan", lambda: mbg(temperature=NAN), "temperature: expected a positive number, got nan"),
    ("mbg_temperature_0", lambda: mbg(temperature=0), "temperature: expected a positive number, got 0"),
    ("mbg_channels_bool", lambda: mbg(channels=True), "channels: expected a positive integer, got True"),
    ("make_attention_unknown", lambda: make_attention("arnnn", 4, 10), "attention: expected one of"),
    ("make_attention_normalization", lambda: make_attention("ctx", 4, 10, normalization="sigmod"),
     "normalization: expected one of"),
    # -- CBAM and the CBAM ResNet ---------------------------------------------------
    ("resnet_rank", lambda: cbam_resnet(8, 10, width=4)(x(2, 3, 8)), "images: expected a 4-d tensor"),
    ("resnet_unbatched", lambda: cbam_resnet(8, 10, width=4)(x(3, 8, 8)), "images: expected a 4-d tensor"),
    ("resnet_channels", lambda: cbam_resnet(8, 10, width=4)(x(2, 1, 8, 8)), "images: expected 3 channels"),
    ("resnet_int", lambda: cbam_resnet(8, 10, width=4)(x(2, 3, 8, 8, dtype=torch.uint8)), "images: " + FLOAT),
    ("resnet_zero_height", lambda: cbam_resnet(8, 10, width=4)(x(2, 3, 0, 8)), "images: " + SIZE),
    ("resnet_in_channels_0", lambda: cbam_resnet(8, 10, in_channels=0), "in_channels: expected a positive integer, got 0"),
    ("resnet_arnn_hidden_0", lambda: cbam_resnet(8, 10, "arnn", arnn_hidden=0), "arnn_hidden: expected a positive integer, got 0"),
    ("resnet_arnn_context_0", lambda: cbam_resnet(8, 10, "arnn", arnn_context=0), "arnn_context: expected a positive integer, got 0"),
    ("resnet_blocks_0", lambda: CBAMResNet(0, 10), "blocks_per_stage: expected a positive integer, got 0"),
    ("resnet_class_num_classes_0", lambda: CBAMResNet(1, 0), "num_classes: expected a positive integer, got 0"),
    ("cbam_channels", lambda: CBAM(8)(x(2, 4, 5, 5)), r"x: expected 8 channels, shape \(B, 8, H, W\), got 4"),
    ("cbam_rank", lambda: CBAM(8)(x(8, 5, 5)), "x: expected a 4-d tensor"),
    ("cbam_arnn_int", lambda: CBAM(8, "arnn")(x(2, 8, 5, 5, dtype=LONG)), "x: " + FLOAT),
    ("cbam_zero_width", lambda: CBAM(8)(x(2, 8, 5, 0)), "x: " + SIZE),
    ("cbam_none_channels", lambda: CBAM(8, "none", channel=False)(x(2, 4, 5, 5)), "x: expected 8 channels"),
    ("cbam_channels_0", lambda: CBAM(0, "none", channel=False), "channels: expected a positive integer, got 0"),
    ("cbam_reduction_0", lambda: CBAM(8, channel=False, reduction=0), "reduction: expected a positive integer, got 0"),
    ("channel_gate_channels", lambda: ChannelGate(8)(x(2, 4, 5, 5)), "x: expected 8 channels"),
    ("arnn_gate_rank", lambda: ARNNSpatialGate()(x(2, 5, 5)), "x: expected a 4-d tensor"),
    ("arnn_gate_context_0", lambda: ARNNSpatialGate(context_channels=0), "context_channels: expected a positive integer, got 0"),
    ("block_channels", lambda: BasicBlock(4, 8)(x(2, 3, 5, 5)), "x: expected 4 channels"),
    ("block_stride_0", lambda: BasicBlock(4, 8, stride=0), "stride: expected a positive integer, got 0"),
    # -- ModularGAN -----------------------------------------------------------------
    ("critic_unbatched", lambda: Discriminator(16, 4, 2)(x(3, 16, 16)), IMG),
    ("critic_channels", lambda: Discriminator(16, 4, 2)(x(2, 1, 16, 16)), "image: expected 3 channels"),
    ("critic_wrong_size", lambda: Discriminator(16, 4, 2)(x(2, 3, 32, 32)),
     r"image: expected shape \(B, 3, 16, 16\) \(image_size=16\), got \(2, 3, 32, 32\)"),
    ("critic_not_square", lambda: Discriminator(16, 4, 2)(x(2, 3, 16, 8)), r"image: expected shape \(B, 3, 16, 16\)"),
    ("critic_int", lambda: Discriminator(16, 4, 2)(x(2, 3, 16, 16, dtype=torch.uint8)), "image: " + FLOAT),
    ("critic_image_size_0", lambda: Discriminator(0, 4, 2), "image_size: expected a positive integer, got 0"),
    ("critic_conv_dim_0", lambda: Discriminator(16, 0, 2), "conv_dim: expected a positive integer, got 0"),
    ("critic_repeat_-1", lambda: Discriminator(16, 4, -1), "repeat: expected a non-negative integer, got -1"),
    ("critic_attributes_0", lambda: Discriminator(16, 4, 2, num_attributes=0), "num_attributes: expected a positive integer, got 0"),
    ("gen_unbatched", lambda: gen()(x(3, 16, 16), torch.eye(3)[:1]), IMG),
    ("gen_odd_size", lambda: gen()(x(2, 3, 15, 16), torch.eye(3)[:2]),
     r"image: expected height and width divisible by 2\*\*downsample = 2, got shape \(2, 3, 15, 16\)"),
    ("gen_int", lambda: gen()(x(2, 3, 16, 16, dtype=torch.uint8), torch.eye(3)[:2]), "image: " + FLOAT),
    ("gen_zero_size", lambda: gen()(x(2, 3, 0, 16), torch.eye(3)[:2]), "image: " + SIZE),
    ("gen_c_missing", lambda: gen()(x(2, 3, 16, 16), None), r"c: expected a tensor of shape \(B, 3\), got NoneType"),
    ("gen_reconstruct_channels", lambda: gen().reconstruct(x(2, 1, 16, 16)), "image: expected 3 channels"),
    ("gen_conv_dim_0", lambda: gen(conv_dim=0), "conv_dim: expected a positive integer, got 0"),
    ("gen_downsample_-1", lambda: gen(downsample=-1), "downsample: expected a non-negative integer, got -1"),
    ("gen_repeat_-1", lambda: gen(repeat=-1), "repeat: expected a non-negative integer, got -1"),
    ("gen_hidden_0", lambda: gen(attention="arnn", hidden=0), "hidden: expected a positive integer, got 0"),
    ("gen_attributes_0", lambda: gen(num_attributes=0), "num_attributes: expected a positive integer, got 0"),
    ("encoder_norm", lambda: Encoder(4, norm="batch"), r"norm: expected one of \['instance', 'none'\], got 'batch'"),
    ("encoder_channels", lambda: Encoder(4, 1)(x(2, 1, 8, 8)), "image: expected 3 channels"),
    ("reconstructor_norm", lambda: Reconstructor(8, 1, norm="batch"), "norm: expected one of"),
    ("reconstructor_channels", lambda: Reconstructor(8, 1)(x(2, 4, 4, 4)), "features: expected 8 channels"),
    ("reconstructor_halving", lambda: Reconstructor(6, 2), r"channels: expected a multiple of 2\*\*upsample = 4, got 6"),
    ("transformer_channels_0", lambda: Transformer(0), "channels: expected a positive integer, got 0"),
    ("transformer_repeat_-1", lambda: Transformer(4, repeat=-1), "repeat: expected a non-negative integer, got -1"),
    ("transformer_int", lambda: Transformer(4, repeat=0)(x(2, 4, 4, 4, dtype=LONG), torch.eye(3)[:2]), "x: " + FLOAT),
    ("hair_too_small", lambda: HairClassifier(4)(x(2, 3, 4, 4)), "image: " + SIZE + " 8"),
    ("hair_int", lambda: HairClassifier(4)(x(2, 3, 16, 16, dtype=torch.uint8)), "image: " + FLOAT),
    ("hair_width_0", lambda: HairClassifier(0), "width: expected a positive integer, got 0"),
    # -- MCBNet -----------------------------------------------------------------------
    ("vqa_image_rank", lambda: vqa_call(image=x(3, 12, 12)), IMG),
    ("vqa_image_channels", lambda: vqa_call(image=x(2, 1, 12, 12)), "image: expected 3 channels"),
    ("vqa_image_int", lambda: vqa_call(image=x(2, 3, 12, 12, dtype=torch.uint8)), "image: " + FLOAT),
    ("vqa_image_too_small", lambda: vqa_call(image=x(2, 3, 2, 2)), "image: " + SIZE + " 4"),
    ("vqa_image_batch", lambda: vqa_call(image=x(3, 3, 12, 12)), r"image: expected batch size 2 \(that of question\), got 3"),
    ("vqa_question_rank", lambda: vqa_call(question=torch.ones(5, dtype=LONG)), "question: expected a 2-d tensor"),
    ("vqa_question_float", lambda: vqa_call(question=torch.ones(2, 5)), "question: expected an integer tensor of token ids, got torch.float32"),
    ("vqa_question_empty", lambda: vqa_call(question=torch.ones(2, 0, dtype=LONG), lengths=torch.tensor([1, 1])),
     "question: expected at least one word"),
    ("vqa_question_token", lambda: vqa_call(question=torch.full((2, 5), 20)), r"question: expected token ids in \[0, 20\), got 20"),
    ("vqa_question_negative_token", lambda: vqa_call(question=-torch.ones(2, 5, dtype=LONG)), r"question: expected token ids in \[0, 20\), got -1"),
    ("vqa_lengths_batch", lambda: vqa_call(lengths=torch.tensor([5, 3, 2])), r"lengths: expected shape \(2,\) \(one per question\), got \(3,\)"),
    ("vqa_lengths_rank", lambda: vqa_call(lengths=torch.tensor([[5, 3]])), r"lengths: expected a 1-d tensor of shape \(2,\)"),
    ("vqa_lengths_zero", lambda: vqa_call(lengths=torch.tensor([5, 0])), r"lengths: expected values in \[1, 5\] \(words in each question\), got 0"),
    ("vqa_lengths_too_long", lambda: vqa_call(lengths=torch.tensor([6, 3])), r"lengths: expected values in \[1, 5\] \(words in each question\), got 6"),
    ("vqa_lengths_float", lambda: vqa_call(lengths=torch.tensor([5.0, 3.0])), "lengths: expected an integer tensor"),
    ("vqa_lengths_list", lambda: vqa_call(lengths=[5, 3]), "lengths: expected a tensor"),
    ("vqa_vocab_0", lambda: mcb(vocab_size=0), "vocab_size: expected a positive integer, got 0"),
    ("vqa_answers_0", lambda: mcb(num_answers=0), "num_answers: expected a positive integer, got 0"),
    ("vqa_d_att_0", lambda: mcb(d_att=0), "d_att: expected a positive integer, got 0"),
    ("vqa_channels_0", lambda: mcb(channels=0), "channels: expected a positive integer, got 0"),
    ("vqa_hidden_0", lambda: mcb(hidden=0), "hidden: expected a positive integer, got 0"),
    ("vqa_att_channels_0", lambda: mcb(att_channels=0), "att_channels: expected a positive integer, got 0"),
    ("vqa_arnn_hidden_0", lambda: mcb(arnn_hidden=0), "arnn_hidden: expected a positive integer, got 0"),
    ("vqa_image_channels_0", lambda: mcb(image_channels=0), "image_channels: expected a positive integer, got 0"),
    ("vqa_dropout", lambda: mcb(dropout=1.5), r"dropout: expected a probability in \[0, 1\), got 1.5"),
    ("mcb_pooling_y_width", lambda: CompactBilinearPooling(4, 6, 8)(x(2, 4), x(2, 5)),
     r"y: expected last dimension 6 \(length of the hash\), got shape \(2, 5\)"),
    ("question_encoder_vocab_0", lambda: QuestionEncoder(0), "vocab_size: expected a positive integer, got 0"),
    ("image_encoder_channels_1", lambda: ImageEncoder(1), "channels: expected at least 2"),
    # -- datasets: constructor arguments ---------------------------------------------
    ("mbg_distractors_-1", lambda: MBG("test", 4, distractors=-1), "distractors: expected a non-negative integer, got -1"),
    ("mbg_blobs_-1", lambda: MBG("test", 4, blobs=-1), "blobs: expected a non-negative integer, got -1"),
    ("mbg_seed_-1", lambda: MBG("test", 4, seed=-1), "seed: expected a non-negative integer, got -1"),
    ("mbg_seed_float", lambda: MBG("test", 4, seed=1.5), "seed: expected a non-negative integer, got 1.5"),
    ("mbg_num_digits_pair", lambda: MBG("test", 4, num_digits=(5,)), r"num_digits: expected a \(low, high\) pair"),
    ("mbg_scales_zero_side", lambda: MBG("test", 4, scales=(0.01, 0.5)), "scales: expected"),
    ("mbg_canvas_distractors", lambda: MBG("test", 4, canvas=5, scales=(0.1, 0.15)),
     "canvas: expected at least 6 pixels"),
    ("cluttered_seed_-1", lambda: cluttered_mnist("test", 2, seed=-1), "seed: expected a non-negative integer, got -1"),
    ("cluttered_clutter_-1", lambda: cluttered_mnist("test", 2, clutter=-1), "clutter: expected a non-negative integer, got -1"),
    ("faces_seed_-1", lambda: SyntheticFaces("test", 4, seed=-1), "seed: expected a non-negative integer, got -1"),
    ("celeba_image_size_0", lambda: celeba_hair("/nonexistent", image_size=0), "image_size: expected a positive integer, got 0"),
    ("celeba_crop_size_0", lambda: celeba_hair("/nonexistent", crop_size=0), "crop_size: expected a positive integer, got 0"),
    ("scenes_qtypes_empty", lambda: VQAScenes("test", 4, qtypes=()), "qtypes: expected at least one of"),
    ("scenes_qtypes_string", lambda: VQAScenes("test", 4, qtypes="colour"), "qtypes: expected a sequence of question types"),
    ("scenes_seed_-1", lambda: VQAScenes("test", 4, seed=-1), "seed: expected a non-negative integer, got -1"),
    ("scenes_distractors_-1", lambda: VQAScenes("test", 4, distractors=-1), "distractors: expected a non-negative integer"),
    ("vqa2_num_answers_0", lambda: VQAv2Features("/nonexistent", num_answers=0), "num_answers: expected a positive integer, got 0"),
]


@pytest.mark.parametrize("make, match", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_input_is_a_clear_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_table_has_unique_ids():
    ids = [case[0] for case in BAD]
    assert len(ids) == len(set(ids))
