import numpy as np

from xstilts.training.batching import length_grouped_batches, sorted_batches


def test_length_grouped_batches_cover_every_row_once_and_are_deterministic():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 200, size=1003)
    a = length_grouped_batches(lengths, 16, seed=4, epoch=0)
    b = length_grouped_batches(lengths, 16, seed=4, epoch=0)
    c = length_grouped_batches(lengths, 16, seed=4, epoch=1)
    assert a == b and a != c
    flat = sorted(i for batch in a for i in batch)
    assert flat == list(range(1003))
    assert max(lengths[i] for i in a[0]) == lengths.max()  # longest batch first


def test_length_grouping_reduces_padding():
    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 200, size=4000)

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    grouped = length_grouped_batches(lengths, 32, seed=0, epoch=0)
    order = rng.permutation(4000)
    plain = [order[i : i + 32].tolist() for i in range(0, 4000, 32)]
    assert padded(grouped) < 0.7 * padded(plain)


def test_sorted_batches_respect_token_budget():
    lengths = [10, 300, 5, 120, 120, 7, 64]
    batches = sorted_batches(lengths, max_tokens=400, max_batch=8)
    assert sorted(i for b in batches for i in b) == list(range(7))
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= 400 or len(b) == 1
