"""Sign + verify a 1 GiB model folder (model-signing, local EC key) vs raw hashlib.sha256 of the same bytes.

    python bench/signing_throughput.py            # writes ~1 GiB to a temp dir and deletes it after
    python bench/signing_throughput.py --mib 256  # smaller

Baseline: what signing and verifying cannot avoid, two streamed sha256 passes over every byte
(one to sign, one to verify). Ours: `sign_model` then `verify_model` from mlsecops.controls.model.signing.
The blake3 variant runs model-signing with `hashing_algorithm="blake3"` (sign and verify both) and
is compared with the same sha256 baseline and with two raw blake3 passes. All reads come from
the page cache (one warm-up pass first). Best of `--repeat` runs. Last line: `ratio: X`
(baseline time / our time, sha256 variant; >= 0.8 is the target).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsecops.trust.keyring import KeyRing  # noqa: E402

from mlsecops.controls.model.signing import sign_model, verify_model  # noqa: E402

CHUNK = 1 << 20


def write_model(folder: Path, mib: int) -> int:
    """A real safetensors file (one uint8 tensor of `mib` MiB) + model.json, streamed to disk."""
    folder.mkdir(parents=True)
    n = mib * CHUNK
    header = json.dumps({"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
    header += b" " * (-len(header) % 8)
    block = os.urandom(16 * CHUNK)
    with open(folder / "model.safetensors", "wb") as out:
        out.write(len(header).to_bytes(8, "little") + header)
        for _ in range(mib // 16):
            out.write(block)
        out.write(block[: (mib % 16) * CHUNK])
    (folder / "model.json").write_text(json.dumps({"net": {"architecture": "bench"}}))
    return sum(p.stat().st_size for p in folder.iterdir())


def raw_pass(folder: Path, make) -> None:
    for path in sorted(folder.iterdir()):
        digest = make()
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        digest.hexdigest()


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import blake3
    from model_signing import hashing, signing, verifying

    tmp = Path(tempfile.mkdtemp(prefix="mlsecops-bench-sign-"))
    try:
        model = tmp / "model"
        size = write_model(model, args.mib)
        keys = KeyRing(tmp / "keys")
        priv, pub = keys.private_key("bench"), keys.public_key("bench")
        raw_pass(model, hashlib.sha256)  # warm the page cache
        gib = size / 2**30
        print(f"model folder: {size / 2**20:.0f} MiB in 2 files; {os.cpu_count()} CPUs; best of {args.repeat}")

        t_sha = best(lambda: (raw_pass(model, hashlib.sha256), raw_pass(model, hashlib.sha256)), args.repeat)
        print(f"baseline hashlib.sha256 x2 passes: {t_sha:.3f} s ({2 * gib / t_sha:.2f} GiB/s)")

        def ours() -> None:
            bundle = sign_model(model, priv)
            verify_model(model, bundle, pub)

        t_ours = best(ours, args.repeat)
        print(f"mlsecops sign_model + verify_model (sha256): {t_ours:.3f} s ({2 * gib / t_ours:.2f} GiB/s), "
              f"ratio {t_sha / t_ours:.2f}")

        t_b3 = best(lambda: (raw_pass(model, lambda: blake3.blake3(max_threads=blake3.blake3.AUTO)),
                             raw_pass(model, lambda: blake3.blake3(max_threads=blake3.blake3.AUTO))), args.repeat)
        print(f"raw blake3 x2 passes: {t_b3:.3f} s ({2 * gib / t_b3:.2f} GiB/s)")
        blake = hashing.Config().use_file_serialization(hashing_algorithm="blake3")
        bundle3 = tmp / "model.blake3.sig"

        def ours_b3() -> None:
            signing.Config().use_elliptic_key_signer(private_key=priv).set_hashing_config(blake).sign(model, bundle3)
            verifying.Config().use_elliptic_key_verifier(public_key=pub).set_hashing_config(blake).verify(model, bundle3)

        try:
            t_ours_b3 = best(ours_b3, args.repeat)
            print(f"model-signing sign + verify (blake3): {t_ours_b3:.3f} s ({2 * gib / t_ours_b3:.2f} GiB/s), "
                  f"ratio vs raw blake3 {t_b3 / t_ours_b3:.2f}, vs hashlib.sha256 baseline {t_sha / t_ours_b3:.2f}")
        except Exception as exc:  # noqa: BLE001 - report, the sha256 variant is the measured one
            print(f"model-signing blake3 variant failed: {type(exc).__name__}: {exc}")
        print(f"ratio: {t_sha / t_ours:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
