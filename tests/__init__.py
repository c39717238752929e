"""
The mesos_tw test suite (run with ``python -m twisted.trial tests``).
"""
