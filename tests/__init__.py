"""
The mesos_tw test suite (run with ``python -m twisted.trial tests``).

Hypothesis's time-based checks (a deadline per example, and the health
check that fails a test whose inputs are slow to generate) measure the
machine, not the code: on a loaded machine they fail correct tests.  The
suite turns them off; what a property test checks is its assertions.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "mesos_tw", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mesos_tw")
