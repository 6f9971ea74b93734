// DOM helpers shared by every staff page. The pages build their markup with these instead of
// HTML strings, so a value from the hub is always text, never markup.

export const $ = (id) => document.getElementById(id);

// An HTML element: `props` are assigned to it (`dataset` merged into its data attributes,
// `className` set only when given), then the children appended; null, undefined and false
// children are skipped, so `cond ? el(...) : null` composes.
export function el(tag, { dataset, className, ...props } = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  if (className) node.className = className;
  Object.assign(node.dataset, dataset ?? {});
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

// An SVG element: `attrs` set as attributes, then the children appended.
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}
