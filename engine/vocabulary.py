"""The closed vocabularies shared by snapshots, policies and decisions."""

from __future__ import annotations

from enum import Enum


class Channel(str, Enum):
    SMS = "sms"
    EMAIL = "email"
    PHONE = "phone"
    LETTER = "letter"
    PUSH = "push"


ELECTRONIC_CHANNELS = frozenset({Channel.SMS, Channel.EMAIL, Channel.PUSH})


class Outcome(str, Enum):
    DELIVERED = "delivered"
    NO_ANSWER = "no_answer"
    RIGHT_PARTY_CONTACT = "right_party_contact"
    PROMISE_TO_PAY = "promise_to_pay"
    REFUSED = "refused"
    FAILED = "failed"


# Outcomes in which the debtor personally took part in a conversation.
CONVERSATION_OUTCOMES = frozenset({Outcome.RIGHT_PARTY_CONTACT, Outcome.PROMISE_TO_PAY, Outcome.REFUSED})


class Direction(str, Enum):
    OUTBOUND = "outbound"  # we contacted the debtor
    INBOUND = "inbound"  # the debtor contacted us: never counted towards caps or quiet periods


class Delivery(str, Enum):
    """What became of a message or call on its channel."""

    DELIVERED = "delivered"
    BOUNCED = "bounced"
    FAILED = "failed"
    WRONG_PARTY = "wrong_party"
    CHANNEL_REFUSED = "channel_refused"
    CALLBACK_REQUESTED = "callback_requested"


# Deliveries that say the channel does not reach the debtor.
FAILED_DELIVERIES = frozenset({Delivery.BOUNCED, Delivery.FAILED, Delivery.WRONG_PARTY})
# Outcomes that show the contact reached the debtor when no delivery status is given.
REACHED_OUTCOMES = CONVERSATION_OUTCOMES | {Outcome.DELIVERED}


class Action(str, Enum):
    """What the engine may tell the caller to do next.

    `contacts` says whether the action reaches the debtor (and so needs a
    channel and a lawful window); the others are internal steps.
    """

    SEND_REMINDER = "SEND_REMINDER"
    CONFIRM_ARRANGEMENT = "CONFIRM_ARRANGEMENT"  # the written confirmation of what was agreed
    SEND_NOTICE = "SEND_NOTICE"  # a notice the law requires (e.g. a US validation notice)
    CALL = "CALL"
    OFFER_PAYMENT_PLAN = "OFFER_PAYMENT_PLAN"
    OFFER_SETTLEMENT = "OFFER_SETTLEMENT"
    FINAL_NOTICE = "FINAL_NOTICE"
    LEGAL_REVIEW = "LEGAL_REVIEW"
    HUMAN_REVIEW = "HUMAN_REVIEW"
    WRITE_OFF = "WRITE_OFF"  # a balance too small to pursue is closed: no contact, no review
    NO_CONTACT = "NO_CONTACT"

    @property
    def contacts(self) -> bool:
        return self not in _INTERNAL_ACTIONS


_INTERNAL_ACTIONS = frozenset({Action.LEGAL_REVIEW, Action.HUMAN_REVIEW, Action.WRITE_OFF, Action.NO_CONTACT})


class ArrangementType(str, Enum):
    PROMISE_TO_PAY = "promise_to_pay"
    INSTALMENT_PLAN = "instalment_plan"
    SETTLEMENT = "settlement"
    PAYMENT_HOLIDAY = "payment_holiday"


class ArrangementStatus(str, Enum):
    """What the caller says; OPEN leaves the verdict to the engine."""

    OPEN = "open"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class PaymentMethod(str, Enum):
    BANK_TRANSFER = "bank_transfer"
    CARD = "card"
    DIRECT_DEBIT = "direct_debit"
    CASH = "cash"
    OTHER = "other"
