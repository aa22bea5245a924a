"""The call flow alone: state + key -> prompts and next state, no Flask, no TwiML."""

import pytest

from ivr.flow import CALLBACK, END, MENU, OFFER, PICK, RECORD, STEP, Flow, State, Turn

flow = Flow(steps=8)


def test_start_welcomes_then_menu():
    assert flow.start().sound == Turn(("welcome", "intro", "menu", "speech_hint"), State(MENU)).sound


@pytest.mark.parametrize(
    ("state", "key", "prompts", "after"),
    [
        (State(MENU), "1", ("paso_1", "step_keys"), State(STEP, 1)),
        (State(MENU), "2", ("pick",), State(PICK)),
        (State(MENU), "0", ("menu",), State(MENU)),
        (State(PICK), "5", ("paso_5", "step_keys"), State(STEP, 5)),
        (State(PICK), "8", ("paso_8", "step_keys"), State(STEP, 8)),
        (State(PICK), "0", ("menu",), State(MENU)),
        (State(STEP, 4), "1", ("paso_4", "step_keys"), State(STEP, 4)),
        (State(STEP, 4), "*", ("paso_4", "step_keys"), State(STEP, 4)),
        (State(STEP, 4), "2", ("paso_5", "step_keys"), State(STEP, 5)),
        (State(STEP, 4), "#", ("paso_5", "step_keys"), State(STEP, 5)),
        (State(STEP, 4), "3", ("paso_3", "step_keys"), State(STEP, 3)),
        (State(STEP, 1), "3", ("first_step", "step_keys"), State(STEP, 1)),
        (State(STEP, 4), "0", ("menu",), State(MENU)),
        (State(STEP, 8), "2", ("conclusion", "closing"), State(END)),
        (State(STEP, 8), "#", ("conclusion", "closing"), State(END)),
        (State(END), "1", ("paso_1", "step_keys"), State(STEP, 1)),
        (State(END), "0", ("menu",), State(MENU)),
    ],
)
def test_keys_move_the_caller(state, key, prompts, after):
    assert flow.next(state, key).sound == Turn(prompts, after).sound


@pytest.mark.parametrize(
    ("state", "key", "notice", "reminder"),
    [
        (State(MENU), "7", "wrong_key", "menu"),
        (State(MENU), "#", "wrong_key", "menu"),
        (State(PICK), "9", "pick_wrong", "pick"),
        (State(PICK), "*", "pick_wrong", "pick"),
        (State(STEP, 3), "5", "wrong_key", "step_keys"),
        (State(STEP, 3), "12", "wrong_key", "step_keys"),
        (State(END), "2", "wrong_key", "closing"),
    ],
)
def test_wrong_key_says_so_and_stays(state, key, notice, reminder):
    turn = flow.next(state, key)
    assert turn.prompts == (notice, reminder)
    assert (turn.state.at, turn.state.step, turn.state.wrongs) == (state.at, state.step, 1)


def test_pick_only_offers_existing_steps():
    short = Flow(steps=3)
    assert short.next(State(PICK), "3").state == State(STEP, 3)
    assert short.next(State(PICK), "4").prompts == ("pick_wrong", "pick")


def test_silence_on_a_step_reminds_the_keys_not_the_step():
    turn = flow.next(State(STEP, 6), None)
    assert turn.prompts == ("still_there", "step_keys")
    assert turn.state == State(STEP, 6, silences=1)
    assert turn.timeout == 10


def test_third_silence_says_goodbye_and_hangs_up():
    state = State(STEP, 2)
    turns = []
    while state is not None:
        turn = flow.next(state, None)
        turns.append(turn)
        state = turn.state
    assert [t.prompts for t in turns] == [
        ("still_there", "step_keys"),
        ("still_there", "step_keys"),
        ("bye_silence", "goodbye"),
    ]


def test_third_wrong_key_in_a_row_hangs_up():
    turn = flow.next(State(MENU), "9")
    turn = flow.next(turn.state, "9")
    assert turn.state == State(MENU, wrongs=2)
    assert flow.next(turn.state, "9").sound == Turn(("bye_wrong", "goodbye"), None).sound


def test_valid_key_resets_the_counters():
    assert flow.next(State(STEP, 3, silences=2, wrongs=2), "1").state == State(STEP, 3)


def test_silence_after_the_closing_ends_politely():
    assert flow.next(State(END), None).sound == Turn(("goodbye",), None).sound


@pytest.mark.parametrize("keys", ["9-9-9", "-9-9-9", "9--9--9", "-"*10, "9-"*10])
def test_silence_and_wrong_keys_always_end_the_call(keys):
    state, turns = State(STEP, 5), 0
    for k in keys:
        turn = flow.next(state, None if k == "-" else k)
        turns += 1
        state = turn.state
        if state is None:
            break
    assert state is None
    assert turns <= 9


@pytest.mark.parametrize(
    ("state",),
    [(State(MENU),), (State(PICK),), (State(STEP, 1),), (State(STEP, 8),), (State(END),),
     (State(STEP, 4, silences=2, wrongs=1),)],
)
def test_state_survives_the_url(state):
    assert flow.parse(state.query()) == state


@pytest.mark.parametrize(
    ("query",),
    [({},), ({"at": "9"},), ({"at": "0"},), ({"at": "-1"},), ({"at": "01"},), ({"at": "x"},),
     ({"at": "menu", "s": "3"},), ({"at": "menu", "w": "-1"},), ({"at": "menu", "s": "x"},),
     ({"at": "1", "s": "99999999999999999999"},), ({"at": "²"},), ({"at": "step"},)],
)
def test_state_from_a_tampered_url_is_refused(query):
    assert flow.parse(query) is None


def test_lost_state_apologises_and_offers_the_menu():
    assert flow.lost().sound == Turn(("sorry", "menu"), State(MENU)).sound


@pytest.mark.parametrize(
    ("digits", "key"),
    [(None, None), ("", None), ("1", "1"), ("*", "*"), ("#", "#"), ("12", "?"), ("a", "?"),
     ("²", "?"), ("1" * 5000, "?")],
)
def test_what_twilio_sends_becomes_one_key(digits, key):
    from ivr.flow import key as pressed

    assert pressed(digits) == key


def test_anything_but_one_key_is_a_wrong_key():
    assert flow.next(State(STEP, 2), "?").prompts == ("wrong_key", "step_keys")


# -- the person's places in the URL (9, the offer, a message, a call back) --------------------

person_flow = Flow(steps=8, agent=True, message=True, callback=True)


@pytest.mark.parametrize(
    ("state",),
    [(State(OFFER),), (State(OFFER, 8),), (State(RECORD, 1),), (State(CALLBACK, 8, silences=1),)],
)
def test_the_person_places_survive_the_url_up_to_the_last_step(state):
    assert person_flow.parse(state.query()) == state


@pytest.mark.parametrize(
    ("flow_", "query"),
    [(flow, {"at": OFFER}), (flow, {"at": RECORD, "step": "2"}), (flow, {"at": CALLBACK}),
     (person_flow, {"at": OFFER, "step": "9"}), (person_flow, {"at": OFFER, "step": "0"}),
     (person_flow, {"at": OFFER, "step": "x"}), (person_flow, {"at": "x"}),
     (person_flow, {"at": "x", "step": "2"})],
)
def test_the_person_places_are_refused_without_a_person_or_past_the_last_step(flow_, query):
    assert flow_.parse(query) is None
