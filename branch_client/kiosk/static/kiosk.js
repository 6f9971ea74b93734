// Resident kiosk: one decision per screen, Japanese first, large type, high contrast.
// It polls the terminal agent on localhost; what the resident does goes back as POSTs with the
// X-Madoguchi-Kiosk header. The card PIN is typed here and posted only to the terminal on this
// machine, which sends it to the card and nowhere else.
const TEXT = {
  ja: {
    welcome: "ご用件をお選びください",
    check_title: "カメラ・マイク・スピーカーの確認", check_camera: "お顔が映っていますか",
    check_mic: "声を出すと、下の棒が伸びます", check_speaker: "音を鳴らす", check_ok: "はい、はじめる",
    speaker_played: "「ポーン」と聞こえましたか。聞こえないときは職員にお知らせください。",
    speaker_none: "この端末ではスピーカーの確認ができません。", back: "もどる", mic_level: "マイクの音量",
    self_view: "あなたの映像", staff_view: "職員の映像", video_soon: "映像をつないでいます…",
    waiting: "職員がまもなく参ります", cancel: "やめる",
    in_call: "職員とつながっています", finish: "終わる",
    thanks: "ご利用ありがとうございました", ended_note: "お忘れ物のないようお気をつけください。",
    position: (n) => (n <= 1 ? "次にご案内します" : `あなたの前に ${n - 1} 人お待ちです`),
    ticket: (t) => `受付番号 ${t}`, wait: (m) => `待ち時間の目安 約 ${m} 分`,
    transferred: "次の担当者におつなぎします。そのままお待ちください。",
    held: "少々お待ちください。職員が確認しています。",
    camera_failed: "カメラが使えません。職員にお知らせしています。",
    microphone_failed: "マイクが使えません。職員にお知らせしています。",
    offline: "ただいま本庁と接続しています。少しお待ちください。", lang: "English",
    card_insert: "マイナンバーカードをカード読み取り機に置いてください",
    card_pin: "暗証番号（数字4けた）を押してください",
    card_reading: "読み取っています。カードを動かさないでください。",
    card_done: "読み取りました。カードをお取りください。",
    tries: (n) => `あと ${n} 回まちがえると、カードがロックされます`,
    pin_pad: "暗証番号の数字ボタン", pin_clear: "訂正", pin_ok: "決定", card_cancel: "カードを使わない",
    pin_short: "数字を4つ押してください",
    card_errors: {
      wrong_pin: (n) => `暗証番号がちがいます。あと ${n} 回まちがえるとロックされます。`,
      card_blocked: "カードがロックされています。暗証番号の再設定は、市役所のマイナンバーカード窓口でできます。このまま職員が手続きを続けます。",
      no_card: "カードが見つかりません。読み取り機にカードを置いてください。",
      card_removed: "読み取りの途中でカードが外れました。もう一度置いてください。",
      not_mynumber_card: "マイナンバーカードではないようです。カードをご確認ください。",
      reader_unavailable: "カード読み取り機が使えません。職員にお知らせしています。",
      several_readers: "読み取り機が複数あります。職員にお知らせしています。",
      card_error: "カードを読み取れませんでした。職員にお知らせしています。",
    },
    doc_title: "書類を台の上に置いてください", doc_view: "書類台の映像",
    doc_found: "書類が見えています。よろしければ「この向きで撮る」を押してください。",
    doc_none: "書類が見つかりません。台の中央に置いてください。", doc_capture: "この向きで撮る",
    doc_sent: "職員に送りました。", doc_mark: "職員が、印の部分についてお聞きしています。",
    doc_busy: "撮影して、職員に送っています。書類を動かさないでください。",
    doc_errors: { no_document: "書類が見つかりませんでした。台の中央に置き直してください。",
                  blank_page: "白紙のようです。文字のある面を上にしてください。",
                  camera_unavailable: "書類カメラが使えません。職員にお知らせしています。",
                  upload_failed: "送信できませんでした。職員にお知らせしています。" },
    doc_error_other: "うまく撮れませんでした。もう一度お願いします。",
    review_hint: "内容をご確認ください", review_ask: "職員に聞く", review_ok: "まちがいありません",
    from_card: "カードから", review_of: (i, n) => `（${i} / ${n}）`,
    sign_title: "枠の中にお名前をお書きください", sign_pad: "署名欄", sign_clear: "書き直す",
    sign_ok: "これで決定", sign_empty: "枠の中にお名前をお書きください",
    rating_title: "本日の窓口はいかがでしたか", rate5: "とても満足", rate4: "満足", rate3: "ふつう",
    rate2: "不満", rate1: "とても不満", rating_skip: "答えない",
  },
  en: {
    welcome: "What can we help you with?",
    check_title: "Camera, microphone and speaker check", check_camera: "Can you see your face?",
    check_mic: "Say something: the bar below grows", check_speaker: "Play a sound", check_ok: "Yes, start",
    speaker_played: "Did you hear a chime? If not, please tell the staff.",
    speaker_none: "This terminal cannot test its speaker.", back: "Back", mic_level: "Microphone level",
    self_view: "Your picture", staff_view: "The staff member", video_soon: "Connecting the video…",
    waiting: "A staff member will be with you shortly", cancel: "Cancel",
    in_call: "You are connected to a staff member", finish: "Finish",
    thanks: "Thank you for visiting", ended_note: "Please remember to take your belongings.",
    position: (n) => (n <= 1 ? "You are next" : `${n - 1} people ahead of you`),
    ticket: (t) => `Ticket ${t}`, wait: (m) => `Estimated wait: about ${m} min`,
    transferred: "We are connecting you to the next staff member. Please wait.",
    held: "One moment, please. The staff member is checking.",
    camera_failed: "The camera is not working. The staff member has been told.",
    microphone_failed: "The microphone is not working. The staff member has been told.",
    offline: "Reconnecting to the head office. Please wait.", lang: "日本語",
    card_insert: "Please place your My Number card on the card reader",
    card_pin: "Please enter your 4-digit PIN",
    card_reading: "Reading. Please do not move the card.",
    card_done: "Done. Please take your card.",
    tries: (n) => `${n} more wrong entries will lock the card`,
    pin_pad: "PIN keypad", pin_clear: "Clear", pin_ok: "OK", card_cancel: "Do not use the card",
    pin_short: "Please press four digits",
    card_errors: {
      wrong_pin: (n) => `Wrong PIN. ${n} more wrong entries will lock the card.`,
      card_blocked: "The card is locked. The city hall's My Number card counter can reset the PIN. The staff member will continue without the card.",
      no_card: "No card found. Please place the card on the reader.",
      card_removed: "The card was moved while reading. Please place it again.",
      not_mynumber_card: "This does not seem to be a My Number card. Please check the card.",
      reader_unavailable: "The card reader is not working. The staff member has been told.",
      several_readers: "Several card readers are attached. The staff member has been told.",
      card_error: "The card could not be read. The staff member has been told.",
    },
    doc_title: "Please place the document on the stand", doc_view: "Document camera",
    doc_found: "The document is in view. Press “Take it like this” when ready.",
    doc_none: "No document found. Please place it in the middle of the stand.", doc_capture: "Take it like this",
    doc_sent: "Sent to the staff member.", doc_mark: "The staff member is asking about the marked part.",
    doc_busy: "Taking the picture and sending it. Please do not move the document.",
    doc_errors: { no_document: "No document found. Please place it in the middle again.",
                  blank_page: "The page looks blank. Please turn the printed side up.",
                  camera_unavailable: "The document camera is not working. The staff member has been told.",
                  upload_failed: "Could not send it. The staff member has been told." },
    doc_error_other: "That did not work. Please try again.",
    review_hint: "Please check the contents", review_ask: "Ask the staff", review_ok: "This is correct",
    from_card: "from the card", review_of: (i, n) => `(${i} of ${n})`,
    sign_title: "Please sign your name in the box", sign_pad: "Signature box", sign_clear: "Start again",
    sign_ok: "Done", sign_empty: "Please sign your name in the box",
    rating_title: "How was our counter today?", rate5: "Very satisfied", rate4: "Satisfied", rate3: "Neutral",
    rate2: "Dissatisfied", rate1: "Very dissatisfied", rating_skip: "Skip",
  },
};
let lang = "ja";
let last = null; // the terminal's status
let checking = null; // the purpose chosen, while the device check is shown
let skippedRating = null; // the session whose rating the resident skipped
let pin = ""; // digits typed so far; cleared as soon as they are sent
let note = { speaker: "", card: "", doc: "", sign: "" };
let shown = null;
const $ = (id) => document.getElementById(id);
const t = (k) => TEXT[lang][k];

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
  $("card-tries").textContent = step === "pin" && task.tries_left != null ? t("tries")(task.tries_left) : "";
  $("pin-dots").textContent = "●".repeat(pin.length) + "○".repeat(4 - pin.length);
  $("pin-dots").setAttribute("aria-label", `${pin.length} / 4`);
  const err = task.error ? errors[task.error] ?? errors.card_error : null;
  $("card-message").textContent = note.card || (typeof err === "function" ? err(task.tries_left ?? 0) : err ?? "");
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
  $("review-title").textContent = `${words(task.title)} ${t("review_of")(task.index ?? 1, task.count ?? 1)}`;
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
  $("ticket").textContent = last.ticket ? t("ticket")(last.ticket) : "";
  $("position").textContent = last.position ? t("position")(last.position) : "";
  $("wait").textContent = last.position ? t("wait")(Math.max(1, Math.ceil((last.estimated_wait_s ?? 0) / 60))) : "";
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
