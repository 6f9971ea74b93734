// The progress board on a screen in a branch's lobby: today's ticket numbers and where each is,
// from waiting to the back office's answer. Ticket numbers and states only: nothing personal.
// Japanese first, English beneath, in large type. Polls the hub every two seconds.

import { $, el } from "./lib/dom.js";
import { TEXTS } from "./lib/i18n.js";
import { call } from "./lib/api.js";

const POLL_MS = 2000;

const AFTER = ["returned", "submitted", "processing", "done"];
const DONE_SHOWN = 6;  // the latest finished tickets; older ones have left the lobby

const branch = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] ?? "");
const board = { tickets: [], updatedAt: null, error: null };

// A ticket and, once it has left the counter, where its application is: in Japanese, the
// English beneath.
function item(ticket, state) {
  const ja = TEXTS.ja.board.states[state];
  return el("li", { className: "ticket", dataset: { ticket, state } },
    el("span", { className: "number", textContent: ticket }),
    ja ? el("span", { className: "badge" }, ja, el("span", { className: "en", textContent: TEXTS.en.board.states[state] }))
      : null);
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
    const res = await call("GET", `/api/board/${encodeURIComponent(branch)}`, undefined, { cache: "no-store" });
    if (!res.ok || !res.parsed) throw new Error(`HTTP ${res.status}`);
    const body = res.data;
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
