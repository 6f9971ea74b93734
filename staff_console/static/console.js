// Madoguchi staff console: login, the specialist workspace, and the browser side of the call.
// No framework and no CDN: municipal networks are closed. Tests read `window.madoguchiConsole`.

import { CasePanel } from "./case.js";
import { IntakeView, returnedNotice } from "./intake.js";
import { DocumentViewer } from "./viewer.js";
import { SupervisorDashboard } from "./dashboard.js";
import { $ } from "./lib/dom.js";
import { applyTexts, catalogLabel, errorText, lang, textsOf, toggleLang } from "./lib/i18n.js";
import * as api from "./lib/api.js";

const t = textsOf("console");
const label = (kind, key) => catalogLabel(state.catalog, kind, key);

const state = {
  me: null,
  catalog: { purposes: {}, skills: {}, priorities: {} },
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

function render() {
  document.documentElement.lang = lang();
  applyTexts(document, t);
  $("lang").textContent = lang() === "ja" ? "English" : "日本語";
  const online = hub.open;
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

async function onLogin(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const res = await api.login($("username").value, $("password").value);
  if (!res.ok || !res.parsed) {
    $("login-error").textContent = errorText(t, res.data.error, t("login_failed"));
    return;
  }
  showFor(res.data);
}

function showFor(me) {
  if (me.role === "branch_staff") showBranch(me);
  else if (me.role === "supervisor") showSupervisor(me);
  else if (me.role === "backoffice") showIntake(me);
  else showWorkspace(me);
}

// Logged in as `me`: the login form gives way to `view` (when the page shows it, not a panel of
// its own) and the header names who is logged in.
function enter(me, view = null) {
  state.me = me;
  $("login-view").hidden = true;
  if (view) $(view).hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = `${me.display_name} (${me.role})`;
}

async function loadCatalog() {
  state.catalog = (await api.getJson("/api/catalog")) ?? state.catalog;
}

async function showIntake(me) {
  enter(me);
  connect();
  await intakeView.show();
}

async function showSupervisor(me) {
  enter(me);
  await loadCatalog();
  connect();
  await dashboard.show(state.catalog);
}

async function onLogout() {
  await api.logout();
  location.reload();
}

// -- branch staff --------------------------------------------------------------------------

let branchTimer = null;

async function showBranch(me) {
  enter(me, "branch-view");
  await loadCatalog();
  fillSelect($("start-purpose"), state.catalog.purposes, "purposes");
  fillSelect($("start-priority"), state.catalog.priorities, "priorities");
  connect();
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
  const body = await api.getJson("/api/branch/terminals");
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
  enter(me, "workspace-view");
  await loadCatalog();
  setStatus("idle");
  startCamera();
  connect();
  if (me.role === "specialist") {
    const notice = () => returnedNotice($("returned-notice")).catch(() => {});
    notice();
    setInterval(notice, 30_000);  // the back office's returns: a notice, not a live figure
  }
}

// -- signaling -----------------------------------------------------------------------------

const hub = new api.HubSocket({
  onState(linkState) {
    $("link-state").dataset.state = linkState;
    render();
  },
  onMessage: (msg) => onMessage(msg),
});
const send = (message) => hub.send(message);
const connect = () => hub.connect();

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
  async returned() { return returnedNotice($("returned-notice")); },
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
  toggleLang();
  casePanel.render();
  if (!$("intake-view").hidden) intakeView.render();
  documentViewer.render();
  if (state.me) setStatus(state.phase); else render();
});

const casePanel = new CasePanel($("case"), { send });
const intakeView = new IntakeView($("intake-view"));
const documentViewer = new DocumentViewer($("documents"), { send });
const dashboard = new SupervisorDashboard($("supervisor-view"), { send });

const me = await api.me();
if (me) showFor(me); else showLogin();
