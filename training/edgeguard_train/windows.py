"""The runtime's sliding windows over long input, so a model trains and is measured on the rows the runtime builds.

The runtime's ``Guard`` (``src/EdgeGuard/LongInput/SlidingWindows.cs``) covers input longer than one window with
several windows and flags it when any window is unsafe. A prompt alone is cut into overlapping windows (half a window
apart). For a pair, the response keeps at least half of each window (a pair's label judges the response) and the
prompt the rest, so a long prompt is cut before the response is; the windows are every combination of a prompt slice
and a response slice. ``plan`` reproduces those windows exactly; ``encode_windows`` lays each out as the model's row.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

# (prompt start, prompt length, response start, response length): one window's slices of the two segments.
Window = Tuple[int, int, int, int]


def special_tokens(has_response: bool) -> int:
    """``[CLS] prompt [SEP]`` or ``[CLS] prompt [SEP] response [SEP]``: the special tokens of a BERT/DeBERTa row."""
    return 3 if has_response else 2


def _step(size: int, stride: Optional[int]) -> int:
    return min(max(stride if stride is not None else size // 2, 1), max(1, size))


def _starts(length: int, size: int, stride: Optional[int]) -> List[int]:
    """Starts every ``stride`` tokens, then one window flush with the segment's end."""
    if length <= size:
        return [0]
    step = _step(size, stride)
    starts = list(range(0, length - size, step))
    starts.append(length - size)
    return starts


def plan(prompt_tokens: int, response_tokens: int, has_response: bool, window_tokens: int,
         stride: Optional[int] = None) -> List[Window]:
    """The runtime's windows for segments of these lengths (``SlidingWindows.Plan``)."""
    budget = window_tokens - special_tokens(has_response)
    if budget < (2 if has_response else 1):
        raise ValueError(f"a window of {window_tokens} tokens cannot hold the special tokens and any text")
    if prompt_tokens + response_tokens <= budget:
        return [(0, prompt_tokens, 0, response_tokens)]
    if not has_response:
        return [(start, budget, 0, 0) for start in _starts(prompt_tokens, budget, stride)]
    response_size = min(response_tokens, budget - min(prompt_tokens, budget // 2))
    prompt_size = min(prompt_tokens, budget - response_size)
    return [(p, prompt_size, r, response_size)
            for p in _starts(prompt_tokens, prompt_size, stride)
            for r in _starts(response_tokens, response_size, stride)]


# Lays out a prompt's ids and a response's ids (or None) as a model row: (ids, token types or None).
RowBuilder = Callable[[Sequence[int], Optional[Sequence[int]]], Tuple[List[int], Optional[List[int]]]]


def encode_windows(prompt_ids: Sequence[int], response_ids: Optional[Sequence[int]], window_tokens: int,
                   build_row: RowBuilder, stride: Optional[int] = None) -> List[Tuple[List[int], Optional[List[int]]]]:
    """Every window of the input as the model's row (special tokens and token types included), in the runtime's order."""
    has_response = response_ids is not None
    rows = []
    for p, p_len, r, r_len in plan(len(prompt_ids), len(response_ids or ()), has_response, window_tokens, stride):
        rows.append(build_row(prompt_ids[p:p + p_len], response_ids[r:r + r_len] if has_response else None))
    return rows
