"""Extractive question answering (SQuAD v1.1): questions in as windows, answers out as EM/F1.

The code here uses numpy, not torch (though importing it runs convbert_edge.training's
``__init__``, which does import torch): ``convbert_edge.evaluation`` scores exported artifacts
with the same code that scores training. One question becomes one or more batch-1
model calls; their start and end logits become one answer text per question, scored
against the gold answers:

    features = build_qa_features(examples, tokenizer, seq_len=192)
    starts, ends = [], []
    for call in model_calls(features):  # input_ids, attention_mask, token_type_ids: (1, s) int32
        out = run(call)
        starts.append(out["start_logits"][0])  # (s,)
        ends.append(out["end_logits"][0])
    scores = score_logits(features, starts, ends)  # QaScores(exact_match, f1, questions)

Windows: ``[CLS] question [SEP] context window [SEP] [PAD]...``, exactly seq_len tokens,
token_type_ids 0 up to the first [SEP] and 1 after it. The question keeps at most
``max_question_tokens`` pieces (and never more than half the room); a context longer than
the room left is cut into windows that overlap by ``overlap`` tokens (at most half the
room), so an answer up to that long lies whole in at least one of them. Every window of
a dev question is scored and the best span over all of them is the answer; training
keeps only the windows that hold the whole answer (``training.data.encode``): v1.1
questions always have an answer and the span search never looks outside the context,
so a "no answer" target would teach the model something it is never asked.

Character offsets: the context is split into words as BERT tokenizers split it
(``tokenizers``' BertPreTokenizer: whitespace and punctuation) and the tokenizer's own
``tokenize`` gives each word's pieces, so the ids are exactly the tokenizer's. A word's
pieces get their own character ranges when their lengths add up to the word's (lower-
casing and accent stripping keep the length of nearly all text); otherwise, and for
[UNK], each piece gets the whole word's range.

Scores follow the official SQuAD v1.1 evaluate-v1.1.py: answers are normalized (lower
case, no punctuation, no articles a/an/the, single spaces), exact match and bag-of-tokens
F1 take the best over a question's gold answers, and both are averaged over questions.
They are fractions here (the official script prints them times 100).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
from tokenizers.pre_tokenizers import BertPreTokenizer

from convbert_edge.data.squad import SquadExample

NO_ANSWER = -100  # answer position of a window that lacks the answer (F.cross_entropy's ignore)
OVERLAP = 64  # context tokens shared by consecutive windows
MAX_QUESTION_TOKENS = 64
MAX_ANSWER_TOKENS = 30  # the longest span the answer search considers

_PRE_TOKENIZER = BertPreTokenizer()
_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


@dataclass(frozen=True)
class QaFeatures:
    """Questions cut into static-shape windows, and what maps window logits back to text.

    Made by ``build_qa_features``; f is the number of windows, s the seq_len.

    Args:
        examples: the questions, in the order given.
        input_ids, attention_mask, token_type_ids: (f, s) int32 model inputs.
        example_index: (f,) int32, the question of each window; a question's windows are
            consecutive and every question has at least one.
        offsets: (f, s, 2) int32, [start, end) characters of each context token in its
            question's context; -1 for question, special and padding tokens.
        answer_positions: (f, 2) int32, the tokens of the first gold answer's first and
            last pieces in this window, or NO_ANSWER where the window lacks the answer.
    """

    examples: tuple[SquadExample, ...]
    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    example_index: np.ndarray
    offsets: np.ndarray
    answer_positions: np.ndarray

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.input_ids.shape[1])

    def select(self, rows: np.ndarray) -> QaFeatures:
        """These windows only (all examples stay, so example_index keeps its meaning;
        a question may then have no window)."""
        return QaFeatures(
            self.examples,
            self.input_ids[rows],
            self.attention_mask[rows],
            self.token_type_ids[rows],
            self.example_index[rows],
            self.offsets[rows],
            self.answer_positions[rows],
        )


@dataclass(frozen=True)
class QaScores:
    """SQuAD v1.1 exact match and F1 (fractions, 0-1) over ``questions`` questions."""

    exact_match: float
    f1: float
    questions: int


def context_pieces(tokenizer, context: str) -> tuple[list[int], np.ndarray]:
    """(token ids, (n, 2) [start, end) character range of each) of a context, no specials."""
    words = [span for _, span in _PRE_TOKENIZER.pre_tokenize_str(context)]
    unk = tokenizer.unk_token
    # One call for the whole context, cut into words where a piece does not start with
    # "##"; kept only when every word's pieces have the word's length (or are [UNK]),
    # else each word is tokenized on its own (a word of dropped characters has no pieces).
    groups = _by_word(tokenizer.tokenize(context))
    spans = _piece_spans(groups, words, unk, aligned_only=True)
    if spans is None:
        groups = [tokenizer.tokenize(context[start:end]) for start, end in words]
        spans = _piece_spans(groups, words, unk, aligned_only=False)
    ids = tokenizer.convert_tokens_to_ids([p for pieces in groups for p in pieces])
    return ids, np.array(spans, dtype=np.int32).reshape(-1, 2)


def _by_word(pieces: list[str]) -> list[list[str]]:
    groups: list[list[str]] = []
    for piece in pieces:
        if piece.startswith("##") and groups:
            groups[-1].append(piece)
        else:
            groups.append([piece])
    return groups


def _piece_spans(groups, words, unk: str, *, aligned_only: bool) -> list[tuple[int, int]] | None:
    """Character ranges of each word's pieces; None (if aligned_only) when a word's
    pieces do not cover exactly its characters and are not [UNK]."""
    if aligned_only and len(groups) != len(words):
        return None
    spans: list[tuple[int, int]] = []
    for pieces, (start, end) in zip(groups, words, strict=True):
        # "##" marks a continuation and is no character (CJK characters come without it).
        widths = [len(p) - 2 if i and p.startswith("##") else len(p) for i, p in enumerate(pieces)]
        if sum(widths) == end - start and unk not in pieces:
            bounds = list(accumulate(widths, initial=start))
            spans += zip(bounds[:-1], bounds[1:], strict=True)
        elif aligned_only and pieces != [unk]:
            return None
        else:
            spans += [(start, end)] * len(pieces)
    return spans


def build_qa_features(
    examples: Sequence[SquadExample],
    tokenizer,
    seq_len: int,
    *,
    overlap: int = OVERLAP,
    max_question_tokens: int = MAX_QUESTION_TOKENS,
) -> QaFeatures:
    """Every question as windows of exactly seq_len tokens (see the module docstring).

    Args:
        examples: SQuAD questions (``convbert_edge.data.squad.SquadExample``).
        tokenizer: a ConvBertTokenizerFast or ConvBertTokenizer (any tokenizer with
            tokenize, convert_tokens_to_ids and the cls/sep/pad/unk tokens works).
        seq_len: the static sequence length of the model.
        overlap: context tokens shared by consecutive windows of a long context (at
            most half the room for the context, so that windows advance).
        max_question_tokens: longer questions are cut to this many pieces.
    """
    if seq_len < 8:
        raise ValueError(f"seq_len {seq_len} leaves no room for a question and a context")
    cls, sep, pad = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    question_room = min(max_question_tokens, (seq_len - 3) // 2)
    rows: list[tuple[list[int], int, int, np.ndarray, int, int]] = []
    cache: dict[str, tuple[list[int], np.ndarray]] = {}  # SQuAD asks ~5 questions a paragraph
    for index, example in enumerate(examples):
        question = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(example.question))
        question = question[:question_room]
        if example.context not in cache:
            cache[example.context] = context_pieces(tokenizer, example.context)
        ids, spans = cache[example.context]
        first, last = _answer_tokens(spans, example)
        room = seq_len - 3 - len(question)
        step = room - min(overlap, room // 2)
        start = 0
        while True:
            end = min(start + room, len(ids))
            head = [cls, *question, sep]
            window = head + ids[start:end] + [sep]
            inside = first is not None and start <= first and last < end
            shift = len(head) - start  # context token t sits at position t + shift
            answer = (first + shift, last + shift) if inside else (NO_ANSWER, NO_ANSWER)
            rows.append((window, len(head), index, spans[start:end], *answer))
            if end == len(ids):
                break
            start += step

    n = len(rows)
    input_ids = np.full((n, seq_len), pad, dtype=np.int32)  # (f, s)
    attention_mask = np.zeros((n, seq_len), dtype=np.int32)  # (f, s)
    token_type_ids = np.zeros((n, seq_len), dtype=np.int32)  # (f, s)
    offsets = np.full((n, seq_len, 2), -1, dtype=np.int32)  # (f, s, 2)
    for r, (window, head, _, spans, _, _) in enumerate(rows):
        input_ids[r, : len(window)] = window
        attention_mask[r, : len(window)] = 1
        token_type_ids[r, head : len(window)] = 1
        offsets[r, head : head + len(spans)] = spans
    return QaFeatures(
        tuple(examples),
        input_ids,
        attention_mask,
        token_type_ids,
        np.array([row[2] for row in rows], dtype=np.int32).reshape(n),
        offsets,
        np.array([row[4:] for row in rows], dtype=np.int32).reshape(n, 2),
    )


def _answer_tokens(spans: np.ndarray, example: SquadExample) -> tuple[int | None, int | None]:
    """First and last context tokens that overlap the first gold answer's characters."""
    if not example.answers:
        return None, None
    answer = example.answers[0]
    hits = np.flatnonzero((spans[:, 0] < answer.end) & (spans[:, 1] > answer.start))
    if len(hits) == 0:  # the answer is characters the tokenizer drops
        return None, None
    return int(hits[0]), int(hits[-1])


def model_calls(features: QaFeatures) -> Iterator[dict[str, np.ndarray]]:
    """One batch-1 call per window: input_ids, attention_mask, token_type_ids, (1, s) int32."""
    for row in range(len(features)):
        yield {
            "input_ids": features.input_ids[row : row + 1],
            "attention_mask": features.attention_mask[row : row + 1],
            "token_type_ids": features.token_type_ids[row : row + 1],
        }


def best_answers(
    features: QaFeatures,
    start_logits: np.ndarray | Sequence[np.ndarray],
    end_logits: np.ndarray | Sequence[np.ndarray],
    max_answer_tokens: int = MAX_ANSWER_TOKENS,
) -> list[str]:
    """The answer text of each question: its best span over all its windows.

    A span is tokens i..j of one window's context with i <= j < i + max_answer_tokens;
    its score is start_logits[i] + end_logits[j]. The text is the context's characters
    from token i's first to token j's last. A question whose windows hold no context
    token answers "".

    Args:
        start_logits, end_logits: per window in ``model_calls`` order, as one (f, s)
            array or a list of f arrays of s values each (e.g. the (1, s) outputs).
    """
    starts = _per_window(start_logits, features, "start_logits")  # (f, s)
    ends = _per_window(end_logits, features, "end_logits")  # (f, s)
    s = features.seq_len
    band = np.triu(np.ones((s, s), dtype=bool)) & ~np.triu(
        np.ones((s, s), dtype=bool), k=max_answer_tokens
    )  # (s, s): j >= i and j - i < max_answer_tokens
    best: list[tuple[float, str]] = [(-np.inf, "")] * len(features.examples)
    for row in range(len(features)):
        in_context = features.offsets[row, :, 0] >= 0  # (s,)
        allowed = band & in_context[:, None] & in_context[None, :]  # (s, s)
        if not allowed.any():
            continue
        scores = np.where(allowed, starts[row][:, None] + ends[row][None, :], -np.inf)  # (s, s)
        i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
        q = int(features.example_index[row])
        if scores[i, j] > best[q][0]:
            context = features.examples[q].context
            text = context[features.offsets[row, i, 0] : features.offsets[row, j, 1]]
            best[q] = (float(scores[i, j]), text)
    return [text for _, text in best]


def _per_window(logits, features: QaFeatures, name: str) -> np.ndarray:
    array = np.asarray(logits, dtype=np.float32)
    if array.size != len(features) * features.seq_len:
        raise ValueError(
            f"{name} holds {array.size} values ({array.shape}); {len(features)} windows of "
            f"seq_len {features.seq_len} need {len(features) * features.seq_len}: one row "
            "per model call, in model_calls order"
        )
    return array.reshape(len(features), features.seq_len)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (evaluate-v1.1.py's rule)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def token_f1(prediction: str, truth: str) -> float:
    """F1 of the normalized answers' word bags (0 when they share no word)."""
    guess, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    same = sum((Counter(guess) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(guess), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_scores(examples: Sequence[SquadExample], predictions: Sequence[str]) -> QaScores:
    """Mean over questions of the best exact match and F1 against any gold answer."""
    if len(examples) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(examples)} questions")
    em = f1 = 0.0
    for example, prediction in zip(examples, predictions, strict=True):
        golds = [a.text for a in example.answers]
        em += max((exact_match(prediction, g) for g in golds), default=0.0)
        f1 += max((token_f1(prediction, g) for g in golds), default=0.0)
    n = len(examples)
    return QaScores(em / n if n else 0.0, f1 / n if n else 0.0, n)


def score_logits(
    features: QaFeatures,
    start_logits: np.ndarray | Sequence[np.ndarray],
    end_logits: np.ndarray | Sequence[np.ndarray],
    max_answer_tokens: int = MAX_ANSWER_TOKENS,
) -> QaScores:
    """EM and F1 of the model calls' logits: ``best_answers`` then ``squad_scores``."""
    answers = best_answers(features, start_logits, end_logits, max_answer_tokens)
    return squad_scores(features.examples, answers)
