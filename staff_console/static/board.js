// The progress board on a screen in a branch's lobby: today's ticket numbers and where each is,
// from waiting to the back office's answer. Ticket numbers and states only: nothing personal.
// Japanese first, English beneath, in large type. Polls the hub every two seconds.

const POLL_MS = 2000;

const STATES = {
  submitted: { ja: "受付済み", en: "Submitted" },
  processing: { ja: "処理中", en: "Processing" },
  done: { ja: "完了", en: "Done" },
  returned: { ja: "窓口へお越しください", en: "Please see the staff" },
};
const AFTER = ["returned", "submitted", "processing", "done"];
const DONE_SHOWN = 6;  // the latest finished tickets; older ones have left the lobby

const $ = (id) => document.getElementById(id);
const branch = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] ?? "");
const board = { tickets: [], updatedAt: null, error: null };

function item(ticket, state) {
  const li = document.createElement("li");
  li.className = "ticket";
  li.dataset.ticket = ticket;
  li.dataset.state = state;
  const number = document.createElement("span");
  number.className = "number";
  number.textContent = ticket;
  li.append(number);
  const words = STATES[state];
  if (words) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.append(words.ja);
    const en = document.createElement("span");
    en.className = "en";
    en.textContent = words.en;
    badge.append(en);
    li.append(badge);
  }
  return li;
}

function render() {
  const by = (state) => board.tickets.filter((t) => t.state === state);
  $("list-waiting").replaceChildren(...by("waiting").map((t) => item(t.ticket, t.state)));
  $("list-in_session").replaceChildren(...by("in_session").map((t) => item(t.ticket, t.state)));
  const done = by("done").reverse().slice(0, DONE_SHOWN);
  const after = [...AFTER.slice(0, 3).flatMap((state) => by(state)), ...done];
  $("list-after").replaceChildren(...after.map((t) => item(t.ticket, t.state)));
  $("board-error").hidden = board.error === null;
}

function tick() {
  const now = new Date();
  $("board-clock").textContent = now.toLocaleTimeString("ja-JP", {
    hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo",
  });
}

async function poll() {
  try {
    const res = await fetch(`/api/board/${encodeURIComponent(branch)}`, { cache: "no-store" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await res.json();
    board.tickets = body.tickets;
    board.updatedAt = body.generated_at;
    board.error = null;
  } catch (err) {
    board.error = String(err);
  }
  render();
}

window.madoguchiBoard = {
  get tickets() { return board.tickets.map((t) => ({ ...t })); },
  get updatedAt() { return board.updatedAt; },
  get error() { return board.error; },
};

tick();
setInterval(tick, 10_000);
await poll();
setInterval(poll, POLL_MS);
