"""Nothing a caller sends stops the service, and nothing is silently guessed.

Codes and amounts are strict ASCII (no folding of "ß" into SS, no Arabic-Indic
digits, no exponents), every date and instant lies in the span the engine can
compute with, echoed values are cut short, caches keyed by caller input are
bounded, and a case in many zones costs a bounded number of clock look-ups.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from engine import facts, window, zones
from engine.errors import InvalidSnapshot
from engine.policy.ir import ContactHours
from engine.registry import build_engine
from engine.snapshot import parse_snapshot
from engine.window import HORIZON, next_window
from tests.conftest import REPO, write_policy
from transport.grpc_server import RunningServer, ServerConfig, start_server

UTC = timezone.utc
AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
GOOD: dict[str, Any] = {"case_id": "c-1", "country": "PL", "amount_due": "1250.50", "currency": "PLN", "days_past_due": 40, "segment": "retail"}
CONSENTING = {"sms": True, "email": True, "phone": True, "letter": True, "push": True}


def refused(as_of: datetime = AS_OF, **changes: Any) -> dict[str, str]:
    with pytest.raises(InvalidSnapshot) as caught:
        parse_snapshot({**GOOD, **changes}, as_of)
    return {problem.field: problem.description for problem in caught.value.problems}


# --- strict ASCII codes and amounts ---------------------------------------------


@pytest.mark.parametrize("amount", ["١٢٣", "1_000", "1e12", "1E3", " 12", "12\n", "+5", "12.", ".5", "１２"])
def test_amounts_are_ascii_digits_with_an_optional_fraction(amount: str) -> None:
    assert "expected ASCII digits" in refused(amount_due=amount)["amount_due"]


def test_amounts_stay_below_a_trillion() -> None:
    assert refused(amount_due="1000000000000") == {"amount_due": "must be below 1,000,000,000,000"}
    assert str(parse_snapshot({**GOOD, "amount_due": "999999999999.99"}, AS_OF).amount_due) == "999999999999.99"


@pytest.mark.parametrize(("country", "folded"), [("ß", "SS, South Sudan"), ("ﬁ", "FI, Finland")])
def test_a_country_is_two_ascii_letters_never_a_folded_letter(country: str, folded: str) -> None:
    assert "two letters" in refused(country=country)["country"], folded


def test_a_currency_is_three_ascii_letters() -> None:
    assert "three letters" in refused(currency="uſd")["currency"]  # "uſd".upper() is "USD"


def test_iso_codes_that_are_not_money_are_refused_and_real_x_currencies_kept() -> None:
    # No currency, testing, metals, bond-market units, drawing rights, units of account.
    for code in ("XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA"):
        assert "not money a debt can be owed in" in refused(currency=code.lower(), amount_due="1250")["currency"], code
    for code in ("XAF", "XOF", "XCD", "XPF"):
        assert parse_snapshot({**GOOD, "currency": code, "amount_due": "1250"}, AS_OF).currency == code


def test_a_region_is_ascii_letters_or_digits_never_folded() -> None:
    assert "letters or digits" in refused(country="GB", region="ſct")["region"]  # "ſct".upper() is "SCT", Scotland
    assert parse_snapshot({**GOOD, "country": "GB", "region": "sct"}, AS_OF).region == "SCT"


def test_only_the_iana_zones_tzdata_ships_are_time_zones() -> None:
    # The host's own files: "localtime" is the server's zone, whatever it is.
    for name in ("localtime", "posixrules", "Factory", "posix/Europe/Warsaw", "right/Europe/Warsaw", "Europe/Warsaw\n"):
        assert "IANA time zone" in refused(time_zone=name)["time_zone"], name
    for name in ("Europe/Warsaw", "US/Eastern", "UTC", "Etc/GMT-14"):
        assert parse_snapshot({**GOOD, "time_zone": name}, AS_OF).time_zone == name


def test_preferred_hours_are_hh_mm_and_nothing_else() -> None:
    # YAML reads an unquoted 18:00 as 1080 (base 60); seconds and fractions are not "HH:MM".
    for opens in ("09:00:30", "09:00:00.5", "٠٩:00", 1080, "9:00"):
        assert "expected HH:MM" in refused(preferred_hours={"opens": opens, "closes": "17:00"})["preferred_hours.opens"], opens
    hours = parse_snapshot({**GOOD, "preferred_hours": {"opens": "09:00", "closes": "17:30"}}, AS_OF).preferred_hours
    assert hours is not None and (hours.opens, hours.closes) == (time(9), time(17, 30))


def test_an_attribute_key_with_a_trailing_newline_is_refused() -> None:
    assert "lower_snake_case" in refused(attributes={"employer\n": "x"})["attributes"]


# --- dates and instants in range --------------------------------------------------

DATE_FIELDS = [("legal", "breathing_space_start"), ("payment", "promise_to_pay_date")]
INSTANT_FIELDS = [("payment", "last_payment_at")]


@pytest.mark.parametrize("day", ["0001-01-01", "1969-12-31", "9000-01-01", "9999-12-31"])
@pytest.mark.parametrize(("group", "field"), DATE_FIELDS)
def test_dates_out_of_range_are_refused_naming_the_field(group: str, field: str, day: str) -> None:
    assert refused(**{group: {field: day}}) == {f"{group}.{field}": f"must be a date from 1970-01-01 to 8999-12-31, not {day}"}


@pytest.mark.parametrize("value", [0, "2026-11-24T00:00:00", "24.11.2026", "２０２６-11-24"])
def test_a_date_is_yyyy_mm_dd_never_a_number_or_an_instant(value: Any) -> None:
    assert "expected YYYY-MM-DD" in refused(payment={"promise_to_pay_date": value})["payment.promise_to_pay_date"]


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T00:00:00Z"])
def test_instants_out_of_range_are_refused_naming_the_field(instant: str) -> None:
    range_text = "must be an instant from 1970-01-01T00:00:00Z to 9000-01-01T00:00:00Z"
    assert refused(payment={"last_payment_at": instant}) == {"payment.last_payment_at": range_text}
    contact = {"channel": "sms", "at": instant, "outcome": "delivered"}
    assert refused(prior_contacts=[contact]) == {"prior_contacts[0].at": range_text}


def test_an_instant_is_iso_8601_never_unix_seconds_whose_unit_is_guessed() -> None:
    for value in (1700000000, 1700000000000, "1700000000"):
        assert "expected ISO 8601" in refused(payment={"last_payment_at": value})["payment.last_payment_at"], value


def test_as_of_out_of_range_is_refused() -> None:
    assert list(refused(as_of=datetime(9999, 12, 31, tzinfo=UTC))) == ["as_of"]
    assert list(refused(as_of=datetime(1, 1, 2, tzinfo=UTC))) == ["as_of"]


@pytest.fixture(scope="module")
def shipped() -> Any:
    return build_engine(REPO / "rules")


def test_extreme_dates_are_refused_or_decided_never_an_engine_fault(shipped: Any, caplog: pytest.LogCaptureFixture) -> None:
    # Far-east and far-west zones turn a date into instants a day either side.
    places = [("PL", "PLN", None), ("GB", "GBP", "Etc/GMT-14"), ("GB", "GBP", "Etc/GMT+12"), ("NZ", "NZD", "Pacific/Chatham"), ("AQ", "USD", None)]
    as_ofs = [datetime(1970, 1, 1, tzinfo=UTC), AS_OF, datetime(8999, 12, 31, 23, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)]
    days = ["0001-01-01", "1970-01-01", "1970-01-02", "8999-12-31", "9999-12-31"]
    decided = 0
    with caplog.at_level(logging.ERROR):
        for country, currency, zone in places:
            for as_of in as_ofs:
                for day in days:
                    for group, field in DATE_FIELDS:
                        data = {**GOOD, "country": country, "currency": currency, "time_zone": zone, "consents": CONSENTING}
                        data[group] = {field: day}
                        try:
                            snapshot = parse_snapshot(data, as_of)
                        except InvalidSnapshot as error:
                            assert [problem.field for problem in error.problems] == [f"{group}.{field}"]
                            continue
                        for explain in (False, True):
                            decision = shipped.decide(snapshot, as_of, explain=explain)
                            assert decision.reasons[0].code != "ENGINE_FAULT", (country, zone, as_of, field, day)
                        decided += 1
    assert decided > 0 and not [record for record in caplog.records if "fault" in record.getMessage()]


# --- echoed values are cut short ---------------------------------------------------

LONG = "A" * 100_000


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"country": LONG}, "country"),
        ({"currency": LONG}, "currency"),
        ({"time_zone": LONG}, "time_zone"),
        ({"region": LONG}, "region"),
        ({"amount_due": "1" + LONG}, "amount_due"),
        ({"language": LONG}, "language"),
        ({"attributes": {"K" + LONG: "x"}}, "attributes"),
        ({"preferred_channel": LONG}, "preferred_channel"),
        ({"payment": {"promise_to_pay_date": LONG}}, "payment.promise_to_pay_date"),
    ],
)
def test_a_long_value_is_echoed_cut_short_with_its_length(changes: dict[str, Any], field: str) -> None:
    description = refused(**changes)[field]
    assert len(description) <= 240 and "…" in description and "characters)" in description, description


def test_a_long_unknown_field_name_is_cut_short() -> None:
    problems = refused(**{"x" * 100_000: 1})
    assert all(len(field) <= 120 for field in problems) and len(problems) == 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    rules = tmp_path_factory.mktemp("rules")
    write_policy(rules, "policy: hostile\nversion: '1'\nrules:\n  - id: remind\n    priority: 1\n    when: {days_past_due: {gt: 0}}\n    then: {action: SEND_REMINDER, channel: sms}\n    reason: A reminder.\n")
    running = start_server(ServerConfig(port=0, rules_dir=rules, reuse_port=False))
    yield running
    running.stop(0)


def test_a_client_gets_the_field_violation_for_a_long_value(server: RunningServer) -> None:
    case = pb.CaseSnapshot(case_id="c-1", country=LONG, amount_due="10.00", currency="PLN", days_past_due=3, segment="retail")
    with grpc.insecure_channel(f"localhost:{server.port}") as channel:
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.CollectionStrategyServiceStub(channel).Decide(pb.DecideRequest(case=case, as_of=timestamp_pb2.Timestamp(seconds=1795510800)), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    assert status is not None
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    assert [violation.field for violation in detail.field_violations] == ["case.country"]
    assert "(100000 characters)" in detail.field_violations[0].description


# --- caches keyed by caller input are bounded --------------------------------------


def test_holiday_calendars_kept_are_bounded() -> None:
    maxsize = facts._calendar.cache_info().maxsize
    assert maxsize is not None
    for year in range(1970, 1970 + maxsize + 50):  # a caller choosing the year through as_of
        facts.is_public_holiday("AQ", None, date(year, 6, 21))
    assert facts._calendar.cache_info().currsize <= maxsize


# --- many zones at a bounded cost ----------------------------------------------------


class CountingZone(tzinfo):
    """A ZoneInfo that counts how often a UTC instant is turned into its local time."""

    def __init__(self, name: str):
        self.zone = ZoneInfo(name)
        self.conversions = 0

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return self.zone.utcoffset(dt.replace(tzinfo=self.zone)) if dt else None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return self.zone.dst(dt.replace(tzinfo=self.zone)) if dt else None

    def tzname(self, dt: datetime | None) -> str | None:
        return self.zone.tzname(dt.replace(tzinfo=self.zone)) if dt else None

    def fromutc(self, dt: datetime) -> datetime:
        self.conversions += 1
        return self.zone.fromutc(dt.replace(tzinfo=self.zone)).replace(tzinfo=self)


SAME_CLOCK = [
    ("America/Detroit", "America/New_York", 2026, True),
    ("US/Eastern", "America/New_York", 2026, True),
    ("Europe/Warsaw", "Europe/London", 2026, False),
    ("Antarctica/Troll", "Europe/London", 2026, False),  # UTC+0/+2 against +0/+1
    ("Europe/Lisbon", "Atlantic/Madeira", 2026, True),
    ("Europe/Lisbon", "Atlantic/Madeira", 1995, False),  # Lisbon kept Central European Time 1992-1996
    ("America/Phoenix", "America/Denver", 2026, False),  # the same in winter only
]


def test_same_clock_is_right_comparing_a_few_hundred_instants_not_every_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    for zone, other, year, same in SAME_CLOCK:
        counting = {name: CountingZone(name) for name in (zone, other)}
        monkeypatch.setattr(zones, "_zone", counting.__getitem__)
        assert zones._same_clock.__wrapped__(zone, other, year) is same, (zone, other, year)
        assert sum(item.conversions for item in counting.values()) < 2000, (zone, other)  # every hour of a year: 17,568


ANTARCTICA = tuple(ZoneInfo(name) for name in zones.region_zones("AQ", None))


def brute_force(as_of: datetime, zones_: tuple[ZoneInfo, ...], hours: ContactHours) -> datetime | None:
    """The first quarter hour open in every zone (hours without public holidays)."""
    moment = as_of
    while moment < as_of + HORIZON:
        local = [moment.astimezone(zone) for zone in zones_]
        if all(item.weekday() not in hours.closed_weekdays and hours.opens <= item.time() < hours.closes for item in local):
            return moment
        moment += timedelta(minutes=15)
    return None


ZONE_SETS = [
    ("Asia/Tokyo", "Europe/Warsaw"),
    ("America/Los_Angeles", "Pacific/Honolulu", "America/New_York"),
    ("Antarctica/Casey", "Antarctica/Davis", "Antarctica/Mawson", "Antarctica/Vostok"),
    ("Australia/Lord_Howe", "Asia/Kathmandu", "Antarctica/Troll"),
    tuple(str(zone) for zone in ANTARCTICA),
]


class _Counted:
    """Counts the local-clock conversions the window makes (its unit of work)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.calls = 0
        convert = window._local_instant

        def counted(day: date, moment: time, zone: ZoneInfo) -> datetime:
            self.calls += 1
            return convert(day, moment, zone)

        monkeypatch.setattr(window, "_local_instant", counted)


def test_many_zones_cost_one_pass_over_their_days_and_meet_at_their_first_common_opening(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = _Counted(monkeypatch)
    assert len(ANTARCTICA) >= 10
    for hours in (ContactHours(), ContactHours(time(6, 0), time(23, 0), frozenset({6}), False)):
        for names in ZONE_SETS:
            zones_ = tuple(ZoneInfo(name) for name in names)
            for as_of in (datetime(2026, 3, 27, 22, 15, tzinfo=UTC), datetime(2026, 10, 24, 3, 0, tzinfo=UTC), datetime(4321, 5, 6, 7, tzinfo=UTC)):
                counter.calls = 0
                for _ in range(3):  # a decision asks once per candidate channel
                    found = next_window(as_of, zones_, "AQ", None, hours)
                assert counter.calls <= len(zones_) * (HORIZON.days + 2) * 2, (names, as_of)
                if not hours.closed_on_holidays:
                    assert (found.start if found else None) == brute_force(as_of, zones_, hours), (names, as_of)
                elif len(zones_) == len(ANTARCTICA):
                    assert found is None  # 08:00-20:00 everywhere in Antarctica at once: never


def test_an_antarctic_case_is_decided_with_one_pass_over_each_zone(monkeypatch: pytest.MonkeyPatch, shipped: Any) -> None:
    counter = _Counted(monkeypatch)
    as_of = datetime(5432, 5, 6, 7, tzinfo=UTC)
    snapshot = parse_snapshot({**GOOD, "country": "AQ", "currency": "USD", "time_zone": "Europe/Warsaw", "consents": CONSENTING}, as_of)
    decision = shipped.decide(snapshot, as_of)
    assert decision.reasons[0].code != "ENGINE_FAULT"
    assert counter.calls <= (len(ANTARCTICA) + 1) * (HORIZON.days + 2) * 2  # every candidate channel asks for the same window
