// Madoguchi staff console: login, the specialist workspace, and the browser side of the call.
// No framework and no CDN: municipal networks are closed. Tests read `window.madoguchiConsole`.

const TEXT = {
  ja: {
    logout: "ログアウト", login_title: "職員ログイン", username: "ユーザー名", password: "パスワード",
    login: "ログイン", workspace: "相談業務", next: "次の方を呼ぶ", end: "終了",
    bad_credentials: "ユーザー名またはパスワードが違います。", login_failed: "ログインできませんでした。",
    online: "接続中", offline: "再接続しています…", connecting: "接続しています…",
    idle: "待機中です。「次の方を呼ぶ」で住民の方とつなぎます。", queue_empty: "お待ちの方はいません。",
    calling: "住民の方と接続しています…", in_call: "通話中", ended: "終了しました",
    camera_failed: "カメラまたはマイクを使えません。", purpose: "用件", terminal: "端末",
    "purpose.moving": "引っ越し", "purpose.birth": "出生", "purpose.certificate": "証明書",
    "purpose.other": "その他のご相談",
  },
  en: {
    logout: "Log out", login_title: "Staff login", username: "Username", password: "Password",
    login: "Log in", workspace: "Counter", next: "Next resident", end: "End",
    bad_credentials: "Wrong username or password.", login_failed: "Could not log in.",
    online: "Online", offline: "Reconnecting…", connecting: "Connecting…",
    idle: "Ready. Press “Next resident” to connect.", queue_empty: "Nobody is waiting.",
    calling: "Connecting to the resident…", in_call: "In call", ended: "Ended",
    camera_failed: "Camera or microphone unavailable.", purpose: "Purpose", terminal: "Terminal",
    "purpose.moving": "Moving", "purpose.birth": "Birth", "purpose.certificate": "Certificates",
    "purpose.other": "Other matters",
  },
};

let lang = localStorage.getItem("mdg-lang") === "en" ? "en" : "ja";
const t = (key) => TEXT[lang][key] ?? key;
const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  socket: null,
  session: null,        // { id, terminalId, purpose }
  pc: null,
  localStream: null,
  // Epoch ms of each step of call setup, for the call-setup benchmark.
  marks: { acceptedAt: null, assignedAt: null, offerSentAt: null, answerAt: null,
           connectedAt: null, firstFrameAt: null },
  phase: "idle",
  lastError: null,
};

const epochMs = () => performance.timeOrigin + performance.now();

function render() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang").textContent = lang === "ja" ? "English" : "日本語";
  $("next").disabled = !state.socket || state.session !== null;
  $("end").disabled = state.session === null;
  const link = $("link-state");
  link.textContent = t(link.dataset.state);
  const s = state.session;
  $("session-info").textContent = s ? `${t("purpose")}: ${t(`purpose.${s.purpose}`)} · ${t("terminal")}: ${s.terminalId}` : "";
}

function setStatus(key) {
  state.phase = key;
  $("status").textContent = t(key);
  $("status").dataset.phase = key;
  render();
}

// -- login ---------------------------------------------------------------------------------

async function fetchMe() {
  const res = await fetch("/api/me", { credentials: "same-origin" });
  return res.ok ? res.json() : null;
}

async function onLogin(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const res = await fetch("/api/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    $("login-error").textContent = t(body.error === "bad_credentials" ? "bad_credentials" : "login_failed");
    return;
  }
  showWorkspace(await res.json());
}

async function onLogout() {
  await fetch("/api/logout", { method: "POST" });
  location.reload();
}

function showLogin() {
  $("login-view").hidden = false;
  $("workspace-view").hidden = true;
  $("who").hidden = true;
  render();
}

function showWorkspace(me) {
  state.me = me;
  $("login-view").hidden = true;
  $("workspace-view").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = `${me.display_name} (${me.role})`;
  setStatus("idle");
  startCamera();
  connect(0);
}

// -- signaling -----------------------------------------------------------------------------

function connect(attempt) {
  const link = $("link-state");
  link.dataset.state = attempt === 0 ? "connecting" : "offline";
  render();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  ws.onopen = () => {
    state.socket = ws;
    link.dataset.state = "online";
    render();
  };
  ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  ws.onclose = () => {
    state.socket = null;
    link.dataset.state = "offline";
    render();
    const delay = Math.min(10000, 250 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random());
    setTimeout(() => connect(attempt + 1), delay);
  };
}

function send(message) {
  if (state.socket?.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(message));
}

async function onMessage(msg) {
  switch (msg.type) {
    case "queue.empty":
      setStatus("queue_empty");
      break;
    case "session.assigned":
      state.marks.assignedAt = epochMs();
      state.session = { id: msg.session_id, terminalId: msg.terminal_id, purpose: msg.purpose };
      setStatus("calling");
      await startCall();
      break;
    case "sdp.answer":
      if (state.pc && msg.session_id === state.session?.id) {
        state.marks.answerAt = epochMs();
        await state.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
      }
      break;
    case "ice.candidate":
      if (state.pc && msg.session_id === state.session?.id && msg.candidate) {
        await state.pc.addIceCandidate({ candidate: msg.candidate, sdpMid: msg.sdp_mid,
                                         sdpMLineIndex: msg.sdp_mline_index });
      }
      break;
    case "session.ended":
      if (msg.session_id === state.session?.id) hangUp("ended");
      break;
    case "error":
      state.lastError = msg;
      console.warn("hub refused", msg);
      break;
  }
}

// -- media ---------------------------------------------------------------------------------

async function startCamera() {
  if (state.localStream) return state.localStream;
  try {
    state.localStream = await navigator.mediaDevices.getUserMedia({
      video: { width: 640, height: 480 }, audio: true,
    });
    $("local-video").srcObject = state.localStream;
  } catch (err) {
    console.warn("getUserMedia failed", err);
    setStatus("camera_failed");
  }
  return state.localStream;
}

function onNext() {
  state.marks = { acceptedAt: epochMs(), assignedAt: null, offerSentAt: null, answerAt: null,
                  connectedAt: null, firstFrameAt: null };
  send({ type: "queue.next" });
}

async function startCall() {
  const session = state.session;
  const pc = new RTCPeerConnection({ iceServers: [] });
  state.pc = pc;
  const stream = await startCamera();
  if (stream) for (const track of stream.getTracks()) pc.addTrack(track, stream);
  else {
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  const video = $("remote-video");
  pc.ontrack = (event) => {
    if (event.track.kind !== "video") {
      if (!video.srcObject) video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
      return;
    }
    video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
    video.requestVideoFrameCallback(() => {
      if (state.marks.firstFrameAt === null) state.marks.firstFrameAt = epochMs();
      setStatus("in_call");
    });
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected") state.marks.connectedAt = epochMs();
    if (pc.connectionState === "failed" && state.pc === pc) setStatus("offline");
  };
  // Trickle ICE: the offer goes out at once and candidates follow as Chromium finds them,
  // instead of waiting for gathering to finish (which costs over 100 ms).
  pc.onicecandidate = ({ candidate }) => {
    if (state.pc !== pc) return;
    send({ type: "ice.candidate", session_id: session.id,
           candidate: candidate?.candidate ?? "", sdp_mid: candidate?.sdpMid ?? null,
           sdp_mline_index: candidate?.sdpMLineIndex ?? null });
  };
  await pc.setLocalDescription(await pc.createOffer());
  if (state.session === session) {
    state.marks.offerSentAt = epochMs();
    send({ type: "sdp.offer", session_id: session.id, sdp: pc.localDescription.sdp });
  }
}

function onEnd() {
  if (!state.session) return;
  send({ type: "session.end", session_id: state.session.id, reason: "completed" });
  hangUp("ended");
}

function hangUp(statusKey) {
  state.pc?.close();
  state.pc = null;
  state.session = null;
  $("remote-video").srcObject = null;
  setStatus(statusKey);
}

// -- test and benchmark hooks ---------------------------------------------------------------

window.madoguchiConsole = {
  get phase() { return state.phase; },
  get sessionId() { return state.session?.id ?? null; },
  get connectionState() { return state.pc?.connectionState ?? "closed"; },
  get lastError() { return state.lastError; },
  get timings() { return { ...state.marks }; },
  async inboundStats() {
    const out = { framesDecoded: 0, audioPackets: 0 };
    if (!state.pc) return out;
    (await state.pc.getStats()).forEach((r) => {
      if (r.type !== "inbound-rtp") return;
      if (r.kind === "video") out.framesDecoded += r.framesDecoded ?? 0;
      if (r.kind === "audio") out.audioPackets += r.packetsReceived ?? 0;
    });
    return out;
  },
};

// -- start ---------------------------------------------------------------------------------

$("login-form").addEventListener("submit", onLogin);
$("logout").addEventListener("click", onLogout);
$("next").addEventListener("click", onNext);
$("end").addEventListener("click", onEnd);
$("lang").addEventListener("click", () => {
  lang = lang === "ja" ? "en" : "ja";
  localStorage.setItem("mdg-lang", lang);
  if (state.me) setStatus(state.phase); else render();
});

const me = await fetchMe();
if (me) showWorkspace(me); else showLogin();
