"""
Authorization, as Mesos's: ACLs in Mesos's JSON (L{mesos_tw.authorization.acls}),
an authorizer interface with plugins (L{mesos_tw.authorization.interfaces};
C{local} ships), and what the master and slave ask it
(L{mesos_tw.authorization.checks}).  See ``docs/security.md``.
"""
