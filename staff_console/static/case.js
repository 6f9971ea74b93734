// The case panel of the specialist's workspace: the life event and its procedures, the card read,
// the values shared by every form of the bundle (written once, from the card where it can), and
// each form with those values filled in. Personal data lives in this page's memory only.

import { el } from "./lib/dom.js";
import { errorText, lang, localized, textsOf } from "./lib/i18n.js";
import { call, getJson } from "./lib/api.js";

const FORM_REFS = new Set(["card.request", "session.procedures", "card.reveal", "form.edit", "form.review", "form.sign"]);

export class CasePanel {
  constructor(root, { send }) {
    this.root = root;
    this.send = send;
    this.t = textsOf("case");
    this.catalog = null;
    this.reset(null);
  }

  label(item) { return localized(item); }

  reset(session) {
    this.session = session;
    this.lifeEvent = null;
    this.answers = {};           // condition id -> bool
    this.chosen = null;          // procedure ids sent to the hub
    this.card = null;            // card.data (no My Number in it)
    this.cardStep = null;        // the last card.status
    this.revealed = null;        // the My Number, while shown
    this.lastError = null;
    this.marks = {};             // epoch ms of the card read's steps, for the benchmark
    this.draft = null;           // the hub's draft (form.state): values with source and version
    this.issues = {};            // field name -> message, from the last submission attempt
    this.asked = {};             // procedure -> the resident asked about it
    this.applicationId = null;   // one per session: a retried submission lands once
    this.result = null;
    this.root.hidden = session === null;
  }

  async open(session, purpose) {
    if (this.session?.id === session.id) {
      this.send({ type: "form.sync", session_id: session.id });  // back after a reconnect
      return;
    }
    this.reset(session);
    this.catalog ??= await getJson("/api/intake/catalog");
    const events = this.catalog?.life_events ?? [];
    this.lifeEvent = (events.find((e) => e.purpose === purpose) ?? events[0])?.id ?? null;
    this.render();
    this.send({ type: "form.sync", session_id: session.id });  // what colleagues did already
  }

  close() { this.reset(null); this.render(); }

  // -- what the bundle is -----------------------------------------------------------------------

  event() { return this.catalog?.life_events.find((e) => e.id === this.lifeEvent) ?? null; }
  procedure(id) { return this.catalog?.procedures.find((p) => p.id === id) ?? null; }

  suggested() {
    const event = this.event();
    if (!event) return [];
    return event.procedures
      .filter((p) => p.default !== false && (p.when ?? []).every((c) => this.answers[c]))
      .map((p) => p.procedure);
  }

  selection() {
    const boxes = this.root.querySelectorAll("input[name=procedure]");
    return boxes.length ? [...boxes].filter((b) => b.checked).map((b) => b.value) : this.suggested();
  }

  needsNumber() {
    return (this.chosen ?? []).some((id) => this.procedure(id)?.needs_my_number);
  }

  sharedKeys() {
    const keys = [];
    for (const id of this.chosen ?? []) {
      for (const f of this.procedure(id)?.fields ?? []) {
        if (f.shared_key && !keys.includes(f.shared_key)) keys.push(f.shared_key);
      }
    }
    return keys.map((k) => this.catalog.shared_keys.find((s) => s.key === k)).filter(Boolean);
  }

  // -- the card and the draft ---------------------------------------------------------------------

  applyCard(data) {
    this.card = data;
    this.revealed = null;
  }

  value(name) { return this.draft?.values?.[name] ?? null; }

  cardKey(attr) {
    const redirect = this.event()?.card ?? {};  // at 転入 the card shows the previous address
    return redirect[attr] ?? this.catalog?.shared_keys.find((s) => s.card === attr)?.key ?? attr;
  }

  sourceOf(name) {
    const entry = this.value(name);
    if (entry) return entry.source;
    const flagged = (this.card?.flagged ?? []).map((a) => `shared.${this.cardKey(a)}`);
    return flagged.includes(name) ? "needs_entry" : null;
  }

  onMessage(msg) {
    if (msg.type === "error" && this.session && FORM_REFS.has(msg.ref_type)) {
      this.lastError = msg.code;
      this.render();
      return;
    }
    if (!this.session || msg.session_id !== this.session.id) return;
    switch (msg.type) {
      case "session.procedures":
        this.lifeEvent = msg.life_event;
        this.chosen = msg.procedures;
        break;
      case "card.status":
        this.cardStep = msg;
        this.marks[`${msg.step}At`] ??= Date.now();
        break;
      case "card.data": this.applyCard(msg); break;
      case "card.revealed": this.revealed = msg.my_number; break;
      case "form.state": {
        if (this.draft && msg.version < this.draft.version) return;
        this.draft = { ...msg.draft, version: msg.version };
        if (this.draft.procedures.length) this.chosen = this.draft.procedures;
        this.lifeEvent = this.draft.life_event ?? this.lifeEvent;
        if (Object.values(this.draft.values).some((v) => v.source === "card")) this.marks.prefilledAt ??= Date.now();
        break;
      }
      case "form.confirm": this.asked[msg.procedure] = !msg.confirmed; break;
      default: return;
    }
    this.lastError = null;
    this.render();
  }

  edit(name, value) {
    const base = this.value(name)?.ver ?? 0;
    this.send({ type: "form.edit", session_id: this.session.id, field: name, value, base });
  }

  async submit() {
    this.applicationId ??= crypto.randomUUID();
    this.result = { pending: true };
    this.render();
    for (let attempt = 0; attempt < 5; attempt++) {  // the same id: a retry lands once
      try {
        const res = await call("POST", `/api/intake/sessions/${this.session.id}/submit`,
                               { application_id: this.applicationId });
        if (!res.parsed) throw new Error(`HTTP ${res.status}`);  // not the hub's answer: try again
        const body = res.data;
        this.issues = {};
        if (res.ok) this.result = body;
        else {
          this.result = { error: body.error, count: (body.fields ?? []).length };
          for (const f of body.fields ?? []) {
            const name = f.form ? `form.${f.form}.${f.field}` : `shared.${f.field}`;
            this.issues[name] = f[lang()] ?? f.ja;
          }
        }
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    }
    this.render();
  }

  // -- drawing -----------------------------------------------------------------------------------

  render() {
    const root = this.root;
    if (!this.session || !this.catalog) { root.replaceChildren(); return; }
    // Keep what is being typed: a re-render after a colleague's change must not eat it.
    const focused = root.contains(document.activeElement) ? document.activeElement : null;
    const typing = focused?.dataset.name ? { name: focused.dataset.name, value: focused.value } : null;
    root.replaceChildren(
      el("h3", { textContent: this.t("case_title") }),
      this.renderChooser(),
      this.renderCard(),
      this.chosen ? this.renderShared() : null,
      this.chosen ? this.renderForms() : null,
      this.chosen ? this.renderActions() : null,
    );
    if (typing) {
      const again = root.querySelector(`[data-name="${CSS.escape(typing.name)}"]`);
      if (again) { again.value = typing.value; again.focus(); }
    }
  }

  renderChooser() {
    const box = el("fieldset", { className: "chooser" }, el("legend", { textContent: this.t("life_event") }));
    const select = el("select", { id: "life-event" });
    for (const e of this.catalog.life_events) {
      select.add(new Option(this.label(e), e.id, false, e.id === this.lifeEvent));
    }
    select.addEventListener("change", () => { this.lifeEvent = select.value; this.chosen = null; this.render(); });
    box.append(select);
    const event = this.event();
    const conditions = new Set(event?.procedures.flatMap((p) => p.when ?? []) ?? []);
    for (const c of conditions) {
      const input = el("input", { type: "checkbox", checked: Boolean(this.answers[c]) });
      input.addEventListener("change", () => { this.answers[c] = input.checked; this.render(); });
      const condition = this.catalog.conditions.find((x) => x.id === c) ?? { ja: c, en: c };
      box.append(el("label", { className: "check" }, input, " ", this.label(condition)));
    }
    const chosen = new Set(this.chosen ?? this.suggested());
    const list = el("div", { className: "procedures", role: "group" });
    for (const entry of event?.procedures ?? []) {
      const p = this.procedure(entry.procedure);
      const input = el("input", { type: "checkbox", name: "procedure", value: entry.procedure,
                                  checked: chosen.has(entry.procedure) });
      list.append(el("label", { className: "check" }, input, " ", this.label(p),
                     p?.needs_my_number ? el("small", { textContent: " ★" }) : null));
    }
    const apply = el("button", { type: "button", id: "apply-procedures", textContent: this.t("apply") });
    apply.addEventListener("click", () => {
      this.send({ type: "session.procedures", session_id: this.session.id, life_event: this.lifeEvent,
                  procedures: this.selection() });
    });
    box.append(list, apply);
    return box;
  }

  renderCard() {
    const box = el("fieldset", { className: "card-read" }, el("legend", { textContent: this.t("card_title") }));
    const withNumber = el("input", { type: "checkbox", id: "card-with-number", disabled: !this.needsNumber() });
    const read = el("button", { type: "button", id: "card-read", textContent: this.t("card_read") });
    read.addEventListener("click", () => {
      this.marks = { requestedAt: Date.now() };
      this.send({ type: "card.request", session_id: this.session.id, with_number: withNumber.checked });
    });
    const step = this.cardStep;
    const reading = step && ["insert", "pin", "reading"].includes(step.step);
    const cancel = el("button", { type: "button", id: "card-cancel", className: "secondary",
                                  textContent: this.t("card_cancel"), hidden: !reading });
    cancel.addEventListener("click", () => this.send({ type: "card.cancel", session_id: this.session.id }));
    let text = "";
    if (step) {
      text = this.t(`step.${step.step}`, { tries: step.tries_left ?? "?" });
      if (step.error) text += (step.step === "error" ? "" : " — ") + errorText(this.t, step.error);
    }
    const problem = this.lastError;
    if (problem) text = errorText(this.t, problem);
    if (problem === "edit_conflict") text = this.t("conflict");
    box.append(el("label", { className: "check" }, withNumber, " ", this.t("with_number")), read, cancel,
               el("p", { id: "card-state", role: "status", textContent: text,
                         className: step?.error || problem ? "error" : "" }));
    box.dataset.step = step?.step ?? "";
    return box;
  }

  badge(source) {
    if (!source) return null;
    const key = source === "card" ? "from_card" : source === "needs_entry" ? "needs_entry" : "from_staff";
    return el("span", { className: `badge ${source}`, textContent: this.t(key) });
  }

  myNumber() {
    const entry = this.value("shared.my_number");
    const last4 = this.card?.my_number_last4 ?? entry?.value?.slice(-4);
    const out = el("span", { className: "my-number", id: "my-number",
                             textContent: this.revealed ?? (entry ? this.t("number_masked", { last4 }) : this.t("none")) });
    const toggle = el("button", { type: "button", className: "secondary small", id: "reveal-number",
                                  textContent: this.t(this.revealed ? "hide" : "reveal"), hidden: !entry || !this.card?.has_my_number });
    toggle.addEventListener("click", () => {
      if (this.revealed) { this.revealed = null; this.render(); }
      else this.send({ type: "card.reveal", session_id: this.session.id });
    });
    return el("span", {}, out, " ", toggle);
  }

  input(name, spec, editable) {
    if (spec.type === "my_number") return this.myNumber();
    const entry = this.value(name);
    const current = entry?.value ?? "";
    const words = (v) => this.label(spec.options?.find((o) => o.value === v)) || (v ?? "");
    if (!editable) return el("span", { className: "value", textContent: Array.isArray(current) ? `${current.length}` : words(current) });
    if (spec.options?.length) {
      const select = el("select", { dataset: { name } });
      select.add(new Option("—", ""));
      for (const o of spec.options) select.add(new Option(this.label(o), o.value, false, o.value === current));
      select.addEventListener("change", () => this.edit(name, select.value || null));
      return select;
    }
    if (spec.type === "boolean") {
      const box = el("input", { type: "checkbox", checked: current === true, dataset: { name } });
      box.addEventListener("change", () => this.edit(name, box.checked));
      return box;
    }
    if (spec.type === "household") {
      return el("span", { className: "value", textContent: `${Array.isArray(current) ? current.length : 0}` });
    }
    const input = el("input", { value: current, dataset: { name } });
    input.addEventListener("change", () => this.edit(name, input.value.trim() || null));
    return input;
  }

  field(name, spec, { editable, required }) {
    return el("label", { className: "field", dataset: { field: name, source: this.sourceOf(name) ?? "" } },
      el("span", { textContent: this.label(spec) + (required ? " *" : "") }),
      this.input(name, spec, editable), this.badge(this.sourceOf(name)),
      this.issues[name] ? el("em", { className: "issue", textContent: this.issues[name] }) : null);
  }

  renderShared() {
    const box = el("fieldset", { className: "shared", id: "shared-fields" }, el("legend", { textContent: this.t("shared_title") }));
    for (const s of this.sharedKeys()) box.append(this.field(`shared.${s.key}`, s, { editable: true }));
    return box;
  }

  renderForms() {
    const box = el("div", { className: "forms", id: "forms" }, el("h4", { textContent: this.t("forms_title") }));
    for (const id of this.chosen) {
      const p = this.procedure(id);
      if (!p) continue;
      const confirmed = Boolean(this.draft?.confirmed?.[id]);
      const review = el("button", { type: "button", className: "secondary small", textContent: this.t("review"),
                                    dataset: { review: id } });
      review.addEventListener("click", () => this.send({ type: "form.review", session_id: this.session.id, procedure: id }));
      const state = el("span", { className: `badge ${confirmed ? "card" : "staff"}`, dataset: { confirmed: String(confirmed) },
                                 textContent: this.asked[id] ? this.t("asked") : this.t(confirmed ? "confirmed" : "not_confirmed") });
      const form = el("fieldset", { className: "form", dataset: { procedure: id } },
                      el("legend", {}, this.label(p), " ", state, " ", review));
      for (const f of p.fields) {
        const name = f.shared_key ? `shared.${f.shared_key}` : `form.${id}.${f.id}`;
        form.append(this.field(name, f, { editable: !f.shared_key, required: f.required }));
      }
      box.append(form);
    }
    return box;
  }

  renderActions() {
    const all = (this.chosen ?? []).every((id) => this.draft?.confirmed?.[id]);
    const sign = el("button", { type: "button", id: "ask-signature", className: "secondary",
                                textContent: this.t("sign"), disabled: !all || !this.draft });
    sign.addEventListener("click", () => this.send({ type: "form.sign", session_id: this.session.id }));
    const submit = el("button", { type: "button", id: "submit-application", textContent: this.t("submit"),
                                  disabled: !this.draft?.signed || this.result?.pending });
    submit.addEventListener("click", () => this.submit());
    let text = "";
    if (this.result?.application_id) {
      text = this.t("submitted", { entry: this.result.entry_id, avoided: this.result.entries?.avoided ?? "?" });
    } else if (this.result?.error) text = this.result.count ? this.t("invalid", { count: this.result.count }) : this.result.error;
    return el("div", { className: "case-actions" }, sign,
              el("span", { className: "badge card", textContent: this.t("signed"), hidden: !this.draft?.signed }),
              submit, el("p", { id: "submit-state", role: "status", textContent: text }));
  }

  // For tests: what the panel holds (the My Number only as the hub masked it, unless revealed).
  snapshot() {
    const forms = {};
    const shared = {};
    for (const s of this.sharedKeys()) {
      const e = this.value(`shared.${s.key}`);
      if (e) shared[s.key] = { value: e.value, source: e.source };
    }
    for (const id of this.chosen ?? []) {
      forms[id] = {};
      for (const f of this.procedure(id)?.fields ?? []) {
        const e = this.value(f.shared_key ? `shared.${f.shared_key}` : `form.${id}.${f.id}`);
        if (e) forms[id][f.id] = { value: e.value, source: e.source };
      }
    }
    return { lifeEvent: this.lifeEvent, chosen: this.chosen, cardStep: this.cardStep?.step ?? null,
             cardError: this.cardStep?.error ?? this.lastError, shared, revealed: this.revealed !== null,
             forms, marks: { ...this.marks }, version: this.draft?.version ?? 0,
             confirmed: { ...(this.draft?.confirmed ?? {}) }, signed: Boolean(this.draft?.signed),
             result: this.result, issues: { ...this.issues } };
  }
}
