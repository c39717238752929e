"""
The drivers behind the classic framework API's public faces
(L{mesos_tw.native}, L{mesos_tw.interface}): the scheduler driver, the
executor driver, what they share, and the reactor thread they run on when
the framework uses plain threads.
"""
