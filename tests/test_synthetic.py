"""sasrec.data.synthetic: deterministic ML-1M-format data with a learnable sequential signal."""
from collections import Counter, defaultdict

import numpy as np
import pytest

from sasrec.data.formats import Rating, make_parser
from sasrec.data.synthetic import generate_ratings, write_movies

USERS, ITEMS, RATINGS = 400, 600, 40_000


def parse(path):
    parser = make_parser("ml-1m")
    results = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            results.append(parser.parse(number, raw))
    return results


def histories(ratings):
    """user -> [(timestamp, item)] in file order (the generator writes histories in order)."""
    by_user = defaultdict(list)
    for r in ratings:
        by_user[r.user_id].append((r.timestamp, r.item_id))
    return by_user


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / "ratings.dat"
    summary = generate_ratings(path, num_users=USERS, num_items=ITEMS, num_ratings=RATINGS, seed=3)
    return path, summary, parse(path)


def test_parses_without_rejects_and_matches_summary(generated):
    path, summary, results = generated
    assert all(isinstance(r, Rating) for r in results)
    assert path.read_bytes().endswith(b"\n")
    assert summary["ratings"] == len(results) == RATINGS
    assert summary["users"] == len({r.user_id for r in results}) == USERS
    assert summary["items"] == len({r.item_id for r in results})
    assert summary["items"] > 0.9 * ITEMS
    assert {r.user_id for r in results} == {str(u) for u in range(1, USERS + 1)}
    assert {int(r.item_id) for r in results} <= set(range(1, ITEMS + 1))


def test_values(generated):
    _, _, results = generated
    ratings = np.array([r.rating for r in results])
    assert set(np.unique(ratings)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert 0.03 < np.mean(ratings == 1.0) < 0.08


def test_histories_are_ordered_unique_and_heavy_tailed(generated):
    _, _, results = generated
    by_user = histories(results)
    lengths = np.array([len(h) for h in by_user.values()])
    ties = steps = 0
    for history in by_user.values():
        times = [t for t, _ in history]
        items = [i for _, i in history]
        assert len(set(items)) == len(items)
        diffs = np.diff(times)
        assert (diffs >= 0).all()
        ties += int((diffs == 0).sum())
        steps += diffs.size
    assert 0.01 < ties / steps < 0.15
    assert lengths.min() >= 5
    assert lengths.max() > 3 * np.median(lengths)      # a long tail
    assert np.mean(lengths) > np.median(lengths)


def test_deterministic(tmp_path):
    kwargs = dict(num_users=60, num_items=80, num_ratings=3000)
    generate_ratings(tmp_path / "a.dat", seed=7, **kwargs)
    generate_ratings(tmp_path / "b.dat", seed=7, **kwargs)
    generate_ratings(tmp_path / "c.dat", seed=8, **kwargs)
    a = (tmp_path / "a.dat").read_bytes()
    assert a == (tmp_path / "b.dat").read_bytes()
    assert a != (tmp_path / "c.dat").read_bytes()


def test_tiny(tmp_path):
    path = tmp_path / "tiny.dat"
    summary = generate_ratings(path, num_users=50, num_items=40, num_ratings=1500, seed=0)
    results = parse(path)
    assert all(isinstance(r, Rating) for r in results)
    assert summary == {"users": 50, "items": len({r.item_id for r in results}), "ratings": 1500}
    lengths = Counter(r.user_id for r in results)
    assert len(lengths) == 50 and min(lengths.values()) >= 5 and max(lengths.values()) <= 40


def test_more_ratings_than_fit(tmp_path):
    summary = generate_ratings(tmp_path / "full.dat", num_users=5, num_items=10, num_ratings=1000, seed=0)
    assert summary == {"users": 5, "items": 10, "ratings": 50}


def test_invalid_sizes(tmp_path):
    with pytest.raises(ValueError):
        generate_ratings(tmp_path / "x.dat", num_users=10, num_items=10, num_ratings=5)
    with pytest.raises(ValueError):
        generate_ratings(tmp_path / "x.dat", num_users=0, num_items=10, num_ratings=5)
    with pytest.raises(ValueError):
        generate_ratings(tmp_path / "x.dat", num_users=1, num_items=1, num_ratings=5)


def test_sequential_structure_is_learnable(generated):
    """The most frequent follower of an item (learnt on half of the users) predicts the other half's
    next items far better than always predicting the most popular item."""
    _, _, results = generated
    by_user = histories(results)
    followers = defaultdict(Counter)
    popularity = Counter()
    held_out = []
    for user, history in by_user.items():
        items = [i for _, i in history]
        pairs = list(zip(items[:-1], items[1:]))
        if int(user) % 2:
            popularity.update(items)
            for previous, following in pairs:
                followers[previous][following] += 1
        else:
            held_out.extend(pairs)
    top_item = popularity.most_common(1)[0][0]
    best = {item: counts.most_common(1)[0][0] for item, counts in followers.items()}
    follower_hits = np.mean([best.get(p) == n for p, n in held_out])
    popular_hits = np.mean([top_item == n for _, n in held_out])
    assert follower_hits > 0.25
    assert follower_hits > 10 * popular_hits


def test_write_movies(tmp_path):
    path = tmp_path / "movies.dat"
    write_movies(path, 25)
    lines = path.read_text(encoding="latin-1").splitlines()
    assert len(lines) == 25
    fields = [line.split("::") for line in lines]
    assert all(len(f) == 3 for f in fields)
    assert [f[0] for f in fields] == [str(i) for i in range(1, 26)]
    assert fields[0][1].startswith("Title 1 (")
