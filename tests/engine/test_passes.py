"""The compile passes: the interval set the band and tier checks use."""
from __future__ import annotations

import math

from hypothesis import assume, given, settings, strategies as st

from tierwise.engine.checks import IntervalSet, _intersect, _nonempty, difference

ends = st.sampled_from([-math.inf, -2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, math.inf])
intervals = st.tuples(ends, st.booleans(), ends, st.booleans()).map(
    lambda t: (min(t[0], t[2]), t[1] and min(t[0], t[2]) != -math.inf, max(t[0], t[2]),
               t[3] and max(t[0], t[2]) != math.inf))


@settings(max_examples=400)
@given(st.lists(intervals, max_size=8), intervals)
def test_interval_set_covers_what_the_pairwise_difference_says(added, probe):
    assume(_nonempty(probe))
    s = IntervalSet(added)
    assert s.covers(probe) == (not difference([probe], added))
    assert s.gaps() == sorted(s.gaps())
    assert bool(s.gaps()) == bool(difference([(-math.inf, False, math.inf, False)], added))
    for gap in s.gaps():  # a gap is never covered, and nothing added lies in it
        assert not s.covers(gap)
        assert not any(_nonempty(_intersect(gap, iv)) for iv in added)
