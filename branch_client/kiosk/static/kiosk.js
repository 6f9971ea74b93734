// Resident kiosk: one decision per screen, Japanese first, large type, high contrast.
// It polls the terminal agent on localhost; what the resident does goes back as POSTs with the
// X-Madoguchi-Kiosk header. The card PIN is typed here and posted only to the terminal on this
// machine, which sends it to the card and nowhere else.
// Its words are in texts.ja.js and texts.en.js: one table per language, the same keys in each.
import ja from "./texts.ja.js";
import en from "./texts.en.js";

const TEXTS = { ja, en };

let lang = "ja";
let last = null; // the terminal's status
let checking = null; // the purpose chosen, while the device check is shown
let skippedRating = null; // the session whose rating the resident skipped
let pin = ""; // digits typed so far; cleared as soon as they are sent
let note = { speaker: "", card: "", doc: "", sign: "" };
let shown = null;
const $ = (id) => document.getElementById(id);
// `text` with each `{name}` replaced by vars[name]; a placeholder without a value stays as it is.
const format = (text, vars) => text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
// The text under k in the resident's language (or a group of texts); vars fill its placeholders.
const t = (k, vars) => {
  const value = TEXTS[lang][k];
  return vars === undefined || typeof value !== "string" ? value : format(value, vars);
};

async function post(path, body) {
  try {
    const res = await fetch(path, { method: "POST", body: JSON.stringify(body ?? {}),
      headers: { "Content-Type": "application/json", "X-Madoguchi-Kiosk": "1" } });
    const data = await res.json().catch(() => ({}));
    if (res.ok && data.phase) last = data;
    render();
    return { ok: res.ok, data };
  } catch {
    return { ok: false, data: {} };
  }
}

function screenFor(s) {
  if (!s) return "idle";
  const task = s.task?.kind;
  if (["waiting"].includes(s.phase)) return "waiting";
  if (["connected", "in_call"].includes(s.phase)) {
    if (task === "card" || task === "document" || task === "review" || task === "sign") return task;
    return "call";
  }
  if (s.phase === "ended") {
    return s.ask_rating && s.rated == null && skippedRating !== s.session_id ? "rating" : "ended";
  }
  return checking ? "check" : "idle";
}

// The specialist's video: Motion-JPEG read with fetch and painted as soon as each picture is
// decoded (an <img> with a multipart source paints later). A slow decode skips to the newest.
class MjpegCanvas {
  constructor(canvas) { this.canvas = canvas; this.g = canvas.getContext("2d"); this.url = null; this.frames = 0; }
  show(url) {
    if (url === this.url) return;
    this.abort?.abort();
    this.url = url;
    if (url) { this.abort = new AbortController(); this.read(url, this.abort.signal); }
  }
  async read(url, signal) {
    try {
      const res = await fetch(url, { signal, cache: "no-store" });
      const reader = res.body.getReader();
      let buf = new Uint8Array(0);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const joined = new Uint8Array(buf.length + value.length);
        joined.set(buf); joined.set(value, buf.length);
        buf = joined;
        for (;;) {
          const headEnd = indexOfBlankLine(buf);
          if (headEnd < 0) break;
          const head = new TextDecoder().decode(buf.subarray(0, headEnd));
          const m = /Content-Length:\s*(\d+)/i.exec(head);
          const start = headEnd + 4;
          if (!m) { buf = buf.subarray(start); continue; }
          const end = start + Number(m[1]);
          if (buf.length < end) break;
          this.paint(buf.slice(start, end));
          buf = buf.subarray(end);
        }
      }
    } catch { /* aborted, or the terminal restarted */ }
    if (this.url === url && !signal.aborted) {
      this.url = null;
      setTimeout(() => this.show(url), 500);
    }
  }
  async paint(jpeg) {
    if (this.busy) { this.next = jpeg; return; }
    this.busy = true;
    try {
      const bitmap = await createImageBitmap(new Blob([jpeg], { type: "image/jpeg" }));
      if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
        this.canvas.width = bitmap.width; this.canvas.height = bitmap.height;
      }
      this.g.drawImage(bitmap, 0, 0);
      bitmap.close();
      this.canvas.dataset.frames = String(++this.frames);
    } catch { /* a damaged picture: wait for the next */ }
    this.busy = false;
    if (this.next) { const next = this.next; this.next = null; this.paint(next); }
  }
}
function indexOfBlankLine(buf) {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}
const staffVideo = new MjpegCanvas(document.getElementById("staff-video"));

function setStream(img, url) {
  // An <img> with a Motion-JPEG source keeps its connection open: drop it when hidden.
  if (url && img.dataset.src !== url) { img.src = url; img.dataset.src = url; }
  if (!url && img.dataset.src) { img.removeAttribute("src"); delete img.dataset.src; }
}

function renderCard(task) {
  const errors = t("card_errors");
  const step = task.step;
  $("card-title").textContent = step === "pin" ? t("card_pin") : step === "reading" ? t("card_reading")
    : step === "done" ? t("card_done") : t("card_insert");
  $("card-insert").hidden = !(step === "insert" || step === "error");
  $("pin-form").hidden = step !== "pin";
  $("card-tries").textContent = step === "pin" && task.tries_left != null ? t("tries", { tries: task.tries_left }) : "";
  $("pin-dots").textContent = "●".repeat(pin.length) + "○".repeat(4 - pin.length);
  $("pin-dots").setAttribute("aria-label", `${pin.length} / 4`);
  const err = task.error ? errors[task.error] ?? errors.card_error : null;
  $("card-message").textContent = note.card || (err === null ? "" : format(err, { tries: task.tries_left ?? 0 }));
}

function renderDocument(task) {
  setStream($("doc-preview"), "/video/document.mjpg");
  const poly = $("doc-outline").querySelector("polygon");
  if (task.outline && task.frame) {
    $("doc-outline").setAttribute("viewBox", `0 0 ${task.frame[0]} ${task.frame[1]}`);
    poly.setAttribute("points", task.outline.map((p) => p.join(",")).join(" "));
  } else {
    poly.setAttribute("points", "");
  }
  const busy = ["capturing", "processing", "uploading"].includes(task.step);
  const failed = task.step === "error" ? (t("doc_errors")[task.error] ?? t("doc_error_other")) : null;
  $("doc-hint").textContent = failed ?? (busy ? t("doc_busy") : task.step === "done" ? t("doc_sent")
    : note.doc || (task.outline ? t("doc_found") : t("doc_none")));
  $("doc-capture").disabled = task.step !== "placing";
}

function renderReview(task) {
  const words = (x) => (typeof x === "string" ? x : x?.[lang] ?? x?.ja ?? "");
  $("review-title").textContent = `${words(task.title)} ${t("review_of", { index: task.index ?? 1, count: task.count ?? 1 })}`;
  const dl = $("review-fields");
  dl.replaceChildren();
  for (const f of task.fields ?? []) {
    const dt = document.createElement("dt");
    dt.textContent = words(f.label);
    const dd = document.createElement("dd");
    dd.textContent = f.value ?? "";
    if (f.from_card) {
      const tag = document.createElement("span");
      tag.className = "from-card";
      tag.textContent = t("from_card");
      dd.append(" ", tag);
    }
    dl.append(dt, dd);
  }
}

// The welcome buttons: the purposes the hub gave the terminal (id, ja, en), in the catalog's
// order; the pictogram by id from the page's template, a generic one for an id it does not have.
let purposesShown = "";
function renderPurposes(purposes) {
  const box = $("purposes");
  const key = JSON.stringify(purposes);
  if (key !== purposesShown) {
    purposesShown = key;
    const pictograms = $("pictograms").content;
    box.replaceChildren(...purposes.map((p) => {
      const button = document.createElement("button");
      Object.assign(button, { type: "button", className: "purpose" });
      button.dataset.purpose = p.id;
      const icon = [...pictograms.children].find((i) => i.dataset.pictogram === p.id)
        ?? pictograms.querySelector("[data-pictogram=generic]");
      button.append(icon.cloneNode(true), document.createElement("span"));
      return button;
    }));
  }
  purposes.forEach((p, i) => { box.children[i].lastChild.textContent = p[lang] || p.ja; });
}

function render() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-alt]")) el.alt = t(el.dataset.i18nAlt);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  $("lang").textContent = t("lang");
  const screen = screenFor(last);
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== `screen-${screen}`;
  document.body.dataset.screen = screen;
  if (shown !== screen) {
    shown = screen;
    $(`${screen === "ended" ? "ended" : screen}-title`)?.focus({ preventScroll: true });
    if (screen !== "card") pin = "";
    note = { speaker: "", card: "", doc: "", sign: "" };
  }
  setStream($("check-preview"), screen === "check" ? "/video/self.mjpg" : null);
  setStream($("self-video"), screen === "call" ? "/video/self.mjpg" : null);
  staffVideo.show(screen === "call" ? "/video/staff.mjpg" : null);
  if (screen !== "document") setStream($("doc-preview"), null);
  if (!last) return;
  renderPurposes(last.purposes ?? []);
  document.body.dataset.phase = last.phase;
  const level = Math.max(0, Math.min(100, Math.round(((last.mic_level_db ?? -90) + 60) * 100 / 60)));
  $("mic-bar").style.width = `${level}%`;
  $("mic-meter").setAttribute("aria-valuenow", String(level));
  $("speaker-result").textContent = note.speaker;
  $("ticket").textContent = last.ticket ? t("ticket", { ticket: last.ticket }) : "";
  $("position").textContent = !last.position ? ""
    : last.position <= 1 ? t("position_next") : t("position_ahead", { ahead: last.position - 1 });
  const minutes = Math.max(1, Math.ceil((last.estimated_wait_s ?? 0) / 60));
  $("wait").textContent = last.position ? t("wait", { minutes }) : "";
  $("waiting-title").textContent = last.transferred ? t("transferred") : t("waiting");
  const bad = ["failed", "missing", "in_use"];
  $("held").textContent = last.held ? t("held") : bad.includes(last.camera) ? t("camera_failed")
    : bad.includes(last.microphone) ? t("microphone_failed") : "";
  $("staff-wait").hidden = Boolean(last.views?.staff?.live);
  $("staff-video").hidden = !last.views?.staff?.live;
  $("link").textContent = last.link === "online" ? "" : t("offline");
  $("ended-note").textContent = t("ended_note");
  const mark = screen === "call" && last.document_mark?.has_page ? last.document_mark : null;
  $("mark-panel").hidden = !mark;
  if (mark) {
    const src = `/api/document/page/${encodeURIComponent(mark.document_id)}.jpg`;
    if ($("mark-page").dataset.src !== src) { $("mark-page").src = src; $("mark-page").dataset.src = src; }
    Object.assign($("mark-box").style, { left: `${mark.x / 100}%`, top: `${mark.y / 100}%`,
                                         width: `${mark.w / 100}%`, height: `${mark.h / 100}%` });
  }
  if (screen === "card") renderCard(last.task);
  if (screen === "document") renderDocument(last.task);
  if (screen === "review") renderReview(last.task);
}

async function poll() {
  try {
    const res = await fetch("/api/status", { cache: "no-store" });
    if (res.ok) { last = await res.json(); render(); }
  } catch { /* the terminal agent restarts; keep polling */ }
  setTimeout(poll, 250);
}

// -- welcome and device check
$("purposes").addEventListener("click", (event) => {
  const b = event.target.closest(".purpose");
  if (b) { checking = b.dataset.purpose; render(); }
});
$("check-back").addEventListener("click", () => { checking = null; render(); });
$("check-ok").addEventListener("click", async () => {
  const purpose = checking;
  checking = null;
  await post("/api/start", { purpose });
});
$("speaker-test").addEventListener("click", async () => {
  const { data } = await post("/api/speaker-test");
  note.speaker = data.played ? t("speaker_played") : t("speaker_none");
  render();
});
$("cancel").addEventListener("click", () => post("/api/end"));
$("hangup").addEventListener("click", () => post("/api/end"));

// -- the card PIN: digits stay in this page until sent to the terminal on this machine
for (const key of document.querySelectorAll(".keypad [data-key]")) {
  key.addEventListener("click", () => {
    const k = key.dataset.key;
    if (k === "clear") pin = "";
    else if (pin.length < 4) pin += k;
    note.card = "";
    render();
  });
}
$("pin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (pin.length !== 4) { note.card = t("pin_short"); render(); return; }
  const typed = pin;
  pin = "";
  render();
  await post("/api/card/pin", { pin: typed });
});
$("card-cancel").addEventListener("click", () => post("/api/card/cancel"));

// -- documents
$("doc-capture").addEventListener("click", async () => {
  const { ok } = await post("/api/document/capture");
  note.doc = ok ? t("doc_sent") : t("doc_none");
  render();
});

// -- review and signature
$("review-ok").addEventListener("click", () => post("/api/review", { confirmed: true, form: last?.task?.procedure }));
$("review-ask").addEventListener("click", () => post("/api/review", { confirmed: false, form: last?.task?.procedure }));
const pad = $("sign-pad");
let strokes = [];
let drawing = null;
function padPoint(event) {
  const r = pad.getBoundingClientRect();
  const inside = (v, max) => Math.min(max, Math.max(0, Math.round(v)));  // the pen may leave the box
  return [inside((event.clientX - r.left) * pad.width / r.width, pad.width),
          inside((event.clientY - r.top) * pad.height / r.height, pad.height), Math.round(event.timeStamp)];
}
function redraw() {
  const g = pad.getContext("2d");
  g.clearRect(0, 0, pad.width, pad.height);
  g.lineWidth = 6; g.lineCap = "round"; g.lineJoin = "round"; g.strokeStyle = "#111";
  for (const s of strokes) {
    g.beginPath();
    s.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
    g.stroke();
  }
}
pad.addEventListener("pointerdown", (e) => { drawing = [padPoint(e)]; strokes.push(drawing); pad.setPointerCapture(e.pointerId); });
pad.addEventListener("pointermove", (e) => { if (drawing) { drawing.push(padPoint(e)); redraw(); } });
pad.addEventListener("pointerup", () => { drawing = null; });
$("sign-clear").addEventListener("click", () => { strokes = []; redraw(); });
$("sign-ok").addEventListener("click", async () => {
  if (!strokes.some((s) => s.length > 1)) { $("sign-title").textContent = t("sign_empty"); return; }
  const { ok, data } = await post("/api/sign", { strokes, width: pad.width, height: pad.height });
  if (ok) { strokes = []; redraw(); }
  else if (data.error === "hub_unreachable") $("sign-title").textContent = t("offline");
});

// -- rating
for (const b of document.querySelectorAll(".rating")) {
  b.addEventListener("click", () => post("/api/rate", { score: Number(b.dataset.score) }));
}
$("rating-skip").addEventListener("click", () => { skippedRating = last?.session_id; render(); });

$("lang").addEventListener("click", () => { lang = lang === "ja" ? "en" : "ja"; render(); });
render();
poll();
