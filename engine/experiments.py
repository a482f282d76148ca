"""Champion/challenger assignment: stateless, deterministic, independent.

A case's arm is a function of the experiment id and the case id alone, so every
replica and every later call puts the same case in the same arm. Each arm owns
a contiguous range of 10,000 buckets in declared order: changing the shares
moves only the cases whose bucket changes owner. Hashing the experiment id with
the case id makes experiments independent of each other.
"""

from __future__ import annotations

import hashlib

from engine.policy.ir import Experiment

BUCKETS = 10_000


def bucket(experiment_id: str, case_id: str) -> int:
    digest = hashlib.sha256(f"{experiment_id}\0{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(experiment: Experiment, case_id: str) -> str:
    point = bucket(experiment.id, case_id)
    upper = 0
    for arm, share in experiment.arms:
        upper += share * BUCKETS // 100
        if point < upper:
            return arm
    return experiment.arms[-1][0]
