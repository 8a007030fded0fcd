// One Gateway v10 connection per tab: HELLO → IDENTIFY (or RESUME), heartbeats with jitter,
// zombie detection (no ACK before the next beat), RESUME after a drop so nothing is missed,
// a fresh IDENTIFY when the session cannot be resumed, and backoff between attempts.

import { supported as zlibSupported, ZlibStream } from "./zlib_stream.js";

const Op = { DISPATCH: 0, HEARTBEAT: 1, IDENTIFY: 2, RESUME: 6, RECONNECT: 7, INVALID_SESSION: 9, HELLO: 10, ACK: 11 };

// GUILDS | GUILD_MEMBERS | GUILD_MODERATION | GUILD_VOICE_STATES | GUILD_PRESENCES |
// GUILD_MESSAGES | GUILD_MESSAGE_REACTIONS | GUILD_MESSAGE_TYPING | DIRECT_MESSAGES |
// DIRECT_MESSAGE_REACTIONS | DIRECT_MESSAGE_TYPING | MESSAGE_CONTENT
export const INTENTS = 1 | 2 | 4 | 128 | 256 | 512 | 1024 | 2048 | 4096 | 8192 | 16384 | 32768;

// Close codes after which trying again cannot help (4004: the token is no good).
const FATAL = new Set([4004, 4010, 4011, 4012, 4013, 4014]);
// Close codes after which the session is gone: connect again with IDENTIFY.
const SESSION_LOST = new Set([4007, 4009]);
// Our own close code when we drop a connection we want to resume (1000 would end the session).
const RESUMABLE_CLOSE = 4000;
// After `online` (or a heartbeat we sent to probe), an answer must come this soon.
const PROBE_MS = 5_000;
const MAX_BACKOFF_MS = 30_000;
const MAX_QUEUED = 50;

const jitter = (ms) => ms * (0.5 + Math.random() * 0.5);

export class Gateway extends EventTarget {
  // gatewayUrl(): Promise<string> (GET /gateway); token(): Promise<string|null> (fresh access token)
  constructor({ gatewayUrl, token }) {
    super();
    this.gatewayUrl = gatewayUrl;
    this.token = token;
    this.state = "offline";
    this.sessionId = null;
    this.resumeUrl = null;
    this.seq = null;
    this.socket = null;
    this.wanted = false; // whether we should be connected at all
    this.opening = false;
    this.attempts = 0;
    this.acked = true;
    this.beatTimer = null;
    this.retryTimer = null;
    this.probeTimer = null;
    this.identifyTimer = null;
    this.queue = [];
    this.counts = { identify: 0, resume: 0 }; // for the status line and tests
    window.addEventListener("online", () => this.onOnline());
    window.addEventListener("offline", () => this.onOffline());
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  connect() {
    this.wanted = true;
    this.open();
  }

  // Ends the session for good (sign-out): close 1000 tells the server not to keep it.
  close() {
    this.wanted = false;
    this.sessionId = this.resumeUrl = this.seq = null;
    this.queue = [];
    this.drop(1000);
    clearTimeout(this.retryTimer);
    this.setState("offline");
  }

  // Views' payloads (member requests, presence) need a session: before READY or RESUMED they
  // wait in a short queue (the server closes 4003 on a payload sent before IDENTIFY).
  send(op, d) {
    if (this.state === "connected" && this.raw(op, d)) return true;
    this.queue.push({ op, d });
    if (this.queue.length > MAX_QUEUED) this.queue.shift();
    return false;
  }

  raw(op, d) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ op, d }));
      return true;
    }
    return false;
  }

  flush() {
    const waiting = this.queue;
    this.queue = [];
    for (const { op, d } of waiting) this.raw(op, d);
  }

  async open() {
    clearTimeout(this.retryTimer);
    // One attempt at a time: a timer and an `online` event may both get here.
    if (!this.wanted || this.socket || this.opening) return;
    const resuming = Boolean(this.sessionId && this.resumeUrl);
    this.setState(resuming ? "resuming" : this.attempts ? "reconnecting" : "connecting");
    let base;
    this.opening = true;
    try {
      base = resuming ? this.resumeUrl : await this.gatewayUrl();
    } catch {
      this.retry();
      return;
    } finally {
      this.opening = false;
    }
    if (!this.wanted || this.socket) return;
    const compress = zlibSupported ? "&compress=zlib-stream" : "";
    const socket = new WebSocket(`${base.replace(/\/$/, "")}/?v=10&encoding=json${compress}`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    // Handlers check the socket is still ours: an abandoned (zombie) one may speak up late.
    const mine = () => this.socket === socket;
    const inflate = compress ? new ZlibStream((text) => mine() && this.onMessage(text)) : null;
    socket.addEventListener("message", (e) => {
      if (!mine()) return;
      if (typeof e.data === "string") this.onMessage(e.data);
      else inflate?.push(new Uint8Array(e.data));
    });
    socket.addEventListener("close", (e) => {
      inflate?.close();
      if (mine()) this.onClose(e.code);
    });
    socket.addEventListener("error", () => {});
  }

  // Forgets the current socket at once: a dead network may hold its close event for minutes.
  drop(code) {
    const socket = this.socket;
    this.socket = null;
    clearInterval(this.beatTimer);
    clearTimeout(this.beatTimer);
    clearTimeout(this.probeTimer);
    clearTimeout(this.identifyTimer);
    if (socket && socket.readyState <= WebSocket.OPEN) {
      try {
        socket.close(code);
      } catch {
        // already closing
      }
    }
  }

  retry() {
    if (!this.wanted) return;
    this.attempts += 1;
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.attempts - 1));
    this.setState(navigator.onLine === false ? "offline" : "reconnecting");
    this.retryTimer = setTimeout(() => this.open(), jitter(delay));
  }

  // A dropped connection we mean to resume: close without ending the session, try again.
  reconnect() {
    this.drop(RESUMABLE_CLOSE);
    this.retry();
  }

  onMessage(data) {
    let payload;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    const { op, d, s, t } = payload;
    if (s !== null && s !== undefined) this.seq = s;
    switch (op) {
      case Op.HELLO:
        this.startHeartbeat(d.heartbeat_interval);
        this.hello();
        break;
      case Op.ACK:
        this.acked = true;
        clearTimeout(this.probeTimer);
        break;
      case Op.HEARTBEAT:
        this.beat();
        break;
      case Op.RECONNECT:
        this.reconnect();
        break;
      case Op.INVALID_SESSION:
        this.invalidSession(d === true);
        break;
      case Op.DISPATCH:
        this.onDispatch(t, d);
        break;
      default:
        break;
    }
  }

  // The token may take a refresh round trip: by then this socket may have been replaced (a
  // zombie reconnect), and a RESUME or IDENTIFY for the old one must not go out on the new.
  async tokenFor(socket) {
    let token;
    try {
      token = await this.token();
    } catch {
      // No usable token right now (the server is unreachable): try again with backoff.
      if (this.socket === socket) this.reconnect();
      return undefined;
    }
    if (this.socket !== socket) return undefined;
    if (!token) {
      this.close();
      return undefined;
    }
    return token;
  }

  async hello() {
    const token = await this.tokenFor(this.socket);
    if (!token) return;
    if (this.sessionId && this.resumeUrl) {
      this.counts.resume += 1;
      this.raw(Op.RESUME, { token, session_id: this.sessionId, seq: this.seq ?? 0 });
    } else {
      this.identify(token);
    }
  }

  identify(token) {
    this.counts.identify += 1;
    this.seq = null;
    this.raw(Op.IDENTIFY, {
      token,
      intents: INTENTS,
      properties: { os: "browser", browser: "trioxide-web", device: "trioxide-web" },
    });
  }

  invalidSession(resumable) {
    if (resumable) {
      this.reconnect();
      return;
    }
    // The session is gone: after 1–5 s (as Discord asks), a new IDENTIFY on this socket.
    this.sessionId = this.resumeUrl = null;
    this.setState("connecting");
    const socket = this.socket;
    this.identifyTimer = setTimeout(async () => {
      const token = await this.tokenFor(socket);
      if (token) this.identify(token);
    }, 1000 + Math.random() * 4000);
  }

  onDispatch(t, d) {
    if (t === "READY") {
      this.sessionId = d.session_id;
      this.resumeUrl = d.resume_gateway_url || null;
      this.attempts = 0;
      this.setState("connected");
    } else if (t === "RESUMED") {
      this.attempts = 0;
      this.setState("connected");
    }
    this.dispatchEvent(new CustomEvent("dispatch", { detail: { t, d } }));
    if (t === "READY" || t === "RESUMED") this.flush();
  }

  startHeartbeat(intervalMs) {
    this.acked = true;
    // The first beat after a random part of the interval, so reconnecting clients spread out.
    this.beatTimer = setTimeout(() => {
      this.beat();
      this.beatTimer = setInterval(() => this.tick(), intervalMs);
    }, intervalMs * Math.random());
  }

  tick() {
    if (!this.acked) {
      // No ACK since the last beat: the connection is a zombie. Resume on a new one.
      this.reconnect();
      return;
    }
    this.beat();
  }

  beat() {
    this.acked = false;
    this.raw(Op.HEARTBEAT, this.seq);
  }

  // The network may be back: try at once (no backoff), or probe an open connection now
  // instead of waiting a whole interval to learn it died meanwhile.
  onOnline() {
    if (!this.wanted) return;
    this.attempts = 0;
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      this.drop(RESUMABLE_CLOSE);
      this.open();
      return;
    }
    this.beat();
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      if (this.acked) return;
      this.drop(RESUMABLE_CLOSE);
      this.open();
    }, PROBE_MS);
  }

  onOffline() {
    if (this.wanted && this.state !== "connected") this.setState("offline");
  }

  onClose(code) {
    this.drop(code);
    if (!this.wanted) return;
    if (FATAL.has(code)) {
      this.wanted = false;
      this.setState("offline");
      this.dispatchEvent(new CustomEvent("fatal", { detail: code }));
      return;
    }
    if (SESSION_LOST.has(code)) this.sessionId = this.resumeUrl = null;
    this.retry();
  }
}
