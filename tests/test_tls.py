"""
TLS on the message port, after Mesos's C{SSLTest} (src/tests/ssl_tests.cpp):
two real message nodes over loopback, with certificates the tests make;
frames and HTTP over TLS, mutual TLS, certificate verification, and
downgrade support.  The configuration is libprocess's
(C{LIBPROCESS_SSL_*}).
"""

import os

import treq
from klein import Klein
from twisted.internet import reactor
from twisted.internet.defer import DeferredList, inlineCallbacks
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent

from mesos_tw.protocols import messages_pb2
from mesos_tw.protocols.network import MessageNode
from mesos_tw.protocols.tls import TLSConfig, TLSError
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.certificates import CertificateAuthority, ClientPolicy
from mesos_tw.testing.network_contract import Inbox
from mesos_tw.web.site import BoundedSite


class HealthApp:
    """
    A tiny Klein app, to show HTTP shares the TLS port.
    """

    app = Klein()

    @app.route("/health")
    def health(self, request):
        return b"secure" if request.isSecure() else b"plain"


class SSLTestCase(TestCase):
    """
    A certificate authority, certificates for a server and a client, and
    one from an authority nobody trusts.
    """

    def setUp(self):
        directory = os.path.abspath(self.mktemp())
        self.ca = CertificateAuthority(directory)
        self.server_cert = self.ca.issue("server")
        self.client_cert = self.ca.issue("client")
        rogue = CertificateAuthority(os.path.join(directory, "rogue"), "rogue CA")
        self.rogue_cert = rogue.issue("rogue")

    def config(self, cert=None, **settings):
        """
        A TLS configuration with C{cert} (a pair of files) and the CA.
        """
        cert_file, key_file = cert or (None, None)
        return TLSConfig.from_settings(dict(
            {"enabled": "true", "cert_file": cert_file, "key_file": key_file,
             "ca_file": self.ca.ca_file}, **settings))

    @inlineCallbacks
    def serve(self, tls):
        """
        A listening node with C{tls}; its inbox.
        """
        inbox = Inbox()
        server = MessageNode(reactor, UPID("master", "127.0.0.1", 0), inbox, tls=tls)
        yield server.listen(TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"),
                            BoundedSite(HealthApp().app.resource(), reactor))
        self.addCleanup(server.stop)
        self.server = server
        return inbox

    def client(self, tls):
        """
        A client node with C{tls}; its inbox.
        """
        inbox = Inbox()
        node = MessageNode(reactor, UPID("scheduler-1", "127.0.0.1", 0), inbox, tls=tls)
        self.addCleanup(node.stop)
        return node, inbox

    @inlineCallbacks
    def exchange(self, server_inbox, client_tls):
        """
        Whether a client with C{client_tls} gets a message to the server
        (C{True}) or loses the connection (C{False}).
        """
        node, inbox = self.client(client_tls)
        before = len(server_inbox.messages)
        node.send(self.server.upid, messages_pb2.PingSlaveMessage())
        yield DeferredList([inbox.when(lambda: inbox.lost),
                            server_inbox.when(lambda: len(server_inbox.messages) > before)],
                           fireOnOneCallback=True, consumeErrors=True)
        return len(server_inbox.messages) > before

    @inlineCallbacks
    def get(self, tls):
        """
        The body of C{/health} over HTTPS (or HTTP when C{tls} is off).
        """
        port = self.server.upid.port
        if tls.enabled:
            client = treq.client.HTTPClient(Agent(reactor, contextFactory=ClientPolicy(tls)))
            response = yield client.get(f"https://127.0.0.1:{port}/health")
        else:
            client = treq.client.HTTPClient(Agent(reactor))
            response = yield client.get(f"http://127.0.0.1:{port}/health")
        body = yield response.content()
        return body


class SSLTests(SSLTestCase):
    """
    Mesos's C{SSLTest} cases.
    """

    @inlineCallbacks
    def test_basic(self):
        """
        With TLS enabled on both sides, frames and HTTP share the port, and
        the HTTP request knows it came over TLS.
        """
        inbox = yield self.serve(self.config(self.server_cert))
        self.assertTrue((yield self.exchange(inbox, self.config())))
        self.assertEqual((yield self.get(self.config())), b"secure")

    @inlineCallbacks
    def test_alpn(self):
        """
        A client offering protocols over ALPN, as curl and browsers offer
        C{h2} and C{http/1.1}, is answered HTTP/1.1 (Twisted's TLS fails the
        handshake when it agrees to none).
        """
        yield self.serve(self.config(self.server_cert))
        client = treq.client.HTTPClient(Agent(reactor, contextFactory=ClientPolicy(
            self.config(), alpn=[b"h2", b"http/1.1"])))
        response = yield client.get(f"https://127.0.0.1:{self.server.upid.port}/health")
        self.assertEqual((yield response.content()), b"secure")

    @inlineCallbacks
    def test_require_certificate(self):
        """
        A server requiring certificates refuses a client without one, and
        takes one whose certificate the CA signed.
        """
        inbox = yield self.serve(self.config(self.server_cert, require_cert="true"))
        self.assertFalse((yield self.exchange(inbox, self.config())))
        self.assertEqual(inbox.messages, [])
        self.assertTrue((yield self.exchange(inbox, self.config(self.client_cert))))

    @inlineCallbacks
    def test_require_certificate_from_our_authority(self):
        """
        A client certificate another authority signed is refused.
        """
        inbox = yield self.serve(self.config(self.server_cert, require_cert="true"))
        self.assertFalse((yield self.exchange(inbox, self.config(self.rogue_cert))))
        self.assertEqual(inbox.messages, [])

    @inlineCallbacks
    def test_verify_certificate(self):
        """
        A client verifying certificates talks to a server whose certificate
        the CA signed for its address, not to one another authority signed.
        """
        inbox = yield self.serve(self.config(self.rogue_cert))
        self.assertFalse((yield self.exchange(inbox, self.config(verify_cert="true"))))
        yield self.server.stop()
        inbox = yield self.serve(self.config(self.server_cert))
        self.assertTrue((yield self.exchange(inbox, self.config(verify_cert="true"))))

    @inlineCallbacks
    def test_no_downgrade(self):
        """
        A TLS-only port refuses a plain-text client (frames or HTTP).
        """
        inbox = yield self.serve(self.config(self.server_cert))
        self.assertFalse((yield self.exchange(inbox, TLSConfig())))
        self.assertEqual(inbox.messages, [])
        with self.assertRaises(Exception):
            yield self.get(TLSConfig())

    @inlineCallbacks
    def test_downgrade(self):
        """
        With downgrade support the port takes plain and TLS clients alike.
        """
        inbox = yield self.serve(self.config(self.server_cert, support_downgrade="true"))
        self.assertTrue((yield self.exchange(inbox, TLSConfig())))
        self.assertEqual((yield self.get(TLSConfig())), b"plain")
        self.assertTrue((yield self.exchange(inbox, self.config())))
        self.assertEqual((yield self.get(self.config())), b"secure")


class TLSConfigTests(SynchronousTestCase):
    """
    Reading libprocess's variables.
    """

    def test_environment(self):
        """
        The C{LIBPROCESS_SSL_*} variables make the configuration, and a
        configuration gives its variables to a child process.
        """
        ca = CertificateAuthority(os.path.abspath(self.mktemp()))
        cert_file, key_file = ca.issue("server")
        environ = {"LIBPROCESS_SSL_ENABLED": "1", "LIBPROCESS_SSL_CERT_FILE": cert_file,
                   "LIBPROCESS_SSL_KEY_FILE": key_file, "LIBPROCESS_SSL_CA_FILE": ca.ca_file,
                   "LIBPROCESS_SSL_REQUIRE_CERT": "true"}
        config = TLSConfig.from_environ(environ)
        self.assertTrue(config.enabled and config.require_cert and config.verifies)
        self.assertEqual(TLSConfig.from_environ(config.environment()), config)
        self.assertFalse(TLSConfig.from_environ({}).enabled)

    def test_errors(self):
        """
        Each unusable setting is named.
        """
        cases = [
            ({"enabled": "maybe"}, "LIBPROCESS_SSL_ENABLED must be true or false"),
            ({"enabled": "true", "cert_file": "/c.pem"}, "set both or neither"),
            ({"enabled": "true", "verify_cert": "true"}, "LIBPROCESS_SSL_CA_FILE is not set"),
            ({"enabled": "true", "cert_file": "/nonexistent", "key_file": "/nonexistent"},
             "cannot read the certificate"),
        ]
        for settings, message in cases:
            with self.assertRaises(TLSError) as caught:
                TLSConfig.from_settings(settings)
            self.assertIn(message, str(caught.exception))
