"""`bundle`: build, approve and verify an approved policy bundle (engine/bundle.py, docs/bundles.md).

    collection-strategy bundle keygen --out me.pem --owner "Ana Pereira" --roles strategy
    collection-strategy bundle build --rules rules/ --key me.pem --base /path/to/previous/rules --simulate compare.json
    collection-strategy bundle approve --rules rules/ --key reviewer.pem
    collection-strategy bundle verify --rules rules/ --trusted-keys trusted-keys.yaml

Signing happens here, on the analyst's machine; the server only verifies.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine import bundle
from engine.authoring.policy_diff import diff_policies, format_diff
from engine.authoring.policy_tests import format_report, run_policy_tests
from engine.engine import StrategyEngine
from engine.errors import PolicyError
from engine.policy.loader import load_strategy
from engine.registry import STRATEGY_DIR, build_engine

PASSPHRASE_ENV = "CSE_KEY_PASSPHRASE"  # for a private key written encrypted (openssl genpkey -aes256)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (`bundle keygen` or `openssl genpkey -algorithm ed25519`)."""
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), passphrase.encode() if passphrase else None)
    except (OSError, ValueError, TypeError) as error:
        raise bundle.BundleError(f"{path}: cannot read the private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise bundle.BundleError(f"{path}: the key is not Ed25519 (make one with `collection-strategy bundle keygen`)")
    return key


def _sign(key: Ed25519PrivateKey, kind: str, digest: str, at: str = "") -> dict[str, str]:
    return {
        "public_key": bundle.raw_public_key(key.public_key()),
        "signature": base64.b64encode(key.sign(bundle.signed_message(kind, digest, at))).decode(),
    }


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# --- keygen --------------------------------------------------------------------


def keygen(out: Path, owner: str, roles: list[str]) -> int:
    bad = [role for role in roles if role not in bundle.ROLES]
    if bad:
        print(f"--roles: unknown role `{bad[0]}`; the roles are {', '.join(bundle.ROLES)}", file=sys.stderr)
        return 1
    if out.exists():
        print(f"--out: {out} exists; not overwriting a key", file=sys.stderr)
        return 1
    key = Ed25519PrivateKey.generate()
    passphrase = os.environ.get(PASSPHRASE_ENV)
    encryption = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # readable by its owner only
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    print(f"wrote the private key to {out} (keep it; never share it)")
    print("give the operator this entry for the trusted keys file:\n")
    print(f"  - owner: {json.dumps(owner)}\n    roles: [{', '.join(roles)}]\n    public_key: {bundle.raw_public_key(key.public_key())}")
    return 0


# --- build ---------------------------------------------------------------------


def _base(path: Path) -> tuple[dict[str, Any], StrategyEngine | None]:
    """The declared base: a previous rules directory (its bundle's manifest if it has one) or a manifest file."""
    manifest = path / bundle.BUNDLE_DIR / bundle.MANIFEST if path.is_dir() else path
    if manifest.is_file():
        data = bundle.read_json(manifest)
        return {"content_hash": data.get("content_hash"), "files": data.get("files"), "versions": data.get("versions")}, build_engine(path) if path.is_dir() else None
    if not path.is_dir():
        raise bundle.BundleError(f"--base: {path} is neither a rules directory nor a bundle manifest")
    engine = build_engine(path)
    files = bundle.content_files(path)
    return {"content_hash": bundle.content_hash(files), "files": files, "versions": bundle.versions(engine)}, engine


def _diff_text(base: dict[str, Any] | None, files: dict[str, str], base_dir: Path | None, rules: Path) -> str:
    if base is None:
        return "first bundle, no base: every file is new\n" + "".join(f"+ {name}\n" for name in sorted(files))
    lines = [f"{'+' if name not in base['files'] else '-' if name not in files else '~'} {name}" for name in bundle.changed_files(base["files"], files)]
    text = "files changed since the base:\n" + ("\n".join(lines) or "(none)") + "\n"
    if base_dir is not None:
        text += "\nstrategy rules:\n" + format_diff(diff_policies(load_strategy(base_dir / STRATEGY_DIR), load_strategy(rules / STRATEGY_DIR))) + "\n"
    return text


def build(rules: Path, key_path: Path, base_path: Path | None, evidence_files: dict[str, Path | None]) -> int:
    key = load_private_key(key_path)
    engine = build_engine(rules)
    files = bundle.content_files(rules)
    now = bundle.versions(engine)
    base, base_engine = _base(base_path) if base_path else (None, None)
    if base is not None:
        refused = bundle.same_version_changes(base.get("versions") or {}, now)
        if refused:
            print("\n".join(refused), file=sys.stderr)
            return 1
        if evidence_files.get("simulate") is None:
            print(f"--simulate: the `simulate CASES --compare {base_path} --json FILE` report is required evidence for a change from a base", file=sys.stderr)
            return 1
    texts: dict[str, bytes] = {}
    for kind, path in evidence_files.items():
        if path is not None:
            texts[kind] = path.read_bytes()
    if "tests" not in texts:
        texts["tests"] = format_report(run_policy_tests(rules, engine=engine)).encode()
    if "diff" not in texts:
        texts["diff"] = _diff_text(base, files, base_path if base_engine is not None and base_path and base_path.is_dir() else None, rules).encode()
    manifest: dict[str, Any] = {
        "format": bundle.FORMAT,
        "built_at": _now(),
        "author": bundle.key_id(key.public_key()),
        "content_hash": bundle.content_hash(files),
        "files": files,
        "versions": now,
        "base": base,
        "evidence": {kind: bundle.manifest_digest(text) for kind, text in sorted(texts.items())},
    }
    data = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    # Written aside, then swapped in: the server never reads half a bundle.
    staging = Path(tempfile.mkdtemp(prefix=".bundle-staging-", dir=rules))
    (staging / bundle.EVIDENCE).mkdir()
    for kind, text in texts.items():
        (staging / bundle.EVIDENCE / kind).write_bytes(text)
    (staging / bundle.MANIFEST).write_bytes(data)
    (staging / bundle.AUTHOR).write_text(json.dumps(_sign(key, "author", bundle.manifest_digest(data)), indent=2) + "\n", encoding="utf-8")
    target = rules / bundle.BUNDLE_DIR
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=".bundle-old-", dir=rules))
        target.rename(old / "bundle")
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
    changed = bundle.changed_files(base["files"], files) if base else sorted(files)
    print(f"built {target}: {now['strategy']['name']} {now['strategy']['version']}, content {manifest['content_hash'][:16]}, {len(changed)} file(s) changed since the base")
    print("approvers: read the evidence in " + str(target / bundle.EVIDENCE) + ", then `collection-strategy bundle approve`")
    return 0


# --- approve and verify -----------------------------------------------------------


def approve(rules: Path, key_path: Path) -> int:
    key = load_private_key(key_path)
    manifest, digest, author, problems = bundle.intact(rules)
    if problems:  # never sign what is not what its author built
        print("not approving:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    mine = bundle.key_id(key.public_key())
    if mine == author:
        print("not approving: you built this bundle; an author's approval does not count (ask a colleague)", file=sys.stderr)
        return 1
    at = _now()
    approvals = rules / bundle.BUNDLE_DIR / bundle.APPROVALS
    approvals.mkdir(exist_ok=True)
    approval = {"manifest": digest, "approved_at": at, **_sign(key, "approval", digest, at)}
    staging = approvals / f".{mine}.json.tmp"
    staging.write_text(json.dumps(approval, indent=2) + "\n", encoding="utf-8")
    staging.replace(approvals / f"{mine}.json")
    base = manifest.get("base") or {}
    changed = bundle.changed_files(base.get("files") or {}, manifest["files"])
    print(f"approved bundle {digest[:16]} ({len(changed)} file(s) changed since the base: {bundle.listed(changed) or 'none'}) with key {mine}")
    return 0


def verify(rules: Path, trusted_keys: Path) -> int:
    trusted = bundle.load_trusted_keys(trusted_keys)
    try:
        engine: StrategyEngine | None = build_engine(rules)
    except PolicyError as error:
        print(f"the rules do not load:\n{error}", file=sys.stderr)
        return 1
    verdict = bundle.verify(rules, trusted, engine)
    if verdict.reasons:
        print("refused:\n" + "\n".join(verdict.reasons), file=sys.stderr)
        return 1
    print(f"approved: authored by {verdict.author}, approved by {', '.join(verdict.approvers)}; changed since the base: {bundle.listed(verdict.changed) or 'none'}")
    return 0


def command(args: argparse.Namespace) -> int:
    try:
        if args.bundle_command == "keygen":
            return keygen(args.out, args.owner, [role.strip() for role in args.roles.split(",") if role.strip()])
        if args.bundle_command == "build":
            evidence = {"diff": args.diff, "simulate": args.simulate, "tests": args.tests}
            return build(args.rules, args.key, args.base, evidence)
        if args.bundle_command == "approve":
            return approve(args.rules, args.key)
        return verify(args.rules, args.trusted_keys)
    except bundle.BundleError as error:
        print(error, file=sys.stderr)
        return 1
    except PolicyError as error:
        print(f"the rules do not load:\n{error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"cannot {args.bundle_command} the bundle: {error}", file=sys.stderr)
        return 1


def register(subparsers: Any) -> None:
    """Add `bundle keygen|build|approve|verify` to the `collection-strategy` command line."""
    parser = subparsers.add_parser("bundle", help="build, approve and verify a signed policy bundle (docs/bundles.md)")
    commands = parser.add_subparsers(dest="bundle_command", required=True)
    keygen_parser = commands.add_parser("keygen", help="make an Ed25519 key and print its trusted-keys entry")
    keygen_parser.add_argument("--out", type=Path, required=True, help="where to write the private key (PEM, mode 0600)")
    keygen_parser.add_argument("--owner", required=True, help="the person the key belongs to, as the operator will list it")
    keygen_parser.add_argument("--roles", default="strategy", help=f"comma-separated: {', '.join(bundle.ROLES)} (default: strategy)")
    build_parser = commands.add_parser("build", help="write rules/.bundle: the content, its versions, the base, the evidence, signed by you as author")
    build_parser.add_argument("--rules", type=Path, default=Path("rules"))
    build_parser.add_argument("--key", type=Path, required=True, help="your Ed25519 private key (PEM)")
    build_parser.add_argument("--base", type=Path, help="the previous approved rules directory (or its .bundle/manifest.json); none: a first bundle")
    build_parser.add_argument("--diff", type=Path, help="evidence: the diff (default: the changed files and `diff BASE RULES`)")
    build_parser.add_argument("--simulate", type=Path, help="evidence: the `simulate CASES --compare BASE --json FILE` report (required with --base)")
    build_parser.add_argument("--tests", type=Path, help="evidence: the policy test results (default: run them now)")
    approve_parser = commands.add_parser("approve", help="check the bundle is what its author built, and sign it as approver")
    approve_parser.add_argument("--rules", type=Path, default=Path("rules"))
    approve_parser.add_argument("--key", type=Path, required=True, help="your Ed25519 private key (PEM)")
    verify_parser = commands.add_parser("verify", help="what the server with --require-approved checks: intact, signed and approved by trusted keys")
    verify_parser.add_argument("--rules", type=Path, default=Path("rules"))
    verify_parser.add_argument("--trusted-keys", type=Path, required=True, help="the operator's trusted keys (docs/bundles.md)")
    parser.set_defaults(func=command)
