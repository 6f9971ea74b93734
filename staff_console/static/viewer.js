// The document viewer of the specialist's workspace: ask the terminal to photograph a document,
// follow the capture, see every page as a thumbnail (grouped by document) and read one large —
// fit, 100 %, up to 400 % (buttons, the mouse wheel, the keyboard), dragged, turned by quarter
// turns — open the camera's original on demand, and show the resident a region of the page.
// Pages come from the hub with the login cookie (same origin, never cached); nothing is kept
// after the session.

import { el } from "./lib/dom.js";
import { errorText, textsOf } from "./lib/i18n.js";
import { getJson } from "./lib/api.js";

const MAX_SCALE = 4;
const STEP = 1.25;
const UNITS = 10000;  // marks are in ten-thousandths of the page's width and height
const REFS = new Set(["document.capture", "document.mark"]);

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

export class DocumentViewer {
  constructor(root, { send }) {
    this.root = root;
    this.send = send;
    this.t = textsOf("documents");
    this.thumbs = new Map();  // `${id}@${sha}` -> the thumbnail's <img>, kept across renders
    this.build();
    this.reset(null);
    new ResizeObserver(() => this.layout()).observe(this.viewport);
  }

  reset(session) {
    this.session = session;
    this.pages = [];          // [{document_id, group, page, width, height, sha, original}] with a corrected page
    this.currentId = null;
    this.variant = "corrected";
    this.scale = 1;
    this.fitting = true;      // follow the viewport's size until the specialist zooms
    this.rotation = 0;
    this.pan = { x: 0, y: 0 };
    this.natural = { w: 1, h: 1 };
    this.status = null;       // the last document.status, or {step: "asked"} / {error}
    this.notice = null;       // what the last mark did
    this.markMode = false;
    this.mark = null;         // {document_id, x, y, w, h} shown now
    this.lastMark = null;     // the last document.mark sent, for tests
    this.loads = 0;           // list fetches started; only the newest is applied
    this.thumbs.clear();
    this.image.removeAttribute("src");
    this.root.hidden = session === null;
  }

  async open(session) {
    if (this.session?.id === session.id) return;
    this.reset(session);
    this.render();
    await this.refresh();
  }

  close() { this.reset(null); this.render(); }

  // -- the session's pages ------------------------------------------------------------------

  async refresh() {
    const session = this.session;
    if (!session) return [];
    const ticket = ++this.loads;
    const body = await getJson(`/api/sessions/${encodeURIComponent(session.id)}/documents`);
    if (!body || ticket !== this.loads || this.session !== session) return [];
    const before = new Set(this.pages.map((p) => p.document_id));
    this.pages = body.documents.filter((d) => d.corrected).map((d) => ({
      document_id: d.document_id, group: d.group, page: d.page, width: d.width, height: d.height,
      sha: d.corrected.sha256, original: d.original,
    }));
    return this.pages.filter((p) => !before.has(p.document_id));
  }

  groups() {
    const out = new Map();
    for (const p of this.pages) {
      if (!out.has(p.group)) out.set(p.group, []);
      out.get(p.group).push(p);
    }
    for (const pages of out.values()) pages.sort((a, b) => a.page - b.page);
    return out;
  }

  current() { return this.pages.find((p) => p.document_id === this.currentId) ?? null; }

  url(page, variant) {
    const sha = variant === "original" ? page.original?.sha256 : page.sha;
    return `/api/documents/${page.document_id}/${variant}?v=${(sha ?? "").slice(0, 16)}`;
  }

  async onMessage(msg) {
    if (msg.type === "error" && this.session && REFS.has(msg.ref_type)) {
      this.status = { step: "error", error: msg.code };
      this.render();
      return;
    }
    if (!this.session || msg.session_id !== this.session.id) return;
    if (msg.type === "document.status") {
      this.status = msg;
      this.render();
    } else if (msg.type === "document.added") {
      const shown = this.current();
      const fresh = await this.refresh();
      // A new page is shown at once; a page taken again is reloaded where it is shown.
      if (fresh.some((p) => p.document_id === msg.document_id)) this.select(msg.document_id);
      else if (shown && shown.document_id === msg.document_id && shown.sha !== this.current()?.sha) this.select(msg.document_id);
      else this.render();
    }
  }

  capture(group = null) {
    if (!this.session) return;
    this.status = { step: "asked" };
    this.send({ type: "document.capture", session_id: this.session.id, ...(group ? { group } : {}) });
    this.render();
  }

  select(documentId, variant = "corrected") {
    const page = this.pages.find((p) => p.document_id === documentId);
    if (!page) return;
    if (this.currentId !== documentId) { this.rotation = 0; this.markMode = false; }
    this.currentId = documentId;
    this.variant = variant === "original" && page.original ? "original" : "corrected";
    const dims = this.variant === "original" ? page.original : page;
    this.natural = { w: dims.width, h: dims.height };
    this.fitting = true;
    this.image.alt = this.pageLabel(page);
    this.image.src = this.url(page, this.variant);
    this.render();
    this.layout();
  }

  // -- the view: scale, rotation, pan ---------------------------------------------------------

  viewSize() { return { w: this.viewport.clientWidth, h: this.viewport.clientHeight }; }

  fitScale() {
    const { w, h } = this.viewSize();
    const turned = this.rotation % 180 !== 0;
    const pw = turned ? this.natural.h : this.natural.w;
    const ph = turned ? this.natural.w : this.natural.h;
    if (!w || !h || !pw || !ph) return 1;
    return Math.min(w / pw, h / ph);
  }

  minScale() { return Math.min(this.fitScale(), 1); }

  // Maps the sheet's own pixels (0..w·scale, 0..h·scale) to the viewport's.
  matrix(scale = this.scale, pan = this.pan) {
    const { w, h } = this.viewSize();
    return new DOMMatrix()
      .translate(w / 2 + pan.x, h / 2 + pan.y)
      .rotate(this.rotation)
      .translate((-this.natural.w * scale) / 2, (-this.natural.h * scale) / 2);
  }

  // Where a viewport point falls on the page, as fractions of its width and height.
  pageAt(x, y) {
    const p = this.matrix().inverse().transformPoint(new DOMPoint(x, y));
    return { fx: p.x / (this.natural.w * this.scale), fy: p.y / (this.natural.h * this.scale) };
  }

  // Zoom keeping the page point under (x, y) where it is (the viewport's centre by default).
  zoomTo(scale, at = null) {
    const { w, h } = this.viewSize();
    const x = at?.x ?? w / 2;
    const y = at?.y ?? h / 2;
    const { fx, fy } = this.pageAt(x, y);
    const next = clamp(scale, this.minScale(), MAX_SCALE);
    const q = this.matrix(next, { x: 0, y: 0 }).transformPoint(
      new DOMPoint(fx * this.natural.w * next, fy * this.natural.h * next));
    this.scale = next;
    this.pan = { x: x - q.x, y: y - q.y };
    this.fitting = false;
    this.layout();
  }

  fit() { this.fitting = true; this.layout(); }

  actualSize() { this.zoomTo(1); }

  zoomBy(factor, at = null) {
    let next = this.scale * factor;
    if (Math.abs(next - MAX_SCALE) < 0.05 * MAX_SCALE) next = MAX_SCALE;  // land on 400 % exactly
    if (Math.abs(next - 1) < 0.05) next = 1;
    this.zoomTo(next, at);
  }

  rotate() {
    this.rotation = (this.rotation + 90) % 360;
    if (this.fitting) this.layout();
    else this.zoomTo(this.scale);
  }

  layout() {
    if (this.fitting) {
      this.scale = this.fitScale();
      this.pan = { x: 0, y: 0 };
    }
    const { w, h } = this.natural;
    this.sheet.style.width = `${w * this.scale}px`;
    this.sheet.style.height = `${h * this.scale}px`;
    this.sheet.style.transform = this.matrix().toString();
    this.zoomLabel.textContent = `${Math.round(this.scale * 100)}%`;
  }

  // -- marking a region -----------------------------------------------------------------------

  sendMark(a, b) {
    const page = this.current();
    if (!page || this.variant !== "corrected") return;
    const p = this.pageAt(a.x, a.y);
    const q = this.pageAt(b.x, b.y);
    const x0 = clamp(Math.min(p.fx, q.fx), 0, 1), x1 = clamp(Math.max(p.fx, q.fx), 0, 1);
    const y0 = clamp(Math.min(p.fy, q.fy), 0, 1), y1 = clamp(Math.max(p.fy, q.fy), 0, 1);
    const x = Math.round(x0 * UNITS), y = Math.round(y0 * UNITS);
    const w = Math.min(Math.round(x1 * UNITS) - x, UNITS - x), h = Math.min(Math.round(y1 * UNITS) - y, UNITS - y);
    if (w <= 0 || h <= 0) return;
    const mark = { type: "document.mark", session_id: this.session.id, document_id: page.document_id, x, y, w, h, clear: false };
    this.send(mark);
    this.lastMark = mark;
    this.mark = { document_id: page.document_id, x, y, w, h };
    this.notice = "marked";
    this.status = null;
    this.render();
  }

  clearMark() {
    if (!this.session || !this.mark) return;
    const mark = { type: "document.mark", session_id: this.session.id, document_id: this.mark.document_id, clear: true };
    this.send(mark);
    this.lastMark = mark;
    this.mark = null;
    this.notice = "cleared";
    this.render();
  }

  // -- the page's furniture, made once ----------------------------------------------------------

  build() {
    const button = (id, cls = "secondary small") => el("button", { type: "button", id, className: cls });
    this.title = el("h3");
    this.captureButton = button("doc-capture", "");
    this.nextButton = button("doc-next-page", "secondary");
    this.statusLine = el("p", { id: "doc-status", role: "status" });
    this.statusLine.setAttribute("aria-live", "polite");
    this.thumbList = el("nav", { id: "doc-thumbs", className: "doc-thumbs" });
    this.fitButton = button("doc-fit");
    this.actualButton = button("doc-actual");
    this.zoomOutButton = button("doc-zoom-out");
    this.zoomInButton = button("doc-zoom-in");
    this.zoomOutButton.textContent = "−";
    this.zoomInButton.textContent = "＋";
    this.zoomLabel = el("span", { id: "doc-zoom", className: "doc-zoom" });
    this.rotateButton = button("doc-rotate");
    this.originalButton = button("doc-original");
    this.markButton = button("doc-mark-mode");
    this.clearButton = button("doc-mark-clear");
    this.tools = el("div", { className: "doc-tools", role: "toolbar" }, this.fitButton, this.actualButton,
      this.zoomOutButton, this.zoomLabel, this.zoomInButton, this.rotateButton, this.originalButton,
      this.markButton, this.clearButton);
    this.image = el("img", { id: "doc-image", draggable: false, alt: "" });
    this.markBox = el("div", { className: "doc-mark", hidden: true });
    this.sheet = el("div", { id: "doc-sheet", className: "doc-sheet" }, this.image, this.markBox);
    this.drawing = el("div", { className: "doc-drawing", hidden: true });
    this.emptyNote = el("p", { className: "doc-empty" });
    this.viewport = el("div", { id: "doc-viewport", className: "doc-viewport", tabIndex: 0 },
      this.sheet, this.drawing, this.emptyNote);
    this.root.replaceChildren(
      this.title,
      el("div", { className: "doc-actions" }, this.captureButton, this.nextButton, this.statusLine),
      el("div", { className: "doc-body" }, this.thumbList, el("div", { className: "doc-main" }, this.tools, this.viewport)),
    );

    this.captureButton.addEventListener("click", () => this.capture());
    this.nextButton.addEventListener("click", () => this.capture(this.pages.at(-1)?.group ?? null));
    this.fitButton.addEventListener("click", () => this.fit());
    this.actualButton.addEventListener("click", () => this.actualSize());
    this.zoomInButton.addEventListener("click", () => this.zoomBy(STEP));
    this.zoomOutButton.addEventListener("click", () => this.zoomBy(1 / STEP));
    this.rotateButton.addEventListener("click", () => this.rotate());
    this.originalButton.addEventListener("click", () => {
      if (this.currentId) this.select(this.currentId, this.variant === "original" ? "corrected" : "original");
    });
    this.markButton.addEventListener("click", () => { this.markMode = !this.markMode; this.render(); });
    this.clearButton.addEventListener("click", () => this.clearMark());
    this.image.addEventListener("load", () => {
      this.natural = { w: this.image.naturalWidth, h: this.image.naturalHeight };
      this.layout();
      this.render();
    });
    this.image.addEventListener("error", () => {
      if (this.image.getAttribute("src")) { this.status = { step: "error", error: "load_failed" }; this.render(); }
    });
    this.viewport.addEventListener("wheel", (event) => {
      if (!this.currentId) return;
      event.preventDefault();
      const box = this.viewport.getBoundingClientRect();
      this.zoomBy(Math.exp(-event.deltaY * 0.0015), { x: event.clientX - box.left, y: event.clientY - box.top });
    }, { passive: false });
    this.viewport.addEventListener("keydown", (event) => this.onKey(event));
    this.viewport.addEventListener("pointerdown", (event) => this.onPointerDown(event));
  }

  onKey(event) {
    if (!this.currentId) return;
    const moves = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] };
    if (event.key === "+" || event.key === "=") this.zoomBy(STEP);
    else if (event.key === "-") this.zoomBy(1 / STEP);
    else if (event.key === "0") this.fit();
    else if (event.key === "r") this.rotate();
    else if (moves[event.key]) {
      const [dx, dy] = moves[event.key];
      this.pan = { x: this.pan.x + dx, y: this.pan.y + dy };
      this.fitting = false;
      this.layout();
    } else return;
    event.preventDefault();
  }

  onPointerDown(event) {
    if (!this.currentId || event.button !== 0) return;
    event.preventDefault();
    this.viewport.setPointerCapture(event.pointerId);
    const box = this.viewport.getBoundingClientRect();
    const start = { x: event.clientX - box.left, y: event.clientY - box.top };
    const marking = this.markMode && this.variant === "corrected";
    const pan0 = { ...this.pan };
    const move = (e) => {
      const now = { x: e.clientX - box.left, y: e.clientY - box.top };
      if (marking) {
        Object.assign(this.drawing.style, {
          left: `${Math.min(start.x, now.x)}px`, top: `${Math.min(start.y, now.y)}px`,
          width: `${Math.abs(now.x - start.x)}px`, height: `${Math.abs(now.y - start.y)}px`,
        });
        this.drawing.hidden = false;
      } else {
        this.pan = { x: pan0.x + now.x - start.x, y: pan0.y + now.y - start.y };
        this.fitting = false;
        this.layout();
      }
    };
    const up = (e) => {
      this.viewport.removeEventListener("pointermove", move);
      this.viewport.removeEventListener("pointerup", up);
      this.viewport.removeEventListener("pointercancel", up);
      this.drawing.hidden = true;
      if (marking && e.type === "pointerup") this.sendMark(start, { x: e.clientX - box.left, y: e.clientY - box.top });
    };
    this.viewport.addEventListener("pointermove", move);
    this.viewport.addEventListener("pointerup", up);
    this.viewport.addEventListener("pointercancel", up);
  }

  // -- drawing ----------------------------------------------------------------------------------

  pageLabel(page) {
    const groupNumber = [...this.groups().keys()].indexOf(page.group) + 1;
    return `${this.t("doc", { n: groupNumber })} ${this.t("page", { n: page.page })}`;
  }

  thumbnail(page) {
    const key = `${page.document_id}@${page.sha}`;
    let img = this.thumbs.get(key);
    if (!img) {
      img = el("img", { src: this.url(page, "corrected"), alt: "", draggable: false });
      img.dataset.document = page.document_id;
      this.thumbs.set(key, img);
    }
    img.alt = this.pageLabel(page);
    const b = el("button", { type: "button", className: "doc-thumb" }, img,
                 el("span", { textContent: this.t("page_short", { n: page.page }) }));
    b.dataset.document = page.document_id;
    b.setAttribute("aria-pressed", String(page.document_id === this.currentId));
    b.addEventListener("click", () => this.select(page.document_id));
    return b;
  }

  render() {
    if (!this.session) return;
    this.title.textContent = this.t("title");
    this.captureButton.textContent = this.t("capture");
    this.nextButton.textContent = this.t("next_page");
    this.nextButton.disabled = this.pages.length === 0;
    this.thumbList.setAttribute("aria-label", this.t("pages"));
    let n = 0;
    const groups = [];
    for (const [, pages] of this.groups()) {
      n += 1;
      groups.push(el("section", { className: "doc-group" },
        el("h4", { textContent: this.t("doc", { n }) }), ...pages.map((p) => this.thumbnail(p))));
    }
    this.thumbList.replaceChildren(...groups);

    const page = this.current();
    for (const [b, key] of [[this.fitButton, "fit"], [this.actualButton, "actual"], [this.rotateButton, "rotate"],
                            [this.markButton, "mark_mode"], [this.clearButton, "mark_clear"]]) {
      b.textContent = this.t(key);
      b.disabled = !page;
    }
    this.zoomInButton.setAttribute("aria-label", this.t("zoom_in"));
    this.zoomOutButton.setAttribute("aria-label", this.t("zoom_out"));
    this.zoomInButton.disabled = this.zoomOutButton.disabled = !page;
    this.originalButton.textContent = this.t(this.variant === "original" ? "corrected" : "original");
    this.originalButton.disabled = !page?.original;
    this.originalButton.setAttribute("aria-pressed", String(this.variant === "original"));
    this.markButton.disabled = !page || this.variant !== "corrected";
    this.markButton.setAttribute("aria-pressed", String(this.markMode));
    this.clearButton.disabled = !this.mark;
    this.viewport.dataset.mode = this.markMode && this.variant === "corrected" ? "mark" : "pan";
    this.sheet.hidden = !page;
    this.emptyNote.hidden = Boolean(page);
    this.emptyNote.textContent = this.t("empty");

    const shown = this.mark && page && this.mark.document_id === page.document_id && this.variant === "corrected";
    this.markBox.hidden = !shown;
    if (shown) {
      Object.assign(this.markBox.style, {
        left: `${this.mark.x / 100}%`, top: `${this.mark.y / 100}%`,
        width: `${this.mark.w / 100}%`, height: `${this.mark.h / 100}%`,
      });
    }

    let text = "";
    let problem = false;
    const s = this.status;
    if (s?.step === "asked") text = this.t("asked");
    else if (s) {
      text = s.step === "error" ? this.t("step.error") : this.t(`step.${s.step}`);
      if (s.error) { text += errorText(this.t, s.error); problem = true; }
    } else if (this.notice) text = this.t(this.notice);
    this.statusLine.textContent = text;
    this.statusLine.className = problem ? "error" : "";
    this.statusLine.dataset.step = s?.step ?? "";
  }

  // For tests: what the viewer shows.
  snapshot() {
    const box = this.image.getBoundingClientRect();
    return {
      sessionId: this.session?.id ?? null,
      pages: this.pages.map((p) => {
        const img = this.thumbs.get(`${p.document_id}@${p.sha}`);
        return { document_id: p.document_id, group: p.group, page: p.page, width: p.width, height: p.height,
                 hasOriginal: Boolean(p.original), thumbLoaded: Boolean(img?.complete && img.naturalWidth > 0) };
      }),
      current: this.currentId, variant: this.variant, scale: this.scale, fitScale: this.fitScale(),
      rotation: this.rotation, markMode: this.markMode, mark: this.mark, lastMark: this.lastMark,
      status: this.status?.step ?? null, error: this.status?.error ?? null,
      image: { src: this.image.getAttribute("src"), loaded: this.image.complete && this.image.naturalWidth > 0,
               naturalWidth: this.image.naturalWidth, naturalHeight: this.image.naturalHeight,
               width: box.width, height: box.height },
    };
  }
}
