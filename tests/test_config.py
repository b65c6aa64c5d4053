"""ConvBertConfig: round trips with transformers' ConvBertConfig and clear errors on bad input."""

import json

import pytest
from transformers.models.convbert.configuration_convbert import ConvBertConfig as HFConfig

from convbert_edge import ConfigError, ConvBertConfig
from convbert_edge.config import PRESETS

HF_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
    "layer_norm_eps",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "embedding_size",
    "head_ratio",
    "conv_kernel_size",
    "num_groups",
    "classifier_dropout",
)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_ours_to_transformers_round_trip(preset, tmp_path):
    ours = ConvBertConfig.preset(preset, id2label={0: "neg", 1: "neu", 2: "pos"})
    ours.save_pretrained(tmp_path)
    theirs = HFConfig.from_pretrained(tmp_path)
    for name in HF_FIELDS:
        assert getattr(theirs, name) == getattr(ours, name), name
    assert theirs.id2label == ours.id2label
    assert theirs.label2id == ours.label2id
    assert theirs.num_labels == 3
    assert ConvBertConfig.from_pretrained(tmp_path) == ours


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_transformers_to_ours_round_trip(preset, tmp_path):
    values = {**PRESETS[preset], "vocab_size": 30522, "conv_kernel_size": 9, "pad_token_id": 0}
    theirs = HFConfig(**values, num_labels=4, classifier_dropout=0.2)
    theirs.save_pretrained(tmp_path / "hf")  # writes only the non-default values
    ours = ConvBertConfig.from_pretrained(tmp_path / "hf")
    for name in HF_FIELDS:
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.num_labels == 4
    ours.save_pretrained(tmp_path / "ours")
    back = HFConfig.from_pretrained(tmp_path / "ours")
    assert back.to_diff_dict() | {"transformers_version": None} == theirs.to_diff_dict() | {
        "transformers_version": None
    }


def test_unknown_keys_are_kept(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "convbert",
                "hidden_size": 64,
                "num_attention_heads": 4,
                "intermediate_size": 128,
                "embedding_size": 32,
                "my_field": [1, 2],
                "architectures": ["ConvBertForMaskedLM"],
            }
        )
    )
    cfg = ConvBertConfig.from_pretrained(tmp_path)
    assert cfg.extra["my_field"] == [1, 2]
    assert cfg.to_dict()["architectures"] == ["ConvBertForMaskedLM"]


def test_num_labels_key_is_read(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "convbert", "num_labels": 5}))
    assert ConvBertConfig.from_pretrained(tmp_path).num_labels == 5


def test_derived_head_sizes_follow_the_reference():
    small = ConvBertConfig.preset("conv-bert-small")
    assert (small.attention_heads, small.attention_head_size, small.all_head_size) == (2, 64, 128)
    # Fewer heads than head_ratio: the reference keeps one attention head.
    few = ConvBertConfig(hidden_size=64, num_attention_heads=2, head_ratio=4, intermediate_size=128)
    assert (few.attention_heads, few.attention_head_size) == (1, 32)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (dict(hidden_size=100, num_attention_heads=12), "not divisible by num_attention_heads"),
        (
            dict(hidden_size=60, num_attention_heads=4, head_ratio=1, intermediate_size=120),
            "even width",
        ),
        (dict(conv_kernel_size=8), "conv_kernel_size must be odd"),
        (dict(num_groups=5), "num_groups (5) does not divide hidden_size"),
        (
            dict(hidden_size=768, intermediate_size=3000, num_groups=16),
            "does not divide intermediate_size",
        ),
        (dict(num_hidden_layers=0), "num_hidden_layers must be a positive integer"),
        (dict(hidden_act="mish"), "hidden_act 'mish' is not supported"),
        (dict(hidden_dropout_prob=1.5), "hidden_dropout_prob must be a finite number in [0, 1)"),
    ],
)
def test_invalid_values_name_the_problem(values, message):
    with pytest.raises(ConfigError) as err:
        ConvBertConfig(**values)
    assert message in str(err.value)


def test_other_model_type_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 768}))
    with pytest.raises(ConfigError, match="model_type 'bert'"):
        ConvBertConfig.from_pretrained(tmp_path)


def test_invalid_config_file_names_the_file(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "convbert", "conv_kernel_size": 4})
    )
    with pytest.raises(ConfigError) as err:
        ConvBertConfig.from_pretrained(tmp_path)
    assert "config.json" in str(err.value) and "conv_kernel_size must be odd" in str(err.value)


def test_missing_and_broken_config_files(tmp_path):
    with pytest.raises(ConfigError, match="no config file"):
        ConvBertConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ConvBertConfig.from_pretrained(tmp_path)


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="conv-bert-small"):
        ConvBertConfig.preset("conv-bert-large")
