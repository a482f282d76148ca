import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_SMS: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_PHONE: _ClassVar[Channel]
    CHANNEL_LETTER: _ClassVar[Channel]
    CHANNEL_PUSH: _ClassVar[Channel]

class ContactOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTACT_OUTCOME_UNSPECIFIED: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_DELIVERED: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_NO_ANSWER: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_RIGHT_PARTY_CONTACT: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_PROMISE_TO_PAY: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_REFUSED: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_FAILED: _ClassVar[ContactOutcome]

class ContactDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTACT_DIRECTION_UNSPECIFIED: _ClassVar[ContactDirection]
    CONTACT_DIRECTION_OUTBOUND: _ClassVar[ContactDirection]
    CONTACT_DIRECTION_INBOUND: _ClassVar[ContactDirection]

class DeliveryStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATUS_UNSPECIFIED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_DELIVERED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_BOUNCED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_FAILED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_WRONG_PARTY: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_CHANNEL_REFUSED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_CALLBACK_REQUESTED: _ClassVar[DeliveryStatus]

class ArrangementType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARRANGEMENT_TYPE_UNSPECIFIED: _ClassVar[ArrangementType]
    ARRANGEMENT_TYPE_PROMISE_TO_PAY: _ClassVar[ArrangementType]
    ARRANGEMENT_TYPE_INSTALMENT_PLAN: _ClassVar[ArrangementType]
    ARRANGEMENT_TYPE_SETTLEMENT: _ClassVar[ArrangementType]
    ARRANGEMENT_TYPE_PAYMENT_HOLIDAY: _ClassVar[ArrangementType]

class ArrangementStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARRANGEMENT_STATUS_UNSPECIFIED: _ClassVar[ArrangementStatus]
    ARRANGEMENT_STATUS_CANCELLED: _ClassVar[ArrangementStatus]
    ARRANGEMENT_STATUS_COMPLETED: _ClassVar[ArrangementStatus]

class PaymentMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_METHOD_UNSPECIFIED: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_BANK_TRANSFER: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_CARD: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_DIRECT_DEBIT: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_CASH: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_OTHER: _ClassVar[PaymentMethod]

class WorkPriority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORK_PRIORITY_UNSPECIFIED: _ClassVar[WorkPriority]
    WORK_PRIORITY_HIGH: _ClassVar[WorkPriority]
    WORK_PRIORITY_NORMAL: _ClassVar[WorkPriority]
    WORK_PRIORITY_LOW: _ClassVar[WorkPriority]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_SMS: Channel
CHANNEL_EMAIL: Channel
CHANNEL_PHONE: Channel
CHANNEL_LETTER: Channel
CHANNEL_PUSH: Channel
CONTACT_OUTCOME_UNSPECIFIED: ContactOutcome
CONTACT_OUTCOME_DELIVERED: ContactOutcome
CONTACT_OUTCOME_NO_ANSWER: ContactOutcome
CONTACT_OUTCOME_RIGHT_PARTY_CONTACT: ContactOutcome
CONTACT_OUTCOME_PROMISE_TO_PAY: ContactOutcome
CONTACT_OUTCOME_REFUSED: ContactOutcome
CONTACT_OUTCOME_FAILED: ContactOutcome
CONTACT_DIRECTION_UNSPECIFIED: ContactDirection
CONTACT_DIRECTION_OUTBOUND: ContactDirection
CONTACT_DIRECTION_INBOUND: ContactDirection
DELIVERY_STATUS_UNSPECIFIED: DeliveryStatus
DELIVERY_STATUS_DELIVERED: DeliveryStatus
DELIVERY_STATUS_BOUNCED: DeliveryStatus
DELIVERY_STATUS_FAILED: DeliveryStatus
DELIVERY_STATUS_WRONG_PARTY: DeliveryStatus
DELIVERY_STATUS_CHANNEL_REFUSED: DeliveryStatus
DELIVERY_STATUS_CALLBACK_REQUESTED: DeliveryStatus
ARRANGEMENT_TYPE_UNSPECIFIED: ArrangementType
ARRANGEMENT_TYPE_PROMISE_TO_PAY: ArrangementType
ARRANGEMENT_TYPE_INSTALMENT_PLAN: ArrangementType
ARRANGEMENT_TYPE_SETTLEMENT: ArrangementType
ARRANGEMENT_TYPE_PAYMENT_HOLIDAY: ArrangementType
ARRANGEMENT_STATUS_UNSPECIFIED: ArrangementStatus
ARRANGEMENT_STATUS_CANCELLED: ArrangementStatus
ARRANGEMENT_STATUS_COMPLETED: ArrangementStatus
PAYMENT_METHOD_UNSPECIFIED: PaymentMethod
PAYMENT_METHOD_BANK_TRANSFER: PaymentMethod
PAYMENT_METHOD_CARD: PaymentMethod
PAYMENT_METHOD_DIRECT_DEBIT: PaymentMethod
PAYMENT_METHOD_CASH: PaymentMethod
PAYMENT_METHOD_OTHER: PaymentMethod
WORK_PRIORITY_UNSPECIFIED: WorkPriority
WORK_PRIORITY_HIGH: WorkPriority
WORK_PRIORITY_NORMAL: WorkPriority
WORK_PRIORITY_LOW: WorkPriority

class Consents(_message.Message):
    __slots__ = ("sms", "email", "phone", "letter", "push", "electronic_opt_out")
    SMS_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    LETTER_FIELD_NUMBER: _ClassVar[int]
    PUSH_FIELD_NUMBER: _ClassVar[int]
    ELECTRONIC_OPT_OUT_FIELD_NUMBER: _ClassVar[int]
    sms: bool
    email: bool
    phone: bool
    letter: bool
    push: bool
    electronic_opt_out: bool
    def __init__(self, sms: _Optional[bool] = ..., email: _Optional[bool] = ..., phone: _Optional[bool] = ..., letter: _Optional[bool] = ..., push: _Optional[bool] = ..., electronic_opt_out: _Optional[bool] = ...) -> None: ...

class GdprFlags(_message.Message):
    __slots__ = ("objection", "restriction", "erasure_requested")
    OBJECTION_FIELD_NUMBER: _ClassVar[int]
    RESTRICTION_FIELD_NUMBER: _ClassVar[int]
    ERASURE_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    objection: bool
    restriction: bool
    erasure_requested: bool
    def __init__(self, objection: _Optional[bool] = ..., restriction: _Optional[bool] = ..., erasure_requested: _Optional[bool] = ...) -> None: ...

class LegalFlags(_message.Message):
    __slots__ = ("dispute", "bankruptcy", "cease_and_desist", "attorney_represented", "deceased", "vulnerable", "hardship", "time_barred", "breathing_space_start")
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    BANKRUPTCY_FIELD_NUMBER: _ClassVar[int]
    CEASE_AND_DESIST_FIELD_NUMBER: _ClassVar[int]
    ATTORNEY_REPRESENTED_FIELD_NUMBER: _ClassVar[int]
    DECEASED_FIELD_NUMBER: _ClassVar[int]
    VULNERABLE_FIELD_NUMBER: _ClassVar[int]
    HARDSHIP_FIELD_NUMBER: _ClassVar[int]
    TIME_BARRED_FIELD_NUMBER: _ClassVar[int]
    BREATHING_SPACE_START_FIELD_NUMBER: _ClassVar[int]
    dispute: bool
    bankruptcy: bool
    cease_and_desist: bool
    attorney_represented: bool
    deceased: bool
    vulnerable: bool
    hardship: bool
    time_barred: bool
    breathing_space_start: str
    def __init__(self, dispute: _Optional[bool] = ..., bankruptcy: _Optional[bool] = ..., cease_and_desist: _Optional[bool] = ..., attorney_represented: _Optional[bool] = ..., deceased: _Optional[bool] = ..., vulnerable: _Optional[bool] = ..., hardship: _Optional[bool] = ..., time_barred: _Optional[bool] = ..., breathing_space_start: _Optional[str] = ...) -> None: ...

class ContactHours(_message.Message):
    __slots__ = ("opens", "closes")
    OPENS_FIELD_NUMBER: _ClassVar[int]
    CLOSES_FIELD_NUMBER: _ClassVar[int]
    opens: str
    closes: str
    def __init__(self, opens: _Optional[str] = ..., closes: _Optional[str] = ...) -> None: ...

class PaymentBehaviour(_message.Message):
    __slots__ = ("broken_promises", "last_payment_at", "promise_to_pay_date")
    BROKEN_PROMISES_FIELD_NUMBER: _ClassVar[int]
    LAST_PAYMENT_AT_FIELD_NUMBER: _ClassVar[int]
    PROMISE_TO_PAY_DATE_FIELD_NUMBER: _ClassVar[int]
    broken_promises: int
    last_payment_at: _timestamp_pb2.Timestamp
    promise_to_pay_date: str
    def __init__(self, broken_promises: _Optional[int] = ..., last_payment_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., promise_to_pay_date: _Optional[str] = ...) -> None: ...

class PriorContact(_message.Message):
    __slots__ = ("channel", "at", "outcome", "action", "template", "direction", "delivery", "account_ids")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    channel: Channel
    at: _timestamp_pb2.Timestamp
    outcome: ContactOutcome
    action: str
    template: str
    direction: ContactDirection
    delivery: DeliveryStatus
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, channel: _Optional[_Union[Channel, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[_Union[ContactOutcome, str]] = ..., action: _Optional[str] = ..., template: _Optional[str] = ..., direction: _Optional[_Union[ContactDirection, str]] = ..., delivery: _Optional[_Union[DeliveryStatus, str]] = ..., account_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Instalment(_message.Message):
    __slots__ = ("due_date", "amount")
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    due_date: str
    amount: str
    def __init__(self, due_date: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("amount", "paid_at", "posted_at", "method")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    POSTED_AT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    amount: str
    paid_at: _timestamp_pb2.Timestamp
    posted_at: _timestamp_pb2.Timestamp
    method: PaymentMethod
    def __init__(self, amount: _Optional[str] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., posted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., method: _Optional[_Union[PaymentMethod, str]] = ...) -> None: ...

class Arrangement(_message.Message):
    __slots__ = ("arrangement_id", "type", "agreed_at", "agreed_on", "currency", "schedule", "payments", "status", "method")
    ARRANGEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    AGREED_AT_FIELD_NUMBER: _ClassVar[int]
    AGREED_ON_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    arrangement_id: str
    type: ArrangementType
    agreed_at: _timestamp_pb2.Timestamp
    agreed_on: Channel
    currency: str
    schedule: _containers.RepeatedCompositeFieldContainer[Instalment]
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    status: ArrangementStatus
    method: PaymentMethod
    def __init__(self, arrangement_id: _Optional[str] = ..., type: _Optional[_Union[ArrangementType, str]] = ..., agreed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., agreed_on: _Optional[_Union[Channel, str]] = ..., currency: _Optional[str] = ..., schedule: _Optional[_Iterable[_Union[Instalment, _Mapping]]] = ..., payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., status: _Optional[_Union[ArrangementStatus, str]] = ..., method: _Optional[_Union[PaymentMethod, str]] = ...) -> None: ...

class CaseSnapshot(_message.Message):
    __slots__ = ("case_id", "country", "region", "time_zone", "amount_due", "currency", "days_past_due", "segment", "product", "consents", "gdpr", "legal", "payment", "prior_contacts", "attributes", "preferred_channel", "language", "preferred_hours", "arrangements", "third_party_collector", "inputs")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class InputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: InputValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[InputValue, _Mapping]] = ...) -> None: ...
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    GDPR_FIELD_NUMBER: _ClassVar[int]
    LEGAL_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    PRIOR_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_HOURS_FIELD_NUMBER: _ClassVar[int]
    ARRANGEMENTS_FIELD_NUMBER: _ClassVar[int]
    THIRD_PARTY_COLLECTOR_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    country: str
    region: str
    time_zone: str
    amount_due: str
    currency: str
    days_past_due: int
    segment: str
    product: str
    consents: Consents
    gdpr: GdprFlags
    legal: LegalFlags
    payment: PaymentBehaviour
    prior_contacts: _containers.RepeatedCompositeFieldContainer[PriorContact]
    attributes: _containers.ScalarMap[str, str]
    preferred_channel: Channel
    language: str
    preferred_hours: ContactHours
    arrangements: _containers.RepeatedCompositeFieldContainer[Arrangement]
    third_party_collector: bool
    inputs: _containers.MessageMap[str, InputValue]
    def __init__(self, case_id: _Optional[str] = ..., country: _Optional[str] = ..., region: _Optional[str] = ..., time_zone: _Optional[str] = ..., amount_due: _Optional[str] = ..., currency: _Optional[str] = ..., days_past_due: _Optional[int] = ..., segment: _Optional[str] = ..., product: _Optional[str] = ..., consents: _Optional[_Union[Consents, _Mapping]] = ..., gdpr: _Optional[_Union[GdprFlags, _Mapping]] = ..., legal: _Optional[_Union[LegalFlags, _Mapping]] = ..., payment: _Optional[_Union[PaymentBehaviour, _Mapping]] = ..., prior_contacts: _Optional[_Iterable[_Union[PriorContact, _Mapping]]] = ..., attributes: _Optional[_Mapping[str, str]] = ..., preferred_channel: _Optional[_Union[Channel, str]] = ..., language: _Optional[str] = ..., preferred_hours: _Optional[_Union[ContactHours, _Mapping]] = ..., arrangements: _Optional[_Iterable[_Union[Arrangement, _Mapping]]] = ..., third_party_collector: _Optional[bool] = ..., inputs: _Optional[_Mapping[str, InputValue]] = ...) -> None: ...

class InputValue(_message.Message):
    __slots__ = ("number", "integer", "text", "boolean", "date")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    INTEGER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BOOLEAN_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    number: float
    integer: int
    text: str
    boolean: bool
    date: str
    def __init__(self, number: _Optional[float] = ..., integer: _Optional[int] = ..., text: _Optional[str] = ..., boolean: _Optional[bool] = ..., date: _Optional[str] = ...) -> None: ...

class DecideRequest(_message.Message):
    __slots__ = ("case", "as_of", "explain")
    CASE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    case: CaseSnapshot
    as_of: _timestamp_pb2.Timestamp
    explain: bool
    def __init__(self, case: _Optional[_Union[CaseSnapshot, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., explain: _Optional[bool] = ...) -> None: ...

class DecideResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...

class DecideBatchRequest(_message.Message):
    __slots__ = ("cases", "as_of", "explain")
    CASES_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[CaseSnapshot]
    as_of: _timestamp_pb2.Timestamp
    explain: bool
    def __init__(self, cases: _Optional[_Iterable[_Union[CaseSnapshot, _Mapping]]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., explain: _Optional[bool] = ...) -> None: ...

class DecideBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CaseResult]
    def __init__(self, results: _Optional[_Iterable[_Union[CaseResult, _Mapping]]] = ...) -> None: ...

class DecideStreamRequest(_message.Message):
    __slots__ = ("case", "as_of", "explain")
    CASE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    case: CaseSnapshot
    as_of: _timestamp_pb2.Timestamp
    explain: bool
    def __init__(self, case: _Optional[_Union[CaseSnapshot, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., explain: _Optional[bool] = ...) -> None: ...

class DecideStreamResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: CaseResult
    def __init__(self, result: _Optional[_Union[CaseResult, _Mapping]] = ...) -> None: ...

class CaseResult(_message.Message):
    __slots__ = ("case_id", "decision", "error")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    decision: Decision
    error: CaseError
    def __init__(self, case_id: _Optional[str] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ..., error: _Optional[_Union[CaseError, _Mapping]] = ...) -> None: ...

class CaseError(_message.Message):
    __slots__ = ("message", "field_violations")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    message: str
    field_violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    def __init__(self, message: _Optional[str] = ..., field_violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("case_id", "action", "channel", "window", "offer", "template", "reasons", "fired_rules", "vetoes", "policy", "experiment_arm", "next_review_at", "as_of", "trace", "window_constraints", "required_disclosures", "data_warnings", "decision_id", "work")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    OFFER_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    FIRED_RULES_FIELD_NUMBER: _ClassVar[int]
    VETOES_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ARM_FIELD_NUMBER: _ClassVar[int]
    NEXT_REVIEW_AT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_DISCLOSURES_FIELD_NUMBER: _ClassVar[int]
    DATA_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    WORK_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    action: str
    channel: Channel
    window: ContactWindow
    offer: OfferBounds
    template: str
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    fired_rules: _containers.RepeatedScalarFieldContainer[str]
    vetoes: _containers.RepeatedCompositeFieldContainer[Veto]
    policy: PolicyRef
    experiment_arm: str
    next_review_at: _timestamp_pb2.Timestamp
    as_of: _timestamp_pb2.Timestamp
    trace: _struct_pb2.Struct
    window_constraints: _containers.RepeatedCompositeFieldContainer[Reason]
    required_disclosures: _containers.RepeatedCompositeFieldContainer[Reason]
    data_warnings: _containers.RepeatedCompositeFieldContainer[Reason]
    decision_id: str
    work: WorkItem
    def __init__(self, case_id: _Optional[str] = ..., action: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., window: _Optional[_Union[ContactWindow, _Mapping]] = ..., offer: _Optional[_Union[OfferBounds, _Mapping]] = ..., template: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., fired_rules: _Optional[_Iterable[str]] = ..., vetoes: _Optional[_Iterable[_Union[Veto, _Mapping]]] = ..., policy: _Optional[_Union[PolicyRef, _Mapping]] = ..., experiment_arm: _Optional[str] = ..., next_review_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trace: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., window_constraints: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., required_disclosures: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., data_warnings: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., decision_id: _Optional[str] = ..., work: _Optional[_Union[WorkItem, _Mapping]] = ...) -> None: ...

class WorkItem(_message.Message):
    __slots__ = ("queue", "priority", "due", "declared_by")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DUE_FIELD_NUMBER: _ClassVar[int]
    DECLARED_BY_FIELD_NUMBER: _ClassVar[int]
    queue: str
    priority: WorkPriority
    due: _timestamp_pb2.Timestamp
    declared_by: str
    def __init__(self, queue: _Optional[str] = ..., priority: _Optional[_Union[WorkPriority, str]] = ..., due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., declared_by: _Optional[str] = ...) -> None: ...

class ContactWindow(_message.Message):
    __slots__ = ("start", "end", "time_zone", "local_start", "local_end", "intersected_time_zones")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_START_FIELD_NUMBER: _ClassVar[int]
    LOCAL_END_FIELD_NUMBER: _ClassVar[int]
    INTERSECTED_TIME_ZONES_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    time_zone: str
    local_start: str
    local_end: str
    intersected_time_zones: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_zone: _Optional[str] = ..., local_start: _Optional[str] = ..., local_end: _Optional[str] = ..., intersected_time_zones: _Optional[_Iterable[str]] = ...) -> None: ...

class OfferBounds(_message.Message):
    __slots__ = ("discount_pct_min", "discount_pct_max", "instalments_min", "instalments_max", "min_instalment", "max_deferral_days", "currency", "settlement_floor", "payment_holiday", "review_above_discount_pct", "set_by", "clamps")
    DISCOUNT_PCT_MIN_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_PCT_MAX_FIELD_NUMBER: _ClassVar[int]
    INSTALMENTS_MIN_FIELD_NUMBER: _ClassVar[int]
    INSTALMENTS_MAX_FIELD_NUMBER: _ClassVar[int]
    MIN_INSTALMENT_FIELD_NUMBER: _ClassVar[int]
    MAX_DEFERRAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_FLOOR_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_HOLIDAY_FIELD_NUMBER: _ClassVar[int]
    REVIEW_ABOVE_DISCOUNT_PCT_FIELD_NUMBER: _ClassVar[int]
    SET_BY_FIELD_NUMBER: _ClassVar[int]
    CLAMPS_FIELD_NUMBER: _ClassVar[int]
    discount_pct_min: str
    discount_pct_max: str
    instalments_min: int
    instalments_max: int
    min_instalment: str
    max_deferral_days: int
    currency: str
    settlement_floor: str
    payment_holiday: bool
    review_above_discount_pct: str
    set_by: str
    clamps: _containers.RepeatedCompositeFieldContainer[OfferClamp]
    def __init__(self, discount_pct_min: _Optional[str] = ..., discount_pct_max: _Optional[str] = ..., instalments_min: _Optional[int] = ..., instalments_max: _Optional[int] = ..., min_instalment: _Optional[str] = ..., max_deferral_days: _Optional[int] = ..., currency: _Optional[str] = ..., settlement_floor: _Optional[str] = ..., payment_holiday: _Optional[bool] = ..., review_above_discount_pct: _Optional[str] = ..., set_by: _Optional[str] = ..., clamps: _Optional[_Iterable[_Union[OfferClamp, _Mapping]]] = ...) -> None: ...

class OfferClamp(_message.Message):
    __slots__ = ("limit_id", "bound", "before", "after", "reason")
    LIMIT_ID_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    limit_id: str
    bound: str
    before: str
    after: str
    reason: str
    def __init__(self, limit_id: _Optional[str] = ..., bound: _Optional[str] = ..., before: _Optional[str] = ..., after: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Reason(_message.Message):
    __slots__ = ("code", "text")
    CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    code: str
    text: str
    def __init__(self, code: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Veto(_message.Message):
    __slots__ = ("rule_id", "guardrail", "reason", "channel")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    GUARDRAIL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    guardrail: str
    reason: str
    channel: Channel
    def __init__(self, rule_id: _Optional[str] = ..., guardrail: _Optional[str] = ..., reason: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ...) -> None: ...

class PolicyRef(_message.Message):
    __slots__ = ("name", "version", "hash")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    hash: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPolicyResponse(_message.Message):
    __slots__ = ("policies", "last_refusal", "holidays_version", "tzdata_version")
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    LAST_REFUSAL_FIELD_NUMBER: _ClassVar[int]
    HOLIDAYS_VERSION_FIELD_NUMBER: _ClassVar[int]
    TZDATA_VERSION_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[PolicyInfo]
    last_refusal: ReloadRefusal
    holidays_version: str
    tzdata_version: str
    def __init__(self, policies: _Optional[_Iterable[_Union[PolicyInfo, _Mapping]]] = ..., last_refusal: _Optional[_Union[ReloadRefusal, _Mapping]] = ..., holidays_version: _Optional[str] = ..., tzdata_version: _Optional[str] = ...) -> None: ...

class ReloadRefusal(_message.Message):
    __slots__ = ("at", "reason")
    AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class PolicyInfo(_message.Message):
    __slots__ = ("name", "version", "hash", "loaded_at", "kind", "rule_count", "applies_to", "effective", "dated_rules", "inputs", "queues")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RULE_COUNT_FIELD_NUMBER: _ClassVar[int]
    APPLIES_TO_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    DATED_RULES_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    hash: str
    loaded_at: _timestamp_pb2.Timestamp
    kind: str
    rule_count: int
    applies_to: _containers.RepeatedScalarFieldContainer[str]
    effective: EffectivePeriod
    dated_rules: _containers.RepeatedCompositeFieldContainer[DatedRule]
    inputs: _containers.RepeatedCompositeFieldContainer[DeclaredInput]
    queues: _containers.RepeatedCompositeFieldContainer[WorkQueue]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., hash: _Optional[str] = ..., loaded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., rule_count: _Optional[int] = ..., applies_to: _Optional[_Iterable[str]] = ..., effective: _Optional[_Union[EffectivePeriod, _Mapping]] = ..., dated_rules: _Optional[_Iterable[_Union[DatedRule, _Mapping]]] = ..., inputs: _Optional[_Iterable[_Union[DeclaredInput, _Mapping]]] = ..., queues: _Optional[_Iterable[_Union[WorkQueue, _Mapping]]] = ...) -> None: ...

class DeclaredInput(_message.Message):
    __slots__ = ("name", "type", "description", "required", "min", "max", "values")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    description: str
    required: bool
    min: str
    max: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ..., required: _Optional[bool] = ..., min: _Optional[str] = ..., max: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkQueue(_message.Message):
    __slots__ = ("name", "description", "capacity_per_day", "priority", "due_in", "due_unit", "default_for")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DUE_IN_FIELD_NUMBER: _ClassVar[int]
    DUE_UNIT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    capacity_per_day: int
    priority: WorkPriority
    due_in: int
    due_unit: str
    default_for: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., capacity_per_day: _Optional[int] = ..., priority: _Optional[_Union[WorkPriority, str]] = ..., due_in: _Optional[int] = ..., due_unit: _Optional[str] = ..., default_for: _Optional[_Iterable[str]] = ...) -> None: ...

class EffectivePeriod(_message.Message):
    __slots__ = ("effective_from", "effective_until")
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    effective_from: str
    effective_until: str
    def __init__(self, effective_from: _Optional[str] = ..., effective_until: _Optional[str] = ...) -> None: ...

class DatedRule(_message.Message):
    __slots__ = ("rule_id", "period")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    period: EffectivePeriod
    def __init__(self, rule_id: _Optional[str] = ..., period: _Optional[_Union[EffectivePeriod, _Mapping]] = ...) -> None: ...

class Debtor(_message.Message):
    __slots__ = ("debtor_id", "country", "region", "time_zone", "language", "consents", "gdpr", "legal", "preferred_channel", "preferred_hours", "third_party_collector", "attributes", "contacts", "accounts", "inputs")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class InputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: InputValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[InputValue, _Mapping]] = ...) -> None: ...
    DEBTOR_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    GDPR_FIELD_NUMBER: _ClassVar[int]
    LEGAL_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_HOURS_FIELD_NUMBER: _ClassVar[int]
    THIRD_PARTY_COLLECTOR_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    debtor_id: str
    country: str
    region: str
    time_zone: str
    language: str
    consents: Consents
    gdpr: GdprFlags
    legal: LegalFlags
    preferred_channel: Channel
    preferred_hours: ContactHours
    third_party_collector: bool
    attributes: _containers.ScalarMap[str, str]
    contacts: _containers.RepeatedCompositeFieldContainer[PriorContact]
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    inputs: _containers.MessageMap[str, InputValue]
    def __init__(self, debtor_id: _Optional[str] = ..., country: _Optional[str] = ..., region: _Optional[str] = ..., time_zone: _Optional[str] = ..., language: _Optional[str] = ..., consents: _Optional[_Union[Consents, _Mapping]] = ..., gdpr: _Optional[_Union[GdprFlags, _Mapping]] = ..., legal: _Optional[_Union[LegalFlags, _Mapping]] = ..., preferred_channel: _Optional[_Union[Channel, str]] = ..., preferred_hours: _Optional[_Union[ContactHours, _Mapping]] = ..., third_party_collector: _Optional[bool] = ..., attributes: _Optional[_Mapping[str, str]] = ..., contacts: _Optional[_Iterable[_Union[PriorContact, _Mapping]]] = ..., accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., inputs: _Optional[_Mapping[str, InputValue]] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("account_id", "debtor_id", "country", "amount_due", "currency", "days_past_due", "segment", "product", "legal", "gdpr", "payment", "prior_contacts", "arrangements", "attributes", "inputs")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class InputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: InputValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[InputValue, _Mapping]] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    DEBTOR_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    LEGAL_FIELD_NUMBER: _ClassVar[int]
    GDPR_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    PRIOR_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    ARRANGEMENTS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    debtor_id: str
    country: str
    amount_due: str
    currency: str
    days_past_due: int
    segment: str
    product: str
    legal: LegalFlags
    gdpr: GdprFlags
    payment: PaymentBehaviour
    prior_contacts: _containers.RepeatedCompositeFieldContainer[PriorContact]
    arrangements: _containers.RepeatedCompositeFieldContainer[Arrangement]
    attributes: _containers.ScalarMap[str, str]
    inputs: _containers.MessageMap[str, InputValue]
    def __init__(self, account_id: _Optional[str] = ..., debtor_id: _Optional[str] = ..., country: _Optional[str] = ..., amount_due: _Optional[str] = ..., currency: _Optional[str] = ..., days_past_due: _Optional[int] = ..., segment: _Optional[str] = ..., product: _Optional[str] = ..., legal: _Optional[_Union[LegalFlags, _Mapping]] = ..., gdpr: _Optional[_Union[GdprFlags, _Mapping]] = ..., payment: _Optional[_Union[PaymentBehaviour, _Mapping]] = ..., prior_contacts: _Optional[_Iterable[_Union[PriorContact, _Mapping]]] = ..., arrangements: _Optional[_Iterable[_Union[Arrangement, _Mapping]]] = ..., attributes: _Optional[_Mapping[str, str]] = ..., inputs: _Optional[_Mapping[str, InputValue]] = ...) -> None: ...

class DecideDebtorRequest(_message.Message):
    __slots__ = ("debtor", "as_of", "explain")
    DEBTOR_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    debtor: Debtor
    as_of: _timestamp_pb2.Timestamp
    explain: bool
    def __init__(self, debtor: _Optional[_Union[Debtor, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., explain: _Optional[bool] = ...) -> None: ...

class DecideDebtorResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: DebtorDecision
    def __init__(self, decision: _Optional[_Union[DebtorDecision, _Mapping]] = ...) -> None: ...

class DecideDebtorBatchRequest(_message.Message):
    __slots__ = ("debtors", "as_of", "explain")
    DEBTORS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    debtors: _containers.RepeatedCompositeFieldContainer[Debtor]
    as_of: _timestamp_pb2.Timestamp
    explain: bool
    def __init__(self, debtors: _Optional[_Iterable[_Union[Debtor, _Mapping]]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., explain: _Optional[bool] = ...) -> None: ...

class DecideDebtorBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[DebtorResult]
    def __init__(self, results: _Optional[_Iterable[_Union[DebtorResult, _Mapping]]] = ...) -> None: ...

class DecideDebtorStreamRequest(_message.Message):
    __slots__ = ("debtor", "as_of", "explain")
    DEBTOR_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    debtor: Debtor
    as_of: _timestamp_pb2.Timestamp
    explain: bool
    def __init__(self, debtor: _Optional[_Union[Debtor, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., explain: _Optional[bool] = ...) -> None: ...

class DecideDebtorStreamResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: DebtorResult
    def __init__(self, result: _Optional[_Union[DebtorResult, _Mapping]] = ...) -> None: ...

class DebtorResult(_message.Message):
    __slots__ = ("debtor_id", "decision", "error")
    DEBTOR_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    debtor_id: str
    decision: DebtorDecision
    error: CaseError
    def __init__(self, debtor_id: _Optional[str] = ..., decision: _Optional[_Union[DebtorDecision, _Mapping]] = ..., error: _Optional[_Union[CaseError, _Mapping]] = ...) -> None: ...

class DebtorDecision(_message.Message):
    __slots__ = ("debtor_id", "action", "channel", "window", "template", "account_ids", "reasons", "required_disclosures", "window_constraints", "accounts", "offers", "policy", "as_of", "next_review_at", "trace", "data_warnings", "decision_id")
    DEBTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_DISCLOSURES_FIELD_NUMBER: _ClassVar[int]
    WINDOW_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    NEXT_REVIEW_AT_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    DATA_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    debtor_id: str
    action: str
    channel: Channel
    window: ContactWindow
    template: str
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    required_disclosures: _containers.RepeatedCompositeFieldContainer[Reason]
    window_constraints: _containers.RepeatedCompositeFieldContainer[Reason]
    accounts: _containers.RepeatedCompositeFieldContainer[Decision]
    offers: _containers.RepeatedCompositeFieldContainer[ConsolidatedOffer]
    policy: PolicyRef
    as_of: _timestamp_pb2.Timestamp
    next_review_at: _timestamp_pb2.Timestamp
    trace: _struct_pb2.Struct
    data_warnings: _containers.RepeatedCompositeFieldContainer[Reason]
    decision_id: str
    def __init__(self, debtor_id: _Optional[str] = ..., action: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., window: _Optional[_Union[ContactWindow, _Mapping]] = ..., template: _Optional[str] = ..., account_ids: _Optional[_Iterable[str]] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., required_disclosures: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., window_constraints: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., accounts: _Optional[_Iterable[_Union[Decision, _Mapping]]] = ..., offers: _Optional[_Iterable[_Union[ConsolidatedOffer, _Mapping]]] = ..., policy: _Optional[_Union[PolicyRef, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_review_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trace: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., data_warnings: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., decision_id: _Optional[str] = ...) -> None: ...

class ConsolidatedOffer(_message.Message):
    __slots__ = ("currency", "allocation", "allocation_rule", "total_due", "bounds")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_RULE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DUE_FIELD_NUMBER: _ClassVar[int]
    BOUNDS_FIELD_NUMBER: _ClassVar[int]
    currency: str
    allocation: _containers.RepeatedScalarFieldContainer[str]
    allocation_rule: str
    total_due: str
    bounds: OfferBounds
    def __init__(self, currency: _Optional[str] = ..., allocation: _Optional[_Iterable[str]] = ..., allocation_rule: _Optional[str] = ..., total_due: _Optional[str] = ..., bounds: _Optional[_Union[OfferBounds, _Mapping]] = ...) -> None: ...
