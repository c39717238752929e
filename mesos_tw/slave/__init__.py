"""
The Mesos slave: advertises resources, runs executors through an isolator,
and keeps every status update until its framework acknowledges it.
"""
