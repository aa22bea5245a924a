// The web phone's TwiML player: calls the line the way Twilio's voice engine does, as
// ivr/player.py does for the tests and `ivr call` (tests/player_cases.json holds the
// behaviour both must show). No page here: the caller's side and the transcript are hooks.
//
//   const call = new TwimlPlayer.Call({voiceUrl, settings, hooks, ...});
//   call.run();  call.press("2");  call.say("siguiente");  call.hangup();
//   call.dialEnds("busy");  // while a <Dial> rings: how the person answers ("declined":
//                           // answers without taking a screened call)
//   call.recordEnds(14);    // while a <Record> listens: the caller spoke 14 s and ended it
//
// hooks (all optional):
//   event(e)          something happened: e.kind is say | play | tones | pause | keys |
//                     speech | silence | ignored | unheard | dial | whisper | person |
//                     dialed | beep | record | hangup | end | gone, e.text its words, keys,
//                     phrase, the numbers dialled (dial, e.callerId, e.timeout), what the
//                     screened person hears (whisper) and whether they took the call
//                     (person: taken or declined), the DialCallStatus (dialed, e.seconds when
//                     completed, e.taken whether the person took it) or the seconds recorded
//                     (record), e.url a <Play>'s URL;
//   audio(e, state)   a <Play>'s audio is "playing", "blocked", "ended" or "stopped";
//   done(e)           a prompt (say, play, tones, pause) is over;
//   heard(e, inGather) a prompt starts (input given now barges in inside a <Gather>);
//   begin(rules)      a <Gather>'s prompts are over; return false to hang up;
//   recording(r)      a <Record> listens (r.maxLength, r.finishOnKey) until recordEnds(),
//                     a finish key, or maxLength; recording(null) when it is over.
(() => {
  "use strict";

  class Call {
    // options: voiceUrl, settings (from the page config: keys, maxLoops, maxRequests,
    // confidence, toneSeconds, pauseSeconds), hooks, scale (multiplies every wait),
    // pass and header (the web phone's pass; call.pass may be replaced while the call
// lasts: each request sends the current one), publicBase and root (move the TwiML's URLs
    // to this page's origin), audioPath and browserAudioPath (the browser's audio copy).
    constructor(options) {
      this.options = options;
      this.settings = options.settings;
      this.hooks = options.hooks || {};
      this.scale = options.scale == null ? 1 : options.scale;
      this.sid = newSid();
      this.active = true;
      this.rules = null;       // the <Gather> listening now, or null: input is dropped
      this.keys = [];          // pressed and not yet taken
      this.speech = null;      // a phrase said to the <Gather>
      this.wake = null;        // resolves a wait when input comes or the call ends
      this.dialing = null;     // the <Dial> ringing now, or null
      this.dialStatus = null;  // how its person answered (dialEnds), null: not yet
      this.recording = null;   // the <Record> listening now, or null
      this.recordSeconds = null;  // what was said to it (recordEnds), null: not yet
      this.pending = [];       // status callbacks due once the current request is answered
      this.pass = options.pass || "";
      this.audio = new Audio();
      this.requests = 0;
    }

    emit(event) {
      if (this.hooks.event) this.hooks.event(event);
      return event;
    }

    // A key from the keypad. Outside a <Gather> Twilio ignores it; during a <Record>, a
    // finish key ends the message.
    press(key) {
      if (this.active && this.recording && this.recording.finishOnKey.includes(key)) {
        this.recordEnds((Date.now() - this.recording.started) / (1000 * this.scale || 1));
        return;
      }
      if (!this.active || !this.rules || !this.settings.keys.includes(key)) return;
      if (!this.rules.dtmf) {
        this.emit({ kind: "ignored", text: key });  // a <Gather input="speech">
        return;
      }
      this.keys.push(key);
      if (this.wake) this.wake();
    }

    // A phrase said, as speech recognition hands it over (SpeechResult, Confidence).
    // Returns false when no <Gather> listens (the page says so).
    say(text, confidence) {
      text = String(text).replace(/\s+/g, " ").trim();
      if (!this.active || !this.rules || !text) return false;
      const conf = confidence == null ? this.settings.confidence : confidence;
      if (!this.rules.speech) {
        this.emit({ kind: "unheard", text, confidence: conf });
        return true;
      }
      if (!this.speech) this.speech = { text, confidence: conf };
      if (this.wake) this.wake();
      return true;
    }

    // While a <Dial> rings: the person answers this way (a DialCallStatus). Returns false
    // when nothing is being dialled or the status is not one Twilio sends.
    dialEnds(status) {
      if (!this.active || !this.dialing || this.dialStatus
          || !this.settings.dialOutcomes.includes(status)) return false;
      this.dialStatus = status;
      if (this.wake) this.wake();
      return true;
    }

    // While a <Record> listens: the caller spoke this many seconds (0: nothing) and ended
    // it. Returns false when nothing is being recorded.
    recordEnds(seconds) {
      if (!this.active || !this.recording || this.recordSeconds !== null) return false;
      this.recordSeconds = Math.max(0, Math.round(Number(seconds) || 0));
      if (this.wake) this.wake();
      return true;
    }

    hangup() {
      if (this.active) {
        this.active = false;
        this.emit({ kind: "gone", text: "" });
      }
      this.audio.pause();
      if (this.wake) this.wake();
    }

    get hasInput() {
      return this.keys.length > 0 || this.speech !== null || this.dialStatus !== null
        || this.recordSeconds !== null;
    }

    // Resolve after `ms` (scaled; null: never) or as soon as input comes / the call ends.
    wait(ms) {
      if (this.hasInput || !this.active) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = ms == null ? null : setTimeout(done, ms * this.scale);
        const self = this;
        function done() { clearTimeout(timer); self.wake = null; resolve(); }
        this.wake = done;
      });
    }

    // A URL of the TwiML, resolved against the document it came from and moved from the
    // line's public base URL (if any) to this page's own origin.
    localUrl(target, base) {
      const url = new URL(target, base).href;
      const pub = this.options.publicBase;
      if (pub && (url === pub || url.startsWith(pub + "/") || url.startsWith(pub + "?"))) {
        return location.origin + (this.options.root || "") + url.slice(pub.length);
      }
      return url;
    }

    // A request as Twilio makes it: the call's parameters (`leg`: the dialled person's leg
    // instead of the caller's), then the verb's.
    async send(method, url, params, leg) {
      if (++this.requests > this.settings.maxRequests) {
        throw new Error(`the call did not end after ${this.settings.maxRequests} requests: the line loops`);
      }
      const call = leg ? {
        CallSid: leg.sid, ParentCallSid: this.sid, AccountSid: "AC" + "0".repeat(32),
        From: leg.from, To: leg.to, Direction: "outbound-dial", CallStatus: "in-progress",
        ApiVersion: "2010-04-01",
      } : {
        CallSid: this.sid, AccountSid: "AC" + "0".repeat(32), From: "web-phone",
        To: "linea-alcanos", Direction: "inbound", ApiVersion: "2010-04-01",
        // Twilio's first webhook of an incoming call comes while it still rings.
        CallStatus: this.requests === 1 ? "ringing" : "in-progress",
      };
      const body = new URLSearchParams({ ...call, ...params });
      const headers = this.pass ? { [this.options.header]: this.pass } : {};
      let target = url;
      const init = { method, headers };
      if (method === "GET") {
        target = url + (url.includes("?") ? "&" : "?") + body;
      } else {
        init.body = body;
      }
      const response = await fetch(target, init);
      if (!response.ok) throw new Error(`HTTP ${response.status} from ${new URL(url).pathname}`);
      return response;
    }

    // Status callbacks due (Twilio reads no TwiML from them).
    async notifyPending() {
      while (this.pending.length) {
        const [verb, url, params] = this.pending.shift();
        await this.send(verb, url, params);
      }
    }

    async fetch(method, url, params, leg) {
      const response = await this.send(method, url, params, leg);
      const doc = new DOMParser().parseFromString(await response.text(), "application/xml");
      if (doc.querySelector("parsererror") || doc.documentElement.tagName !== "Response") {
        throw new Error("the answer is not TwiML");
      }
      return doc.documentElement;
    }

    async run() {
      let next = ["POST", new URL(this.options.voiceUrl, location.href).href, {}];
      try {
        while (this.active && next) {
          const [method, url, params] = next;
          const root = await this.fetch(method, url, params);
          await this.notifyPending();
          next = await this.execute(root, url);
        }
      } finally {
        this.active = false;
        this.audio.pause();
      }
    }

    // Run one document; return the next request, or null when the call is over.
    async execute(root, url) {
      for (const verb of root.children) {
        if (!this.active) return null;
        switch (verb.tagName) {
          case "Say": case "Play": case "Pause":
            await this.speak(verb, url);
            break;
          case "Gather": {
            const next = await this.gather(verb, url);
            if (next) return next;
            break;
          }
          case "Dial": {
            const next = await this.dial(verb, url);
            if (next) return next;
            break;
          }
          case "Record": {
            const next = await this.record(verb, url);
            if (next) return next;
            break;
          }
          case "Redirect":
            return [method(verb), this.localUrl(verb.textContent.trim(), url), {}];
          case "Hangup":
            this.emit({ kind: "hangup", text: "" });
            return null;
          default:
            throw new Error(`cannot play <${verb.tagName}>`);
        }
      }
      if (this.active) this.emit({ kind: "end", text: "" });
      return null;
    }

    // Play one prompt, all its loops; inside a <Gather> input stops it (barge-in).
    async speak(verb, url) {
      let event;
      let loops = 1;
      if (verb.tagName === "Pause") {
        event = { kind: "pause", text: String(Number(verb.getAttribute("length") || 1)) };
      } else {
        loops = Number(verb.getAttribute("loop") || 1);
        // loop="0" is "until the call ends" to Twilio; the players stop at maxLoops.
        loops = Math.min(loops || this.settings.maxLoops, this.settings.maxLoops);
        if (verb.tagName === "Say") {
          event = { kind: "say", text: verb.textContent.replace(/\s+/g, " ").trim() };
        } else if (verb.getAttribute("digits")) {
          event = { kind: "tones", text: verb.getAttribute("digits") };
        } else {
          event = { kind: "play", text: "", url: this.localUrl(verb.textContent.trim(), url) };
        }
      }
      for (let i = 0; i < loops && this.active; i++) {
        const e = this.emit({ ...event });
        if (this.hooks.heard) this.hooks.heard(e, this.rules !== null);
        if (!this.hasInput) await this.perform(e);
        if (this.hooks.done) this.hooks.done(e);
        if (this.hasInput) return;
      }
    }

    async perform(e) {
      if (e.kind === "pause") return this.wait(1000 * Number(e.text));
      if (e.kind === "tones") {
        const s = this.settings;
        const seconds = Array.from(e.text).reduce((sum, t) => sum + (s.pauseSeconds[t] || s.toneSeconds), 0);
        return this.wait(1000 * seconds);
      }
      // No browser voice is assumed: the words show for about as long as saying them takes.
      if (e.kind === "say") return this.wait(Math.max(1500, e.text.length * 70));
      const src = new URL(e.url);
      const name = src.pathname.split("/").pop();
      const { audioPath, browserAudioPath } = this.options;
      if (audioPath && src.pathname.endsWith(audioPath + name)) {
        src.pathname = browserAudioPath + name;  // the browser-friendly variant
      }
      return this.play(src.href, e);
    }

    async play(src, e) {
      const audio = this.audio;
      const state = (s) => { if (this.hooks.audio) this.hooks.audio(e, s); };
      audio.src = src;
      const ended = new Promise((resolve) => {
        audio.onended = resolve;
        audio.onerror = resolve;  // the words are on screen; the call goes on
      });
      try {
        await audio.play();
        state("playing");
      } catch (err) {
        state("blocked");
        return;
      }
      await Promise.race([ended, this.wait(null)]);
      audio.pause();
      state(audio.ended ? "ended" : "stopped");
    }

    // Ring a <Dial>'s numbers until dialEnds() says how the person answered, or its
    // timeout passes (no-answer). Returns the action request, or null: without an action
    // Twilio goes on with the next verb.
    async dial(verb, url) {
      const numbers = [];
      const screens = [];  // <Number url>: a document run on the person's leg first
      for (const node of verb.childNodes) {
        if (node.nodeType === Node.TEXT_NODE) {
          if (node.textContent.trim()) numbers.push(node.textContent.trim());
        } else if (node.nodeType === Node.ELEMENT_NODE) {
          if (!this.settings.dialNouns.includes(node.tagName)) {
            throw new Error(`cannot play <${node.tagName}> inside <Dial>`);
          }
          if (!node.textContent.trim()) throw new Error(`<${node.tagName}> without a number or name in <Dial>`);
          numbers.push(node.textContent.trim());
          if (node.getAttribute("url")) {
            screens.push([method(node), this.localUrl(node.getAttribute("url"), url), node.textContent.trim()]);
          }
        }
      }
      if (!numbers.length) throw new Error("<Dial> without anything to dial");
      const timeout = Number(verb.getAttribute("timeout") || this.settings.dialTimeout);
      this.dialing = { numbers, callerId: verb.getAttribute("callerId") || null, timeout, screened: screens.length > 0 };
      this.dialStatus = null;
      try {
        this.emit({ kind: "dial", text: numbers.join(", "), callerId: this.dialing.callerId, timeout,
                    screened: this.dialing.screened });
        await this.wait(1000 * timeout);
        if (!this.active) return null;
        const outcome = this.dialStatus || this.settings.dialStatuses[0];
        const legSid = newSid();
        let status = outcome;
        let seconds = null;
        let taken = null;
        if (outcome === "completed" || outcome === "declined") {
          // Twilio's DialCallStatus is the person's leg: completed whether or not they took it.
          status = "completed";
          taken = outcome === "completed";
          if (screens.length) {
            const [verbMethod, target, number] = screens[0];
            const leg = { sid: legSid, from: this.dialing.callerId || "linea-alcanos", to: number };
            taken = await this.whisper(verbMethod, target, leg, outcome === "completed");
            if (!this.active) return null;
            this.emit({ kind: "person", text: taken ? "taken" : "declined" });
          }
          seconds = taken ? this.settings.dialTalkSeconds : this.settings.dialDeclinedSeconds;
        }
        this.emit({ kind: "dialed", text: status, seconds, taken });
        const action = verb.getAttribute("action");
        if (!action) return null;
        const params = { DialCallStatus: status, DialCallSid: legSid };
        if (seconds !== null) params.DialCallDuration = String(seconds);
        return [method(verb), this.localUrl(action, url), params];
      } finally {
        this.dialing = null;
        this.dialStatus = null;
      }
    }

    // Run a <Number url> document on the person's leg: what they hear shows as whisper
    // events; they press takeKey at its first <Gather> (takes) or nothing. True when it ends
    // without <Hangup>: the two are bridged.
    async whisper(verbMethod, url, leg, takes) {
      let next = [verbMethod, url, {}];
      while (next && this.active) {
        const [how, target, params] = next;
        const root = await this.fetch(how, target, params, leg);
        next = null;
        for (const verb of root.children) {
          if (!this.active) return false;
          if (verb.tagName === "Say" || verb.tagName === "Play") {
            const text = verb.tagName === "Say" ? verb.textContent.replace(/\s+/g, " ").trim() : "";
            const src = verb.tagName === "Play" ? this.localUrl(verb.textContent.trim(), target) : undefined;
            this.emit({ kind: "whisper", text, url: src });
            await this.wait(verb.tagName === "Say" ? Math.max(1500, text.length * 70) : 1500);
          } else if (verb.tagName === "Pause") {
            await this.wait(1000 * Number(verb.getAttribute("length") || 1));
          } else if (verb.tagName === "Gather") {
            for (const child of verb.children) {
              if (child.tagName === "Say" || child.tagName === "Play") {
                const text = child.tagName === "Say" ? child.textContent.replace(/\s+/g, " ").trim() : "";
                const src = child.tagName === "Play" ? this.localUrl(child.textContent.trim(), target) : undefined;
                this.emit({ kind: "whisper", text, url: src });
              }
            }
            if (takes) {
              takes = false;
              next = [method(verb), this.localUrl(verb.getAttribute("action") || target, target),
                      { Digits: this.settings.takeKey, FinishedOnKey: "" }];
              break;
            }
            await this.wait(1000 * Number(verb.getAttribute("timeout") || 5));  // nobody presses
          } else if (verb.tagName === "Redirect") {
            next = [method(verb), this.localUrl(verb.textContent.trim(), target), {}];
            break;
          } else if (verb.tagName === "Hangup") {
            return false;
          } else {
            throw new Error(`<${verb.tagName}> in a document run on a dialled person's leg`);
          }
        }
      }
      return this.active;
    }

    // A <Record>: the beep, then the caller speaks until recordEnds(), a finish key or
    // maxLength. Something recorded: the action request, the status callback after it.
    // Nothing: no action request (Twilio goes on with the next verb), `absent` if asked.
    async record(verb, url) {
      const s = this.settings;
      const finishOnKey = verb.hasAttribute("finishOnKey") ? verb.getAttribute("finishOnKey") : s.recordFinishKeys;
      if (Array.from(finishOnKey).some((k) => !s.recordFinishKeys.includes(k))) {
        throw new Error(`<Record finishOnKey="${finishOnKey}">: keys are 0-9 * #`);
      }
      const maxLength = Number(verb.getAttribute("maxLength") || s.recordMaxLength);
      if ((verb.getAttribute("playBeep") || "true").toLowerCase() !== "false") this.emit({ kind: "beep", text: "" });
      this.recording = { maxLength, finishOnKey, started: Date.now() };
      this.recordSeconds = null;
      let seconds;
      try {
        if (this.hooks.recording) this.hooks.recording(this.recording);
        await this.wait(1000 * maxLength);
        if (!this.active) return null;
        seconds = Math.min(this.recordSeconds === null ? maxLength : this.recordSeconds, maxLength);
      } finally {
        this.recording = null;
        this.recordSeconds = null;
        if (this.hooks.recording) this.hooks.recording(null);
      }
      this.emit({ kind: "record", text: String(seconds) });
      const sid = "RE" + newSid().slice(2);
      const recording = {
        RecordingSid: sid, RecordingDuration: String(seconds),
        RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${"AC" + "0".repeat(32)}/Recordings/${sid}`,
      };
      const callback = verb.getAttribute("recordingStatusCallback");
      const events = (verb.getAttribute("recordingStatusCallbackEvent") || "completed").split(/[\s,]+/);
      const status = seconds ? "completed" : "absent";
      if (callback && events.includes(status)) {
        this.pending.push([(verb.getAttribute("recordingStatusCallbackMethod") || "POST").toUpperCase(),
          this.localUrl(callback, url),
          { ...recording, RecordingStatus: status, RecordingChannels: "1", RecordingSource: "RecordVerb" }]);
      }
      if (!seconds) {
        await this.notifyPending();
        return null;
      }
      const params = { ...recording };
      if (finishOnKey && seconds < maxLength) params.Digits = finishOnKey.includes("#") ? "#" : finishOnKey[0];
      return [method(verb), this.localUrl(verb.getAttribute("action") || url, url), params];
    }

    async gather(verb, url) {
      const input = (verb.getAttribute("input") || "dtmf").split(/\s+/).filter(Boolean);
      const rules = {
        numDigits: Number(verb.getAttribute("numDigits")) || Infinity,
        finishOnKey: verb.hasAttribute("finishOnKey") ? verb.getAttribute("finishOnKey") : "#",
        timeout: Number(verb.getAttribute("timeout") || 5),
        dtmf: input.includes("dtmf"),
        speech: input.includes("speech"),
      };
      this.keys = [];
      this.speech = null;
      this.rules = rules;
      try {
        for (const child of verb.children) {
          if (this.hasInput || !this.active) break;
          await this.speak(child, url);
        }
        if (!this.active) return null;
        if (this.hooks.begin && this.hooks.begin(rules) === false) {
          this.hangup();
          return null;
        }
        let digits = "";
        let finished = "";
        while (this.active && !this.speech) {
          if (!this.keys.length) await this.wait(1000 * rules.timeout);
          if (this.speech) break;
          const key = this.keys.shift();
          if (key === undefined) break;  // timeout: Twilio submits what it has
          if (rules.finishOnKey && key === rules.finishOnKey) { finished = key; break; }
          digits += key;
          if (digits.length >= rules.numDigits) break;
        }
        if (!this.active) return null;
        const speech = this.speech;
        if (speech) this.emit({ kind: "speech", text: speech.text, confidence: speech.confidence });
        else if (digits || finished) this.emit({ kind: "keys", text: digits + finished });
        else this.emit({ kind: "silence", text: "" });
        if (this.keys.length) this.emit({ kind: "ignored", text: this.keys.join("") });
        let params;
        if (speech) {
          // A phrase: Twilio sends what it heard and how sure it is, and no Digits.
          params = { SpeechResult: speech.text, Confidence: String(speech.confidence) };
        } else if (digits || (verb.getAttribute("actionOnEmptyResult") || "").toLowerCase() === "true") {
          // Keys: Digits without the finish key, and FinishedOnKey, empty when the
          // <Gather> ended on numDigits or the timeout (as Twilio sends it).
          params = { Digits: digits, FinishedOnKey: finished };
        } else {
          return null;  // no input (a lone finishOnKey is none): fall through
        }
        return [method(verb), this.localUrl(verb.getAttribute("action") || url, url), params];
      } finally {
        this.rules = null;
        this.keys = [];
        this.speech = null;
      }
    }
  }

  function newSid() {
    return "CA" + Array.from(crypto.getRandomValues(new Uint8Array(16)),
      (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function method(verb) {
    return (verb.getAttribute("method") || "POST").toUpperCase();
  }

  window.TwimlPlayer = { Call };
})();
