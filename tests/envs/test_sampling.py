import numpy as np
import pytest

from codegym.envs.sampling import EpisodeSampler


def test_modes_visit_tasks_as_documented() -> None:
    rng = np.random.default_rng(0)
    seq = EpisodeSampler(3, "sequential")
    assert [seq.next(rng) for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    shuffle = EpisodeSampler(5, "shuffle")
    first, second = [shuffle.next(rng) for _ in range(5)], [shuffle.next(rng) for _ in range(5)]
    assert sorted(first) == sorted(second) == list(range(5))
    rand = EpisodeSampler(4, "random")
    assert all(0 <= rand.next(rng) < 4 for _ in range(50))


def test_same_seed_same_order_and_restart() -> None:
    a, b = EpisodeSampler(10, "shuffle"), EpisodeSampler(10, "shuffle")
    ra, rb = np.random.default_rng(7), np.random.default_rng(7)
    assert [a.next(ra) for _ in range(15)] == [b.next(rb) for _ in range(15)]
    a.restart()
    assert a.next(np.random.default_rng(1)) in range(10)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="unknown sampling 'round-robin'"):
        EpisodeSampler(3, "round-robin")
    with pytest.raises(ValueError, match="at least one task"):
        EpisodeSampler(0)


def test_requested_index_validates_reset_options() -> None:
    from codegym.envs.sampling import requested_index

    ids = {"a/0": 0, "a/1": 1}
    assert requested_index(None, ids) is None
    assert requested_index({"task_id": "a/1"}, ids) == 1
    assert requested_index({"item_index": np.int64(0)}, ids, kind="item") == 0
    for options, message in [
        ({"seed": 1}, "unknown reset options"),
        ({"task_id": "a/0", "task_index": 0}, "not both"),
        ({"task_id": "b/0"}, "not one of this environment's 2 tasks"),
        ({"task_index": 2}, r"must be an int in \[0, 2\)"),
        ({"task_index": True}, "must be an int"),
    ]:
        with pytest.raises(ValueError, match=message):
            requested_index(options, ids)
