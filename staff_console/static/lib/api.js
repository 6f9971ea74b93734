// The staff pages' client of the hub: its HTTP API (JSON both ways, the login cookie sent along
// because every page is served by the hub itself) and its WebSocket.
//
// Errors come back as the hub sends them, `{error: code, message}` in `data`: a page turns the
// code into its own words with i18n.errorText. A network failure rejects, so a caller that
// retries (the case panel's submission) sees it.

// The answer to one request: ok and status as fetch has them, data the JSON body (`{}` when the
// body is not JSON), parsed whether it was.
export async function call(method, path, body, init = {}) {
  const res = await fetch(path, {
    method, headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin", ...init,
  });
  let data = {};
  let parsed = false;
  try {
    data = await res.json();
    parsed = true;
  } catch { /* an empty or non-JSON body: a proxy's error page, say */ }
  return { ok: res.ok, status: res.status, data, parsed };
}

// The JSON body of a successful GET, else null.
export async function getJson(path) {
  const res = await call("GET", path);
  return res.ok && res.parsed ? res.data : null;
}

// Who is logged in on this browser (null: nobody).
export const me = () => getJson("/api/me");

export const login = (username, password) => call("POST", "/api/login", { username, password });

export const logout = () => call("POST", "/api/logout");

// The hub's WebSocket, reconnecting with a jittered exponential back-off (0.25 s doubling up to
// 10 s; back to the start once a connection has opened). onState hears "connecting" (the first
// attempt), "online" and "offline"; onMessage each frame, parsed.
export class HubSocket {
  constructor({ onState, onMessage }) {
    this.onState = onState;
    this.onMessage = onMessage;
    this.socket = null;  // the open connection, or null
  }

  get open() { return this.socket !== null; }

  connect(attempt = 0) {
    this.onState(attempt === 0 ? "connecting" : "offline");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.socket = ws;
      this.onState("online");
    };
    ws.onmessage = (event) => this.onMessage(JSON.parse(event.data));
    ws.onclose = () => {
      this.socket = null;
      this.onState("offline");
      const next = opened ? 1 : attempt + 1;
      const delay = Math.min(10000, 250 * 2 ** Math.min(next, 6)) * (0.5 + Math.random());
      setTimeout(() => this.connect(next), delay);
    };
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
