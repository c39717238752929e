"""
Isolation: how a slave runs executors.  L{IIsolator} is the interface;
implementations are found as twisted plugins (L{IIsolatorFactory}) in
C{mesos_tw.plugins}, so a third party adds one by installing a package.
"""
