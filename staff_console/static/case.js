// The case panel of the specialist's workspace: the life event and its procedures, the card read,
// the values shared by every form of the bundle (written once, from the card where it can), and
// each form with those values filled in. Personal data lives in this page's memory only.

const TEXT = {
  ja: {
    case_title: "手続き", life_event: "ライフイベント", conditions: "該当するもの", procedures: "手続き",
    apply: "この手続きで進める", card_title: "マイナンバーカード", card_read: "カードを読む",
    with_number: "マイナンバーも読む（必要な手続きのみ）", card_cancel: "読取を中止",
    shared_title: "本人情報（各申請書に共通）", forms_title: "申請書", from_card: "カード",
    from_staff: "職員入力", needs_entry: "要入力（カードから読めませんでした）", reveal: "表示",
    hide: "隠す", number_masked: (last4) => `●●●● ●●●● ${last4}`, none: "—",
    "step.insert": "住民の方にカードを置いていただいています…",
    "step.pin": (n) => `住民の方が暗証番号を入力中です（残り ${n} 回）`,
    "step.reading": "読み取り中…", "step.done": "読み取りました。",
    "step.cancelled": "カード読取を中止しました。", "step.error": "読み取れませんでした：",
    errors: {
      wrong_pin: "暗証番号の誤り", card_blocked: "カードがロックされています（市役所のカード窓口で解除）",
      no_card: "カードがありません", card_removed: "読取中にカードが外れました",
      not_mynumber_card: "マイナンバーカードではありません", reader_unavailable: "カードリーダーが使えません",
      several_readers: "複数のカードリーダーにカードがあります", card_error: "カードの読取エラー",
      number_not_needed: "選んだ手続きにはマイナンバーは不要です",
    },
  },
  en: {
    case_title: "Procedures", life_event: "Life event", conditions: "Applies", procedures: "Procedures",
    apply: "Use these procedures", card_title: "My Number card", card_read: "Read the card",
    with_number: "Also read the My Number (only where a procedure needs it)", card_cancel: "Stop reading",
    shared_title: "Resident (shared by every form)", forms_title: "Forms", from_card: "card",
    from_staff: "staff", needs_entry: "enter by hand (the card did not decode)", reveal: "Show",
    hide: "Hide", number_masked: (last4) => `•••• •••• ${last4}`, none: "—",
    "step.insert": "The resident is placing the card…",
    "step.pin": (n) => `The resident is typing the PIN (${n} tries left)`,
    "step.reading": "Reading…", "step.done": "Read.",
    "step.cancelled": "The card read was stopped.", "step.error": "Could not read: ",
    errors: {
      wrong_pin: "wrong PIN", card_blocked: "the card is locked (the city hall's card counter can unlock it)",
      no_card: "no card", card_removed: "the card was pulled while reading",
      not_mynumber_card: "not a My Number card", reader_unavailable: "the card reader is unavailable",
      several_readers: "cards in several readers", card_error: "card error",
      number_not_needed: "the chosen procedures do not need the My Number",
    },
  },
};

const el = (tag, { dataset, ...props } = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset ?? {});
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};

export class CasePanel {
  constructor(root, { send, lang }) {
    this.root = root;
    this.send = send;
    this.lang = lang;
    this.catalog = null;
    this.reset(null);
  }

  t(key) { return TEXT[this.lang()][key] ?? key; }
  label(item) { return item?.[this.lang()] ?? item?.ja ?? ""; }

  reset(session) {
    this.session = session;
    this.lifeEvent = null;
    this.answers = {};           // condition id -> bool
    this.chosen = null;          // procedure ids sent to the hub
    this.card = null;            // card.data (no My Number in it)
    this.cardStep = null;        // the last card.status
    this.revealed = null;        // the My Number, while shown
    this.shared = {};            // shared key -> { value, source: "card" | "staff" }
    this.values = {};            // procedure id -> field id -> value
    this.lastError = null;
    this.marks = {};             // epoch ms of the card read's steps, for the benchmark
    this.root.hidden = session === null;
  }

  async open(session, purpose) {
    if (this.session?.id === session.id) return;
    this.reset(session);
    if (!this.catalog) {
      const res = await fetch("/api/intake/catalog");
      if (res.ok) this.catalog = await res.json();
    }
    const events = this.catalog?.life_events ?? [];
    this.lifeEvent = (events.find((e) => e.purpose === purpose) ?? events[0])?.id ?? null;
    this.render();
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

  // -- the card ----------------------------------------------------------------------------------

  applyCard(data) {
    this.card = data;
    this.revealed = null;
    const redirect = this.event()?.card ?? {};  // e.g. at 転入 the card shows the previous address
    for (const attr of ["name", "address", "birth_date", "sex"]) {
      const key = redirect[attr] ?? this.catalog?.shared_keys.find((s) => s.card === attr)?.key ?? attr;
      if (data[attr] != null) this.shared[key] = { value: data[attr], source: "card" };
      else if ((data.flagged ?? []).includes(attr)) this.shared[key] = { value: "", source: "needs_entry" };
    }
    if (data.has_my_number) this.shared.my_number = { value: null, source: "card", last4: data.my_number_last4 };
  }

  onMessage(msg) {
    if (!this.session || msg.session_id !== this.session.id) {
      if (msg.type === "error" && ["card.request", "session.procedures", "card.reveal"].includes(msg.ref_type)) {
        this.lastError = msg.code;
        this.render();
      }
      return;
    }
    switch (msg.type) {
      case "session.procedures":
        this.lifeEvent = msg.life_event;
        this.chosen = msg.procedures;
        break;
      case "card.status":
        this.cardStep = msg;
        this.marks[`${msg.step}At`] ??= Date.now();
        break;
      case "card.data": this.applyCard(msg); this.render(); this.marks.prefilledAt = Date.now(); break;
      case "card.revealed": this.revealed = msg.my_number; break;
      default: return;
    }
    this.lastError = null;
    this.render();
  }

  // -- drawing -----------------------------------------------------------------------------------

  render() {
    const root = this.root;
    if (!this.session || !this.catalog) { root.replaceChildren(); return; }
    root.replaceChildren(
      el("h3", { textContent: this.t("case_title") }),
      this.renderChooser(),
      this.renderCard(),
      this.chosen ? this.renderShared() : null,
      this.chosen ? this.renderForms() : null,
    );
  }

  renderChooser() {
    const box = el("fieldset", { className: "chooser" }, el("legend", { textContent: this.t("life_event") }));
    const select = el("select", { id: "life-event" });
    for (const e of this.catalog.life_events) {
      select.add(new Option(this.label(e), e.id, false, e.id === this.lifeEvent));
    }
    select.addEventListener("change", () => { this.lifeEvent = select.value; this.render(); });
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
      const s = this.t(`step.${step.step}`);
      text = typeof s === "function" ? s(step.tries_left ?? "?") : s;
      if (step.error) text += (step.step === "error" ? "" : " — ") + (this.t("errors")[step.error] ?? step.error);
    }
    if (this.lastError) text = this.t("errors")[this.lastError] ?? this.lastError;
    box.append(el("label", { className: "check" }, withNumber, " ", this.t("with_number")), read, cancel,
               el("p", { id: "card-state", role: "status", textContent: text,
                         className: step?.error || this.lastError ? "error" : "" }));
    box.dataset.step = step?.step ?? "";
    return box;
  }

  badge(source) {
    if (!source) return null;
    const key = source === "card" ? "from_card" : source === "needs_entry" ? "needs_entry" : "from_staff";
    return el("span", { className: `badge ${source}`, textContent: this.t(key) });
  }

  renderValue(key, entry, editable) {
    if (key === "my_number") {
      const shown = this.revealed;
      const out = el("span", { className: "my-number", id: "my-number",
                               textContent: shown ?? (entry?.last4 ? this.t("number_masked")(entry.last4) : this.t("none")) });
      const toggle = el("button", { type: "button", className: "secondary small", id: "reveal-number",
                                    textContent: this.t(shown ? "hide" : "reveal"), hidden: !entry?.last4 });
      toggle.addEventListener("click", () => {
        if (this.revealed) { this.revealed = null; this.render(); }
        else this.send({ type: "card.reveal", session_id: this.session.id });
      });
      return el("span", {}, out, " ", toggle);
    }
    const spec = this.catalog.shared_keys.find((x) => x.key === key);
    const shown = (v) => this.label(spec?.options?.find((o) => o.value === v)) || (v ?? "");
    if (!editable) return el("span", { className: "value", textContent: shown(entry?.value) });
    if (spec?.options?.length) {
      const select = el("select", { dataset: { key } });
      select.add(new Option("—", ""));
      for (const o of spec.options) select.add(new Option(this.label(o), o.value, false, o.value === entry?.value));
      select.addEventListener("change", () => { this.shared[key] = { value: select.value, source: "staff" }; this.render(); });
      return select;
    }
    const input = el("input", { value: entry?.value ?? "", dataset: { key } });
    input.addEventListener("change", () => { this.shared[key] = { value: input.value, source: "staff" }; this.render(); });
    return input;
  }

  renderShared() {
    const box = el("fieldset", { className: "shared", id: "shared-fields" }, el("legend", { textContent: this.t("shared_title") }));
    for (const s of this.sharedKeys()) {
      const entry = this.shared[s.key];
      box.append(el("label", { className: "field", dataset: { key: s.key, source: entry?.source ?? "" } },
        el("span", { textContent: this.label(s) }), this.renderValue(s.key, entry, true), this.badge(entry?.source)));
    }
    return box;
  }

  renderForms() {
    const box = el("div", { className: "forms", id: "forms" }, el("h4", { textContent: this.t("forms_title") }));
    for (const id of this.chosen) {
      const p = this.procedure(id);
      if (!p) continue;
      const form = el("fieldset", { className: "form", dataset: { procedure: id } }, el("legend", { textContent: this.label(p) }));
      for (const f of p.fields) {
        const entry = f.shared_key ? this.shared[f.shared_key] : null;
        const value = f.shared_key ? this.renderValue(f.shared_key, entry, false)
          : el("input", { value: this.values[id]?.[f.id] ?? "", dataset: { field: f.id } });
        form.append(el("label", { className: "field", dataset: { field: f.id, source: entry?.source ?? "" } },
          el("span", { textContent: this.label(f) + (f.required ? " *" : "") }), value, this.badge(entry?.source)));
      }
      box.append(form);
    }
    return box;
  }

  // For tests: what the panel holds, without the My Number unless revealed.
  snapshot() {
    const forms = {};
    for (const id of this.chosen ?? []) {
      forms[id] = {};
      for (const f of this.procedure(id)?.fields ?? []) {
        if (f.shared_key && this.shared[f.shared_key]) {
          const e = this.shared[f.shared_key];
          forms[id][f.id] = { value: e.value, source: e.source };
        }
      }
    }
    return { lifeEvent: this.lifeEvent, chosen: this.chosen, cardStep: this.cardStep?.step ?? null,
             cardError: this.cardStep?.error ?? this.lastError, shared: structuredClone(this.shared),
             revealed: this.revealed !== null, forms, marks: { ...this.marks } };
  }
}
