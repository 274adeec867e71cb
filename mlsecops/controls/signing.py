"""Sign and verify model folders with model-signing and per-identity local EC keys.

    keys = KeyRing(home.keys)
    bundle = sign_model(model_dir, keys.private_key("trainer"))          # writes model_dir + ".sig"
    signed = verify_model(model_dir, bundle, keys.public_key("trainer"))  # raises SignatureError

Keys are generated on first use (P-256, private key file mode 0600). Keyless Sigstore signing
needs the network and is not used by default.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mlsecops.errors import SignatureError
from mlsecops.fileio import canonical_json, sha256_bytes, sha256_file, write_bytes_atomic

SIGNATURE_SUFFIX = ".sig"


class KeyRing:
    """Per-identity EC key pairs under one folder: `<identity>.pem` (0600) and `<identity>.pub`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def private_key(self, identity: str) -> Path:
        """Path of the identity's private key, generating the pair on first use."""
        _check_identity(identity)
        pem = self.folder / f"{identity}.pem"
        if not pem.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            os.chmod(self.folder, 0o700)
            key = ec.generate_private_key(ec.SECP256R1())
            write_bytes_atomic(pem, key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()), mode=0o600)
            write_bytes_atomic(self.folder / f"{identity}.pub", key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), mode=0o644)
        return pem

    def public_key(self, identity: str) -> Path:
        """Path of the identity's public key; an unknown identity is an error, not a new key."""
        _check_identity(identity)
        pub = self.folder / f"{identity}.pub"
        if not pub.exists():
            raise SignatureError(f"no public key for identity '{identity}' in {self.folder}")
        return pub

    def fingerprint(self, identity: str) -> str:
        return sha256_file(self.public_key(identity))


def _check_identity(identity: str) -> None:
    if not identity or not identity.replace("-", "").replace("_", "").isalnum():
        raise SignatureError(f"identity '{identity}' must be letters, digits, '-' or '_'")


@dataclass(frozen=True)
class SignedModel:
    """What a verified bundle vouches for: every file's sha256 and the folder digest they give."""

    manifest: dict[str, str]
    digest: str
    bundle_sha256: str


def signature_path(model_dir: Path) -> Path:
    return Path(model_dir).with_name(Path(model_dir).name + SIGNATURE_SUFFIX)


def sign_model(model_dir: Path, private_key: Path, bundle: Path | None = None) -> Path:
    """Sign every file of `model_dir` into a Sigstore bundle (default: beside the folder)."""
    from model_signing import signing

    bundle = Path(bundle or signature_path(model_dir))
    tmp = bundle.with_name(f".{bundle.name}.tmp")
    try:
        signing.Config().use_elliptic_key_signer(private_key=private_key).sign(model_dir, tmp)
        os.replace(tmp, bundle)
    finally:
        tmp.unlink(missing_ok=True)
    return bundle


def verify_model(model_dir: Path, bundle: Path, public_key: Path) -> SignedModel:
    """Verify the bundle over the folder; raise SignatureError naming what does not match."""
    from model_signing import verifying

    model_dir, bundle = Path(model_dir), Path(bundle)
    if not model_dir.is_dir():
        raise SignatureError(f"model folder {model_dir} does not exist")
    if not bundle.is_file():
        raise SignatureError(f"signature bundle {bundle} does not exist")
    try:
        verifying.Config().use_elliptic_key_verifier(public_key=public_key).verify(model_dir, bundle)
    except Exception as exc:  # model-signing raises ValueError and friends; one family for callers
        raise SignatureError(f"signature of {model_dir} does not verify with {Path(public_key).name}: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from None
    manifest = signed_manifest(bundle)
    return SignedModel(manifest, sha256_bytes(canonical_json(manifest)), sha256_file(bundle))


def signed_manifest(bundle: Path) -> dict[str, str]:
    """The file -> sha256 map inside a bundle's DSSE in-toto statement (read, not verified)."""
    try:
        envelope = json.loads(Path(bundle).read_text(encoding="utf-8"))["dsseEnvelope"]
        statement = json.loads(base64.b64decode(envelope["payload"]))
        resources = statement["predicate"]["resources"]
        return dict(sorted((r["name"], r["digest"]) for r in resources))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"signature bundle {bundle} is malformed: {exc}") from None
