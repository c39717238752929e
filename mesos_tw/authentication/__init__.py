"""
Authentication of frameworks and slaves to the master, as Mesos does it:
a SASL-style exchange over messages (L{mesos_tw.authentication.cram_md5}),
credentials in Mesos's files (L{mesos_tw.authentication.credentials}), and
authenticators as plugins (L{mesos_tw.authentication.interfaces}).  See
``docs/security.md``.
"""
