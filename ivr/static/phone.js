// The web phone's page: the keypad, the "say" field, the live transcript and the person
// panel (a <Dial> ringing) around the TwiML player in player.js (TwimlPlayer.Call), which
// plays the line's real TwiML the way Twilio's voice engine does. With a pass (the line
// checks Twilio's signature), a fresh one is fetched before each call and every
// passRefreshSeconds while it lasts.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("phone-config").textContent);
  const transcript = document.getElementById("transcript");
  const status = document.getElementById("status");
  const callButton = document.getElementById("call");
  const hangupButton = document.getElementById("hangup");
  const sayForm = document.getElementById("say");
  const phrase = document.getElementById("phrase");
  const person = document.getElementById("person");
  const personTitle = document.getElementById("person-title");
  const personHint = person.querySelector(".person-hint");
  const recording = document.getElementById("recording");
  const recordingSeconds = recording.querySelector(".recording-seconds");
  const recordingHint = recording.querySelector(".recording-hint");
  let recordingClock = null;
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

  // A prompt the line says; after "sent", the text message a caller would have got (a
  // trial call's is shown here and sent to nobody).
  function line(text, prompt) {
    const item = log("line", text, prompt);
    if (prompt === "sms_sent" && config.sms) {
      log("sms", `${transcript.dataset.sms}\n${config.sms}`);
    }
    return item;
  }

  // What the transcript shows for each thing the player reports.
  const show = {
    say(e) {
      const known = config.catalog.says[e.text];
      return line(known ? known.text : e.text, known && known.prompt);
    },
    play(e) {
      const name = new URL(e.url).pathname.split("/").pop();
      const known = config.catalog.files[name];
      return line(known ? known.text : name, known && known.prompt);
    },
    tones: (e) => log("tones", e.text),
    keys: (e) => log("you", e.text),
    speech: (e) => log("said", e.text),
    silence: () => log("system", transcript.dataset.silence),
    ignored: (e) => log("system", `${transcript.dataset.ignored} ${e.text}`),
    unheard: (e) => log("system", `${transcript.dataset.unheard} ${e.text}`),
    dial(e) {
      const callerId = e.callerId ? " " + transcript.dataset.callerId.replace("{number}", e.callerId) : "";
      return log("person", `${transcript.dataset.dial} ${e.text}${callerId}`);
    },
    dialed(e) {
      const status = e.taken === false ? "declined" : e.text;  // answered, not taken
      const key = "dialed" + status.replace(/(^|-)(\w)/g, (m, dash, c) => c.toUpperCase());
      const words = transcript.dataset[key] || e.text;
      return log("person", words.replace("{seconds}", e.seconds));
    },
    // What the screened person hears, and whether they took the call.
    whisper(e) {
      const name = e.url ? new URL(e.url).pathname.split("/").pop() : null;
      const known = name ? config.catalog.files[name] : config.catalog.says[e.text];
      // log() labels it with data-whisper ("La persona escucha:").
      return log("whisper", known ? known.text : (e.text || name), known && known.prompt);
    },
    person: (e) => log("person", transcript.dataset[e.text === "taken" ? "personTaken" : "personDeclined"]),
    beep: () => log("system", transcript.dataset.beep),
    record: (e) => log("message", e.text === "0" ? transcript.dataset.recordNothing
      : transcript.dataset.record.replace("{seconds}", e.text)),
    hangup: () => log("system", transcript.dataset.hangup),
    end: () => log("system", transcript.dataset.end),
    gone: () => log("system", transcript.dataset.gone),
  };

  // While a <Dial> rings, the caller chooses how the person answers (or lets it time out).
  function showPerson(e) {
    if (!e) {
      person.hidden = true;
      return;
    }
    personTitle.textContent = `${personTitle.dataset.label} ${e.text}`;
    personHint.textContent = personHint.dataset.hint.replace("{seconds}", e.timeout);
    // "Answers without taking it" only means something when the transfer is screened.
    person.querySelector("[data-screened]").hidden = !e.screened;
    person.hidden = false;
  }

  // While a <Record> listens: the "grabando" state, a running count, and how to end it.
  function showRecording(r) {
    clearInterval(recordingClock);
    if (!r) {
      recording.hidden = true;
      if (current && current.active) setStatus("inCall");
      return;
    }
    recordingSeconds.textContent = "0";
    recordingHint.textContent = recordingHint.dataset.hint.replace("{seconds}", r.maxLength);
    recordingClock = setInterval(() => {
      recordingSeconds.textContent = String(Math.round((Date.now() - r.started) / 1000));
    }, 250);
    recording.hidden = false;
    setStatus("recording");
  }

  const hooks = {
    event(e) {
      if (e.kind === "dial") showPerson(e);
      else if (e.kind === "dialed" || e.kind === "gone") showPerson(null);
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
    recording: showRecording,
  };

  // A pass the webhooks accept now: the page's own may be older than a pass lives.
  async function freshPass() {
    const response = await fetch(config.passUrl, { method: "POST" });
    if (!response.ok) throw new Error(`HTTP ${response.status} from ${config.passUrl}`);
    return (await response.json()).pass;
  }

  async function startCall() {
    if (current || callButton.disabled) return;
    callButton.disabled = true;
    transcript.replaceChildren();
    items = new WeakMap();
    let renew = null;
    try {
      const pass = config.pass ? await freshPass() : "";
      current = new TwimlPlayer.Call({ ...config, pass, hooks });
      hangupButton.disabled = false;
      setStatus("inCall");
      if (pass) {
        const call = current;
        renew = setInterval(async () => {
          // A failed renewal keeps the current pass: it outlives the renewal period.
          try { call.pass = await freshPass(); } catch (e) { /* try again next period */ }
        }, 1000 * config.passRefreshSeconds);
      }
      await current.run();
      setStatus("ended");
    } catch (e) {
      setStatus("error", e.message);
    } finally {
      clearInterval(renew);
      showPerson(null);
      showRecording(null);
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
  person.querySelectorAll("button[data-status]").forEach((button) =>
    button.addEventListener("click", () => { if (current) current.dialEnds(button.dataset.status); }));
  hangupButton.addEventListener("click", () => { if (current) current.hangup(); });
  document.getElementById("record-end").addEventListener("click", () => {
    if (current && current.recording) current.recordEnds((Date.now() - current.recording.started) / 1000);
  });
  document.getElementById("record-nothing").addEventListener("click", () => { if (current) current.recordEnds(0); });
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
