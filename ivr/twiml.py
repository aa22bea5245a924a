"""TwiML rendering: a flow Turn becomes a VoiceResponse document."""

from functools import lru_cache
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from .flow import State, Turn

TURN_PATH = "/voice/turn"
AUDIO_PATH = "/audio/"


def turn_url(base: str, state: State) -> str:
    """Where Twilio reports the next key (or the silence) for a call in `state`."""
    return f"{base}{TURN_PATH}?{urlencode(state.query())}"


class Renderer:
    """Turns flow turns into TwiML, playing stored audio or speaking with <Say>."""

    def __init__(self, content, audio, say_voice=None, say_language="es-MX"):
        self.content = content
        self.audio = audio
        self.say_voice = say_voice or None
        self.say_language = say_language
        # A document depends only on the turn and the base URL, and a call has a few hundred
        # possible turns: render each once, not on every webhook.
        self.render = lru_cache(maxsize=4096)(self._render)

    def speak(self, node, prompt_id: str, base: str) -> None:
        """Append what says `prompt_id` to `node`: its audio file if current, else <Say>."""
        name = self.audio.file_for(prompt_id)
        if name:
            node.play(f"{base}{AUDIO_PATH}{name}")
        else:
            node.say(self.content[prompt_id].say, voice=self.say_voice, language=self.say_language)

    def _render(self, turn: Turn, base: str = "") -> str:
        """The TwiML document for `turn`; URLs start with `base` (e.g. a public base URL)."""
        response = VoiceResponse()
        if turn.state is None:
            for prompt_id in turn.prompts:
                self.speak(response, prompt_id, base)
            response.hangup()
            return str(response)
        url = turn_url(base, turn.state)
        # The prompts sit inside <Gather> so a key interrupts them. finishOnKey is empty
        # because '#' is a key of the line ('next step'), not an end-of-input marker.
        gather = response.gather(
            input="dtmf", num_digits=1, timeout=turn.timeout, finish_on_key="",
            action=url, method="POST",
        )
        for prompt_id in turn.prompts:
            self.speak(gather, prompt_id, base)
        # No key before the timeout: Twilio falls through to here, and the same URL
        # without Digits tells the flow the caller stayed silent.
        response.redirect(url, method="POST")
        return str(response)
