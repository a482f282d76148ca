"""TLS for the gRPC port: the server's certificate, optionally required client certificates (mTLS),
re-read when the files change, without a restart.

Certificates are rotated in place (cert-manager, a Kubernetes Secret's
atomic symlink swap, a cron job). grpc asks `CertificateFiles.fetch` at the
start of every new connection whether the configuration changed; it compares
the files' stat (inode, size, mtime: cheap enough per connection) and reads
them again only when that changed. Connections already open keep the
certificate they were made with.

A rotation is not atomic for every tool: a certificate may be written before
its key. A new set is checked first (the key matches the certificate, the CA
file parses, with the standard library's ssl); one that does not pass is not
used, the last good set keeps serving, and the change is logged once. At
start, a set that does not pass is refused with the flag it came from.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import grpc

log = logging.getLogger(__name__)


class CertificateError(ValueError):
    """The TLS files do not make a usable set; the message names the file and flag."""


class CertificateFiles:
    """The certificate, key and client CA as files; `fetch` is grpc's certificate configuration fetcher."""

    def __init__(self, cert: Path, key: Path, client_ca: Path | None = None) -> None:
        self.cert, self.key, self.client_ca = cert, key, client_ca
        self._stamp = self._stat()
        self.initial = self._configuration()
        self._refused: tuple[tuple[int, int, int], ...] | None = None

    def _paths(self) -> tuple[Path, ...]:
        return (self.cert, self.key) + ((self.client_ca,) if self.client_ca else ())

    def _stat(self) -> tuple[tuple[int, int, int], ...]:
        stats = []
        for path in self._paths():
            try:
                stat = path.stat()  # follows symlinks: a swapped link is a change
            except OSError:
                stats.append((0, 0, 0))
            else:
                stats.append((stat.st_ino, stat.st_size, stat.st_mtime_ns))
        return tuple(stats)

    def _configuration(self) -> grpc.ServerCertificateConfiguration:
        """Read and check the files; CertificateError names the one that does not serve."""
        try:
            cert, key = self.cert.read_bytes(), self.key.read_bytes()
            ca = self.client_ca.read_bytes() if self.client_ca else None
        except OSError as error:
            raise CertificateError(f"cannot read {error.filename}: {error.strerror}") from None
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.cert, self.key)
        except (ssl.SSLError, OSError) as error:
            raise CertificateError(f"--tls-cert {self.cert} and --tls-key {self.key} do not make a certificate and its key: {error}") from None
        if self.client_ca:
            try:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_verify_locations(cafile=self.client_ca)
            except (ssl.SSLError, OSError) as error:
                raise CertificateError(f"--tls-client-ca {self.client_ca} holds no usable CA certificate: {error}") from None
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """The new configuration when the files changed and pass the checks; None: keep the current one."""
        stamp = self._stat()
        if stamp == self._stamp or stamp == self._refused:
            return None
        try:
            configuration = self._configuration()
        except CertificateError as error:
            self._refused = stamp  # logged once per state of the files, not once per connection
            log.warning("not using the changed TLS files, still serving the previous ones: %s", error, extra={"event": "tls_refused"})
            return None
        self._stamp, self._refused = stamp, None
        log.info("serving the changed TLS certificate", extra={"event": "tls_rotated"})
        return configuration


def server_credentials(cert: Path, key: Path, client_ca: Path | None = None) -> grpc.ServerCredentials:
    """Credentials re-read on rotation; with `client_ca`, clients must present a certificate it signed."""
    files = CertificateFiles(cert, key, client_ca)
    return grpc.dynamic_ssl_server_credentials(files.initial, files.fetch, require_client_authentication=client_ca is not None)
