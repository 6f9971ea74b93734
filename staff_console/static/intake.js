// The back office's view of the central intake (集中事務センター): counts by state, claim the next
// application, read its forms (the My Number opened for the back office only, and audited), its
// PDF record, then mark it done or return it with a reason; returned and dead-lettered
// applications in a list. Also the specialist's notice of applications returned to them.

import { el } from "./lib/dom.js";
import { localized, textsOf } from "./lib/i18n.js";
import { call } from "./lib/api.js";

const t = textsOf("intake");

export class IntakeView {
  constructor(root) {
    this.root = root;
    this.t = t;
    this.current = null;   // the claimed application (status + record)
    this.list = [];
    this.counts = {};
    this.catalog = null;
    this.message = "";
  }

  label(item) { return localized(item); }

  async show() {
    this.root.hidden = false;
    if (!this.catalog) {
      const res = await call("GET", "/api/intake/catalog");
      if (res.ok) this.catalog = res.data;
    }
    await this.refresh();
  }

  async refresh() {
    const res = await call("GET", "/api/intake/applications?limit=50");
    if (res.ok) { this.list = res.data.applications; this.counts = res.data.counts; }
    this.render();
  }

  async claim() {
    const res = await call("POST", "/api/intake/claim");
    if (!res.ok) { this.message = res.data.message ?? res.data.error; this.render(); return; }
    const app = res.data.application;
    if (!app) { this.current = null; this.message = this.t("none"); await this.refresh(); return; }
    const full = await call("GET", `/api/intake/applications/${app.application_id}`);  // opened, audited
    this.current = full.ok ? full.data : app;
    this.message = "";
    await this.refresh();
  }

  async finish(kind) {
    const app = this.current;
    if (!app) return;
    let body = {};
    if (kind === "return") {
      const reason = this.root.querySelector("#intake-reason").value.trim();
      if (!reason) { this.message = this.t("need_reason"); this.render(); return; }
      body = { reason };
    }
    const res = await call("POST", `/api/intake/applications/${app.application_id}/${kind}`, body);
    this.message = res.ok ? `${app.application_id}: ${this.t(`state.${res.data.state}`)}` : (res.data.message ?? res.data.error);
    if (res.ok) this.current = null;
    await this.refresh();
  }

  procedure(id) { return this.catalog?.procedures.find((p) => p.id === id) ?? null; }

  renderCurrent() {
    const app = this.current;
    if (!app) return null;
    const record = app.record ?? {};
    const box = el("article", { className: "intake-app", id: "intake-current", dataset: { application: app.application_id } },
      el("h4", { textContent: `${app.application_id} · ${this.t(`state.${app.state}`)}` }),
      record.entries ? el("p", { textContent: this.t("entries", { paper: record.entries.paper, resident: record.entries.resident }) }) : null,
      el("a", { href: `/api/intake/applications/${app.application_id}/pdf`, target: "_blank", textContent: this.t("pdf") }));
    for (const [pid, values] of Object.entries(record.forms ?? {})) {
      const p = this.procedure(pid);
      const table = el("table", { className: "intake-form" },
        el("caption", { textContent: this.label(p) || pid }),
        el("tr", {}, el("th", { textContent: this.t("form") }), el("th", { textContent: this.t("value") }),
           el("th", { textContent: this.t("from") })));
      for (const [fid, value] of Object.entries(values)) {
        const spec = p?.fields.find((f) => f.id === fid);
        const shown = spec?.options?.find((o) => o.value === value);
        const source = record.provenance?.[pid]?.[fid];
        table.append(el("tr", { dataset: { field: fid } },
          el("td", { textContent: this.label(spec) || fid }),
          el("td", { textContent: shown ? this.label(shown) : Array.isArray(value) ? JSON.stringify(value) : String(value) }),
          el("td", { textContent: source ? this.t(`src.${source}`) : "" })));
      }
      box.append(table);
    }
    if (record.signature) box.append(el("p", { textContent: `${this.t("signature")}: ✓ (${record.signature.strokes.length})` }));
    const done = el("button", { type: "button", id: "intake-done", textContent: this.t("done") });
    done.addEventListener("click", () => this.finish("done"));
    const reason = el("input", { id: "intake-reason", placeholder: this.t("reason"), maxLength: 500 });
    const back = el("button", { type: "button", id: "intake-return", className: "secondary", textContent: this.t("return") });
    back.addEventListener("click", () => this.finish("return"));
    box.append(el("div", { className: "intake-actions" }, done, reason, back));
    return box;
  }

  render() {
    const claim = el("button", { type: "button", id: "intake-claim", textContent: this.t("claim") });
    claim.addEventListener("click", () => this.claim());
    const refresh = el("button", { type: "button", className: "secondary", textContent: this.t("refresh") });
    refresh.addEventListener("click", () => this.refresh());
    const counts = el("p", { id: "intake-counts", className: "intake-counts" },
      ...Object.entries(this.counts).map(([s, n]) => el("span", { className: `pill intake-${s}`, dataset: { state: s },
                                                                  textContent: `${this.t(`state.${s}`)} ${n}` })));
    const rows = el("tbody");
    for (const a of this.list) {
      rows.append(el("tr", { className: `intake-${a.state}`, dataset: { application: a.application_id, state: a.state } },
        el("td", { textContent: a.application_id.slice(0, 8) }), el("td", { textContent: this.t(`state.${a.state}`) }),
        el("td", { textContent: a.submitted_by ?? "" }), el("td", { textContent: a.reason ?? "" })));
    }
    this.root.replaceChildren(
      el("h2", { textContent: this.t("title") }),
      el("div", { className: "controls" }, claim, refresh), counts,
      el("p", { id: "intake-message", role: "status", textContent: this.message }),
      this.renderCurrent(),
      el("h3", { textContent: this.t("recent") }),
      el("table", { className: "terminals", id: "intake-list" }, rows));
  }

  snapshot() {
    return { current: this.current, counts: { ...this.counts }, list: this.list.map((a) => ({ ...a })),
             message: this.message };
  }
}

// For specialists: applications the back office returned to them.
export async function returnedNotice(root) {
  const res = await call("GET", "/api/intake/returned");
  const apps = res.ok ? res.data.applications : [];
  root.hidden = apps.length === 0;
  root.replaceChildren(el("strong", { textContent: t("returned_title", { count: apps.length }) }),
    el("ul", {}, ...apps.map((a) => el("li", { dataset: { application: a.application_id },
                                               textContent: `${a.application_id.slice(0, 8)} — ${a.reason ?? ""}` }))));
  return apps;
}
