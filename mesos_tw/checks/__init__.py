"""
Health checks and kill policies for the built-in executors (Mesos's
C{src/checks/}): what a C{HealthCheck} means, run without blocking on either
executor's loop.

  - L{policy}: the semantics, pure (first success, consecutive failures,
    grace period, when to kill);
  - L{probes}: the COMMAND, HTTP and TCP probes, non-blocking, over a small
    loop interface;
  - L{checker}: delay, interval and timeout, driving a probe and the policy;
  - L{loops}: that loop interface on a C{selectors} selector (the command
    executor, which does not import Twisted) and on a Twisted reactor (the
    default executor);
  - L{validation}: Mesos's checks of a C{HealthCheck} and a C{KillPolicy}.
"""
