"""Dominance, sorting, crowding and hypervolume against hand-computed cases."""
import random

from evolve.pareto import crowding, dominates, hypervolume, non_dominated_sort, orient


def test_orient_flips_maximised_objectives():
    assert orient([0.8, 10.0], ["max", "min"]) == (-0.8, 10.0)


def test_dominance():
    assert dominates((0, 0), (1, 1))
    assert dominates((0, 1), (1, 1))
    assert not dominates((1, 1), (1, 1))
    assert not dominates((0, 2), (1, 1))


def test_non_dominated_sort_layers():
    pts = [(0, 3), (1, 1), (3, 0), (2, 2), (3, 3), (1, 1)]
    fronts = non_dominated_sort(pts)
    assert fronts[0] == [0, 1, 2, 5]
    assert fronts[1] == [3]
    assert fronts[2] == [4]


def test_sort_agrees_with_brute_force():
    rng = random.Random(1)
    pts = [(rng.random(), rng.random(), rng.random()) for _ in range(60)]
    first = set(non_dominated_sort(pts)[0])
    brute = {i for i, p in enumerate(pts) if not any(dominates(q, p) for q in pts)}
    assert first == brute


def test_crowding_boundaries_infinite():
    pts = [(0, 3), (1, 2), (2, 1), (3, 0)]
    c = crowding(pts, [0, 1, 2, 3])
    assert c[0] == c[3] == float("inf")
    assert c[1] == c[2] == 2 * (2 / 3)


def test_hypervolume_2d_and_3d():
    assert hypervolume([(0, 1), (1, 0), (0.5, 0.5)], (2, 2)) == 3.25
    assert hypervolume([(0, 1, 0), (1, 0, 0)], (2, 2, 1)) == 3.0
    assert hypervolume([(3, 3)], (2, 2)) == 0.0


def test_hypervolume_monte_carlo_agreement():
    rng = random.Random(3)
    pts = [(rng.random(), rng.random(), rng.random()) for _ in range(8)]
    ref = (1.0, 1.0, 1.0)
    hits = 0
    n = 40000
    for _ in range(n):
        x = (rng.random(), rng.random(), rng.random())
        hits += any(all(p[k] <= x[k] for k in range(3)) for p in pts)
    assert abs(hypervolume(pts, ref) - hits / n) < 0.02
