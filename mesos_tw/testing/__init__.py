"""
Test support: verified fakes and in-memory harnesses.  Each fake passes the
shared suite of the interface it stands in for, as its real counterpart
does (the network: L{mesos_tw.testing.network_contract}; isolators:
L{mesos_tw.testing.isolation.make_iisolator_tests}), and the helpers the
test modules share live here rather than in one another.
"""
