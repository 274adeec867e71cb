"""Per-identity EC key pairs and the trust file: which public keys are accepted for which identity.

    keys = KeyRing(home.keys)
    keys.private_key("trainer")       # path of the identity's private key (generated on first use)
    keys.trusted("trainer")           # fingerprint -> public key file accepted for the identity

Keys are `<identity>.pem` (mode 0600) and `<identity>.pub` in one folder; `trust.json` lists the
accepted public keys per identity. Rotation (`KeyRing.rotate`) retires the old pair and trusts the
new key; the old key stays trusted until `KeyRing.untrust(fingerprint)` removes it.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mlsecops.core.errors import SignatureError
from mlsecops.core.fileio import sha256_bytes, write_bytes_atomic, write_json_atomic

TRUST_FILE = "trust.json"


class KeyRing:
    """Per-identity EC key pairs under one folder: `<identity>.pem` (0600) and `<identity>.pub`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def private_key(self, identity: str) -> Path:
        """Path of the identity's private key, generating the pair on first use."""
        check_identity(identity)
        pem = self.folder / f"{identity}.pem"
        if pem.exists():
            return pem
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        with open(self.folder / ".keygen.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent first users: one key pair, no lost trust entry
            if not pem.exists():              # the .pem is written last: it exists only for a complete pair
                key = ec.generate_private_key(ec.SECP256R1())
                write_bytes_atomic(self.folder / f"{identity}.pub", key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), mode=0o644)
                self.trust(identity, self.folder / f"{identity}.pub")
                write_bytes_atomic(pem, key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()), mode=0o600)
        return pem

    def public_key(self, identity: str) -> Path:
        """Path of the identity's public key; an unknown identity is an error, not a new key."""
        check_identity(identity)
        pub = self.folder / f"{identity}.pub"
        if not pub.exists():
            raise SignatureError(f"no public key for identity '{identity}' in {self.folder}")
        return pub

    def fingerprint(self, identity: str) -> str:
        return key_fingerprint(self.public_key(identity))

    # -- trust file: the accepted public keys, per identity ------------------------------------
    @property
    def trust_file(self) -> Path:
        return self.folder / TRUST_FILE

    def _read_trust(self) -> dict:
        if not self.trust_file.exists():
            return {"version": 1, "keys": []}
        try:
            data = json.loads(self.trust_file.read_text(encoding="utf-8"))
            assert isinstance(data.get("keys"), list)
            return data
        except (OSError, ValueError, AssertionError, AttributeError) as exc:
            raise SignatureError(f"trust file {self.trust_file} is unreadable: {exc}; restore it from backup") from None

    def trust_entries(self) -> list[dict]:
        """Every trusted key: identity, fingerprint, when it was added."""
        return list(self._read_trust()["keys"])

    def trust(self, identity: str, public_key: Path) -> str:
        """Accept signatures by `public_key` for `identity`; return its fingerprint."""
        check_identity(identity)
        fingerprint = key_fingerprint(public_key)
        stored = self.folder / "trusted" / f"{fingerprint}.pub"
        if not stored.exists():
            write_bytes_atomic(stored, Path(public_key).read_bytes(), mode=0o644)
        data = self._read_trust()
        if not any(k["fingerprint"] == fingerprint and k["identity"] == identity for k in data["keys"]):
            data["keys"].append({"identity": identity, "fingerprint": fingerprint,
                                 "added": datetime.now(timezone.utc).isoformat(timespec="seconds")})
            write_json_atomic(self.trust_file, data)
        return fingerprint

    def untrust(self, fingerprint: str) -> list[str]:
        """Stop accepting the key(s) whose fingerprint starts with `fingerprint` (at least 12 hex)."""
        if len(fingerprint) < 12:
            raise SignatureError("give at least 12 hex digits of the fingerprint to untrust")
        data = self._read_trust()
        removed = [k["fingerprint"] for k in data["keys"] if k["fingerprint"].startswith(fingerprint)]
        if not removed:
            raise SignatureError(f"no trusted key with fingerprint {fingerprint}… in {self.trust_file}")
        data["keys"] = [k for k in data["keys"] if k["fingerprint"] not in removed]
        write_json_atomic(self.trust_file, data)
        return removed

    def trusted(self, identity: str) -> dict[str, Path]:
        """Fingerprint -> public key file of every key trusted for `identity`.

        A keys folder from before trust files existed gets one, trusting the current key pairs.
        """
        check_identity(identity)
        if not self.trust_file.exists():
            for pub in sorted(self.folder.glob("*.pub")):
                if (self.folder / f"{pub.stem}.pem").exists():
                    self.trust(pub.stem, pub)
        out = {k["fingerprint"]: self.folder / "trusted" / f"{k['fingerprint']}.pub"
               for k in self._read_trust()["keys"] if k["identity"] == identity}
        for fingerprint, path in out.items():
            if not path.exists() or key_fingerprint(path) != fingerprint:
                raise SignatureError(f"trusted key {path} is missing or does not match its fingerprint "
                                     f"{fingerprint[:12]}… in {self.trust_file}")
        return out

    def rotate(self, identity: str) -> str:
        """Retire the identity's key pair (kept as `<identity>.<fp12>.pem/.pub`), make and trust a new one.

        The old key stays trusted (models it signed still verify) until `untrust` removes it.
        Returns the new key's fingerprint.
        """
        old = self.public_key(identity)
        tag = key_fingerprint(old)[:12]
        os.replace(self.folder / f"{identity}.pem", self.folder / f"{identity}.{tag}.pem")
        os.replace(old, self.folder / f"{identity}.{tag}.pub")
        self.private_key(identity)
        return self.fingerprint(identity)


def key_fingerprint(public_key: Path) -> str:
    """sha256 of the key's PEM SubjectPublicKeyInfo: the `hint` model-signing puts in bundles."""
    try:
        key = serialization.load_pem_public_key(Path(public_key).read_bytes())
    except (OSError, ValueError) as exc:
        raise SignatureError(f"public key {public_key} is unreadable: {exc}") from None
    return sha256_bytes(key.public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo))


def check_identity(identity: str) -> str:
    """The one identity-name rule (names become file names): ASCII letters, digits, '-' or '_'."""
    if not identity or not identity.isascii() or not identity.replace("-", "").replace("_", "").isalnum():
        raise SignatureError(f"identity '{identity}' must be ASCII letters, digits, '-' or '_'")
    return identity
