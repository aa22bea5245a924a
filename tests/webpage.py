"""Pages in Chromium on a clock the test moves: no test waits out a timer of the page.

The web phone waits on timers for what a real call waits on: a <Gather>'s timeout, the
time words take to be said, a <Dial> ringing, the seconds of a message. Playwright's fake
clock (https://playwright.dev/docs/clock) replaces the page's Date, setTimeout and
setInterval; the page starts with it paused, so its timers fire only when the test moves
it (`until`), and a slow machine cannot make one fire behind the test's back.

Audio is not a timer: Chromium plays it on its own clock, so `clocked_page` plays it at
Chromium's fastest rate (16 times) unless the test sets the page's ``audioRate`` (1: at its
own pace, for a test that interrupts it); the page's events (playing, ended) are the same.
"""

from datetime import datetime

from playwright.sync_api import TimeoutError as PlaywrightTimeout

#: Where the page's clock starts (a Monday morning): its own time, not the machine's.
START = datetime(2026, 1, 5, 9, 0)
#: How far `until` moves the page's clock at a time, in ms.
STEP_MS = 500

# Chromium's highest playbackRate (https://developer.mozilla.org/docs/Web/API/HTMLMediaElement/playbackRate):
# every audio element the page plays, played at audioRate as it starts.
FAST_AUDIO = """
(() => {
  window.audioRate = 16;
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    this.playbackRate = window.audioRate;
    return play.call(this);
  };
})();
"""


def clocked_page(browser, **options):
    """A new page of `browser` (`options` as for browser.new_page) with the fake clock
    installed and paused at START, and its audio played fast."""
    page = browser.new_page(**options)
    page.add_init_script(FAST_AUDIO)
    page.clock.install(time=START)
    page.clock.pause_at(START.replace(second=1))
    return page


def open_phone(browser, url: str, **options):
    """(page, errors): `url` opened in a `clocked_page`, with the errors its scripts throw
    collected (a test ends by asserting there were none)."""
    page = clocked_page(browser, **options)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, errors


def until(page, condition: str, *, seconds: float = 120) -> None:
    """Wait until `condition` holds on `page`, moving its clock on STEP_MS at a time while it
    does not: a selector, or a JavaScript function (``"() => ..."``). Fails after `seconds`
    of the page's time."""
    wait = page.wait_for_function if condition.lstrip().startswith("()") else page.wait_for_selector
    for _ in range(int(seconds * 1000 / STEP_MS)):
        try:
            # Real time for what is not a timer: a request to the line, audio, the page's work.
            wait(condition, timeout=50)
            return
        except PlaywrightTimeout:
            page.clock.run_for(STEP_MS)
    raise AssertionError(f"not within {seconds} s of the page's time: {condition}")
