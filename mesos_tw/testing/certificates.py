"""
Certificates for TLS tests, made on the spot: a certificate authority, and
certificates it signs naming C{localhost} and 127.0.0.1 (so that a client
that checks the server's certificate accepts it), written as PEM files.
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import ssl
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

__all__ = ["CertificateAuthority", "ClientPolicy"]

_DAY = datetime.timedelta(days=1)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(path, data):
    with open(path, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)
    return path


class CertificateAuthority:
    """
    A certificate authority whose files live in C{directory}.

    @ivar ca_file: the authority's certificate (PEM).
    """

    def __init__(self, directory, name="mesos_tw test CA"):
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self._certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(_name(name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY).not_valid_after(now + 30 * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256()))
        self.ca_file = _write(os.path.join(directory, "ca.pem"),
                              self._certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, name, hosts=("localhost",), addresses=("127.0.0.1",)):
        """
        A certificate for C{name} naming C{hosts} and C{addresses}.

        @return: C{(cert_file, key_file)}.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        names = [x509.DNSName(host) for host in hosts] + \
            [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(self._certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY).not_valid_after(now + 30 * _DAY)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(self._key, hashes.SHA256()))
        cert_file = _write(os.path.join(self.directory, f"{name}.pem"),
                           certificate.public_bytes(serialization.Encoding.PEM))
        key_file = _write(os.path.join(self.directory, f"{name}.key"), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
        return cert_file, key_file


@implementer(IPolicyForHTTPS)
class ClientPolicy:
    """
    Twisted's HTTPS client policy from a L{TLSConfig}.
    """

    def __init__(self, tls, alpn=None):
        self.tls = tls
        self.alpn = alpn

    def creatorForNetloc(self, hostname, port):
        """
        Client TLS options for C{hostname}: our authority, our client
        certificate (or the ALPN protocols, when given).
        """
        if self.alpn is not None:
            return ssl.optionsForClientTLS(hostname.decode("ascii"),
                                           trustRoot=self.tls.authority(),
                                           acceptableProtocols=self.alpn)
        return self.tls.client_creator(hostname.decode("ascii"))
