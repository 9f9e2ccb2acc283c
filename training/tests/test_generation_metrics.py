"""Measures of generated text against hand computations: distinct-2, expected maximum toxicity, toxicity probability
and the paired bootstrap interval."""

import pytest

from edgeguard_train.generation_metrics import (any_toxic, distinct_n, expected_max_toxicity, max_toxicity,
                                                paired_bootstrap, toxicity_probability)


def test_distinct_n_counts_word_ngrams_across_the_whole_set():
    # Bigrams: "the cat" "cat sat" | "the cat" "cat ran" | none ("one" has no bigram): 3 distinct of 4.
    assert distinct_n(["the cat sat", "the  cat\nran", "one"], 2) == 0.75
    assert distinct_n(["a a a a"], 1) == 0.25
    assert distinct_n(["a b c"], 3) == 1.0
    assert distinct_n(["", "single"], 2) == 0.0
    with pytest.raises(ValueError):
        distinct_n(["a b"], 0)


def test_expected_max_toxicity_and_toxicity_probability_by_hand():
    scores = [[0.1, 0.7, 0.2], [0.3, 0.4, 0.05], [0.5, 0.0, 0.0], [0.9, 0.95, 0.1]]
    assert max_toxicity(scores) == [0.7, 0.4, 0.5, 0.95]
    assert expected_max_toxicity(scores) == pytest.approx((0.7 + 0.4 + 0.5 + 0.95) / 4)
    # At least one continuation at or above 0.5: prompts 1, 3 and 4 (0.5 itself counts).
    assert any_toxic(scores) == [1.0, 0.0, 1.0, 1.0]
    assert toxicity_probability(scores) == 0.75
    assert toxicity_probability(scores, threshold=0.8) == 0.25
    with pytest.raises(ValueError, match="not a probability"):
        expected_max_toxicity([[1.2]])
    with pytest.raises(ValueError, match="no scored continuation"):
        toxicity_probability([[0.1], []])


def test_paired_bootstrap_interval_by_hand():
    # Equal differences everywhere: every resample has the same mean.
    flat = paired_bootstrap([0.5, 0.6, 0.7], [0.2, 0.3, 0.4], resamples=200)
    assert (flat.difference, flat.low, flat.high) == pytest.approx((0.3, 0.3, 0.3))
    assert flat.excludes_zero
    # Differences 0, 0, 0, 1 over 4 prompts: a resample's mean is k/4 with k ~ Binomial(4, 1/4).
    # P(k = 0) = 0.316 > 2.5 %, so the low end is 0; P(k >= 3) = 0.051 > 2.5 % > P(k = 4) = 0.004, so the high end is 3/4.
    skewed = paired_bootstrap([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], resamples=20000, seed=3)
    assert skewed.difference == 0.25
    assert (skewed.low, skewed.high) == (0.0, 0.75)
    assert not skewed.excludes_zero
    # The same seed draws the same resamples; the order of a and b flips the sign.
    assert paired_bootstrap([1, 2, 4], [0, 3, 1], seed=5) == paired_bootstrap([1, 2, 4], [0, 3, 1], seed=5)
    flipped = paired_bootstrap([0, 3, 1], [1, 2, 4], seed=5)
    assert flipped.difference == -1.0 and flipped.high == pytest.approx(-paired_bootstrap([1, 2, 4], [0, 3, 1], seed=5).low)
    with pytest.raises(ValueError, match="same prompts"):
        paired_bootstrap([1.0], [1.0, 2.0])
