// Line icons drawn as inline SVG through the DOM (no icon font, no image request): each is a
// list of shapes on a 24×24 grid, stroked in the text colour.
const SVG = "http://www.w3.org/2000/svg";

const SHAPES = {
  menu: [["path", { d: "M4 6h16M4 12h16M4 18h16" }]],
  members: [
    ["circle", { cx: 9, cy: 8, r: 3.5 }],
    ["path", { d: "M2.5 20c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6" }],
    ["circle", { cx: 17, cy: 9, r: 2.5 }],
    ["path", { d: "M17 14c2.6.2 4.5 2 4.5 5" }],
  ],
  settings: [
    ["path", { d: "M4 7h10M18 7h2M4 17h4M12 17h8" }],
    ["circle", { cx: 16, cy: 7, r: 2 }],
    ["circle", { cx: 10, cy: 17, r: 2 }],
  ],
  logout: [["path", { d: "M9 4H6a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h3M16 17l5-5-5-5M21 12H9" }]],
  plus: [["path", { d: "M12 5v14M5 12h14" }]],
  explore: [
    ["circle", { cx: 12, cy: 12, r: 9 }],
    ["path", { d: "M15.5 8.5l-2 5-5 2 2-5z" }],
  ],
  chevron: [["path", { d: "M6 9l6 6 6-6" }]],
  hash: [["path", { d: "M5 9h15M4 15h15M10 3L8 21M16 3l-2 18" }]],
  chat: [["path", { d: "M4 5h16v11H9l-5 4z" }]],
};

export function icon(name, size = 20) {
  const svg = document.createElementNS(SVG, "svg");
  for (const [key, value] of Object.entries({
    viewBox: "0 0 24 24", width: size, height: size, fill: "none", stroke: "currentColor",
    "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round",
    "aria-hidden": "true", focusable: "false", class: `icon icon-${name}`,
  })) {
    svg.setAttribute(key, String(value));
  }
  for (const [tag, attrs] of SHAPES[name] || []) {
    const shape = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) shape.setAttribute(key, String(value));
    svg.append(shape);
  }
  return svg;
}
