// Texts for every staff page, and the page's language.
//
// Theory of operation: there is one table per language, texts.ja.json and texts.en.json next to
// this module, loaded once when it is first imported. Each table holds one section per screen
// (console, case, documents, intake, dashboard, board); a module asks for its section with
// textsOf("case") and gets a function t: t(key) is the text under key in the page's language
// (or a group of texts, such as "errors"; the key itself when there is none), and t(key, vars)
// fills the text's `{name}` placeholders from vars. The tables are data, not code, so that
// tests/staff_console/test_texts.py can check that every language has every key with the same
// placeholders. Japanese comes first; English is chosen with the page's toggle and remembered in
// localStorage ("mdg-lang").

const LANGUAGES = ["ja", "en"];
const STORED = "mdg-lang";

async function load(code) {
  const res = await fetch(new URL(`./texts.${code}.json`, import.meta.url));
  if (!res.ok) throw new Error(`texts.${code}.json: HTTP ${res.status}`);
  return [code, await res.json()];
}

// Every language's table, by language code: for a page that shows several at once (the board).
export const TEXTS = Object.fromEntries(await Promise.all(LANGUAGES.map(load)));

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
