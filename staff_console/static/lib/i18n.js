// Texts for every staff page, and the page's language.
//
// Theory of operation: there is one table per language, texts.ja.js and texts.en.js next to this
// module, each a plain object imported with the module graph (so the texts are there before any
// page script runs: no fetch, no await, no moment where a click finds no handler). Each table
// holds one section per screen (console, case, documents, intake, dashboard, board); a module
// asks for its section with textsOf("case") and gets a function t: t(key) is the text under key
// in the page's language (or a group of texts, such as "errors"; the key itself when there is
// none), and t(key, vars) fills the text's `{name}` placeholders from vars. The tables hold data
// only (JSON after `export default`), so that tests/staff_console/test_texts.py can read them and
// check that every language has every key with the same placeholders. Japanese comes first;
// English is chosen with the page's toggle and remembered in localStorage ("mdg-lang").

import ja from "./texts.ja.js";
import en from "./texts.en.js";

const STORED = "mdg-lang";

// Every language's table, by language code: for a page that shows several at once (the board).
export const TEXTS = { ja, en };

let current = localStorage.getItem(STORED) === "en" ? "en" : "ja";

export const lang = () => current;

export function toggleLang() {
  current = current === "ja" ? "en" : "ja";
  localStorage.setItem(STORED, current);
  return current;
}

// `text` with each `{name}` replaced by vars[name]; a placeholder without a value stays as it is.
export function format(text, vars) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function textsOf(section) {
  return (key, vars) => {
    const value = TEXTS[current][section][key] ?? key;
    return vars === undefined || typeof value !== "string" ? value : format(value, vars);
  };
}

// What to show for an error code from the hub or the terminal: the section's "errors" entry for
// it, else `fallback` (the code itself unless told otherwise).
export function errorText(t, code, fallback = code) {
  return t("errors")[code] ?? fallback;
}

// A name given in the catalog's {ja, en} shape, in the page's language (Japanese when missing).
export const localized = (item) => item?.[current] ?? item?.ja ?? "";

// The name of catalog[kind][key] (a purpose, skill or priority), or the key when it has none.
export const catalogLabel = (catalog, kind, key) => catalog[kind]?.[key]?.[current] ?? key;

// Fills the page's static markup: data-i18n sets an element's text, data-i18n-placeholder its
// placeholder, from section t.
export function applyTexts(root, t) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
}
