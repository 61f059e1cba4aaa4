"""Plausible ranges of a loss model's and a rating plan's numbers, declared once.

A model folder or a rating plan is checked against these bounds when it is
loaded, so a file edited by hand (or trained on nonsense) is refused with its
reasons before anything is priced, and no arithmetic at scoring time can
overflow. The bounds are wide: any model ``carescore train`` fits on a sane
book, and any plan an insurer would file, passes them by orders of magnitude.
"""

from __future__ import annotations

import math

MAX_RELATIVITY = 1000.0
"""A coefficient's relativity, ``exp(beta)`` for one unit of its feature, lies between
``1 / MAX_RELATIVITY`` and ``MAX_RELATIVITY``: no answer multiplies a facility's
claim frequency or claim size by more than a thousand. Fitted relativities of the
default model lie within 1/3 .. 2."""

MAX_COEFFICIENT = math.log(MAX_RELATIVITY)
"""The largest ``|beta|`` a coefficient may have (see :data:`MAX_RELATIVITY`)."""

MAX_INTERCEPT = 40.0
"""The largest ``|intercept|`` of a frequency or severity GLM, on the log scale
(``exp(40)`` is about 2e17). The default model's lie within -12 .. 13; the
average facility's figures below are the tighter checks."""

MAX_LINEAR_SPAN = 200.0
"""The most a facility's linear predictor (log scale) may differ from the average
facility's, per peril and part: the sum over features of ``|beta|`` times the range
of values the feature can take (1 for levels, indicators and shares; the log range
between a number's learned caps). ``exp(200)`` is about 7e86, far beyond any sane
pricing and far below where floating point overflows. The default model's largest
span is about 17, models trained on small test books about 10. The tighter limit,
per answer, is each question's ``max_relativity`` (:mod:`scoring.model.limits`)."""

MIN_FREQUENCY = 1e-9
"""The fewest claims a year of the average facility, per peril: one claim in a
billion facility-years. Below that a peril would not be worth modelling."""

MAX_FREQUENCY = 10.0
"""The most claims a year of the average facility, per peril. The default model's
average facility expects well under one claim of any peril a year."""

MIN_MEAN_CLAIM = 1.0
"""The smallest mean claim of the average facility, per peril, in dollars."""

MAX_MEAN_CLAIM = 1e9
"""The largest mean claim of the average facility, per peril, in dollars: larger
than any cyber loss on record for a single care provider."""

MIN_CLAIM_SIGMA = 1e-3
"""The narrowest claim-size shape (lognormal sigma) training ever returns."""

MAX_CLAIM_SIGMA = 5.0
"""The widest claim-size shape (lognormal sigma) training ever returns; wider would
put nearly all the expected loss in claims beyond any limit."""

MAX_FEATURE_MEAN = 1e12
"""The largest ``|mean|`` of a feature over the training book (features are levels,
indicators, logs, shares or amounts, all far below this)."""

MAX_MONEY = 1e10
"""The largest amount in dollars a rating plan may name (limits, retentions,
sublimits, the minimum premium, the fixed expense): ten billion, far above any
cyber policy, and small enough that no premium arithmetic can overflow."""

MAX_SCHEDULE_DEBIT = 10.0
"""The largest schedule debit a rating plan may allow (the premium at most 11 times
the class average's)."""

MAX_TIER_BOUND = 1e6
"""The largest relative-risk bound of a tier band."""
