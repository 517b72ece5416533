"""The dialogue state machine, driven event by event without any I/O."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from wismo.conversation import dialogue as d
from wismo.conversation.lexicon import is_angry
from wismo.conversation.nlu import CONFIDENT, INTENTS


def heard(intent: str, text: str = "...", confidence: float = 0.99, **entities: Any) -> d.Heard:
    return d.Heard(text=text, intent=intent, confidence=confidence, **entities)


def keys(actions: list[d.Action]) -> list[str]:
    """Each action as a short name: prompts by key, answers by topic."""
    out = []
    for a in actions:
        match a:
            case d.Say():
                out.append(a.key)
            case d.Answer():
                out.append(f"answer:{a.topic}")
            case d.HandOver():
                out.append(f"handover:{a.reason}")
            case _:
                out.append(type(a).__name__)
    return out


def run(state: d.State, *events: d.Event) -> tuple[d.State, list[d.Action]]:
    actions: list[d.Action] = []
    for e in events:
        state, actions = d.step(state, e, d.Context())
    return state, actions


def verified_state(shipped: bool = True) -> d.State:
    state, _ = run(
        d.State(),
        heard("order_status", order_number="1001"),
        heard("provide_info", email="ada@example.com"),
    )
    state, _ = run(
        state,
        d.Verified(True, order_id=7, order_number="1001", method="email", shipped=shipped),
    )
    return state


def test_order_question_asks_for_number_then_contact_then_verifies() -> None:
    """Slot filling: no number -> ask; number -> ask a contact; contact -> Verify."""
    state, actions = run(d.State(), heard("order_status"))
    assert keys(actions) == ["ask_order_number"]
    assert state.phase == "await_order"
    assert state.pending == "order_status"
    assert d.asks(state) == "ask_order_number"
    assert d.expecting(state) == "order_number"
    state, actions = run(state, heard("provide_info", order_number="1001"))
    assert keys(actions) == ["ask_contact"]
    assert state.order_number == "1001"
    state, actions = run(state, heard("provide_info", postal_code="10001"))
    assert actions == [d.Verify("1001", None, None, "10001")]


def test_verified_answers_the_pending_question() -> None:
    """A successful verification answers what was asked, with no extra 'that matches'."""
    state, _ = run(d.State(), heard("delivery_date", order_number="1001"))
    state, actions = run(state, heard("provide_info", email="ada@example.com"))
    assert actions == [d.Verify("1001", "ada@example.com", None, None)]
    state, actions = run(
        state, d.Verified(True, order_id=7, order_number="1001", method="email", shipped=True)
    )
    assert keys(actions) == ["answer:delivery_date"]
    assert state.level == "verified"
    assert state.method == "email"
    assert state.verified_order_ids == [7]
    assert state.focus_number == "1001"
    assert state.pending is None
    assert state.phase == "open"
    state, actions = run(state, heard("refund_status"))
    assert keys(actions) == ["answer:refund_status"]
    assert state.answered == ["delivery_date", "refund_status"]


def test_failed_verification_is_counted_and_asks_again() -> None:
    """A failed attempt says the same thing whatever the cause and waits for a contact."""
    state, _ = run(d.State(), heard("order_status", order_number="1001"))
    state, actions = run(state, d.Verified(False, counted=True))
    assert keys(actions) == ["verify_failed"]
    assert state.failures == 1
    assert state.phase == "await_contact"
    assert state.level == "anonymous"


def test_lockout_hands_over_only_for_this_conversations_own_failures() -> None:
    """Locked by another client's failures: 'locked out'; by its own: handed over too."""
    state, _ = run(d.State(), heard("order_status", order_number="1001"))
    _, actions = run(state, d.Verified(False, locked=True))
    assert keys(actions) == ["locked_out"]
    state, actions = run(state, d.Verified(False, locked=True, hand_over=True, counted=True))
    assert keys(actions) == ["locked_out", "handover:locked_out"]
    assert state.phase == "handed_over"
    assert state.failures == 1


def test_low_confidence_clarifies_and_third_time_hands_over() -> None:
    """Never a guess below CONFIDENT: a clarifying question, and a person after three."""
    low = CONFIDENT / 2
    state, actions = run(d.State(), heard("order_status", confidence=low))
    assert keys(actions) == ["clarify"]
    assert state.pending is None
    state, actions = run(state, heard("refund_status", confidence=low))
    assert keys(actions) == ["clarify"]
    assert state.not_understood == 2
    state, actions = run(state, heard("delivery_date", confidence=low))
    assert keys(actions) == ["handover:not_understood"]


def test_understood_turn_resets_the_not_understood_count() -> None:
    """Three misunderstandings must be in a row to hand over."""
    low = CONFIDENT / 2
    state, _ = run(d.State(), heard("x", confidence=low), heard("x", confidence=low))
    state, _ = run(state, heard("greeting"))
    assert state.not_understood == 0
    state, actions = run(state, heard("x", confidence=low))
    assert keys(actions) == ["clarify"]


def test_unsure_intent_with_an_order_number_still_fills_the_slot() -> None:
    """A bare order number is not a guess: it answers the question that was asked."""
    state, _ = run(d.State(), heard("order_status"))
    state, actions = run(state, heard("out_of_scope", confidence=0.2, order_number="1001"))
    assert keys(actions) == ["ask_contact"]
    assert state.order_number == "1001"
    assert state.pending == "order_status"


def test_change_of_subject_keeps_the_pending_question() -> None:
    """A side question mid-verification is answered and the open question asked again."""
    state, _ = run(d.State(), heard("delivery_date", order_number="1001"))
    state, actions = run(state, heard("greeting"))
    assert keys(actions) == ["ask_contact"]
    state, actions = run(state, heard("start_return"))
    assert keys(actions) == ["start_return", "ask_contact"]
    state, actions = run(state, heard("out_of_scope"))
    assert keys(actions) == ["out_of_scope", "ask_contact"]
    assert state.pending == "delivery_date"
    assert state.order_number == "1001"
    state, actions = run(state, heard("provide_info", phone="+12025550143"))
    assert actions == [d.Verify("1001", None, "+12025550143", None)]


def test_goodbye_and_human_mid_verification() -> None:
    """Goodbye ends the conversation; asking for a person hands over at once."""
    state, _ = run(d.State(), heard("order_status", order_number="1001"))
    ended, actions = run(state, heard("goodbye"))
    assert keys(actions) == ["goodbye", "End"]
    assert ended.phase == "ended"
    assert ended.pending is None
    handed, actions = run(state, heard("human_agent"))
    assert keys(actions) == ["handover:human_requested"]
    assert handed.handoff_reason == "human_requested"


def test_after_a_handoff_the_bot_only_says_a_person_will_reply() -> None:
    """Turns after a handoff are not answered by the bot."""
    state, _ = run(d.State(), heard("human_agent"))
    state, actions = run(state, heard("order_status", order_number="1001"))
    assert actions == [d.Say("handoff", {"waiting": True})]
    assert state.phase == "handed_over"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("This is RIDICULOUS, where is my parcel", "anger"),
        ("WHERE IS MY ORDER I HAVE BEEN WAITING FOR WEEKS", "anger"),
        ("this is fucking useless", "anger"),
        ("I was charged twice for this order", "billing_dispute"),
        ("I will file a chargeback with my bank", "billing_dispute"),
    ],
)
def test_anger_and_billing_disputes_go_to_a_person(text: str, reason: str) -> None:
    """Judgement cases are handed over whatever the intent."""
    state, actions = run(d.State(), heard("order_status", text=text))
    assert keys(actions) == [f"handover:{reason}"]
    assert state.handoff_reason == reason


def test_a_carrier_name_in_capitals_is_not_shouting() -> None:
    """A short acronym is not anger."""
    assert not is_angry("Is it with UPS or USPS?")
    assert not is_angry("where is order 1001")
    assert is_angry("this is unacceptable")


@pytest.mark.parametrize(
    ("text", "reason"),
    [("the mug arrived broken", "damaged_item"), ("the parcel never came", "missing_item")],
)
def test_missing_or_damaged_item_is_handed_over_with_its_kind(text: str, reason: str) -> None:
    """Damaged and missing items are told apart for the ticket."""
    _, actions = run(d.State(), heard("missing_or_damaged_item", text=text))
    assert keys(actions) == [f"handover:{reason}"]


def test_cancel_after_dispatch_is_handed_over() -> None:
    """Once a package has left, a person decides about cancelling or a new address."""
    state = verified_state(shipped=True)
    _, actions = run(state, heard("cancel_order"))
    assert keys(actions) == ["handover:cancel_after_dispatch"]
    _, actions = run(state, heard("change_address"))
    assert keys(actions) == ["handover:address_after_dispatch"]


def test_cancel_before_dispatch_explains_and_hands_over() -> None:
    """Before dispatch the store can still act: say what happens, and pass it on."""
    state = verified_state(shipped=False)
    _, actions = run(state, heard("cancel_order"))
    assert keys(actions) == ["cancel_order", "handover:cancel_before_dispatch"]


def test_cancel_needs_a_verified_order_first() -> None:
    """Whether an order has shipped is an order fact: it is not used before verification."""
    state, actions = run(d.State(), heard("cancel_order"))
    assert keys(actions) == ["ask_order_number"]
    assert state.pending == "cancel_order"


def test_identified_customer_gets_a_code_then_picks_an_order() -> None:
    """Identified, no order number: a code, then their orders to pick from, then an answer."""
    start = d.State(level="identified", contact="ada@example.com", contact_channel="email")
    state, actions = run(start, heard("order_status"))
    assert actions == [d.SendCode()]
    assert state.codes_sent == 1
    state, actions = run(state, d.CodeSent(True))
    assert keys(actions) == ["code_sent"]
    assert d.asks(state) == "ask_code"
    state, actions = run(state, heard("provide_info", code="123456"))
    assert actions == [d.CheckCode("123456")]
    state, actions = run(state, d.CodeChecked("ok"))
    assert actions == [d.ListOrders()]
    assert state.level == "verified"
    assert state.method == "otp"
    state, actions = run(state, d.Orders(("1003", "1001")))
    assert actions == [d.Say("ask_which_order", {"orders": ["1003", "1001"]})]
    state, actions = run(state, heard("provide_info", text="2"))
    assert actions == [d.Focus("1001")]
    state, actions = run(state, d.Focused(True, order_id=3, order_number="1001", shipped=True))
    assert keys(actions) == ["answer:order_status"]
    assert state.verified_order_ids == [3]


def test_verified_customer_with_one_order_gets_the_answer_at_once() -> None:
    """No question when there is only one order."""
    state = d.State(level="verified", method="otp", pending="order_status", contact="a@b.c")
    state, actions = run(state, d.Orders(("1001",)))
    assert actions == [d.Focus("1001")]


def test_wrong_and_expired_codes() -> None:
    """Wrong codes count down, expired ones are replaced, used-up ones fall back."""
    state = d.State(
        level="identified",
        contact="ada@example.com",
        contact_channel="email",
        phase="await_code",
        codes_sent=1,
    )
    s1, actions = run(state, d.CodeChecked("wrong", tries_left=2, counted=True))
    assert actions == [d.Say("code_wrong", {"tries_left": 2})]
    assert s1.failures == 1
    s2, actions = run(state, d.CodeChecked("expired"))
    assert keys(actions) == ["code_expired", "SendCode"]
    assert s2.codes_sent == 2
    _s3, actions = run(
        state.__class__(**{**state.to_json(), "codes_sent": 3}), d.CodeChecked("expired")
    )
    assert keys(actions) == ["code_expired", "ask_order_number"]
    s4, actions = run(state, d.CodeChecked("exhausted", counted=True))
    assert keys(actions) == ["verify_failed", "ask_order_number"]
    assert s4.phase == "await_order"


def test_a_contact_typed_without_an_order_number_gets_a_code() -> None:
    """An email typed in the chat identifies like one given at the start would."""
    state, actions = run(d.State(), heard("provide_info", email="ada@example.com"))
    assert actions == [d.SendCode()]
    assert state.contact == "ada@example.com"
    assert state.contact_channel == "email"
    assert state.level == "anonymous"


def test_repeat_contact_is_acknowledged_before_the_answer() -> None:
    """An order asked about in another conversation lately is recognised."""
    state, _ = run(d.State(), heard("order_status", order_number="1001"))
    _, actions = run(
        state,
        d.Verified(True, order_id=7, order_number="1001", method="email", prior_contacts=2),
    )
    assert keys(actions) == ["repeat_contact", "answer:order_status"]


def test_another_order_needs_its_own_verification() -> None:
    """A second order needs its own proof, which sets the method for both."""
    state, _ = run(d.State(), heard("order_status", order_number="1001"))
    state, _ = run(state, d.Verified(True, order_id=7, order_number="1001", method="email"))
    state, actions = run(state, heard("order_status", order_number="1002"))
    assert keys(actions) == ["ask_contact"]
    state, actions = run(
        state, d.Verified(True, order_id=8, order_number="1002", method="postal_code")
    )
    assert state.method == "postal_code"
    assert state.verified_order_ids == [8]


def test_state_survives_json_and_step_does_not_mutate() -> None:
    """The state is stored as JSON; stepping returns a new state."""
    state = verified_state()
    before = state.to_json()
    d.step(state, heard("human_agent"), d.Context())
    assert state.to_json() == before
    again = d.State.from_json(orjson.loads(orjson.dumps(before)))
    assert again == state
    assert d.State.from_json({**before, "unknown_key": 1}) == state


def test_the_dialogue_uses_the_nlu_intents() -> None:
    """Every intent the dialogue acts on is one the NLU can produce."""
    assert set(INTENTS) >= d.ANSWERED | d.CHANGES


def test_a_proven_contact_is_tried_on_the_next_order() -> None:
    """The contact that proved one order is tried on the next; a mismatch asks again."""
    state, _ = run(d.State(), heard("order_status", order_number="1001"))
    state, _ = run(
        state,
        d.Verified(
            True, order_id=7, order_number="1001", method="email", contact="ada@example.com"
        ),
    )
    assert (state.contact, state.contact_channel) == ("ada@example.com", "email")
    state, actions = run(state, heard("order_status", order_number="1002"))
    assert actions == [d.Verify("1002", "ada@example.com", None, None)]
    state, actions = run(state, d.Verified(False, counted=True))
    assert keys(actions) == ["ask_contact"]
    assert not state.remembered


@pytest.mark.parametrize(
    ("text", "intent", "confidence", "expected"),
    [
        ("what items are in this order?", "out_of_scope", 0.3, "answer:items"),
        ("which carriers is it with?", "out_of_scope", 0.7, "answer:tracking"),
        ("I cancelled it, where's my money?", "order_status", 0.9, "answer:refund_status"),
        ("never mind, bye", "deny", 0.56, "goodbye"),
    ],
)
def test_words_name_topics_the_nlu_has_no_intent_for(
    text: str, intent: str, confidence: float, expected: str
) -> None:
    """Items, tracking, refunds and goodbyes named in so many words are acted on."""
    state = verified_state()
    _, actions = run(state, heard(intent, text=text, confidence=confidence))
    assert keys(actions)[0] == expected


def test_a_confident_return_question_is_not_overridden_by_a_word() -> None:
    """The cues apply only where the NLU is unsure or read a plain status question."""
    _, actions = run(verified_state(), heard("return_status", text="return and refund?"))
    assert keys(actions) == ["answer:return_status"]


def test_asking_for_a_person_in_any_words_hands_over() -> None:
    """'Get me a human' inside another question still goes to a person."""
    _, actions = run(d.State(), heard("order_status", text="my order hasn't come, get me a human"))
    assert keys(actions) == ["handover:human_requested"]


def linked_state() -> d.State:
    """A conversation opened from order 1001's signed link (`opening.verify_by_link`)."""
    return d.State(
        level="verified",
        method="link",
        verified_order_ids=[7],
        order_id=7,
        focus_number="1001",
        shipped=True,
    )


def test_a_linked_conversation_answers_without_asking() -> None:
    """Verified by the link: "where is my order" and its own number are answered at once."""
    _, actions = run(linked_state(), heard("order_status"))
    assert keys(actions) == ["answer:order_status"]
    _, actions = run(linked_state(), heard("delivery_date", order_number="1001"))
    assert keys(actions) == ["answer:delivery_date"]


def test_a_linked_conversation_verifies_another_order_afresh() -> None:
    """Another order number asks for its contact; proving it replaces the link's order."""
    state, actions = run(linked_state(), heard("order_status", order_number="1002"))
    assert keys(actions) == ["ask_contact"]
    assert not state.as_customer
    state, _ = run(
        state,
        heard("provide_info", email="ada@example.com"),
        d.Verified(True, order_id=8, order_number="1002", method="email"),
    )
    assert (state.method, state.verified_order_ids, state.focus_number) == ("email", [8], "1002")


def test_a_greeting_once_verified_names_the_order() -> None:
    """ "Hi" in a verified conversation names its order instead of asking for a number."""
    _, actions = run(linked_state(), heard("greeting"))
    assert actions == [d.Say("greeting_linked", {"order": "1001"})]
    _, actions = run(d.State(), heard("greeting"))
    assert keys(actions) == ["greeting"]
