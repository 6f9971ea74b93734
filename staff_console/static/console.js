// Madoguchi staff console: login, the specialist workspace, and the browser side of the call.
// No framework and no CDN: municipal networks are closed. Tests read `window.madoguchiConsole`.

import { CasePanel } from "./case.js";
import { IntakeView, returnedNotice } from "./intake.js";
import { DocumentViewer } from "./viewer.js";
import { SupervisorDashboard } from "./dashboard.js";

const TEXT = {
  ja: {
    logout: "ログアウト", login_title: "職員ログイン", username: "ユーザー名", password: "パスワード",
    login: "ログイン", workspace: "相談業務", ready: "次の方を受け付ける", away: "離席",
    accept: "応答", decline: "辞退", hold: "保留", unhold: "保留解除", transfer: "転送",
    transfer_to: "転送先", colleague: "職員ID", invite: "参加依頼", leave: "退出", end: "終了",
    finish: "完了", wrap_up_note: "後処理中です。終わったら「完了」を押してください。",
    bad_credentials: "ユーザー名またはパスワードが違います。", login_failed: "ログインできませんでした。",
    online: "接続中", offline: "再接続しています…", connecting: "接続しています…",
    "state.available": "受付中", "state.ringing": "着信中", "state.busy": "対応中",
    "state.wrap_up": "後処理中", "state.away": "離席中", "state.offline": "オフライン",
    idle: "「次の方を受け付ける」を押すと、順番の方につながります。", waiting_offer: "次の方をお待ちしています…",
    ringing: "住民の方からの着信です。", invited: "同席の依頼です。", calling: "住民の方と接続しています…",
    in_call: "通話中", on_hold: "保留中", ended: "終了しました", withdrawn: "着信は取り下げられました。",
    camera_failed: "カメラまたはマイクを使えません。", purpose: "用件", terminal: "端末", ticket: "受付番号",
    priority: "優先", needs: "配慮", lang_need: "通訳", hearing_need: "聴覚支援", seconds: "秒",
    transferred_from: "転送元", with: "同席",
    device_camera: "端末のカメラ", device_microphone: "端末のマイク",
    branch_title: "支所の端末", col_terminal: "端末", col_link: "接続", col_devices: "機器",
    col_session: "受付", start_title: "受付を開始する", start: "開始", cancel: "取消",
    online_yes: "接続中", online_no: "未接続", none: "—", camera: "カメラ", microphone: "マイク",
    "health.ok": "正常", "health.idle": "待機",
    "session.waiting": "待ち", "session.offered": "呼出中", "session.connected": "対応中",
    "session.on_hold": "保留中", "session.wrap_up": "後処理",
    "health.failed": "が使えません（外れた可能性があります）", "health.missing": "が見つかりません",
    "health.in_use": "が他で使われています",
  },
  en: {
    logout: "Log out", login_title: "Staff login", username: "Username", password: "Password",
    login: "Log in", workspace: "Counter", ready: "Take residents", away: "Away",
    accept: "Answer", decline: "Decline", hold: "Hold", unhold: "Resume", transfer: "Transfer",
    transfer_to: "Transfer to", colleague: "Staff ID", invite: "Invite", leave: "Leave", end: "End",
    finish: "Done", wrap_up_note: "Wrap-up. Press “Done” when finished.",
    bad_credentials: "Wrong username or password.", login_failed: "Could not log in.",
    online: "Online", offline: "Reconnecting…", connecting: "Connecting…",
    "state.available": "Available", "state.ringing": "Ringing", "state.busy": "In a session",
    "state.wrap_up": "Wrap-up", "state.away": "Away", "state.offline": "Offline",
    idle: "Press “Take residents” to be connected to the next resident.", waiting_offer: "Waiting for the next resident…",
    ringing: "A resident is calling.", invited: "You are asked to join a session.", calling: "Connecting to the resident…",
    in_call: "In call", on_hold: "On hold", ended: "Ended", withdrawn: "The call was withdrawn.",
    camera_failed: "Camera or microphone unavailable.", purpose: "Purpose", terminal: "Terminal", ticket: "Ticket",
    priority: "Priority", needs: "Needs", lang_need: "Interpreter", hearing_need: "Hearing support", seconds: "s",
    transferred_from: "From", with: "With",
    device_camera: "Terminal camera", device_microphone: "Terminal microphone",
    branch_title: "Branch terminals", col_terminal: "Terminal", col_link: "Link", col_devices: "Devices",
    col_session: "Session", start_title: "Start a session", start: "Start", cancel: "Cancel",
    online_yes: "online", online_no: "offline", none: "—", camera: "camera", microphone: "microphone",
    "health.ok": "ok", "health.idle": "idle",
    "session.waiting": "waiting", "session.offered": "ringing", "session.connected": "in session",
    "session.on_hold": "on hold", "session.wrap_up": "wrap-up",
    "health.failed": " is not working (unplugged?)", "health.missing": " was not found",
    "health.in_use": " is in use elsewhere",
  },
};

let lang = localStorage.getItem("mdg-lang") === "en" ? "en" : "ja";
const t = (key) => TEXT[lang][key] ?? key;
const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  catalog: { purposes: {}, skills: {}, priorities: {} },
  socket: null,
  myState: "offline",
  statusSession: null,  // the session the hub says we hold (also during wrap-up)
  statusVersion: 0,
  offer: null,          // the session.offered message ringing now
  session: null,        // { id, terminalId, purpose, ticket, primary, others }
  held: false,
  pc: null,
  localStream: null,
  // Epoch ms of each step of call setup, for the call-setup benchmark.
  marks: {},
  phase: "idle",
  lastError: null,
  devices: {},          // the terminal's device health, from device.status
};

const epochMs = () => performance.timeOrigin + performance.now();
const label = (kind, key) => state.catalog[kind]?.[key]?.[lang] ?? key;

function render() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  $("lang").textContent = lang === "ja" ? "English" : "日本語";
  const online = state.socket !== null;
  $("ready").disabled = !online || !["away", "offline"].includes(state.myState);
  $("away").disabled = !online || state.myState !== "available";
  $("my-state").dataset.state = state.myState;
  $("my-state").textContent = t(`state.${state.myState}`);
  const link = $("link-state");
  link.textContent = t(link.dataset.state);
  renderRing();
  renderDevices();
  const s = state.session;
  const live = s !== null && state.myState === "busy";
  $("call-controls").hidden = !live;
  $("wrapup-controls").hidden = state.myState !== "wrap_up";
  $("hold").textContent = t(state.held ? "unhold" : "hold");
  $("hold").disabled = !live || s.primary !== state.me?.username;
  $("leave").disabled = !live || (s.primary === state.me?.username && s.others.length === 0);
  $("session-info").textContent = s
    ? `${t("ticket")} ${s.ticket} · ${t("purpose")}: ${label("purposes", s.purpose)} · ${t("terminal")}: ${s.terminalId}`
      + (s.others.length ? ` · ${t("with")}: ${[s.primary, ...s.others].join(", ")}` : "")
    : "";
  const select = $("transfer-skill");
  if (select.options.length !== Object.keys(state.catalog.skills).length + 1) {
    select.replaceChildren(new Option("—", ""));
    for (const key of Object.keys(state.catalog.skills)) select.add(new Option(label("skills", key), key));
  } else {
    for (const option of select.options) if (option.value) option.textContent = label("skills", option.value);
  }
}

function renderDevices() {
  const problems = [];
  for (const device of ["camera", "microphone"]) {
    const health = state.devices[device];
    if (health && !["ok", "idle"].includes(health)) problems.push(t(`device_${device}`) + t(`health.${health}`));
  }
  $("device-alert").hidden = problems.length === 0 || !state.session;
  $("device-alert").textContent = problems.join(" / ");
}

function renderRing() {
  const o = state.offer;
  $("ring").hidden = o === null;
  if (!o) return;
  $("ring-title").textContent = t(o.invited ? "invited" : "ringing");
  const parts = [`${t("ticket")} ${o.ticket}`, `${t("purpose")}: ${label("purposes", o.purpose)}`,
                 `${t("priority")}: ${label("priorities", o.priority)}`];
  if (o.needs_language) parts.push(`${t("lang_need")}: ${o.needs_language}`);
  if (o.needs_hearing) parts.push(t("hearing_need"));
  if (o.transferred_from) parts.push(`${t("transferred_from")}: ${o.transferred_from}`);
  $("ring-info").textContent = parts.join(" · ");
}

function setStatus(key) {
  state.phase = key;
  $("status").textContent = t(key);
  $("status").dataset.phase = key;
  render();
}

// -- login ---------------------------------------------------------------------------------

async function fetchJson(path) {
  const res = await fetch(path, { credentials: "same-origin" });
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
  showFor(await res.json());
}

function showFor(me) {
  if (me.role === "branch_staff") showBranch(me);
  else if (me.role === "supervisor") showSupervisor(me);
  else if (me.role === "backoffice") showIntake(me);
  else showWorkspace(me);
}

async function showIntake(me) {
  state.me = me;
  $("login-view").hidden = true;
  $("who").hidden = false;
  $("who-name").textContent = `${me.display_name} (${me.role})`;
  connect(0);
  await intakeView.show();
}

async function showSupervisor(me) {
  state.me = me;
  $("login-view").hidden = true;
  $("who").hidden = false;
  $("who-name").textContent = `${me.display_name} (${me.role})`;
  state.catalog = (await fetchJson("/api/catalog")) ?? state.catalog;
  connect(0);
  await dashboard.show(state.catalog);
}

async function onLogout() {
  await fetch("/api/logout", { method: "POST" });
  location.reload();
}

// -- branch staff --------------------------------------------------------------------------

let branchTimer = null;

async function showBranch(me) {
  state.me = me;
  $("login-view").hidden = true;
  $("branch-view").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = `${me.display_name} (${me.role})`;
  state.catalog = (await fetchJson("/api/catalog")) ?? state.catalog;
  fillSelect($("start-purpose"), state.catalog.purposes, "purposes");
  fillSelect($("start-priority"), state.catalog.priorities, "priorities");
  connect(0);
  await refreshBranch();
  branchTimer ??= setInterval(refreshBranch, 2000);
}

function fillSelect(select, entries, kind) {
  select.replaceChildren(...Object.keys(entries).map((k) => new Option(label(kind, k), k)));
}

function health(value) {
  return t(`health.${value}`) + (["ok", "idle"].includes(value) ? "" : " ⚠");
}

async function refreshBranch() {
  const body = await fetchJson("/api/branch/terminals");
  if (!body) return;
  state.terminals = body.terminals;
  const rows = body.terminals.map((term) => {
    const tr = document.createElement("tr");
    tr.dataset.terminal = term.terminal_id;
    const session = term.session;
    const cells = [
      `${term.name} (${term.terminal_id})`,
      t(term.online ? "online_yes" : "online_no"),
      `${t("camera")}: ${health(term.camera)} · ${t("microphone")}: ${health(term.microphone)}`,
      session ? `${session.ticket} ${label("purposes", session.purpose)} · ${t(`session.${session.state}`)}` : t("none"),
    ];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const td = document.createElement("td");
    if (session) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary cancel";
      button.textContent = t("cancel");
      button.addEventListener("click", () => send({ type: "terminal.cancel", terminal_id: term.terminal_id }));
      td.append(button);
    }
    tr.append(td);
    return tr;
  });
  $("terminal-rows").replaceChildren(...rows);
  const select = $("start-terminal");
  const chosen = select.value;
  select.replaceChildren(...body.terminals.filter((x) => !x.session)
    .map((x) => new Option(`${x.name} (${x.terminal_id})`, x.terminal_id)));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

function onStartSession(event) {
  event.preventDefault();
  $("branch-error").textContent = "";
  const terminal = $("start-terminal").value;
  if (!terminal) return;
  send({
    type: "terminal.start", terminal_id: terminal, purpose: $("start-purpose").value,
    priority: $("start-priority").value || null,
    needs_language: $("start-language").value.trim() || null,
    needs_hearing: $("start-hearing").checked,
  });
  setTimeout(refreshBranch, 300);
}

function showLogin() {
  $("login-view").hidden = false;
  $("workspace-view").hidden = true;
  $("who").hidden = true;
  render();
}

async function showWorkspace(me) {
  state.me = me;
  $("login-view").hidden = true;
  $("workspace-view").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = `${me.display_name} (${me.role})`;
  state.catalog = (await fetchJson("/api/catalog")) ?? state.catalog;
  setStatus("idle");
  startCamera();
  connect(0);
  if (me.role === "specialist") {
    const notice = () => returnedNotice($("returned-notice"), () => lang).catch(() => {});
    notice();
    setInterval(notice, 30_000);  // the back office's returns: a notice, not a live figure
  }
}

// -- signaling -----------------------------------------------------------------------------

function connect(attempt) {
  const link = $("link-state");
  link.dataset.state = attempt === 0 ? "connecting" : "offline";
  render();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  let opened = false;
  ws.onopen = () => {
    opened = true;
    state.socket = ws;
    link.dataset.state = "online";
    render();
  };
  ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  ws.onclose = () => {
    state.socket = null;
    link.dataset.state = "offline";
    render();
    const next = opened ? 1 : attempt + 1;
    const delay = Math.min(10000, 250 * 2 ** Math.min(next, 6)) * (0.5 + Math.random());
    setTimeout(() => connect(next), delay);
  };
}

function send(message) {
  if (state.socket?.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(message));
}

async function onMessage(msg) {
  casePanel.onMessage(msg);
  documentViewer.onMessage(msg);
  dashboard.onMessage(msg);
  switch (msg.type) {
    case "specialist.status":
      // Hub processes publish concurrently: a status older than one we have seen is stale.
      if (msg.version < state.statusVersion) break;
      state.statusVersion = msg.version;
      state.myState = msg.state;
      state.statusSession = msg.session_id;
      if (!msg.session_id && state.session) hangUp("ended");
      if (msg.state !== "ringing") state.offer = null;
      if (msg.state === "available" && !state.session) setStatus("waiting_offer");
      else render();
      break;
    case "session.offered":
      state.offer = msg;
      state.marks.offeredAt = epochMs();
      setStatus("ringing");
      break;
    case "session.withdrawn":
      if (state.offer?.session_id === msg.session_id) { state.offer = null; setStatus("withdrawn"); }
      break;
    case "session.assigned": {
      state.marks.assignedAt = epochMs();
      const fresh = state.session?.id !== msg.session_id;
      state.offer = null;
      state.session = { id: msg.session_id, terminalId: msg.terminal_id, purpose: msg.purpose,
                        ticket: msg.ticket, primary: msg.primary, others: msg.others };
      state.held = msg.state === "on_hold";
      casePanel.open(state.session, msg.purpose);
      documentViewer.open(state.session);
      if (fresh || !state.pc || ["failed", "closed"].includes(state.pc.connectionState)) {
        setStatus("calling");
        await startCall();
      } else render();
      break;
    }
    case "session.participants":
      if (state.session?.id === msg.session_id) {
        state.session.primary = msg.primary;
        state.session.others = msg.others;
        render();
      }
      break;
    case "session.held":
      if (state.session?.id === msg.session_id) {
        state.held = msg.on;
        setStatus(msg.on ? "on_hold" : "in_call");
      }
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
    case "device.status": {
      state.devices = { camera: msg.camera, microphone: msg.microphone };
      renderDevices();
      break;
    }
    case "error":
      state.lastError = msg;
      if (state.me?.role === "branch_staff") $("branch-error").textContent = msg.message;
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

function onAccept() {
  if (!state.offer) return;
  state.marks = { acceptedAt: epochMs() };
  send({ type: "session.accept", session_id: state.offer.session_id });
}

function onDecline() {
  if (!state.offer) return;
  send({ type: "session.decline", session_id: state.offer.session_id });
  state.offer = null;
  render();
}

async function startCall() {
  const session = state.session;
  state.pc?.close();
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
      if (!state.marks.firstFrameAt) state.marks.firstFrameAt = epochMs();
      if (state.pc === pc) setStatus(state.held ? "on_hold" : "in_call");
    });
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected") state.marks.connectedAt = epochMs();
    if (pc.connectionState === "failed" && state.pc === pc && state.session === session) {
      startCall();  // the terminal restarted or the network changed: call again
    }
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

function sessionCommand(type, extra = {}) {
  if (state.session) send({ type, session_id: state.session.id, ...extra });
}

function onTransfer() {
  const skill = $("transfer-skill").value;
  const user = $("transfer-user").value.trim();
  if (!skill && !user) return;
  sessionCommand("session.transfer", user ? { to_user: user } : { to_skill: skill });
}

function hangUp(statusKey) {
  casePanel.close();
  documentViewer.close();
  state.pc?.close();
  state.pc = null;
  state.session = null;
  state.held = false;
  $("remote-video").srcObject = null;
  setStatus(statusKey);
}

// -- test and benchmark hooks ---------------------------------------------------------------

window.madoguchiConsole = {
  get phase() { return state.phase; },
  get myState() { return state.myState; },
  get offer() { return state.offer; },
  get sessionId() { return state.session?.id ?? null; },
  get participants() { return state.session ? [state.session.primary, ...state.session.others] : []; },
  get connectionState() { return state.pc?.connectionState ?? "closed"; },
  get lastError() { return state.lastError; },
  get devices() { return { ...state.devices }; },
  get terminals() { return state.terminals ?? []; },
  get timings() { return { ...state.marks }; },
  get intake() { return intakeView.snapshot(); },
  async returned() { return returnedNotice($("returned-notice"), () => lang); },
  get case() { return casePanel.snapshot(); },
  get documents() { return documentViewer.snapshot(); },
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
$("start-form").addEventListener("submit", onStartSession);
$("logout").addEventListener("click", onLogout);
$("ready").addEventListener("click", () => send({ type: "specialist.set_state", state: "available" }));
$("away").addEventListener("click", () => send({ type: "specialist.set_state", state: "away" }));
$("accept").addEventListener("click", onAccept);
$("decline").addEventListener("click", onDecline);
$("hold").addEventListener("click", () => sessionCommand("session.hold", { on: !state.held }));
$("transfer").addEventListener("click", onTransfer);
$("invite").addEventListener("click", () => {
  const user = $("invite-user").value.trim();
  if (user) sessionCommand("session.invite", { user });
});
$("leave").addEventListener("click", () => sessionCommand("session.leave"));
$("end").addEventListener("click", () => sessionCommand("session.end", { reason: "completed" }));
$("finish").addEventListener("click", () => {
  const id = state.statusSession;
  if (id) send({ type: "session.finish", session_id: id });
});
$("lang").addEventListener("click", () => {
  lang = lang === "ja" ? "en" : "ja";
  localStorage.setItem("mdg-lang", lang);
  casePanel.render();
  if (!$("intake-view").hidden) intakeView.render();
  documentViewer.render();
  if (state.me) setStatus(state.phase); else render();
});

const casePanel = new CasePanel($("case"), { send, lang: () => lang });
const intakeView = new IntakeView($("intake-view"), { lang: () => lang });
const documentViewer = new DocumentViewer($("documents"), { send, lang: () => lang });
const dashboard = new SupervisorDashboard($("supervisor-view"), { send, lang: () => lang });

const me = await fetchJson("/api/me");
if (me) showFor(me); else showLogin();
