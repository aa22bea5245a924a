"""TwiML rendering: a flow Turn becomes a VoiceResponse document.

A document depends only on the turn and the URL the line is reached at, and the flow has a
few hundred turns (`Flow.turns`), so `Documents` renders them all once per base URL and a
webhook only looks its answer up.
"""

from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from .flow import PERSON_PLACES, RECORD, State, Turn, whisper_prompt

TURN_PATH = "/voice/turn"
DIALED_PATH = "/voice/dialed"
#: The person's leg of a screened transfer (<Number url>) and the whisper's answer.
WHISPER_PATH = "/voice/whisper"
WHISPERED_PATH = "/voice/whispered"
#: A message: the <Record action>, and Twilio's recording status callback.
RECORDED_PATH = "/voice/recorded"
RECORDING_PATH = "/voice/recording"
AUDIO_PATH = "/audio/"
#: Seconds a person's phone rings before the caller hears that nobody answered.
DIAL_TIMEOUT = 25
#: A message lasts at most 2 minutes; # ends it (<Record finishOnKey> is every key by
#: default: https://www.twilio.com/docs/voice/twiml/record#attributes-finishonkey).
MESSAGE_SECONDS, MESSAGE_END_KEY = 120, "#"
#: Twilio reports a message's recording when it is ready, and when nothing was recorded
#: ("absent": silence, or too short), so an empty one is never waited for
#: (https://www.twilio.com/docs/voice/twiml/record#attributes-recording-status-callback-event).
RECORDING_EVENTS = "completed absent"
#: Seconds the person has to press 1 once the whisper has been said.
WHISPER_TIMEOUT = 6
#: How much slower <Say> speaks in slow mode, when a prompt has no slow audio file.
SLOW_RATE = "75%"


def turn_url(base: str, state: State) -> str:
    """Where Twilio reports the next key (or the silence) for a call in `state`."""
    return f"{base}{TURN_PATH}?{urlencode(state.query())}"


class Renderer:
    """Turns flow turns into TwiML, playing stored audio or speaking with <Say>."""

    def __init__(self, content, audio, say_voice=None, say_language="es-MX", audio_base="",
                 agent_number=""):
        self.content = content
        self.agent_number = agent_number
        self.audio = audio
        self.say_voice = say_voice or None
        self.say_language = say_language
        #: Where <Play> fetches audio (a CDN, say); '' for this line's own /audio/ route.
        self.audio_base = audio_base.rstrip("/")

    def speak(self, node, prompt_id: str, base: str, slow: bool = False) -> None:
        """Append what says `prompt_id` to `node`: its audio file if current, else <Say>."""
        name = self.audio.file_for(prompt_id, slow=slow)
        if name:
            root = self.audio_base or base + AUDIO_PATH.rstrip("/")
            node.play(f"{root}/{name}")
            return
        words = self.content[prompt_id].say
        if slow:
            # No slow recording: Twilio's voice reads it slower (SSML inside <Say>).
            say = node.say(voice=self.say_voice, language=self.say_language)
            say.prosody(words, rate=SLOW_RATE)
        else:
            node.say(words, voice=self.say_voice, language=self.say_language)

    def render(self, turn: Turn, base: str) -> bytes:
        """The TwiML document for `turn`; every URL in it starts with `base`."""
        response = VoiceResponse()
        if turn.state is None:
            for prompt_id in turn.prompts:
                self.speak(response, prompt_id, base)
            response.hangup()
            return response.to_xml(xml_declaration=True).encode()
        if turn.state.at == RECORD:
            return self.record(turn, base)
        url = turn_url(base, turn.state)
        speech = self.content.speech
        heard = self.content.listen.get(turn.state.at)
        # The prompts sit inside <Gather> so a key or a word interrupts them. finishOnKey is
        # empty because '#' is a key of the line ('next step'), not an end-of-input marker.
        # speechTimeout is the content file's whole number of seconds: Twilio takes no
        # `auto` with a speechModel (warning 13335; content.Speech says why 2 s). The
        # profanity filter, on by default, is not supported with numbers_and_commands nor
        # with Latin American Spanish: https://www.twilio.com/docs/voice/twiml/gather#profanityfilter
        gather = response.gather(
            input="dtmf speech", num_digits=1, timeout=turn.timeout, finish_on_key="",
            action=url, method="POST", language=speech.language, speech_model=speech.model,
            speech_timeout=speech.timeout, profanity_filter=False,
            hints=", ".join(heard.hints()) if heard else None,
        )
        for prompt_id in turn.prompts:
            self.speak(gather, prompt_id, base, turn.slow)
        # No key before the timeout: Twilio falls through to here, and the same URL
        # without Digits tells the flow the caller stayed silent.
        response.redirect(url, method="POST")
        return response.to_xml(xml_declaration=True).encode()


    def record(self, turn: Turn, base: str) -> bytes:
        """A message: the prompt, then <Record> (a beep, at most MESSAGE_SECONDS, # ends it).
        Twilio requests the action when something was recorded, and goes on to the next verb
        when the recording is empty ("There is one exception: if Twilio receives an empty
        recording, it will not make a request to the action URL",
        https://www.twilio.com/docs/voice/twiml/record#attributes-action): the <Redirect>
        to the same URL, without a recording, tells the line nothing was heard."""
        response = VoiceResponse()
        for prompt_id in turn.prompts:
            self.speak(response, prompt_id, base, turn.slow)
        query = urlencode(turn.state.query())
        action = f"{base}{RECORDED_PATH}?{query}"
        response.record(
            action=action, method="POST", max_length=MESSAGE_SECONDS, play_beep=True,
            finish_on_key=MESSAGE_END_KEY, timeout=turn.timeout,
            recording_status_callback=f"{base}{RECORDING_PATH}?{query}",
            recording_status_callback_method="POST", recording_status_callback_event=RECORDING_EVENTS,
        )
        response.redirect(action, method="POST")
        return response.to_xml(xml_declaration=True).encode()

    def dial(self, turn: Turn, base: str, caller: str | None) -> bytes:
        """The <Dial> that puts the caller through to a person; the agent sees `caller`
        (the caller's own number) when there is one. The transfer is screened: before the
        two are bridged, the person hears the whisper (<Number url>, run on their leg once
        they answer: https://www.twilio.com/docs/voice/twiml/number#attributes-url)."""
        response = VoiceResponse()
        for prompt_id in turn.prompts:
            self.speak(response, prompt_id, base, turn.slow)
        query = urlencode(turn.state.query())
        dial = response.dial(
            caller_id=caller or None, timeout=DIAL_TIMEOUT, method="POST",
            action=f"{base}{DIALED_PATH}?{query}",
        )
        dial.number(self.agent_number, url=f"{base}{WHISPER_PATH}?{query}", method="POST")
        return response.to_xml(xml_declaration=True).encode()

    def whisper(self, step: int | None, base: str) -> bytes:
        """What the person hears before taking a call: the line's name and where the caller
        was (`step`; 0 the menu, None not known), never the caller's number; then 1 takes the
        call. No key (or their voicemail) reaches the <Hangup/>, so nobody who did not press
        1 is ever bridged."""
        response = VoiceResponse()
        # finishOnKey empty, as on every <Gather> of the line: every key the person presses
        # reaches /whispered, which takes the call on 1 only.
        gather = response.gather(input="dtmf", num_digits=1, timeout=WHISPER_TIMEOUT,
                                 finish_on_key="", action=f"{base}{WHISPERED_PATH}", method="POST")
        where = () if step is None else (whisper_prompt(step) if step else "whisper_menu",)
        for prompt_id in ("whisper", *where, "whisper_take"):
            self.speak(gather, prompt_id, base)
        response.hangup()
        return response.to_xml(xml_declaration=True).encode()


def made_later(turn: Turn) -> bool:
    """A document made when first asked for, not up front: the offer when nobody answers 9,
    a message, a call back. Few calls reach them, and with their step and counters they are
    most of the line's documents (bench/documents.py)."""
    return turn.state is not None and turn.state.at in PERSON_PLACES


class Documents:
    """Every TwiML document the line can answer with, for one base URL: made up front, but
    for the person's offer (`made_later`), made once each on first use."""

    def __init__(self, renderer: Renderer, flow, base: str):
        self.base = base
        self.renderer = renderer
        self.flow = flow
        self.by_sound = {}
        for turn in flow.turns():
            if turn.sound not in self.by_sound and not made_later(turn):
                self.by_sound[turn.sound] = renderer.render(turn, base)

    def __getitem__(self, turn: Turn) -> bytes:
        found = self.by_sound.get(turn.sound)
        if found is None:
            if not made_later(turn):
                raise KeyError(turn)
            # Two workers' threads may both make it: the same bytes, one kept.
            found = self.by_sound.setdefault(turn.sound, self.renderer.render(turn, self.base))
        return found

    def __len__(self) -> int:
        return len(self.by_sound)

    def every(self) -> dict:
        """Every document, sound -> bytes, the offer's made now if not yet (for checks)."""
        for turn in self.flow.turns():
            self[turn]
        return self.by_sound
