"""Hypothesis settings shared by the cross-language tests."""

from hypothesis import settings

# No example database in the checkout (a failure prints its falsifying example anyway), and no
# deadlines: tests that run a binary must never fail on timing.
settings.register_profile("keywheel", database=None, deadline=None)
settings.load_profile("keywheel")
