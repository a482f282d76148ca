"""Synthetic debtors: persons with one or more accounts, valid, deterministic, and drawn as documented."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.authoring.cli import main
from engine.debtor_snapshot import parse_debtor
from engine.errors import InvalidSnapshot
from engine.authoring.portfolio_debtors import synthetic_debtors

AS_OF = datetime.fromisoformat("2026-11-24T10:00:00+01:00")
COUNT = 3000
PERSON_FIELDS = ("country", "time_zone", "region", "language", "consents", "preferred_channel", "third_party_collector", "contacts")


@pytest.fixture(scope="module")
def debtors() -> list[dict[str, Any]]:
    return list(synthetic_debtors(COUNT, AS_OF, seed=7))


def test_every_debtor_is_valid_for_decide_debtor(debtors: list[dict[str, Any]]) -> None:
    for debtor in debtors:
        parsed = parse_debtor(debtor, AS_OF)  # raises, naming the field, on the first bad one
        assert len(parsed.accounts) == len(debtor["accounts"])


def test_accounts_per_person_most_one_many_two_or_three_a_tail_to_ten(debtors: list[dict[str, Any]]) -> None:
    counts = Counter(len(debtor["accounts"]) for debtor in debtors)
    share = {accounts: persons / COUNT for accounts, persons in counts.items()}
    assert 0.50 <= share[1] <= 0.60
    assert 0.25 <= share[2] + share[3] <= 0.37
    assert max(counts) == 10 and min(counts) == 1
    assert 0.02 <= sum(share.get(accounts, 0) for accounts in range(7, 11)) <= 0.06  # the tail
    assert 1.9 <= statistics.mean(len(debtor["accounts"]) for debtor in debtors) <= 2.3


def test_the_person_is_given_once_and_accounts_carry_only_their_own_data(debtors: list[dict[str, Any]]) -> None:
    for debtor in debtors:
        ids = [account["account_id"] for account in debtor["accounts"]]
        assert len(set(ids)) == len(ids) and all(account_id.startswith(debtor["debtor_id"].replace("debtor-", "acct-")) for account_id in ids)
        for account in debtor["accounts"]:
            assert not set(PERSON_FIELDS) & set(account), account["account_id"]
            assert "branch" not in account.get("attributes", {})  # the person's, not the account's
        assert len({account["segment"] for account in debtor["accounts"]}) == 1


def test_mostly_one_currency_a_few_persons_with_two(debtors: list[dict[str, Any]]) -> None:
    several = [debtor for debtor in debtors if len(debtor["accounts"]) > 1]
    currencies = Counter(len({account["currency"] for account in debtor["accounts"]}) for debtor in several)
    assert set(currencies) == {1, 2}
    assert 0.02 <= currencies[2] / len(several) <= 0.09


def test_contacts_span_accounts(debtors: list[dict[str, Any]]) -> None:
    """Multi-account persons have person-level contacts naming several accounts, and
    inbound contacts about all of them; a single-account person has none."""
    spanning = about_all = 0
    for debtor in debtors:
        ids = {account["account_id"] for account in debtor["accounts"]}
        if len(ids) == 1:
            assert debtor["contacts"] == []
            continue
        for contact in debtor["contacts"]:
            assert set(contact["account_ids"]) <= ids
            spanning += len(contact["account_ids"]) > 1
            about_all += not contact["account_ids"]
            if not contact["account_ids"]:
                assert contact["direction"] == "inbound"
        times = [datetime.fromisoformat(contact["at"]) for contact in debtor["contacts"]]
        assert times == sorted(times)
    several = sum(1 for debtor in debtors if len(debtor["accounts"]) > 1)
    assert spanning >= several  # about one or more per multi-account person: 30% of ladder contacts
    assert about_all > 0


def test_further_accounts_are_often_in_arrears_near_the_first(debtors: list[dict[str, Any]]) -> None:
    gaps = [abs(account["days_past_due"] - debtor["accounts"][0]["days_past_due"]) for debtor in debtors for account in debtor["accounts"][1:]]
    assert 0.55 <= sum(gap <= 30 for gap in gaps) / len(gaps) <= 0.85


def test_person_flags_are_sometimes_on_one_account_only(debtors: list[dict[str, Any]]) -> None:
    on_account = Counter(name for debtor in debtors for account in debtor["accounts"] for name in account.get("legal", {}))
    on_person = Counter(name for debtor in debtors for name in debtor["legal"])
    assert on_account["dispute"] and not on_person["dispute"]  # a dispute is about its account
    assert on_account["vulnerable"] and on_person["vulnerable"]


def test_the_same_seed_gives_the_same_debtors_and_another_seed_others(debtors: list[dict[str, Any]]) -> None:
    assert list(synthetic_debtors(50, AS_OF, seed=7)) == debtors[:50]
    assert list(synthetic_debtors(50, AS_OF, seed=8)) != debtors[:50]


def _portfolio(tmp_path: Path, name: str, *extra: str) -> tuple[int, Path]:
    out = tmp_path / name
    code = main(["portfolio", "--debtors", "--count", "200", "--seed", "3", "--as-of", AS_OF.isoformat(), "--out", str(out), *extra])
    return code, out


def test_the_command_writes_one_debtor_per_line_deterministically(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, first = _portfolio(tmp_path, "a.jsonl")
    assert code == 0 and "wrote 200 debtors" in capsys.readouterr().out
    _, second = _portfolio(tmp_path, "b.jsonl")
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 200
    assert [json.loads(line)["debtor_id"] for line in lines[:2]] == ["debtor-00000000", "debtor-00000001"]


def test_the_command_refuses_csv_for_debtors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _portfolio(tmp_path, "debtors.csv")
    assert code == 1 and not out.exists()
    assert "--debtors writes JSON Lines only" in capsys.readouterr().err


def test_invalid_share_spoils_debtors_one_field_each(tmp_path: Path) -> None:
    code, out = _portfolio(tmp_path, "spoilt.jsonl", "--invalid-share", "0.2")
    assert code == 0
    fields: Counter[str] = Counter()
    for line in out.read_text(encoding="utf-8").splitlines():
        try:
            parse_debtor(json.loads(line), AS_OF)
        except InvalidSnapshot as error:
            fields[error.problems[0].field.split(".")[-1]] += 1
    assert 20 <= sum(fields.values()) <= 60
    assert set(fields) <= {"country", "time_zone", "amount_due", "currency", "segment", "days_past_due"}
