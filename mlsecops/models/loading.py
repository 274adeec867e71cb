"""The one way the project loads a model: verify signature, digests and provenance, then read weights.

    net, meta, signed = load_verified_model(model_dir, bundle, KeyRing(home.keys))     # trust file
    net, meta, signed = load_verified_model(model_dir, bundle, Path("trainer.pub"))    # one pinned key
    net, meta, signed = load_verified_model(..., expected_digest=d, provenance=p, materials=m)

Order: the bundle is verified (model-signing, every file's digest) with a trusted key; the signed
digest is compared with the expected one; the provenance statement (if given) must be signed by
a trusted key and name this digest; then every signed file is read once into memory, its sha256
compared with the signed manifest (so a file swapped after verification is caught), and only
those bytes are parsed: model.json as JSON, model.safetensors with safetensors (never pickle;
`torch.load` is not used anywhere, and would only ever be called with `weights_only=True`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from mlsecops.controls.model.scanning import formats as _formats
from mlsecops.trust.keyring import KeyRing
from mlsecops.controls.model.signing import SignedModel, verify_model, verify_trusted
from mlsecops.core.errors import SignatureError
from mlsecops.core.fileio import sha256_bytes
from mlsecops.models.nets import build_net
from mlsecops.models.training import CONFIG, WEIGHTS


def load_verified_model(model_dir: Path, bundle: Path, keys: KeyRing | Path, *, identity: str = "trainer",
                        expected_digest: str | None = None, provenance: Path | None = None,
                        materials: Any = None) -> tuple[nn.Module, dict[str, Any], SignedModel]:
    """Raise SignatureError, naming what does not match, before any weight byte is parsed."""
    model_dir, bundle = Path(model_dir), Path(bundle)
    if isinstance(keys, KeyRing):
        signed = verify_trusted(model_dir, bundle, keys, identity)
        trusted = list(keys.trusted(identity).values())
    else:
        signed = verify_model(model_dir, bundle, Path(keys))
        trusted = [Path(keys)]
    if expected_digest is not None and signed.digest != expected_digest:
        raise SignatureError(f"{model_dir} verifies, but its signed digest {signed.digest[:12]}… is not the expected "
                             f"model {expected_digest[:12]}… (a valid bundle of another model)")
    if provenance is not None:
        from mlsecops.controls.model.attestation import verify_attestation

        verify_attestation(Path(provenance), trusted, subject_digest=signed.digest, materials=materials)
    if set(signed.manifest) != {WEIGHTS, CONFIG}:
        raise SignatureError(f"{model_dir} is signed but holds {sorted(signed.manifest)}, not exactly "
                             f"{WEIGHTS} and {CONFIG}: refusing to load it")
    blobs = {}
    for name, digest in signed.manifest.items():
        data = (model_dir / name).read_bytes()
        if sha256_bytes(data) != digest:
            raise SignatureError(f"{model_dir / name} changed after its signature was verified: refusing to load it")
        blobs[name] = data
    return *_parse(model_dir, blobs), signed


def _parse(model_dir: Path, blobs: dict[str, bytes]) -> tuple[nn.Module, dict[str, Any]]:
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    try:
        meta = json.loads(blobs[CONFIG].decode("utf-8"))
        state = load_safetensors(blobs[WEIGHTS])
    except (UnicodeDecodeError, ValueError, SafetensorError) as exc:
        raise SignatureError(f"{model_dir} is signed but not a model folder ({_formats.SAFETENSORS} weights, "
                             f"JSON config): {exc}") from None
    net = build_net(meta["net"])
    net.load_state_dict(state, strict=True)
    net.eval()
    return net, meta
