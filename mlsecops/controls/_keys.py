"""Sign and verify small payloads (approvals, audit checkpoints) with per-identity EC keys.

    signer = PayloadSigner(home.keys)
    sig = signer.sign("demo-approver", payload)          # base64 DER ECDSA-P256/SHA-256
    signer.verify("demo-approver", payload, sig)         # raises SignatureError

Keys are `mlsecops.controls.signing.KeyRing`'s: `<identity>.pem` (mode 0600) and `<identity>.pub`
in one folder; a private key is generated on first use by its owner, while verification never
creates a key (an unknown identity is an error).
"""

from __future__ import annotations

import base64
import fcntl
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mlsecops.controls.signing import KeyRing
from mlsecops.errors import SignatureError
from mlsecops.fileio import sha256_file


def check_identity(identity: str) -> str:
    if not identity or not identity.replace("-", "").replace("_", "").isalnum() or not identity.isascii():
        raise SignatureError(f"identity '{identity}' must be ASCII letters, digits, '-' or '_'")
    return identity


class PayloadSigner:
    """ECDSA P-256 signatures over bytes, keyed by identity name."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._private: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._public: dict[str, ec.EllipticCurvePublicKey] = {}

    def private_key_path(self, identity: str) -> Path:
        """The identity's private key, generating the pair on first use (one process at a time)."""
        pem = self.folder / f"{check_identity(identity)}.pem"
        if pem.exists():
            return pem
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".keygen.lock", "a") as lock:  # two first users must not mix two key pairs
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return KeyRing(self.folder).private_key(identity)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def public_key_path(self, identity: str) -> Path:
        return KeyRing(self.folder).public_key(check_identity(identity))

    def fingerprint(self, identity: str) -> str:
        """sha256 of the identity's public key file."""
        return sha256_file(self.public_key_path(identity))

    def sign(self, identity: str, payload: bytes) -> str:
        key = self._private.get(identity)
        if key is None:
            path = self.private_key_path(identity)
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (OSError, ValueError, TypeError) as exc:
                raise SignatureError(f"private key {path} of '{identity}' is unreadable: {exc}") from None
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise SignatureError(f"private key {path} of '{identity}' is not an EC key")
            self._private[identity] = key
        return base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()

    def verify(self, identity: str, payload: bytes, signature: str) -> None:
        """Raise SignatureError unless `signature` is `identity`'s signature over `payload`."""
        key = self._public.get(identity)
        if key is None:
            path = self.public_key_path(identity)
            try:
                key = serialization.load_pem_public_key(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise SignatureError(f"public key {path} of '{identity}' is unreadable: {exc}") from None
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise SignatureError(f"public key {path} of '{identity}' is not an EC key")
            self._public[identity] = key
        try:
            key.verify(base64.b64decode(signature, validate=True), payload, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, TypeError):
            raise SignatureError(f"signature does not verify with the public key of '{identity}'") from None
