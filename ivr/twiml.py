"""TwiML rendering: a flow Turn becomes a VoiceResponse document.

A document depends only on the turn and the URL the line is reached at, and the flow has a
few hundred turns (`Flow.turns`), so `Documents` renders them all once per base URL and a
webhook only looks its answer up.
"""

from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from .flow import State, Turn

TURN_PATH = "/voice/turn"
DIALED_PATH = "/voice/dialed"
AUDIO_PATH = "/audio/"
#: Seconds a person's phone rings before the caller hears that nobody answered.
DIAL_TIMEOUT = 25
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


    def dial(self, turn: Turn, base: str, caller: str | None) -> bytes:
        """The <Dial> that puts the caller through to a person; the agent sees `caller`
        (the caller's own number) when there is one."""
        response = VoiceResponse()
        for prompt_id in turn.prompts:
            self.speak(response, prompt_id, base, turn.slow)
        dial = response.dial(
            caller_id=caller or None, timeout=DIAL_TIMEOUT, method="POST",
            action=f"{base}{DIALED_PATH}?{urlencode(turn.state.query())}",
        )
        dial.number(self.agent_number)
        return response.to_xml(xml_declaration=True).encode()


class Documents:
    """Every TwiML document the line can answer with, for one base URL, made up front."""

    def __init__(self, renderer: Renderer, flow, base: str):
        self.base = base
        self.by_sound = {}
        for turn in flow.turns():
            if turn.sound not in self.by_sound:
                self.by_sound[turn.sound] = renderer.render(turn, base)

    def __getitem__(self, turn: Turn) -> bytes:
        return self.by_sound[turn.sound]

    def __len__(self) -> int:
        return len(self.by_sound)
