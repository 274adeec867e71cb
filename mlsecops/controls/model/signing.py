"""Sign and verify model folders with model-signing and per-identity local EC keys.

    keys = KeyRing(home.keys)                                          # mlsecops.trust.keyring
    bundle = sign_model(model_dir, keys.private_key("trainer"))          # writes model_dir + ".sig"
    signed = verify_model(model_dir, bundle, keys.public_key("trainer"))  # raises SignatureError
    signed = verify_trusted(model_dir, bundle, keys, "trainer")           # any key in trust.json

Which keys are accepted for an identity is the trust file's business (mlsecops.trust.keyring).
Keyless Sigstore signing needs the network and is not used by default (see README).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path


from mlsecops.core.errors import SignatureError
from mlsecops.core.fileio import canonical_json, sha256_bytes, sha256_file
from mlsecops.trust.keyring import KeyRing

SIGNATURE_SUFFIX = ".sig"


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
