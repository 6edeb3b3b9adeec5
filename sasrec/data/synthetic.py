"""Synthetic ratings in MovieLens 1M's format, with sequential structure a model can learn.

Used where the real data can't be downloaded (tests, CI, offline demos). The generator mimics ML-1M's
shape and plants a signal a sequential recommender should find:

* The catalogue's popularity is Zipf-like, and item IDs are a random permutation of the popularity ranks.
* Each item has a few fixed successor items (drawn by popularity). The next item of a history is, with
  probability `FOLLOW_PROB`, one of the current item's successors (the first more likely than the
  second, and so on), otherwise a popularity-weighted random item. A user never gets the same item
  twice: a repeat is drawn again from the same mixture, and after a few failed draws any unseen item
  is taken.
* History lengths are heavy-tailed (lognormal above a floor of 20 at ML-1M's scale, fewer for tiny
  sizes but at least 5 where the requested total allows it), scaled so that they add up to the
  requested number of ratings.
* Ratings 1-5 follow ML-1M's distribution (about 5.6% ones), independent of the items.
* Timestamps rise along each history, from a per-user start in 2000-2002; about `TIE_PROB` of the steps
  keep the previous timestamp (ties).

The file lists users in ID order and each user's ratings in history order. Everything comes from one
`numpy.random.Generator` seeded with `seed`, so a seed always gives the same bytes.
"""
from __future__ import annotations

import math
import os
import pathlib
from typing import Dict, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

FOLLOW_PROB = 0.75
SUCCESSOR_WEIGHTS = (0.5, 0.3, 0.2)
TIE_PROB = 0.05
RATING_PROBS = (0.056, 0.108, 0.261, 0.349, 0.226)     # ML-1M's shares of ratings 1..5
ZIPF_EXPONENT = 1.0
ZIPF_OFFSET = 10.0          # flattens the head: weight of popularity rank r is (r + offset) ** -exponent
LENGTH_SIGMA = 1.1          # lognormal sigma of the history lengths above the floor (ML-1M: median ~96, mean ~165)
START_TIME = 956703932      # 2000-04-25, ML-1M's first timestamp
START_SPAN = 2 * 365 * 86400
SESSION_GAP = 120.0         # mean seconds between ratings within a session
BREAK_GAP = 5 * 86400.0     # mean seconds of a break between sessions
BREAK_PROB = 0.08
GENRES = ("Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
          "Western")

_DRAWS_FROM_MIXTURE = 8     # draws from the follow/popularity mixture before falling back to any unseen item
_UNIFORM_DRAWS = 8
_SEEN_BYTES = 32 << 20      # users are generated in chunks whose seen-matrix fits this


def generate_ratings(path: PathLike, num_users: int = 6040, num_items: int = 3700,
                     num_ratings: int = 1_000_000, seed: int = 0) -> Dict[str, int]:
    """Writes an ML-1M-format ``ratings.dat`` (``user::item::rating::timestamp`` lines) to `path`.

    User IDs are 1..num_users and item IDs 1..num_items. The total is `num_ratings` unless that exceeds
    ``num_users * num_items`` (no user rates an item twice). Returns the counts in the file:
    ``{"users": ..., "items": ..., "ratings": ...}`` where "items" counts the distinct items rated.
    """
    if num_users < 1:
        raise ValueError(f"num_users must be at least 1, got {num_users}")
    if num_items < 2:
        raise ValueError(f"num_items must be at least 2, got {num_items}")
    if num_ratings < num_users:
        raise ValueError(f"num_ratings ({num_ratings}) must be at least num_users ({num_users}): "
                         f"every user rates at least one item")
    rng = np.random.default_rng(seed)

    popularity = _popularity(rng, num_items)
    pop_cdf = np.cumsum(popularity)
    pop_cdf /= pop_cdf[-1]
    successors = _successors(rng, popularity)
    succ_cdf = np.cumsum(SUCCESSOR_WEIGHTS[:successors.shape[1]], dtype=np.float64)
    succ_cdf /= succ_cdf[-1]

    lengths = _history_lengths(rng, num_users, num_items, num_ratings)
    items = _histories(rng, lengths, num_items, pop_cdf, successors, succ_cdf)
    total = int(lengths.sum())

    ratings = np.searchsorted(np.cumsum(RATING_PROBS), rng.random(total) * sum(RATING_PROBS),
                              side="right") + 1
    ratings = np.minimum(ratings, len(RATING_PROBS))
    timestamps = _timestamps(rng, lengths)
    users = np.repeat(np.arange(1, num_users + 1), lengths)

    _write_lines(path, users, items + 1, ratings, timestamps)
    return {"users": int(num_users), "items": int(np.unique(items).size), "ratings": total}


def write_movies(path: PathLike, num_items: int) -> None:
    """Writes an ML-1M-format ``movies.dat``: ``item::Title N (year)::Genre|Genre`` for items 1..num_items."""
    lines = []
    for item in range(1, num_items + 1):
        genres = GENRES[item % len(GENRES)]
        if item % 3 == 0:
            genres += "|" + GENRES[(item * 7 + 3) % len(GENRES)]
        lines.append(f"{item}::Title {item} ({1919 + item % 82})::{genres}\n")
    _write_atomically(path, "".join(lines))


def _popularity(rng: np.random.Generator, num_items: int) -> np.ndarray:
    """Zipf-like weights, item index -> weight; item indices are a random permutation of the ranks."""
    ranks = np.arange(1, num_items + 1, dtype=np.float64)
    by_rank = (ranks + ZIPF_OFFSET) ** -ZIPF_EXPONENT
    weights = np.empty(num_items)
    weights[rng.permutation(num_items)] = by_rank
    return weights / weights.sum()


def _successors(rng: np.random.Generator, popularity: np.ndarray) -> np.ndarray:
    """(num_items, k) distinct successor indices per item, none the item itself, drawn by popularity."""
    n = popularity.size
    k = min(len(SUCCESSOR_WEIGHTS), n - 1)
    cdf = np.cumsum(popularity)
    cdf /= cdf[-1]
    out = np.empty((n, k), dtype=np.int64)
    todo = np.arange(n)
    for _ in range(50):
        draws = np.minimum(np.searchsorted(cdf, rng.random((todo.size, k)), side="right"), n - 1)
        bad = (draws == todo[:, None]).any(axis=1)
        ordered = np.sort(draws, axis=1)
        bad |= (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        out[todo[~bad]] = draws[~bad]
        todo = todo[bad]
        if todo.size == 0:
            return out
    for item in todo:       # tiny or very skewed catalogues: draw without replacement from the others
        others = np.delete(np.arange(n), item)
        weights = np.delete(popularity, item)
        out[item] = rng.choice(others, size=k, replace=False, p=weights / weights.sum())
    return out


def _history_lengths(rng: np.random.Generator, num_users: int, num_items: int,
                     num_ratings: int) -> np.ndarray:
    """Heavy-tailed lengths in [floor, cap] adding up to num_ratings (or num_users * num_items)."""
    mean = num_ratings / num_users
    floor = min(20, max(5, round(0.12 * mean)), int(mean), num_items)
    floor = max(floor, 1)
    cap = min(num_items, max(int(0.6 * num_items), math.ceil(3 * mean)))
    cap = max(cap, floor)
    target = min(num_ratings, num_users * cap)

    raw = rng.lognormal(0.0, LENGTH_SIGMA, num_users)

    def total(scale: float) -> float:
        return float(np.minimum(floor + scale * raw, cap).sum())

    low, high = 0.0, 1.0
    while total(high) < target and high < 1e12:
        high *= 2.0
    for _ in range(100):
        mid = (low + high) / 2.0
        if total(mid) < target:
            low = mid
        else:
            high = mid
    lengths = np.minimum(np.floor(floor + low * raw), cap).astype(np.int64)
    missing = target - int(lengths.sum())
    while missing > 0:          # flooring lost less than one rating per user: hand them out at random
        room = np.flatnonzero(lengths < cap)
        chosen = rng.choice(room, size=min(missing, room.size), replace=False)
        lengths[chosen] += 1
        missing -= chosen.size
    while missing < 0:          # not reached in practice; kept so the total is exact whatever the floats do
        over = np.flatnonzero(lengths > floor)
        chosen = rng.choice(over, size=min(-missing, over.size), replace=False)
        lengths[chosen] -= 1
        missing += chosen.size
    return lengths


def _histories(rng: np.random.Generator, lengths: np.ndarray, num_items: int, pop_cdf: np.ndarray,
               successors: np.ndarray, succ_cdf: np.ndarray) -> np.ndarray:
    """Item indices of all histories, concatenated in user order; vectorised across users per step."""
    num_users = lengths.size
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    out = np.empty(int(lengths.sum()), dtype=np.int64)
    chunk = max(1, _SEEN_BYTES // num_items)

    def popular(size: int) -> np.ndarray:
        return np.minimum(np.searchsorted(pop_cdf, rng.random(size), side="right"), num_items - 1)

    for first in range(0, num_users, chunk):
        users = np.arange(first, min(first + chunk, num_users))
        # Longest first, so the users still generating at step t are a prefix of `order`.
        order = users[np.argsort(-lengths[users], kind="stable")]
        chunk_lengths = lengths[order]
        starts = offsets[order]
        seen = np.zeros((order.size, num_items), dtype=bool)
        rows = np.arange(order.size)

        current = popular(order.size)
        seen[rows, current] = True
        out[starts] = current
        for step in range(1, int(chunk_lengths[0])):
            active = int(np.searchsorted(-chunk_lengths, -step, side="left"))   # lengths > step
            previous = current[:active]
            chosen = np.empty(active, dtype=np.int64)
            need = np.arange(active)
            for _ in range(_DRAWS_FROM_MIXTURE):
                m = need.size
                follow = rng.random(m) < FOLLOW_PROB
                which = np.searchsorted(succ_cdf, rng.random(m), side="right")
                which = np.minimum(which, successors.shape[1] - 1)
                candidate = np.where(follow, successors[previous[need], which], popular(m))
                fresh = ~seen[need, candidate]
                chosen[need[fresh]] = candidate[fresh]
                need = need[~fresh]
                if need.size == 0:
                    break
            for _ in range(_UNIFORM_DRAWS):
                if need.size == 0:
                    break
                candidate = rng.integers(0, num_items, need.size)
                fresh = ~seen[need, candidate]
                chosen[need[fresh]] = candidate[fresh]
                need = need[~fresh]
            for row in need:    # nearly every item seen: pick among the unseen ones directly
                unseen = np.flatnonzero(~seen[row])
                chosen[row] = unseen[rng.integers(unseen.size)]
            seen[rows[:active], chosen] = True
            current[:active] = chosen
            out[starts[:active] + step] = chosen
    return out


def _timestamps(rng: np.random.Generator, lengths: np.ndarray) -> np.ndarray:
    """Non-decreasing timestamps along each history, with ties, starting at a random time per user."""
    total = int(lengths.sum())
    gaps = np.where(rng.random(total) < BREAK_PROB,
                    rng.exponential(BREAK_GAP, total), rng.exponential(SESSION_GAP, total))
    gaps = np.ceil(gaps).astype(np.int64) + 1
    gaps[rng.random(total) < TIE_PROB] = 0
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    gaps[offsets] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[offsets], lengths)
    start = START_TIME + rng.integers(0, START_SPAN, lengths.size)
    return np.repeat(start, lengths) + elapsed


def _write_lines(path: PathLike, users: np.ndarray, items: np.ndarray, ratings: np.ndarray,
                 timestamps: np.ndarray) -> None:
    text = "".join([f"{u}::{i}::{r}::{t}\n" for u, i, r, t in
                    zip(users.tolist(), items.tolist(), ratings.tolist(), timestamps.tolist())])
    _write_atomically(path, text)


def _write_atomically(path: PathLike, text: str) -> None:
    target = pathlib.Path(path)
    if target.parent != pathlib.Path(""):
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="ascii", newline="\n") as f:
            f.write(text)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
