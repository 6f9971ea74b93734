// The kiosk's texts: one table per language, texts.ja.json and texts.en.json beside this module,
// loaded once when kiosk.js imports it. A text may hold `{name}` placeholders, which format fills.
// The tables are data, not code, so that tests/branch_client/test_kiosk_texts.py can check that
// both languages have every key with the same placeholders.

const LANGUAGES = ["ja", "en"];

async function load(code) {
  const res = await fetch(new URL(`./texts.${code}.json`, import.meta.url));
  if (!res.ok) throw new Error(`texts.${code}.json: HTTP ${res.status}`);
  return [code, await res.json()];
}

export const TEXTS = Object.fromEntries(await Promise.all(LANGUAGES.map(load)));

// `text` with each `{name}` replaced by vars[name]; a placeholder without a value stays as it is.
export function format(text, vars) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
