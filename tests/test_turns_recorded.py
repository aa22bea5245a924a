"""What each turn is recorded as (Turn.action, Turn.where: the log line's outcome and the
call store's action and place, which the report counts), and the flags a call carries from
turn to turn (slow voice, text sent) in its URLs."""

import pytest

from ivr.flow import (
    AGENT,
    CALLBACK,
    END,
    MENU,
    OFFER,
    OTHER,
    PICK,
    RECORD,
    RESUME,
    SMS,
    STEP,
    TIMEOUTS,
    UNHEARD,
    Flow,
    State,
    Turn,
)


# Made in each test, not at import: mutmut links a mutant to the tests that run its code.
@pytest.fixture
def flow():
    return Flow(steps=8)


@pytest.fixture
def extras():
    return Flow(steps=8, sms=True, agent=True)


@pytest.mark.parametrize(
    ("state", "key", "action", "where"),
    [
        (State(MENU), "1", "step", "step:1"),
        (State(MENU), "2", "pick", "pick"),
        (State(MENU), "0", "menu", "menu"),
        (State(MENU), "5", "wrong", "menu"),
        (State(MENU), UNHEARD, "wrong", "menu"),
        (State(MENU), None, "silence", "menu"),
        (State(MENU, silences=2), None, "silence", "hangup"),
        (State(MENU, wrongs=2), OTHER, "wrong", "hangup"),
        (State(PICK), "4", "step", "step:4"),
        (State(PICK), "0", "menu", "menu"),
        (State(PICK), "9", "wrong", "pick"),
        (State(STEP, 4), "1", "repeat", "step:4"),
        (State(STEP, 4), "*", "repeat", "step:4"),
        (State(STEP, 4), "2", "next", "step:5"),
        (State(STEP, 4), "#", "next", "step:5"),
        (State(STEP, 4), "3", "back", "step:3"),
        (State(STEP, 1), "3", "back", "step:1"),
        (State(STEP, 4), "4", "slow", "step:4"),
        (State(STEP, 4, slow=True), "4", "fast", "step:4"),
        (State(STEP, 4), "0", "menu", "menu"),
        (State(STEP, 8), "2", "conclusion", "end"),
        (State(STEP, 4), "7", "wrong", "step:4"),
        (State(END), "1", "step", "step:1"),
        (State(END), "0", "menu", "menu"),
        (State(END), None, "silence", "hangup"),
        (State(RESUME, 5), "1", "resume", "step:5"),
        (State(RESUME, 5), "2", "menu", "menu"),
        (State(RESUME, 5), None, "menu", "menu"),
    ],
)
def test_each_turn_says_what_the_caller_did(state, key, action, where, flow):
    turn = flow.next(state, key)
    assert (turn.action, turn.where) == (action, where)


def test_places_are_named_for_the_logs_and_the_report():
    assert [State(at, n).where for at, n in
            [(MENU, 0), (PICK, 0), (END, 0), (STEP, 4), (RESUME, 4)]] == [
        "menu", "pick", "end", "step:4", "resume:4"]
    assert Turn((), None).where == "hangup"
    assert (Turn((), None).timeout, Turn((), None).slow) == (0, False)


def test_start_lost_and_failed_are_recorded_as_such(flow):
    assert (flow.start().action, flow.start().where) == ("start", "menu")
    resumed = flow.start(resume_at=6)
    assert resumed.sound == Turn(("welcome", "intro", "resume_6"), State(RESUME, 6)).sound
    assert (resumed.action, resumed.where) == ("resume", "resume:6")
    # Only a step of this guide is offered.
    assert flow.start(resume_at=9).state == State(MENU)
    assert flow.start(resume_at=0).state == State(MENU)
    assert Flow(steps=3).start(resume_at=4).state == State(MENU)
    assert Flow(steps=3).start(resume_at=3).state == State(RESUME, 3)
    assert flow.start(resume_at=1).state == State(RESUME, 1)
    assert flow.lost().action == "lost"
    assert flow.failed({}).sound == Turn(("sorry", "menu"), State(MENU, silences=1)).sound
    assert flow.failed({"s": "1"}).state == State(MENU, silences=2)
    assert flow.failed({"s": "x"}).state == State(MENU, silences=1)
    assert flow.failed({"s": "2"}).sound == Turn(("sorry", "goodbye"), None).sound
    assert {flow.failed({"s": s}).action for s in ("0", "2")} == {"error"}


def test_the_extras_ask_the_webhook_and_come_back_labelled(flow, extras):
    step = State(STEP, 3, silences=1, slow=True)
    assert extras.next(step, "7") == Turn((), step, SMS)
    assert extras.next(State(MENU), "9") == Turn((), State(MENU), AGENT)
    assert extras.next(step._replace(texted=True), "7").sound == Turn(
        ("sms_already", "step_keys", "keys_sms", "keys_agent"), State(STEP, 3, slow=True, texted=True)
    ).sound
    assert extras.next(step._replace(texted=True), "7").action == "sms_already"
    # Without the extras, 7 and 9 are wrong keys.
    assert flow.next(State(MENU), "7").action == flow.next(State(STEP, 2), "9").action == "wrong"
    sent = extras.texted(step, "sent")
    assert (sent.prompts[0], sent.action, sent.state.texted, sent.state.silences) == (
        "sms_sent", "sms_sent", True, 0)
    for outcome in ("limit", "not_mobile", "failed"):
        turn = extras.texted(step, outcome)
        assert (turn.action, turn.state.texted) == ("sms_failed", False)
    # Closed: why, then the offer, which remembers the step the caller asked from.
    closed = extras.unreachable(step, "hours")
    assert (closed.prompts[0], closed.action, closed.state) == (
        "agent_closed", "closed_hours", State(OFFER, 3, slow=True))
    assert extras.dial(step) == Turn(("agent_connecting",), step, "agent")


def test_after_a_person_the_call_ends_or_the_offer_keeps_the_callers_flags(extras):
    state = State(STEP, 3, slow=True, texted=True)
    done = extras.after_dial(state, "accepted")
    assert (done.sound, done.action) == ((("goodbye",), None), "dial_accepted")
    back = extras.after_dial(state, "no_answer")
    # No store in this flow: the offer is the menu and the text.
    assert back.prompts == ("agent_no_answer", "offer_menu", "menu_sms")
    assert (back.state, back.action) == (State(OFFER, 3, slow=True, texted=True), "dial_no_answer")


def test_the_slow_voice_and_the_text_follow_the_caller_everywhere(flow):
    for state in (State(MENU, slow=True, texted=True), State(STEP, 2, slow=True, texted=True)):
        for key in ("0", "1", "2", "3", "5", None):
            after = flow.next(state, key).state
            assert (after.slow, after.texted) == (True, True), (state, key)
    # 4 changes the speed and nothing else.
    assert flow.next(State(STEP, 2, texted=True), "4").state == State(STEP, 2, slow=True, texted=True)
    assert flow.next(State(STEP, 2, slow=True, texted=True), "4").state == State(STEP, 2, texted=True)
    assert flow.next(State(PICK, slow=True, texted=True), "5").state == State(
        STEP, 5, slow=True, texted=True)
    assert flow.next(State(PICK, slow=True, texted=True), "0").state == State(
        MENU, slow=True, texted=True)
    assert flow.next(State(STEP, 8, slow=True, texted=True), "2").state == State(
        END, slow=True, texted=True)
    assert flow.next(State(STEP, 1, slow=True, texted=True), "3").state == State(
        STEP, 1, slow=True, texted=True)
    assert flow.next(State(END, slow=True, texted=True), "1").state == State(
        STEP, 1, slow=True, texted=True)
    assert flow.next(State(END, slow=True, texted=True), "0").state == State(
        MENU, slow=True, texted=True)
    assert flow.next(State(RESUME, 4, slow=True, texted=True), "1").state == State(
        STEP, 4, slow=True, texted=True)
    assert flow.next(State(RESUME, 4, slow=True, texted=True), None).state == State(
        MENU, slow=True, texted=True)
    assert flow.next(State(RESUME, 4, slow=True, texted=True), "5").state == State(
        MENU, slow=True, texted=True)
    assert flow.next(State(MENU, slow=True, texted=True), "2").state == State(
        PICK, slow=True, texted=True)


@pytest.mark.parametrize(
    ("state", "query"),
    [
        (State(MENU), {"at": "menu"}),
        (State(STEP, 4), {"at": "4"}),
        (State(RESUME, 4), {"at": "resume", "step": "4"}),
        (State(RESUME, 8), {"at": "resume", "step": "8"}),
        (State(RESUME, 1, silences=2, wrongs=1, slow=True, texted=True),
         {"at": "resume", "step": "1", "s": "2", "w": "1", "slow": "1", "t": "1"}),
        (State(END, silences=1, wrongs=2, slow=True, texted=True),
         {"at": "end", "s": "1", "w": "2", "slow": "1", "t": "1"}),
    ],
)
def test_the_state_in_the_url(state, query, extras):
    assert state.query() == query
    assert extras.parse(query) == state


@pytest.mark.parametrize(
    "query",
    [{"at": "menu", "slow": "2"}, {"at": "menu", "t": "yes"}, {"at": "menu", "w": "3"},
     {"at": "resume"}, {"at": "resume", "step": "9"}, {"at": "resume", "step": "0"},
     {"at": "pick", "s": "2", "w": "2", "slow": "", "t": "1"}],
)
def test_a_state_the_line_never_issues_is_refused(query, flow):
    assert flow.parse(query) is None


def test_limits_come_from_the_flow():
    patient = Flow(steps=2, max_silences=5, max_wrongs=4)
    assert patient.parse({"at": "menu", "s": "4", "w": "3"}) == State(MENU, 0, 4, 3)
    assert patient.next(State(MENU, silences=3), None).state == State(MENU, silences=4)
    assert patient.next(State(MENU, silences=4), None).state is None
    assert patient.next(State(MENU, wrongs=3), "5").state is None
    assert patient.next(State(STEP, 2), "2").state == State(END)
    with pytest.raises(ValueError, match="1..9"):
        Flow(steps=10)
    with pytest.raises(ValueError):
        Flow(steps=0)
    assert Flow(steps=9).steps == 9
    assert Flow(steps=1).next(State(STEP, 1), "2").state == State(END)
    # The extras are off unless switched on.
    assert Flow(steps=1).menu == ("menu",) and Flow(steps=1).step_keys == ("step_keys",)


def test_every_state_and_turn_is_listed(flow, extras):
    states = list(flow.states())
    # 3 + 8 + 8 places, 3 x 3 counters, slow or not, texted or not.
    assert len(states) == len(set(states)) == 19 * 9 * 4
    # With a person: the offer, the message and the call back, from the menu or a step.
    assert len(set(extras.states())) == (19 + 3 * 9) * 9 * 4
    assert State(RESUME, 8, 2, 2, True, True) in states and State(STEP, 8, 2, 2, True, True) in states
    sounds = {t.sound for t in extras.turns()}
    resumes = [extras.start(resume_at=n) for n in range(1, 9)]
    for turn in (*resumes, extras.start(), extras.lost(), extras.failed({"s": "2"}),
                 extras.texted(State(STEP, 8), "limit"), extras.unreachable(State(MENU), "holiday"),
                 extras.after_dial(State(STEP, 2, slow=True), "declined"),
                 extras.next(State(END, 0, 2, 0, True, True), OTHER)):
        assert turn.sound in sounds
    # <Dial> turns are made per call, with the caller's number, and so is the read-back of
    # a call-back number: never listed.
    assert not any(t.action in (SMS, AGENT, "agent", "callback_ask", "callback_save") for t in extras.turns())
    plain = {t.sound for t in flow.turns()}
    assert not any("menu_sms" in s[0] or "agent_closed" in s[0] for s in plain)


def test_timeouts_per_place():
    assert TIMEOUTS == {MENU: 7, PICK: 7, STEP: 10, END: 10, RESUME: 7, OFFER: 7, CALLBACK: 7, RECORD: 8}
