// Resident kiosk: one decision per screen, Japanese first. Polls the terminal on localhost.
const TEXT = {
  ja: { welcome: "ご用件をお選びください", moving: "引っ越し", birth: "出生", certificate: "証明書",
        other: "その他のご相談", waiting: "職員がまもなく参ります", cancel: "やめる",
        in_call: "職員とつながっています", speak: "画面に向かってお話しください", finish: "終わる",
        thanks: "ご利用ありがとうございました", position: (n) => (n <= 1 ? "次にご案内します" : `あなたの前に ${n - 1} 人お待ちです`),
        ticket: (t) => `受付番号 ${t}`, wait: (m) => `待ち時間の目安 約 ${m} 分`,
        transferred: "次の担当者におつなぎします。そのままお待ちください。",
        held: "少々お待ちください。職員が確認しています。",
        camera_failed: "カメラが使えません。職員にお知らせしています。",
        offline: "ただいま本庁と接続しています。少しお待ちください。", lang: "English" },
  en: { welcome: "What can we help you with?", moving: "Moving", birth: "Birth", certificate: "Certificates",
        other: "Other matters", waiting: "A staff member will be with you shortly", cancel: "Cancel",
        in_call: "You are connected to a staff member", speak: "Please speak to the screen", finish: "Finish",
        thanks: "Thank you for visiting", position: (n) => (n <= 1 ? "You are next" : `${n - 1} people ahead of you`),
        ticket: (t) => `Ticket ${t}`, wait: (m) => `Estimated wait: about ${m} min`,
        transferred: "We are connecting you to the next staff member. Please wait.",
        held: "One moment, please. The staff member is checking.",
        camera_failed: "The camera is not working. The staff member has been told.",
        offline: "Reconnecting to the head office. Please wait.", lang: "日本語" },
};
let lang = "ja";
let last = null;
const $ = (id) => document.getElementById(id);
const t = (k) => TEXT[lang][k];

function screenFor(phase) {
  if (phase === "waiting") return "waiting";
  if (phase === "connected" || phase === "in_call") return "call";
  if (phase === "ended") return "ended";
  return "idle";
}

function render() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang").textContent = t("lang");
  if (!last) return;
  const screen = screenFor(last.phase);
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== `screen-${screen}`;
  $("ticket").textContent = last.ticket ? t("ticket")(last.ticket) : "";
  $("position").textContent = last.position ? t("position")(last.position) : "";
  $("wait").textContent = last.position ? t("wait")(Math.max(1, Math.ceil((last.estimated_wait_s ?? 0) / 60))) : "";
  $("waiting-title").textContent = last.transferred ? t("transferred") : t("waiting");
  $("held").textContent = last.held ? t("held")
    : (["failed", "missing", "in_use"].includes(last.camera) ? t("camera_failed") : "");
  $("link").textContent = last.link === "online" ? "" : t("offline");
  document.body.dataset.phase = last.phase;
}

async function post(path, body) {
  const res = await fetch(path, { method: "POST", body: JSON.stringify(body ?? {}),
    headers: { "Content-Type": "application/json", "X-Madoguchi-Kiosk": "1" } });
  if (res.ok) { last = await res.json(); render(); }
}

async function poll() {
  try {
    const res = await fetch("/api/status", { cache: "no-store" });
    if (res.ok) { last = await res.json(); render(); }
  } catch { /* the terminal agent restarts; keep polling */ }
  setTimeout(poll, 500);
}

for (const b of document.querySelectorAll(".purpose")) {
  b.addEventListener("click", () => post("/api/start", { purpose: b.dataset.purpose }));
}
$("cancel").addEventListener("click", () => post("/api/end"));
$("hangup").addEventListener("click", () => post("/api/end"));
$("lang").addEventListener("click", () => { lang = lang === "ja" ? "en" : "ja"; render(); });
render();
poll();
