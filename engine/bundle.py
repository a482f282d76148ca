"""Approved policy bundles: the rules in force are the rules people signed.

A bundle lives beside the rules it vouches for, in `<rules>/.bundle/` (a hidden
folder, so the rules' own fingerprint and the files the server loads are the
same with or without it):

    manifest.json           what was approved: every rules file's SHA-256, the
                            content hash over them, the strategy's and packs'
                            versions, the declared base (the previous approved
                            content), the evidence files' SHA-256, the author
    author.json             the author's Ed25519 signature of the manifest
    evidence/               the diff, the `simulate --compare` summary, the test results
    approvals/<key>.json    one approver's signature of the manifest, and when

Everything an approver vouches for is in the manifest or hashed into it, so one
signature of the manifest's SHA-256 binds the content, the base and the evidence.

Who signed is the key, never a claimed name: the operator's trusted-keys file
maps each Ed25519 public key to its owner and roles. The rule (docs/bundles.md):
a changed compliance pack needs two distinct owners with the `compliance` role,
any other change (or none) one owner with the `strategy` role; the author never
counts as an approver, whichever of their keys they sign with. A strategy or
pack whose content changed since the base under the same version is refused.

Hazards of the signing library (`cryptography`) and what this module does:
- `verify` raises InvalidSignature rather than returning False: caught in one
  place, `_signed_by`, and turned into a reason.
- Keys arrive as PEM, DER or raw bytes, each with its own loader and errors:
  `public_key` accepts the three forms and turns every failure into a reason
  naming the field.
- Signing lives in engine/authoring/bundle_cli.py; the server only verifies,
  so a server never holds a private key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from engine.engine import StrategyEngine
from engine.last_good import rules_files

FORMAT = "collection-strategy-bundle/1"
BUNDLE_DIR = ".bundle"
MANIFEST = "manifest.json"
AUTHOR = "author.json"
APPROVALS = "approvals"
EVIDENCE = "evidence"
EVIDENCE_KINDS = ("diff", "simulate", "tests")
ROLES = ("strategy", "compliance")
COMPLIANCE_DIR = "compliance"
PACK_APPROVERS = 2  # four eyes on the law, besides the author's
TRUSTED_KEYS_ENV = "CSE_TRUSTED_KEYS"  # how the server's --trusted-keys reaches the isolated build (engine/isolation.py)


class BundleError(ValueError):
    """A bundle or trusted-keys file that cannot be read; the message names the file and field."""


@dataclass(frozen=True)
class Signer:
    owner: str  # the person the operator trusts this key for
    roles: frozenset[str]
    key_id: str


@dataclass(frozen=True)
class TrustedKeys:
    keys: dict[str, tuple[Signer, Ed25519PublicKey]]

    def signer(self, key_id: str) -> Signer | None:
        found = self.keys.get(key_id)
        return found[0] if found else None


@dataclass
class Verdict:
    """What `verify` found: reasons to refuse (none: approved), and what was approved by whom."""

    reasons: list[str] = field(default_factory=list)
    author: str = ""
    approvers: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # rules files changed since the base


# --- content -------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def content_files(rules_dir: Path) -> dict[str, str]:
    """Every rules file (policies, packs, policy tests) by path -> SHA-256: the same
    files the registry watches, fingerprints and keeps (engine/last_good.py)."""
    return {path.relative_to(rules_dir).as_posix(): sha256_file(path) for path in rules_files(rules_dir)}


def content_hash(files: dict[str, str]) -> str:
    """One SHA-256 over the files' paths and hashes: the content a bundle names."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]}\n".encode())
    return digest.hexdigest()


def versions(engine: StrategyEngine) -> dict[str, Any]:
    """The strategy's and each pack's name, version and content hash, as the engine computed them."""
    policy = engine.policy
    return {
        "strategy": {"name": policy.name, "version": policy.version, "hash": policy.content_hash},
        "packs": {pack.name: {"version": pack.version, "hash": pack.content_hash} for pack in engine.compliance.packs},
    }


def changed_files(base: dict[str, str], files: dict[str, str]) -> list[str]:
    """Files added, removed or changed since the base, sorted."""
    return sorted(name for name in base.keys() | files.keys() if base.get(name) != files.get(name))


def same_version_changes(base: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """A strategy or pack whose content changed since the base while its version did not."""
    pairs = [("strategy " + now["strategy"]["name"], base.get("strategy"), now["strategy"])] if base.get("strategy", {}).get("name") == now["strategy"]["name"] else []
    pairs += [(f"pack {name}", base.get("packs", {}).get(name), item) for name, item in now["packs"].items()]
    return [
        f"{what} {item['version']}: its content changed since the base (hash {old['hash']} → {item['hash']}) but its version did not; give the new content a new `version`"
        for what, old, item in pairs
        if old and old.get("version") == item["version"] and old.get("hash") != item["hash"]
    ]


def listed(names: list[str], limit: int = 6) -> str:
    """Names for a reason, the first few and how many more: a reason stays readable in a log line."""
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more} more" if more > 0 else "")


def manifest_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signed_message(kind: str, digest: str, at: str = "") -> bytes:
    """What a key signs: the statement (author or approval), the manifest's SHA-256 and when.
    The statement is part of it, so an author's signature never passes for an approval."""
    return json.dumps({"format": FORMAT, "statement": kind, "manifest": digest, "at": at}, sort_keys=True, separators=(",", ":")).encode()


# --- keys ----------------------------------------------------------------------


def public_key(text: str, where: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (`openssl pkey -pubout`), base64 DER, or base64 of the 32 raw bytes."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            raw = base64.b64decode(text, validate=True)
            key = Ed25519PublicKey.from_public_bytes(raw) if len(raw) == 32 else serialization.load_der_public_key(raw)
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as error:
        raise BundleError(f"{where}: not an Ed25519 public key (PEM, or base64 of the 32-byte key): {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{where}: the key is {type(key).__name__.removeprefix('_')}, not Ed25519")
    return key


def raw_public_key(key: Ed25519PublicKey) -> str:
    """The key as the trusted-keys file and bundles write it: base64 of its 32 bytes."""
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """A short stable name for a key: the first 16 hex digits of the SHA-256 of its 32 bytes."""
    return hashlib.sha256(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).hexdigest()[:16]


def load_trusted_keys(path: Path) -> TrustedKeys:
    """The operator's trusted keys: `keys: [{owner, roles: [strategy|compliance], public_key}]` (YAML or JSON)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise BundleError(f"{path}: cannot read the trusted keys: {error}") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise BundleError(f"{path}: `keys` must be a non-empty list of {{owner, roles, public_key}}")
    keys: dict[str, tuple[Signer, Ed25519PublicKey]] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: keys[{index}]"
        if not isinstance(entry, dict):
            raise BundleError(f"{where}: must be a mapping with owner, roles and public_key")
        unknown = sorted(set(entry) - {"owner", "roles", "public_key"})
        if unknown:
            raise BundleError(f"{where}.{unknown[0]}: unknown field; the fields are owner, roles, public_key")
        owner, roles, text = entry.get("owner"), entry.get("roles"), entry.get("public_key")
        if not isinstance(owner, str) or not owner.strip():
            raise BundleError(f"{where}.owner: the person this key belongs to is required")
        if not isinstance(roles, list) or not roles or not all(isinstance(role, str) for role in roles):
            raise BundleError(f"{where}.roles: a list of roles ({', '.join(ROLES)}) is required")
        bad = [role for role in roles if role not in ROLES]
        if bad:
            raise BundleError(f"{where}.roles: unknown role `{bad[0]}`; the roles are {', '.join(ROLES)}")
        if not isinstance(text, str):
            raise BundleError(f"{where}.public_key: the Ed25519 public key is required")
        key = public_key(text, f"{where}.public_key")
        if key_id(key) in keys:
            raise BundleError(f"{where}.public_key: the same key is already listed for {keys[key_id(key)][0].owner}")
        keys[key_id(key)] = (Signer(owner.strip(), frozenset(roles), key_id(key)), key)
    return TrustedKeys(keys)


# --- reading a bundle -----------------------------------------------------------


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path}: missing") from None
    except (OSError, ValueError) as error:
        raise BundleError(f"{path}: not readable JSON: {error}") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path}: must be a JSON object")
    return data


def _text(data: dict[str, Any], name: str, where: Path) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise BundleError(f"{where}: `{name}` is missing or not text")
    return value


def _signed_by(data: dict[str, Any], where: Path, kind: str, digest: str, at: str = "") -> Ed25519PublicKey:
    """The key that signed `kind` of the manifest in this file; a bad signature is a BundleError."""
    key = public_key(_text(data, "public_key", where), f"{where}: public_key")
    try:
        signature = base64.b64decode(_text(data, "signature", where), validate=True)
        key.verify(signature, signed_message(kind, digest, at))
    except (InvalidSignature, binascii.Error, ValueError):
        raise BundleError(f"{where}: the signature does not match the manifest (tampered, or signed for another bundle)") from None
    return key


def bundle_digest(rules_dir: Path) -> str:
    """A digest of the bundle's files ('' without one): an approval added to unchanged
    rules changes no rules file, yet the server must look at the rules again."""
    folder = rules_dir / BUNDLE_DIR
    if not folder.is_dir():
        return ""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        try:
            content = path.read_bytes() if path.is_file() else None
        except OSError:  # replaced while read (`bundle build` swaps the folder): a digest no settled bundle has
            content = b"\0gone"
        if content is not None:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:16]


def verify(rules_dir: Path, trusted: TrustedKeys, engine: StrategyEngine | None = None) -> Verdict:
    """Whether the rules in `rules_dir` are what the bundle beside them says, signed by its
    author and approved as the rule asks; `engine` (built from the same files) adds the
    version check against the base."""
    verdict = Verdict()
    folder = rules_dir / BUNDLE_DIR
    if not (folder / MANIFEST).is_file():
        verdict.reasons.append(f"no approved bundle: {folder / MANIFEST} is missing (build one with `collection-strategy bundle build`, then `bundle approve`)")
        return verdict
    try:
        _verify(rules_dir, folder, trusted, engine, verdict)
    except BundleError as error:
        verdict.reasons.append(f"bundle refused: {error}")
    return verdict


def _verify(rules_dir: Path, folder: Path, trusted: TrustedKeys, engine: StrategyEngine | None, verdict: Verdict) -> None:
    manifest, digest, author_key = _intact(rules_dir, folder, verdict)
    author = trusted.signer(key_id(author_key))
    if author is None:
        verdict.reasons.append(f"the author's key {key_id(author_key)} is not in the trusted keys")
        return
    verdict.author = author.owner
    base = manifest.get("base") or {}
    verdict.changed = changed_files(base.get("files", {}), manifest["files"])
    if engine is not None:
        now = versions(engine)
        if now != manifest.get("versions"):
            verdict.reasons.append(f"the versions the rules build to ({_said(now)}) are not those the bundle names ({_said(manifest.get('versions'))})")
        verdict.reasons += same_version_changes(base.get("versions") or {}, now)
    approvers = _approvers(folder, digest, trusted, verdict)
    verdict.approvers = sorted({signer.owner for signer in approvers})
    verdict.reasons += shortfall(verdict.changed, author, approvers)


def intact(rules_dir: Path) -> tuple[dict[str, Any], str, str, list[str]]:
    """The manifest, its SHA-256, the author's key id, and the reasons the bundle is not
    what its author signed (what an approver checks before signing; no trusted keys needed)."""
    verdict = Verdict()
    manifest, digest, author_key = _intact(rules_dir, rules_dir / BUNDLE_DIR, verdict)
    return manifest, digest, key_id(author_key), verdict.reasons


def _intact(rules_dir: Path, folder: Path, verdict: Verdict) -> tuple[dict[str, Any], str, Ed25519PublicKey]:
    """The rules are the files the manifest names, the evidence is the evidence hashed, the author signed it."""
    try:
        digest = manifest_digest((folder / MANIFEST).read_bytes())
    except OSError as error:
        raise BundleError(f"{folder / MANIFEST}: cannot read: {error}") from None
    manifest = read_json(folder / MANIFEST)
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{folder / MANIFEST}: format is {manifest.get('format')!r}; this version reads {FORMAT!r}")
    declared = manifest.get("files")
    if not isinstance(declared, dict):
        raise BundleError(f"{folder / MANIFEST}: `files` must map each rules file to its SHA-256")
    base = manifest.get("base") or {}
    if not isinstance(base, dict) or not isinstance(base.get("files", {}), dict):
        raise BundleError(f"{folder / MANIFEST}: `base` must hold the previous approved content's `files` and `versions`")
    differ = changed_files(declared, content_files(rules_dir))
    if differ:
        verdict.reasons.append(f"the rules differ from the approved bundle (tampered, or edited after approval): {listed(differ)}")
    if manifest.get("content_hash") != content_hash(declared):
        verdict.reasons.append(f"{folder / MANIFEST}: content_hash does not match its files (tampered)")
    _check_evidence(folder, manifest, verdict)
    author_key = _signed_by(read_json(folder / AUTHOR), folder / AUTHOR, "author", digest)
    if manifest.get("author") != key_id(author_key):
        raise BundleError(f"{folder / AUTHOR}: signed by key {key_id(author_key)}, but the manifest names author {manifest.get('author')}")
    return manifest, digest, author_key


def _said(found: Any) -> str:
    if not isinstance(found, dict) or not isinstance(found.get("strategy"), dict):
        return "none"
    packs: dict[str, Any] = found["packs"] if isinstance(found.get("packs"), dict) else {}
    return ", ".join([f"{found['strategy'].get('name')} {found['strategy'].get('version')}", *(f"{name} {item.get('version')}" for name, item in sorted(packs.items()))])


def _check_evidence(folder: Path, manifest: dict[str, Any], verdict: Verdict) -> None:
    evidence = manifest.get("evidence")
    if not isinstance(evidence, dict):
        raise BundleError(f"{folder / MANIFEST}: `evidence` must map each kind ({', '.join(EVIDENCE_KINDS)}) to its file's SHA-256")
    required = EVIDENCE_KINDS if manifest.get("base") else tuple(kind for kind in EVIDENCE_KINDS if kind != "simulate")
    missing = [kind for kind in required if kind not in evidence]
    if missing:
        verdict.reasons.append(f"the bundle lacks evidence: {', '.join(missing)} (a first bundle, with no base, may omit simulate)")
    for kind, expected in sorted(evidence.items()):
        path = folder / EVIDENCE / kind
        if not path.is_file() or sha256_file(path) != expected:
            verdict.reasons.append(f"evidence {kind}: {path} is missing or not the file approved (tampered)")


def _approvers(folder: Path, digest: str, trusted: TrustedKeys, verdict: Verdict) -> list[Signer]:
    signers: list[Signer] = []
    approvals = folder / APPROVALS
    for path in sorted(approvals.glob("*.json")) if approvals.is_dir() else []:
        data = read_json(path)
        if data.get("manifest") != digest:
            verdict.reasons.append(f"{path}: approves another manifest (sha256 {data.get('manifest')}), not this one")
            continue
        key = _signed_by(data, path, "approval", digest, _text(data, "approved_at", path))
        signer = trusted.signer(key_id(key))
        if signer is None:
            continue  # an unknown or revoked key approves nothing; the shortfall says what is missing
        signers.append(signer)
    return signers


def shortfall(changed: list[str], author: Signer, approvers: list[Signer]) -> list[str]:
    """What the approvals lack: two compliance owners for a changed pack, one strategy
    owner otherwise; never the author, whichever of their keys signed."""
    others = {signer.owner: signer for signer in approvers if signer.owner != author.owner}
    reasons: list[str] = []
    self_approved = any(approver.owner == author.owner for approver in approvers)
    note = f" ({author.owner} is the author; an author's own approval does not count)" if self_approved else ""
    packs = [name for name in changed if name.startswith(COMPLIANCE_DIR + "/")]
    if packs:
        compliance = sorted(owner for owner, signer in others.items() if "compliance" in signer.roles)
        if len(compliance) < PACK_APPROVERS:
            reasons.append(
                f"a compliance pack changed ({listed(packs)}): it needs {PACK_APPROVERS} distinct approvers with the compliance role other than the author; "
                f"approved by {', '.join(compliance) or 'none'}{note}"
            )
    if len(packs) < len(changed) or not changed:
        strategy = sorted(owner for owner, signer in others.items() if "strategy" in signer.roles)
        if not strategy:
            what = listed([name for name in changed if name not in packs]) or "no file changed since the base"
            reasons.append(f"a strategy change ({what}) needs one approver with the strategy role other than its author {author.owner}; approved by none{note}")
    return reasons


# --- the server's acceptance check ---------------------------------------------


def require_approved(trusted_keys: Path) -> Callable[[Path, StrategyEngine], list[str]]:
    """The acceptance check for `--require-approved --trusted-keys FILE`. The file is
    read now, so that a bad one stops the start naming the field, and again at each
    check, so that a key removed from it stops counting at the next reload."""
    load_trusted_keys(trusted_keys)
    # Checks run in a child process, named `module:function` (engine/isolation.py);
    # the file reaches it, and the workers, through the environment.
    os.environ[TRUSTED_KEYS_ENV] = str(trusted_keys.resolve())
    return approved_bundle


def approved_bundle(rules_dir: Path, engine: StrategyEngine) -> list[str]:
    """Refuse rules that are not exactly an approved bundle's (an acceptance check)."""
    path = os.environ.get(TRUSTED_KEYS_ENV)
    if not path:
        return [f"approved bundles are required but no trusted keys are configured (--trusted-keys, or {TRUSTED_KEYS_ENV})"]
    try:
        trusted = load_trusted_keys(Path(path))
    except BundleError as error:
        return [str(error)]
    return verify(rules_dir, trusted, engine).reasons

