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


class Action(str, Enum):
    """What the engine may tell the caller to do next.

    `contacts` says whether the action reaches the debtor (and so needs a
    channel and a lawful window); the others are internal steps.
    """

    SEND_REMINDER = "SEND_REMINDER"
    CALL = "CALL"
    OFFER_PAYMENT_PLAN = "OFFER_PAYMENT_PLAN"
    OFFER_SETTLEMENT = "OFFER_SETTLEMENT"
    FINAL_NOTICE = "FINAL_NOTICE"
    LEGAL_REVIEW = "LEGAL_REVIEW"
    HUMAN_REVIEW = "HUMAN_REVIEW"
    NO_CONTACT = "NO_CONTACT"

    @property
    def contacts(self) -> bool:
        return self not in _INTERNAL_ACTIONS


_INTERNAL_ACTIONS = frozenset({Action.LEGAL_REVIEW, Action.HUMAN_REVIEW, Action.NO_CONTACT})
