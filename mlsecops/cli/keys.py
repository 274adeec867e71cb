"""`mlsecops keys`: signing keys and the trust file (key rotation)."""

from __future__ import annotations


import typer
from rich.table import Table

from mlsecops.cli.app import app, console
from mlsecops.core.home import Home


keys_app = typer.Typer(no_args_is_help=True, help="Signing keys and the trust file (key rotation).")
app.add_typer(keys_app, name="keys")


@keys_app.command("list")
def keys_list() -> None:
    """Print every trusted public key (identity, fingerprint, added)."""
    from mlsecops.trust.keyring import KeyRing

    ring = KeyRing(Home.from_env().keys)
    table = Table(title=f"trusted keys ({ring.trust_file})", title_justify="left")
    for col in ("identity", "fingerprint", "added"):
        table.add_column(col)
    for k in ring.trust_entries():
        table.add_row(k["identity"], k["fingerprint"], k.get("added", ""))
    console.print(table)


@keys_app.command("rotate")
def keys_rotate(identity: str = typer.Argument(..., help="identity whose key pair to replace")) -> None:
    """Retire the identity's key pair and trust a new one (the old key stays trusted until untrusted)."""
    from mlsecops.trust.keyring import KeyRing

    fingerprint = KeyRing(Home.from_env().keys).rotate(identity)
    console.print(f"new key for '{identity}': {fingerprint}; untrust the old one with `mlsecops keys untrust FP`")


@keys_app.command("untrust")
def keys_untrust(fingerprint: str = typer.Argument(..., help="fingerprint (at least 12 hex digits)")) -> None:
    """Remove a key from the trust file: signatures by it no longer verify."""
    from mlsecops.trust.keyring import KeyRing

    for fp in KeyRing(Home.from_env().keys).untrust(fingerprint):
        console.print(f"untrusted {fp}")
