// The web phone: plays the line's real TwiML the way Twilio's voice engine does.
// <Say>/<Play>/<Pause> in order; <Gather> with barge-in, numDigits, finishOnKey and a
// timeout that falls through to the next verb; <Redirect>; <Hangup>.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("phone-config").textContent);
  const transcript = document.getElementById("transcript");
  const status = document.getElementById("status");
  const callButton = document.getElementById("call");
  const hangupButton = document.getElementById("hangup");
  const KEYS = "0123456789*#";
  // Twilio's cap is far higher; a call needing this many fetches without an end is looping.
  const MAX_REQUESTS = 200;
  let current = null;

  function setStatus(state, detail) {
    status.textContent = status.dataset[state] + (detail ? " " + detail : "");
    status.dataset.state = state;
  }

  function log(kind, text, prompt) {
    const item = document.createElement("li");
    item.className = kind;
    if (prompt) item.dataset.prompt = prompt;
    if (kind === "line" || kind === "you") {
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = transcript.dataset[kind] + ":";
      item.append(who);
    }
    item.append(text);
    transcript.append(item);
    transcript.scrollTop = transcript.scrollHeight;  // follow the call without moving the page
    return item;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // A URL of the TwiML, resolved against the document it came from and moved from the
  // line's public base URL (if any) to this page's own origin.
  function localUrl(target, base) {
    const url = new URL(target, base).href;
    const pub = config.publicBase;
    if (pub && (url === pub || url.startsWith(pub + "/") || url.startsWith(pub + "?"))) {
      return location.origin + config.root + url.slice(pub.length);
    }
    return url;
  }

  class Call {
    constructor() {
      this.sid = "CA" + Array.from(crypto.getRandomValues(new Uint8Array(16)),
        (b) => b.toString(16).padStart(2, "0")).join("");
      this.active = true;
      this.keys = [];          // pressed and not yet consumed
      this.listening = false;  // inside a <Gather>: keys count
      this.wake = null;        // resolves a wait when a key comes or the call ends
      this.audio = new Audio();
      this.requests = 0;
    }

    press(key) {
      if (!this.active || !this.listening) return;  // Twilio ignores keys outside <Gather>
      this.keys.push(key);
      if (this.wake) this.wake();
    }

    hangup() {
      this.active = false;
      this.audio.pause();
      if (this.wake) this.wake();
    }

    // Resolve after `ms` or as soon as a key is pressed / the call ends, whichever first.
    waitForKey(ms) {
      if (this.keys.length || !this.active) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = ms == null ? null : setTimeout(done, ms);
        const self = this;
        function done() { clearTimeout(timer); self.wake = null; resolve(); }
        this.wake = done;
      });
    }

    async fetch(method, url, params) {
      if (++this.requests > MAX_REQUESTS) throw new Error("too many requests: the line loops");
      const body = new URLSearchParams({
        CallSid: this.sid, AccountSid: "AC" + "0".repeat(32), From: "web-phone",
        To: "linea-alcanos", CallStatus: "in-progress", Direction: "inbound",
        ApiVersion: "2010-04-01", ...params,
      });
      const headers = config.pass ? { [config.header]: config.pass } : {};
      let target = url;
      const init = { method, headers };
      if (method === "GET") {
        target = url + (url.includes("?") ? "&" : "?") + body;
      } else {
        init.body = body;
      }
      const response = await fetch(target, init);
      if (!response.ok) throw new Error(`HTTP ${response.status} from ${new URL(url).pathname}`);
      const doc = new DOMParser().parseFromString(await response.text(), "application/xml");
      if (doc.querySelector("parsererror") || doc.documentElement.tagName !== "Response") {
        throw new Error("the answer is not TwiML");
      }
      return doc.documentElement;
    }

    async run() {
      let next = ["POST", new URL(config.voiceUrl, location.href).href, {}];
      while (this.active && next) {
        const [method, url, params] = next;
        const root = await this.fetch(method, url, params);
        next = await this.execute(root, url);
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
          case "Redirect":
            return [(verb.getAttribute("method") || "POST").toUpperCase(),
              localUrl(verb.textContent.trim(), url), {}];
          case "Hangup":
            log("system", transcript.dataset.hangup);
            return null;
          default:
            throw new Error(`cannot play <${verb.tagName}>`);
        }
      }
      if (this.active) log("system", transcript.dataset.end);
      return null;
    }

    // Play one prompt; inside a <Gather> a key stops it (barge-in).
    async speak(verb, url) {
      if (verb.tagName === "Pause") {
        await this.waitForKey(1000 * Number(verb.getAttribute("length") || 1));
        return;
      }
      let item;
      if (verb.tagName === "Say") {
        const said = verb.textContent.replace(/\s+/g, " ").trim();
        const known = config.catalog.says[said];
        item = log("line", known ? known.text : said, known && known.prompt);
        item.classList.add("playing");
        // No browser voice is assumed: show the words for about as long as saying them takes.
        await this.waitForKey(Math.max(1500, said.length * 70));
      } else {
        const target = new URL(localUrl(verb.textContent.trim(), url));
        const name = target.pathname.split("/").pop();
        const known = config.catalog.files[name];
        item = log("line", known ? known.text : name, known && known.prompt);
        item.classList.add("playing");
        if (target.pathname.endsWith(config.audioPath + name)) {
          target.pathname = config.browserAudioPath + name;  // the browser-friendly variant
        }
        await this.play(target.href, item);
      }
      item.classList.remove("playing");
    }

    async play(src, item) {
      const audio = this.audio;
      audio.src = src;
      const ended = new Promise((resolve) => {
        audio.onended = resolve;
        audio.onerror = resolve;  // the words are on screen; the call goes on
      });
      try {
        await audio.play();
        item.dataset.audio = "playing";
      } catch (e) {
        item.dataset.audio = "blocked";
        return;
      }
      await Promise.race([ended, this.waitForKey(null)]);
      audio.pause();
      item.dataset.audio = audio.ended ? "ended" : "stopped";
    }

    async gather(verb, url) {
      const numDigits = Number(verb.getAttribute("numDigits")) || Infinity;
      const finishOnKey = verb.hasAttribute("finishOnKey") ? verb.getAttribute("finishOnKey") : "#";
      const timeout = 1000 * Number(verb.getAttribute("timeout") || 5);
      this.keys = [];
      this.listening = true;
      try {
        for (const child of verb.children) {
          if (this.keys.length || !this.active) break;
          await this.speak(child, url);
        }
        let digits = "";
        let finished = "";
        while (this.active) {
          if (!this.keys.length) await this.waitForKey(timeout);
          const key = this.keys.shift();
          if (key === undefined) break;  // timeout
          if (finishOnKey && finishOnKey.includes(key)) { finished = key; break; }
          digits += key;
          if (digits.length >= numDigits) break;
        }
        if (!this.active) return null;
        if (digits || finished) log("you", digits + finished);
        else log("system", transcript.dataset.silence);
        const onEmpty = (verb.getAttribute("actionOnEmptyResult") || "").toLowerCase() === "true";
        if (!digits && !onEmpty) return null;  // fall through to the next verb
        const params = { Digits: digits };
        if (finished) params.FinishedOnKey = finished;
        return [(verb.getAttribute("method") || "POST").toUpperCase(),
          localUrl(verb.getAttribute("action") || url, url), params];
      } finally {
        this.listening = false;
      }
    }
  }

  async function startCall() {
    if (current) return;
    transcript.replaceChildren();
    current = new Call();
    callButton.disabled = true;
    hangupButton.disabled = false;
    setStatus("inCall");
    try {
      await current.run();
      setStatus("ended");
    } catch (e) {
      setStatus("error", e.message);
    } finally {
      if (current) current.hangup();
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
  hangupButton.addEventListener("click", () => {
    if (!current) return;
    log("system", transcript.dataset.gone);
    current.hangup();
  });
  document.querySelectorAll(".key").forEach((button) =>
    button.addEventListener("click", () => press(button.dataset.key)));
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (KEYS.includes(event.key) && event.key.length === 1) {
      event.preventDefault();
      press(event.key);
    }
  });
})();
