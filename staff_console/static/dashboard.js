// The supervisor's dashboard in the staff console: today's figures, the load per skill, the
// specialists (with controls for their state and skills), the waiting tickets (with a control to
// move one to another skill), the sessions per branch, and small charts drawn here as inline SVG.
// Fed by `supervisor.snapshot` messages (at most one a second, only on change) and, on opening
// and after every reconnection, by GET /api/supervisor/snapshot. Figures and ticket metadata
// only: nothing about a resident as a person.

import { el, svg } from "./lib/dom.js";
import { catalogLabel, errorText, lang, textsOf } from "./lib/i18n.js";
import { getJson } from "./lib/api.js";

const STATE_ORDER = ["available", "ringing", "busy", "wrap_up", "away", "offline"];
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

const percent = (share) => (share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`);

export class SupervisorDashboard {
  constructor(root, { send }) {
    this.root = root;
    this.send = send;
    this.t = textsOf("dashboard");
    this.catalog = { skills: {}, priorities: {} };
    this.snap = null;
    this.offsetS = 0;       // server clock minus ours, from the snapshot's generated_at
    this.editing = null;    // the specialist whose skills are being edited
    this.error = null;
    this.active = false;
    this.ticker = null;
    document.getElementById("lang")?.addEventListener("click", () => this.render());
    root.addEventListener("click", (event) => this.onClick(event));
    const self = this;
    window.madoguchiDashboard = {  // for tests and screenshots
      get snapshot() { return self.snap; },
      get generatedAt() { return self.snap?.generated_at ?? null; },
      get error() { return self.error; },
    };
  }

  word(group, key) {
    return this.t(group)[key] ?? key;
  }

  label(kind, key) {
    return catalogLabel(this.catalog, kind, key);
  }

  async show(catalog) {
    this.catalog = catalog ?? this.catalog;
    this.active = true;
    this.root.hidden = false;
    this.render();
    await this.refresh();
    this.ticker ??= setInterval(() => this.tick(), 1000);
  }

  async refresh() {
    const snap = await getJson("/api/supervisor/snapshot");
    if (snap) this.update(snap);
  }

  onMessage(msg) {
    if (!this.active) return;
    if (msg.type === "hello") this.refresh();  // (re)connected: do not wait for a change
    else if (msg.type === "supervisor.snapshot") this.update(msg.snapshot);
    else if (msg.type === "error" && msg.ref_type?.startsWith("supervisor.")) {
      this.error = errorText(this.t, msg.code, msg.message);
      this.render();
    }
  }

  update(snap) {
    // Pushes from several hub processes may cross: keep the newest picture.
    if (this.snap && snap.generated_at < this.snap.generated_at) return;
    this.snap = snap;
    this.offsetS = snap.generated_at - Date.now() / 1000;
    this.render();
  }

  now() {
    return Date.now() / 1000 + this.offsetS;
  }

  tick() {
    const now = this.now();
    for (const node of this.root.querySelectorAll("[data-since]")) {
      node.textContent = duration(now - Number(node.dataset.since));
    }
  }

  // -- actions ---------------------------------------------------------------------------------

  onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const { action, user, session } = button.dataset;
    this.error = null;
    if (action === "state") {
      this.send({ type: "supervisor.set_state", user, state: button.dataset.state });
    } else if (action === "edit") {
      this.editing = this.editing === user ? null : user;
      this.render();
    } else if (action === "save-skills") {
      const boxes = this.root.querySelectorAll(`input[data-skill-of="${CSS.escape(user)}"]`);
      const skills = [...boxes].filter((b) => b.checked).map((b) => b.value);
      this.send({ type: "supervisor.set_skills", user, skills });
      this.editing = null;
      this.render();
    } else if (action === "move") {
      const select = this.root.querySelector(`select[data-move="${CSS.escape(session)}"]`);
      if (select?.value) this.send({ type: "supervisor.move_ticket", session_id: session, to_skill: select.value });
    }
  }

  // -- rendering -------------------------------------------------------------------------------

  render() {
    if (!this.active) return;
    const kept = this.keepInputs();
    const snap = this.snap;
    const parts = [el("h2", { id: "sup-title" }, this.t("title"))];
    if (this.error) parts.push(el("p", { className: "error", role: "alert", id: "sup-error" }, this.error));
    if (snap) {
      parts.push(
        el("p", { className: "updated", id: "sup-updated" },
           `${this.t("updated")} ${new Date(snap.generated_at * 1000).toLocaleTimeString(
             lang() === "ja" ? "ja-JP" : "en-GB", { timeZone: "Asia/Tokyo" })}`),
        this.alerts(snap), this.tiles(snap), this.charts(snap), this.skills(snap),
        this.specialists(snap), this.waiting(snap), this.branches(snap), this.intake(snap),
      );
    }
    this.root.replaceChildren(...parts);
    this.restoreInputs(kept);
    this.tick();
  }

  intake(snap) {
    const intake = snap.intake;
    if (!intake) return null;
    const counts = el("p", { className: "intake-counts" }, ...Object.entries(intake.counts).map(([s, n]) =>
      el("span", { className: `pill intake-${s}`, dataset: { state: s } }, `${this.word("intake_state", s)} ${n}`)));
    const rows = intake.dead.map((d) => el("tr", { dataset: { application: d.application_id } },
      el("td", {}, d.application_id.slice(0, 8)), el("td", {}, d.submitted_by ?? ""), el("td", {}, String(d.deliveries))));
    return el("section", { id: "sup-intake" },
      el("h3", {}, this.t("intake_title")), counts,
      rows.length ? el("table", { className: "terminals", id: "sup-dead" },
        el("caption", {}, this.t("dead_caption")),
        ...rows) : null);
  }

  keepInputs() {
    const kept = { values: {}, focus: document.activeElement?.dataset?.keep ?? null };
    for (const node of this.root.querySelectorAll("[data-keep]")) {
      kept.values[node.dataset.keep] = node.type === "checkbox" ? node.checked : node.value;
    }
    return kept;
  }

  restoreInputs(kept) {
    for (const node of this.root.querySelectorAll("[data-keep]")) {
      const value = kept.values[node.dataset.keep];
      if (value === undefined) continue;
      if (node.type === "checkbox") node.checked = value;
      else if ([...(node.options ?? [])].some((o) => o.value === value)) node.value = value;
    }
    if (kept.focus) this.root.querySelector(`[data-keep="${CSS.escape(kept.focus)}"]`)?.focus();
  }

  alerts(snap) {
    const items = snap.alerts.map((a) => {
      const what = a.kind === "abandonment_rate" ? percent(a.value) : a.kind === "waiting" ? `${a.value}` : duration(a.value);
      const limit = a.kind === "abandonment_rate" ? percent(a.threshold) : a.kind === "waiting" ? `${a.threshold}` : duration(a.threshold);
      const scope = a.skill ? `${this.label("skills", a.skill)}: ` : "";
      const bound = this.t("bound", { limit });
      return el("li", { className: `level-${a.level}`, dataset: { kind: a.kind, skill: a.skill ?? "", level: a.level } },
        `${this.word("level", a.level)} — ${scope}${this.word("kind", a.kind)} ${what}${bound}`);
    });
    return el("section", { className: "sup-alerts", id: "sup-alerts", ariaLabel: this.t("alerts") },
      items.length ? el("ul", { role: "alert" }, ...items) : el("p", { className: "quiet" }, this.t("no_alerts")));
  }

  tiles(snap) {
    const d = snap.today;
    const tile = (id, title, value, note) => el("div", { className: "tile", id: `tile-${id}` },
      el("span", { className: "tile-title" }, title), el("span", { className: "value" }, value),
      note ? el("span", { className: "tile-note" }, note) : null);
    const waitingNow = snap.skills.reduce((n, s) => n + s.waiting, 0);
    return el("div", { className: "tiles", id: "sup-tiles" },
      tile("served", this.t("served"), String(d.served)),
      tile("waiting", this.t("waiting_now"), String(waitingNow)),
      tile("avg-wait", this.t("avg_wait"), duration(d.avg_wait_s)),
      tile("avg-handle", this.t("avg_handle"), duration(d.avg_handle_s)),
      tile("abandonment", this.t("abandonment"), percent(d.abandonment_rate)),
      tile("service-level", this.t("service_level", { minutes: Math.round(snap.service_level_s / 60) }), percent(d.service_level)),
      tile("avoided", this.t("avoided"), String(d.entries_avoided), this.t("items")),
      tile("satisfaction", this.t("satisfaction"), d.rating_mean === null ? "—" : `${d.rating_mean.toFixed(1)} / 5`,
           this.t("ratings", { count: d.rating_count })),
    );
  }

  table(id, headers, rows) {
    return el("table", { className: "sup-table", id },
      el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows));
  }

  skills(snap) {
    const rows = snap.skills.map((s) => el("tr", { className: `level-${s.level}`, dataset: { skill: s.skill, level: s.level } },
      el("th", { scope: "row" }, this.label("skills", s.skill)),
      el("td", { className: "waiting num" }, String(s.waiting)),
      el("td", { className: "ringing num" }, String(s.ringing)),
      el("td", { className: "longest num" }, s.oldest_waiting_at === null ? "—"
        : el("span", { dataset: { since: String(s.oldest_waiting_at) } })),
      el("td", { className: "num" }, `${s.available} / ${s.at_work}`),
      el("td", { className: "served num" }, String(s.served)),
      el("td", {}, el("span", { className: `level-pill level-${s.level}` }, this.word("level", s.level)))));
    return el("section", { className: "sup-block" }, el("h3", {}, this.t("skills_title")),
      this.table("sup-skills", [this.t("col_skill"), this.t("col_waiting"), this.t("col_ringing"), this.t("col_longest"),
        this.t("col_staff"), this.t("col_served"), this.t("col_level")], rows));
  }

  specialists(snap) {
    const skills = snap.skills.map((s) => s.skill);
    const rows = [];
    for (const p of snap.specialists) {
      const settable = p.state === "available" || p.state === "away";
      const actions = el("td", { className: "actions" },
        el("button", { type: "button", className: "small", disabled: !settable || p.state === "available",
          dataset: { action: "state", user: p.id, state: "available" } }, this.t("make_available")),
        el("button", { type: "button", className: "small secondary", disabled: !settable || p.state === "away",
          dataset: { action: "state", user: p.id, state: "away" } }, this.t("make_away")),
        el("button", { type: "button", className: "small secondary", dataset: { action: "edit", user: p.id },
          ariaExpanded: String(this.editing === p.id) }, this.t("edit_skills")));
      rows.push(el("tr", { dataset: { user: p.id, state: p.state } },
        el("th", { scope: "row" }, p.name, el("span", { className: "user-id" }, ` (${p.id})`)),
        el("td", {}, el("span", { className: "pill", dataset: { state: p.state } }, this.word("state", p.state))),
        el("td", { className: "num" }, p.since === null ? "—" : el("span", { dataset: { since: String(p.since) } })),
        el("td", { className: "skills" }, p.skills.map((k) => this.label("skills", k)).join("・") || "—"),
        actions));
      if (this.editing === p.id) {
        const boxes = skills.map((k) => el("label", { className: "check" },
          el("input", { type: "checkbox", value: k, checked: p.skills.includes(k),
            dataset: { skillOf: p.id, keep: `skill:${p.id}:${k}` } }), ` ${this.label("skills", k)}`));
        rows.push(el("tr", { className: "editor", dataset: { editor: p.id } }, el("td", { colSpan: 5 },
          ...boxes,
          el("button", { type: "button", className: "small", dataset: { action: "save-skills", user: p.id } }, this.t("save")),
          el("button", { type: "button", className: "small secondary", dataset: { action: "edit", user: p.id } }, this.t("cancel")))));
      }
    }
    return el("section", { className: "sup-block" }, el("h3", {}, this.t("specialists_title")),
      this.table("sup-specialists", [this.t("col_name"), this.t("col_state"), this.t("col_since"),
        this.t("col_skills"), this.t("col_actions")], rows));
  }

  waiting(snap) {
    const skills = snap.skills.map((s) => s.skill);
    const rows = snap.waiting.map((w) => {
      const select = el("select", { dataset: { move: w.session_id, keep: `move:${w.session_id}` },
        ariaLabel: `${this.t("col_move")} ${w.ticket}` },
        ...skills.filter((k) => k !== w.queue).map((k) => new Option(this.label("skills", k), k)));
      const queue = w.queue.startsWith("@") ? w.queue : this.label("skills", w.queue);
      return el("tr", { dataset: { ticket: w.ticket, session: w.session_id, state: w.state } },
        el("th", { scope: "row", className: "ticket" }, w.ticket),
        el("td", {}, queue, w.state === "offered" ? ` · ${this.word("session", "offered")}` : ""),
        el("td", {}, w.branch_id),
        el("td", {}, this.label("priorities", w.priority)),
        el("td", { className: "num" }, el("span", { dataset: { since: String(w.waiting_since) } })),
        el("td", { className: "actions" }, select,
          el("button", { type: "button", className: "small", disabled: w.state !== "waiting",
            dataset: { action: "move", session: w.session_id } }, this.t("move"))));
    });
    const more = snap.waiting_total - snap.waiting.length;
    return el("section", { className: "sup-block" }, el("h3", {}, this.t("waiting_title")),
      rows.length ? this.table("sup-waiting", [this.t("col_ticket"), this.t("col_skill"), this.t("col_branch"),
        this.t("col_priority"), this.t("col_waited"), this.t("col_move")], rows)
        : el("p", { className: "quiet", id: "sup-waiting" }, this.t("none_waiting")),
      more > 0 ? el("p", { className: "quiet" }, this.t("more_waiting", { count: more })) : null);
  }

  branches(snap) {
    const rows = snap.branches.map((b) => el("tr", { dataset: { branch: b.branch_id } },
      el("th", { scope: "row" }, b.branch_id),
      el("td", { className: "num waiting" }, String(b.waiting)),
      el("td", { className: "num" }, String(b.offered)),
      el("td", { className: "num connected" }, String(b.connected)),
      el("td", { className: "num" }, String(b.on_hold)),
      el("td", { className: "num served" }, String(b.served)),
      el("td", { className: "sessions" }, ...b.sessions.map((s) => el("span", { className: "session", dataset: { state: s.state } },
        `${s.ticket} ${this.word("session", s.state)}${s.specialist ? ` (${s.specialist})` : ""} `,
        el("span", { dataset: { since: String(s.since) } }))))));
    return el("section", { className: "sup-block" }, el("h3", {}, this.t("branches_title")),
      this.table("sup-branches", [this.t("col_branch"), this.t("col_waiting"), this.t("col_ringing"),
        this.t("col_in_session"), this.t("col_on_hold"), this.t("col_served"), this.t("sessions")], rows));
  }

  // -- charts (inline SVG, drawn here) ---------------------------------------------------------

  hours(snap) {
    const busy = snap.hourly.filter((h) => h.arrivals > 0).map((h) => h.hour);
    const from = Math.min(8, ...busy);
    const to = Math.max(18, ...busy);
    return snap.hourly.filter((h) => h.hour >= from && h.hour <= to);
  }

  charts(snap) {
    return el("div", { className: "charts", id: "sup-charts" },
      this.figure(this.t("chart_hours"), this.barChart(this.hours(snap))),
      this.figure(this.t("chart_wait"), this.sparkline(this.hours(snap))),
      this.figure(this.t("chart_staff"), this.stateBar(snap.specialists)));
  }

  figure(caption, drawing) {
    return el("figure", { className: "chart" }, drawing, el("figcaption", {}, caption));
  }

  barChart(hours) {
    const w = 320, h = 120, pad = 18;
    const top = Math.max(1, ...hours.map((x) => Math.max(x.arrivals, x.served)));
    const slot = (w - pad) / hours.length;
    const bar = Math.max(2, slot / 2 - 2);
    const scale = (n) => ((h - pad - 6) * n) / top;
    const out = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", class: "bars", id: "chart-hours",
      "aria-label": this.t("chart_hours") });
    hours.forEach((x, i) => {
      const left = pad + i * slot;
      const a = svg("rect", { x: left, y: h - pad - scale(x.arrivals), width: bar, height: scale(x.arrivals), class: "arrivals" },
        svg("title", {}, `${x.hour}:00 ${this.t("arrivals")} ${x.arrivals}`));
      const s = svg("rect", { x: left + bar + 1, y: h - pad - scale(x.served), width: bar, height: scale(x.served), class: "served" },
        svg("title", {}, `${x.hour}:00 ${this.t("served_short")} ${x.served}`));
      out.append(a, s);
      if (x.hour % 2 === 0) {
        const text = svg("text", { x: left + bar, y: h - 4, class: "axis", "text-anchor": "middle" });
        text.textContent = String(x.hour);
        out.append(text);
      }
    });
    out.append(svg("line", { x1: pad, y1: h - pad, x2: w, y2: h - pad, class: "baseline" }));
    const label = svg("text", { x: 2, y: 10, class: "axis" });
    label.textContent = String(top);
    out.append(label);
    return out;
  }

  sparkline(hours) {
    const w = 320, h = 120, pad = 18;
    const waits = hours.map((x) => x.avg_wait_s);
    const top = Math.max(60, ...waits.filter((v) => v !== null));
    const step = (w - pad) / Math.max(1, hours.length - 1);
    const y = (v) => h - pad - ((h - pad - 6) * v) / top;
    const out = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", class: "spark", id: "chart-wait",
      "aria-label": this.t("chart_wait") });
    let points = [];
    const flush = () => {
      if (points.length > 1) out.append(svg("polyline", { points: points.join(" "), class: "line" }));
      points = [];
    };
    hours.forEach((x, i) => {
      if (x.avg_wait_s === null) { flush(); return; }
      const px = pad + i * step;
      points.push(`${px.toFixed(1)},${y(x.avg_wait_s).toFixed(1)}`);
      out.append(svg("circle", { cx: px, cy: y(x.avg_wait_s), r: 3, class: "dot" },
        svg("title", {}, `${x.hour}:00 ${duration(x.avg_wait_s)}`)));
      if (x.hour % 2 === 0) {
        const text = svg("text", { x: px, y: h - 4, class: "axis", "text-anchor": "middle" });
        text.textContent = String(x.hour);
        out.append(text);
      }
    });
    flush();
    out.append(svg("line", { x1: pad, y1: h - pad, x2: w, y2: h - pad, class: "baseline" }));
    const label = svg("text", { x: 2, y: 10, class: "axis" });
    label.textContent = `${Math.round(top / 60)}${this.t("minutes")}`;
    out.append(label);
    return out;
  }

  stateBar(specialists) {
    const w = 320, h = 120;
    const counts = Object.fromEntries(STATE_ORDER.map((s) => [s, 0]));
    for (const p of specialists) counts[p.state] = (counts[p.state] ?? 0) + 1;
    const total = Math.max(1, specialists.length);
    const out = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", class: "states", id: "chart-staff",
      "aria-label": this.t("chart_staff") });
    let x = 0;
    STATE_ORDER.forEach((state, i) => {
      const width = (w * counts[state]) / total;
      if (width > 0) {
        out.append(svg("rect", { x, y: 10, width, height: 36, class: `state-${state}` },
          svg("title", {}, `${this.word("state", state)} ${counts[state]}`)));
      }
      x += width;
      const row = Math.floor(i / 3), col = i % 3;
      out.append(svg("rect", { x: col * 108, y: 62 + row * 26, width: 14, height: 14, class: `state-${state}` }));
      const text = svg("text", { x: col * 108 + 18, y: 74 + row * 26, class: "legend" });
      text.textContent = `${this.word("state", state)} ${counts[state]}`;
      out.append(text);
    });
    return out;
  }

  snapshot() {
    return this.snap;
  }
}
