"""
The `mesos` command line and the operator API client it is built on.
"""
