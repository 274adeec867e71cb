"""Sign and verify model folders with model-signing and per-identity local EC keys.

    keys = KeyRing(home.keys)
    bundle = sign_model(model_dir, keys.private_key("trainer"))          # writes model_dir + ".sig"
    signed = verify_model(model_dir, bundle, keys.public_key("trainer"))  # raises SignatureError
    signed = verify_trusted(model_dir, bundle, keys, "trainer")           # any key in trust.json

Keys are generated on first use (P-256, private key file mode 0600) and added to the trust file
`<keys>/trust.json`, which lists the public keys whose signatures are accepted, per identity.
Rotation (`KeyRing.rotate`) retires the old pair and trusts the new key; the old key stays
trusted until `KeyRing.untrust(fingerprint)` removes it, after which its signatures fail.
Keyless Sigstore signing needs the network and is not used by default (see README).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mlsecops.errors import SignatureError
from mlsecops.fileio import canonical_json, sha256_bytes, sha256_file, write_bytes_atomic, write_json_atomic

SIGNATURE_SUFFIX = ".sig"
TRUST_FILE = "trust.json"


class KeyRing:
    """Per-identity EC key pairs under one folder: `<identity>.pem` (0600) and `<identity>.pub`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def private_key(self, identity: str) -> Path:
        """Path of the identity's private key, generating the pair on first use."""
        _check_identity(identity)
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
        _check_identity(identity)
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
        _check_identity(identity)
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
        _check_identity(identity)
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
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SignatureError(f"signature of {model_dir} does not verify with {Path(public_key).name}: "
                             f"{_explain(model_dir, bundle) or first}") from None
    manifest = signed_manifest(bundle)
    # model-signing skips paths it ignores by default (.git, .gitignore, .github, .gitattributes):
    # anything in the folder that the signature does not cover is an addition, and refused
    present = {p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file() or p.is_symlink()}
    if extra := sorted(present - set(manifest)):
        raise SignatureError(f"signature of {model_dir} does not cover {', '.join(extra[:5])}: "
                             f"{extra[0]} was added after signing")
    return SignedModel(manifest, sha256_bytes(canonical_json(manifest)), sha256_file(bundle))


def _explain(model_dir: Path, bundle: Path) -> str | None:
    """Which files differ from the bundle's manifest, in words (the verdict is model-signing's)."""
    try:
        signed = signed_manifest(bundle)
    except SignatureError:
        return None
    actual = {p.relative_to(model_dir).as_posix(): p for p in sorted(Path(model_dir).rglob("*"))
              if p.is_file() or p.is_symlink()}
    problems = [f"{name} was added" for name in actual if name not in signed]
    problems += [f"{name} is missing" for name in signed if name not in actual]
    for name, path in actual.items():
        if name in signed and not path.is_symlink() and sha256_file(path) != signed[name]:
            problems.append(f"{name} changed (sha256 {sha256_file(path)[:12]}… != signed {signed[name][:12]}…)")
    return "; ".join(problems) or None


def bundle_key_hint(bundle: Path) -> str | None:
    """The fingerprint of the key a bundle says it was signed with (read, not verified)."""
    try:
        data = json.loads(Path(bundle).read_text(encoding="utf-8"))
        return data.get("verificationMaterial", {}).get("publicKey", {}).get("hint") or None
    except (OSError, ValueError, AttributeError) as exc:
        raise SignatureError(f"signature bundle {bundle} is malformed: {exc}") from None


def verify_trusted(model_dir: Path, bundle: Path, keys: KeyRing, identity: str) -> SignedModel:
    """Verify with the key the bundle names, which must be trusted for `identity` in the trust file."""
    bundle = Path(bundle)
    if not bundle.is_file():
        raise SignatureError(f"signature bundle {bundle} does not exist")
    trusted = keys.trusted(identity)
    if not trusted:
        raise SignatureError(f"no key is trusted for identity '{identity}' in {keys.trust_file}")
    hint = bundle_key_hint(bundle)
    if hint is not None and hint not in trusted:
        raise SignatureError(f"signature bundle {bundle.name} is signed by key {hint[:12]}…, which is not trusted for "
                             f"'{identity}' (trusted: {', '.join(f[:12] for f in trusted)}) in {keys.trust_file}")
    candidates = [trusted[hint]] if hint is not None else list(trusted.values())
    errors = []
    for key in candidates:
        try:
            return verify_model(model_dir, bundle, key)
        except SignatureError as exc:
            errors.append(str(exc))
    raise SignatureError(errors[0] if len(errors) == 1 else " | ".join(errors))


def signed_manifest(bundle: Path) -> dict[str, str]:
    """The file -> sha256 map inside a bundle's DSSE in-toto statement (read, not verified)."""
    try:
        envelope = json.loads(Path(bundle).read_text(encoding="utf-8"))["dsseEnvelope"]
        statement = json.loads(base64.b64decode(envelope["payload"]))
        resources = statement["predicate"]["resources"]
        return dict(sorted((r["name"], r["digest"]) for r in resources))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"signature bundle {bundle} is malformed: {exc}") from None
