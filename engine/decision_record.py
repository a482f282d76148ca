"""The record of one decision: what an audit, a complaint or a replay needs to know.

One JSON object per decision: its id (a UUIDv7, unique and sortable by time),
when it was made, the `as_of` it was made at, the policy (name, version, content
hash), the versions of the holiday and time-zone data, the decision in its flat
form (engine.bulk.decision_row) and the snapshot as the engine read it.

The snapshot is masked unless the operator asks for it whole (replay needs it
whole): only the kept paths are written, and `masked` names the fields the
caller gave that were left out (so an auditor sees that contacts or attributes
were given, never what they said). By default what is kept is what an auditor
needs and no person can be found by: the case id, country, amounts, days past
due and the flags. pydantic writes both forms (its `include`), which costs a
fraction of walking the snapshot in Python.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from typing import Any

import orjson
import uuid_utils

from engine.bulk import decision_row, utc_text
from engine.debtor import DebtorDecision
from engine.debtor_snapshot import DebtorSnapshot
from engine.decision import Decision
from engine.snapshot import CaseSnapshot

RECORD_VERSION = 1
# Dotted paths into the snapshot; `*` stands for every key of an object or item of a list.
DEFAULT_KEEP = (
    "case_id", "country", "amount_due", "currency", "days_past_due",
    "consents.*", "gdpr.*", "legal.*", "third_party_collector",
    # a debtor's accounts: the same, per account
    "debtor_id", "accounts.*.account_id", "accounts.*.amount_due", "accounts.*.currency", "accounts.*.days_past_due", "accounts.*.legal.*", "accounts.*.gdpr.*",
)


# uuid_utils (the Rust `uuid` crate) writes UUIDv7 by RFC 9562's counter method: ids of one
# process strictly increase and carry the millisecond they were made in (the uuid6 package
# moved the time a millisecond ahead per further id in a millisecond, so a burst ran seconds
# ahead of the clock), at a tenth of its cost. Workers are spawned; a forked process
# (e.g. a Spark Python worker) reseeds, so its random bits are not its parent's.
os.register_at_fork(after_in_child=uuid_utils.reseed_rng)


def new_decision_id() -> str:
    """A UUIDv7: unique across workers and replicas, and ordered by the time it was made."""
    return str(uuid_utils.uuid7())


@lru_cache(maxsize=1)
def data_versions() -> dict[str, str]:
    """The versions of the holiday and time-zone data: a change of either can change a window."""
    versions = {}
    for package in ("holidays", "tzdata"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


Include = dict[Any, Any]


def keep_paths(names: Iterable[str]) -> Include:
    """The kept paths as a pydantic `include`: "accounts.*.flags.*" -> {"accounts": {"__all__": {"flags": True}}}."""
    include: Include = {}
    for name in names:
        parts = ["__all__" if part == "*" else part for part in name.split(".")]
        while parts and parts[-1] == "__all__":  # "legal.*": all of legal
            parts.pop()
        node = include
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is True:  # an ancestor is kept whole already
                break
            node = child
        else:
            if parts:
                node[parts[-1]] = True
    return include


def snapshot_json(snapshot: CaseSnapshot | DebtorSnapshot, keep: Include | None) -> str:
    """The snapshot as JSON: whole (`keep` None), or only the kept paths with `masked` naming
    the top-level fields given and left out."""
    if keep is None:
        return snapshot.model_dump_json(exclude_defaults=True)
    kept = snapshot.model_dump_json(include=keep, exclude_defaults=True)
    left_out = sorted(name for name in snapshot.model_fields_set if name not in keep)
    return kept[:-1] + ("," if len(kept) > 2 else "") + '"masked":' + orjson.dumps(left_out).decode() + "}"


def debtor_row(decision: DebtorDecision) -> dict[str, Any]:
    """A person's decision in flat form: the one contact, and each account's decision row."""
    window = decision.window
    return {
        "debtor_id": decision.debtor_id,
        "action": decision.action,
        "channel": decision.channel.value if decision.channel else None,
        "template": decision.template,
        "window_start_utc": utc_text(window.start) if window else None,
        "window_end_utc": utc_text(window.end) if window else None,
        "account_ids": list(decision.account_ids),
        "reason_codes": [reason.code for reason in decision.reasons],
        "offers": [{"currency": offer.currency, "allocation": list(offer.allocation), "total_due": str(offer.total_due)} for offer in decision.offers],
        "policy_hash": decision.policy.hash,
        "next_review_at": utc_text(decision.next_review_at),
        "accounts": [decision_row(account) for account in decision.accounts],
    }


def record(
    decision_id: str,
    method: str,
    snapshot: CaseSnapshot | DebtorSnapshot,
    decision: Decision | DebtorDecision,
    keep: Include | None,
    made_at: datetime | None = None,
) -> str:
    """The record of a case's or a debtor's decision, as one line of JSON; `keep` None logs
    the snapshot whole (for replay)."""
    debtor = isinstance(decision, DebtorDecision)
    head = {
        "record_version": RECORD_VERSION,
        "decision_id": decision_id,
        "kind": "debtor" if debtor else "case",
        "made_at": utc_text(made_at or datetime.now(timezone.utc)),
        "method": method,
        "as_of": utc_text(decision.as_of),
        "policy": {"name": decision.policy.name, "version": decision.policy.version, "hash": decision.policy.hash},
        "data_versions": data_versions(),
        "decision": debtor_row(decision) if isinstance(decision, DebtorDecision) else decision_row(decision, snapshot if isinstance(snapshot, CaseSnapshot) else None),
        "snapshot_masked": keep is not None,
    }
    # The snapshot's JSON is pydantic's, spliced in as the last field: not parsed and written again.
    # orjson: the log must cost a small part of a decision (bench/bench_decision_log.py).
    return orjson.dumps(head).decode()[:-1] + ',"snapshot":' + snapshot_json(snapshot, keep) + "}"
