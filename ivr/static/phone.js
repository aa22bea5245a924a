// The web phone's page: the keypad, the "say" field and the live transcript around the
// TwiML player in player.js (TwimlPlayer.Call), which plays the line's real TwiML the way
// Twilio's voice engine does.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("phone-config").textContent);
  const transcript = document.getElementById("transcript");
  const status = document.getElementById("status");
  const callButton = document.getElementById("call");
  const hangupButton = document.getElementById("hangup");
  const sayForm = document.getElementById("say");
  const phrase = document.getElementById("phrase");
  const KEYS = config.settings.keys;
  let current = null;
  let items = new WeakMap();  // player event -> its transcript line

  function setStatus(state, detail) {
    status.textContent = status.dataset[state] + (detail ? " " + detail : "");
    status.dataset.state = state;
  }

  function log(kind, text, prompt) {
    const item = document.createElement("li");
    item.className = kind;
    if (prompt) item.dataset.prompt = prompt;
    const label = transcript.dataset[kind === "system" ? "" : kind];
    if (label) {
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = label + ":";
      item.append(who);
    }
    item.append(text);
    transcript.append(item);
    transcript.scrollTop = transcript.scrollHeight;  // follow the call without moving the page
    return item;
  }

  // What the transcript shows for each thing the player reports.
  const show = {
    say(e) {
      const known = config.catalog.says[e.text];
      return log("line", known ? known.text : e.text, known && known.prompt);
    },
    play(e) {
      const name = new URL(e.url).pathname.split("/").pop();
      const known = config.catalog.files[name];
      return log("line", known ? known.text : name, known && known.prompt);
    },
    tones: (e) => log("tones", e.text),
    keys: (e) => log("you", e.text),
    speech: (e) => log("said", e.text),
    silence: () => log("system", transcript.dataset.silence),
    ignored: (e) => log("system", `${transcript.dataset.ignored} ${e.text}`),
    unheard: (e) => log("system", `${transcript.dataset.unheard} ${e.text}`),
    hangup: () => log("system", transcript.dataset.hangup),
    end: () => log("system", transcript.dataset.end),
    gone: () => log("system", transcript.dataset.gone),
  };

  const hooks = {
    event(e) {
      const item = show[e.kind] && show[e.kind](e);
      if (item) {
        items.set(e, item);
        if (["say", "play", "tones"].includes(e.kind)) item.classList.add("playing");
      }
    },
    audio(e, state) {
      const item = items.get(e);
      if (item) item.dataset.audio = state;
    },
    done(e) {
      const item = items.get(e);
      if (item) item.classList.remove("playing");
    },
  };

  async function startCall() {
    if (current) return;
    transcript.replaceChildren();
    items = new WeakMap();
    current = new TwimlPlayer.Call({ ...config, hooks });
    callButton.disabled = true;
    hangupButton.disabled = false;
    setStatus("inCall");
    try {
      await current.run();
      setStatus("ended");
    } catch (e) {
      setStatus("error", e.message);
    } finally {
      current = null;
      callButton.disabled = false;
      hangupButton.disabled = true;
      callButton.focus();
    }
  }

  function press(key) {
    const button = document.querySelector(`.key[data-key="${CSS.escape(key)}"]`);
    if (button) {
      button.classList.add("pressed");
      setTimeout(() => button.classList.remove("pressed"), 150);
    }
    if (current) current.press(key);
  }

  callButton.addEventListener("click", startCall);
  hangupButton.addEventListener("click", () => { if (current) current.hangup(); });
  document.querySelectorAll(".key").forEach((button) =>
    button.addEventListener("click", () => press(button.dataset.key)));
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest && event.target.closest("input, textarea")) return;  // typing a phrase
    if (event.key.length === 1 && KEYS.includes(event.key)) {
      event.preventDefault();
      press(event.key);
    }
  });
  sayForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const words = phrase.value.trim();
    if (!words) return;
    if (!current || !current.say(words)) {
      log("system", `${transcript.dataset.notListening} ${words}`);
    }
    phrase.value = "";
  });
})();
