"""
TLS for the message port, configured as libprocess configures it: the
C{LIBPROCESS_SSL_*} environment variables (read by every process: master,
slave, drivers, executors, as in Mesos), or the daemons' C{--ssl_*} flags.

- C{LIBPROCESS_SSL_ENABLED}: connections are TLS, frames and HTTP alike.
- C{LIBPROCESS_SSL_CERT_FILE}, C{LIBPROCESS_SSL_KEY_FILE}: our certificate
  (PEM) and its key, shown to peers (servers always; clients when they
  have one, for mutual TLS).
- C{LIBPROCESS_SSL_CA_FILE}: the certificate authority peers' certificates
  are checked against.
- C{LIBPROCESS_SSL_VERIFY_CERT}: check the peer's certificate (a server
  checks a client's when it shows one; a client checks the server's,
  including that it names the host or address connected to).
- C{LIBPROCESS_SSL_REQUIRE_CERT}: a server refuses clients without a good
  certificate (mutual TLS); implies verification.
- C{LIBPROCESS_SSL_SUPPORT_DOWNGRADE}: a server also accepts plain
  connections (told apart by their first byte: a TLS handshake starts with
  0x16), while an operator migrates.
"""

import os
from dataclasses import dataclass, field

from twisted.internet import ssl

__all__ = ["TLSConfig", "TLSError", "TLS_HANDSHAKE_BYTE", "TLS_PARAMETERS", "check_tls"]

#: The first byte of a TLS connection (a handshake record).
TLS_HANDSHAKE_BYTE = 0x16

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no", "")


class TLSError(ValueError):
    """
    A TLS configuration that cannot be used; the message says why.
    """


def _flag(value, name):
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise TLSError(f"{name} must be true or false, not {value!r}")


def _read(path, what):
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise TLSError(f"cannot read the {what} '{path}': {error.strerror}") from None


@dataclass(frozen=True)
class TLSConfig:
    """
    How a process speaks TLS (L{None}-like when C{enabled} is false).
    """

    enabled: bool = False
    cert_file: str = None
    key_file: str = None
    ca_file: str = None
    verify_cert: bool = False
    require_cert: bool = False
    support_downgrade: bool = False
    _loaded: dict = field(default_factory=dict, compare=False, repr=False)

    #: The settings and their C{LIBPROCESS_SSL_*} names.
    NAMES = ("enabled", "cert_file", "key_file", "ca_file", "verify_cert", "require_cert",
             "support_downgrade")

    @classmethod
    def from_settings(cls, settings):
        """
        From C{{name: text}} (names as in L{NAMES}; absent ones default).

        @raise TLSError: for a value that is not a boolean, or TLS enabled
            without a certificate and key, or verification without a CA.
        """
        values = {}
        for name in cls.NAMES:
            value = settings.get(name)
            if value is None:
                continue
            values[name] = value if name.endswith("_file") else _flag(
                value, f"LIBPROCESS_SSL_{name.upper()}")
        config = cls(**values)
        if config.enabled:
            if bool(config.cert_file) != bool(config.key_file):
                raise TLSError("LIBPROCESS_SSL_CERT_FILE and LIBPROCESS_SSL_KEY_FILE go "
                               "together: set both or neither")
            if config.verifies and not config.ca_file:
                raise TLSError("certificates are to be verified but LIBPROCESS_SSL_CA_FILE "
                               "is not set")
            if config.cert_file:
                config.certificate()
            config.authority()
        return config

    @classmethod
    def from_environ(cls, environ=None):
        """
        From the C{LIBPROCESS_SSL_*} variables of C{environ} (the process's).
        """
        environ = os.environ if environ is None else environ
        return cls.from_settings({name: environ.get(f"LIBPROCESS_SSL_{name.upper()}")
                                  for name in cls.NAMES})

    def environment(self):
        """
        The C{LIBPROCESS_SSL_*} variables that give a child process (an
        executor) this configuration.
        """
        if not self.enabled:
            return {}
        found = {}
        for name in self.NAMES:
            value = getattr(self, name)
            if value is not None:
                found[f"LIBPROCESS_SSL_{name.upper()}"] = \
                    value if isinstance(value, str) else ("true" if value else "false")
        return found

    @property
    def verifies(self):
        """
        Whether peers' certificates are checked.
        """
        return self.verify_cert or self.require_cert

    def certificate(self):
        """
        Our certificate with its key (a L{ssl.PrivateCertificate}).
        """
        if "certificate" not in self._loaded:
            pem = _read(self.cert_file, "certificate") + b"\n" + _read(self.key_file, "key")
            try:
                self._loaded["certificate"] = ssl.PrivateCertificate.loadPEM(pem)
            except Exception as error:
                raise TLSError(f"the certificate '{self.cert_file}' or key "
                               f"'{self.key_file}' is not usable PEM: {error}") from None
        return self._loaded["certificate"]

    def authority(self):
        """
        The certificate authority (a L{ssl.Certificate}), or L{None}.
        """
        if not self.ca_file:
            return None
        if "authority" not in self._loaded:
            try:
                self._loaded["authority"] = ssl.Certificate.loadPEM(
                    _read(self.ca_file, "CA certificate"))
            except TLSError:
                raise
            except Exception as error:
                raise TLSError(f"the CA certificate '{self.ca_file}' is not usable PEM: "
                               f"{error}") from None
        return self._loaded["authority"]

    def server_options(self):
        """
        The server side's context factory.

        @raise TLSError: without a certificate (a client may have none; a
            server must).
        """
        if not self.cert_file:
            raise TLSError("listening with TLS needs LIBPROCESS_SSL_CERT_FILE and "
                           "LIBPROCESS_SSL_KEY_FILE")
        certificate = self.certificate()
        authority = self.authority()
        return ssl.CertificateOptions(
            privateKey=certificate.privateKey.original,
            certificate=certificate.original,
            verify=self.verifies and authority is not None,
            caCerts=[authority.original] if authority is not None and self.verifies else None,
            requireCertificate=self.require_cert,
        )

    def client_creator(self, host):
        """
        The client side's connection creator for a connection to C{host}.
        """
        certificate = self.certificate() if self.cert_file and self.key_file else None
        if self.verifies:
            return ssl.optionsForClientTLS(
                host, trustRoot=self.authority(), clientCertificate=certificate)
        options = {"verify": False}
        if certificate is not None:
            options.update(privateKey=certificate.privateKey.original,
                           certificate=certificate.original)
        return ssl.CertificateOptions(**options)

    def url_scheme(self):
        """
        C{https} when enabled, else C{http} (for URLs of peers' endpoints).
        """
        return "https" if self.enabled else "http"


#: The daemons' flags for TLS; each defaults to its C{LIBPROCESS_SSL_*}
#: variable.
TLS_PARAMETERS = [
    ["ssl_enabled", None, None, "Speak TLS on every connection (LIBPROCESS_SSL_ENABLED)."],
    ["ssl_cert_file", None, None, "Our certificate, PEM (LIBPROCESS_SSL_CERT_FILE)."],
    ["ssl_key_file", None, None, "Its private key, PEM (LIBPROCESS_SSL_KEY_FILE)."],
    ["ssl_ca_file", None, None, "The CA peers' certificates are checked against "
     "(LIBPROCESS_SSL_CA_FILE)."],
    ["ssl_verify_cert", None, None, "Check peers' certificates (LIBPROCESS_SSL_VERIFY_CERT)."],
    ["ssl_require_cert", None, None, "Refuse clients without a good certificate: mutual TLS "
     "(LIBPROCESS_SSL_REQUIRE_CERT)."],
    ["ssl_support_downgrade", None, None, "Also accept plain connections on the port "
     "(LIBPROCESS_SSL_SUPPORT_DOWNGRADE)."],
]


def check_tls(options, environ=None):
    """
    The TLS configuration of parsed daemon C{options} (C{tls}): each
    C{--ssl_*} flag, else its C{LIBPROCESS_SSL_*} variable.

    @raise ValueError: naming what is wrong.
    """
    environ = os.environ if environ is None else environ
    settings = {}
    for name in TLSConfig.NAMES:
        value = options.get(f"ssl_{name}")
        settings[name] = value if value is not None else environ.get(
            f"LIBPROCESS_SSL_{name.upper()}")
    options["tls"] = TLSConfig.from_settings(settings)
