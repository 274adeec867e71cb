"""Sign and verify small payloads (approvals, audit checkpoints) with per-identity EC keys.

    signer = PayloadSigner(home.keys)
    sig = signer.sign("demo-approver", payload)          # base64 DER ECDSA-P256/SHA-256
    signer.verify("demo-approver", payload, sig)         # any key trusted for the identity, else SignatureError

Keys are `mlsecops.trust.keyring.KeyRing`'s: `<identity>.pem` (mode 0600) and `<identity>.pub`
in one folder; a private key is generated (and trusted) on first use by its owner. Verification
accepts any key the trust file lists for the identity, so `mlsecops keys rotate` / `keys untrust`
apply to approvals and audit checkpoints too, and never creates a key.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mlsecops.trust.keyring import KeyRing, check_identity
from mlsecops.core.errors import SignatureError


class PayloadSigner:
    """ECDSA P-256 signatures over bytes, keyed by identity name."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._private: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._public: dict[str, ec.EllipticCurvePublicKey] = {}
        self._trust_cache: dict[str, tuple[tuple[int, int, int], dict[str, Path]]] = {}

    def private_key_path(self, identity: str) -> Path:
        """The identity's private key, generating (and trusting) the pair on first use."""
        return KeyRing(self.folder).private_key(check_identity(identity))

    def public_key_path(self, identity: str) -> Path:
        return KeyRing(self.folder).public_key(check_identity(identity))

    def fingerprint(self, identity: str) -> str:
        """Fingerprint of the identity's current public key, as listed in the trust file."""
        return KeyRing(self.folder).fingerprint(identity)

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

    def _trusted(self, ring: KeyRing, identity: str) -> dict[str, Path]:
        """The trust file's keys for `identity`, re-read whenever the trust file changes."""
        try:
            st = ring.trust_file.stat()
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        cached = self._trust_cache.get(identity)
        if cached is not None and stamp is not None and cached[0] == stamp:
            return cached[1]
        trusted = ring.trusted(identity)
        if stamp is not None:
            self._trust_cache[identity] = (stamp, trusted)
        return trusted

    def verify(self, identity: str, payload: bytes, signature: str) -> None:
        """Raise SignatureError unless a key trusted for `identity` (trust file) made `signature`."""
        ring = KeyRing(self.folder)
        trusted = self._trusted(ring, check_identity(identity))
        if not trusted:
            raise SignatureError(f"no key is trusted for identity '{identity}' in {ring.trust_file}")
        try:
            raw = base64.b64decode(signature, validate=True)
        except (ValueError, TypeError):
            raise SignatureError(f"signature of '{identity}' is not base64") from None
        for fingerprint, path in trusted.items():
            key = self._public.get(fingerprint)
            if key is None:
                try:
                    key = serialization.load_pem_public_key(path.read_bytes())
                except (OSError, ValueError) as exc:
                    raise SignatureError(f"trusted key {path} of '{identity}' is unreadable: {exc}") from None
                if not isinstance(key, ec.EllipticCurvePublicKey):
                    raise SignatureError(f"trusted key {path} of '{identity}' is not an EC key")
                self._public[fingerprint] = key
            try:
                key.verify(raw, payload, ec.ECDSA(hashes.SHA256()))
                return
            except InvalidSignature:
                continue
        raise SignatureError(f"signature does not verify with any key trusted for '{identity}' "
                             f"({', '.join(f[:12] for f in trusted)})")
