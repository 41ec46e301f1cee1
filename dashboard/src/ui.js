// Small DOM helpers: elements, sortable tables, notices.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function section(title, ...children) {
  const id = `h-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return el("section", { class: "card", "aria-labelledby": id }, el("h2", { id }, title), ...children);
}

export function notice(text, kind = "info") {
  return el("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : null }, text);
}

/**
 * A table whose columns sort: columns [{key, label, value(row) -> sortable, cell(row) -> Node|string, num}].
 * Header buttons toggle the order; aria-sort says which column sorts the table.
 */
export function sortableTable(caption, columns, rows, { sortKey = columns[0].key, dir = 1, rowAttrs = () => ({}), onSort } = {}) {
  const table = el("table", { class: "grid" });
  const state = { sortKey, dir };
  const render = () => {
    table.replaceChildren();
    table.append(el("caption", { class: "sr-only" }, caption));
    const column = columns.find((c) => c.key === state.sortKey) || columns[0];
    const sorted = [...rows].sort((a, b) => {
      const x = column.value(a);
      const y = column.value(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * state.dir;
    });
    const head = el("tr");
    for (const c of columns) {
      const sorting = c.key === state.sortKey;
      const button = el("button", {
        type: "button",
        class: "sort",
        onclick: () => {
          state.dir = sorting ? -state.dir : 1;
          state.sortKey = c.key;
          if (onSort) onSort(state.sortKey, state.dir);
          render();
        },
      }, c.label, el("span", { "aria-hidden": "true" }, sorting ? (state.dir > 0 ? " ▲" : " ▼") : ""));
      head.append(el("th", { scope: "col", class: c.num ? "num" : null, "aria-sort": sorting ? (state.dir > 0 ? "ascending" : "descending") : null }, button));
    }
    table.append(el("thead", {}, head));
    const body = el("tbody");
    for (const row of sorted) {
      const tr = el("tr", rowAttrs(row));
      for (const c of columns) tr.append(el(c.header ? "th" : "td", { class: c.num ? "num" : null, scope: c.header ? "row" : null, "data-col": c.key }, c.cell(row)));
      body.append(tr);
    }
    table.append(body);
  };
  render();
  return scroller(caption, table);
}

/** A region that scrolls sideways on a narrow screen, reachable by keyboard. */
export function scroller(label, ...children) {
  return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": label }, ...children);
}

export function simpleTable(caption, headers, rows, numeric = []) {
  return scroller(
    caption,
    el(
      "table",
      { class: "grid" },
      el("caption", { class: "sr-only" }, caption),
      el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => el("td", { class: numeric.includes(i) ? "num" : null }, c))))),
    ),
  );
}

export const CATEGORY_COLORS = {
  running: "#1f7a3a",
  reduced_speed: "#8cc56f",
  idle: "#e0b020",
  micro_stop: "#e07b20",
  setup: "#2f6db3",
  breakdown: "#b3261e",
  planned_stop: "#8a8f98",
  no_order: "#b9a7d6",
  unknown: "#d0d4da",
};

export function stateChip(category, text) {
  return el("span", { class: "chip" }, el("span", { class: "swatch", "aria-hidden": "true", style: `background:${CATEGORY_COLORS[category] || "#888"}` }), text || (category || "—").replace("_", " "));
}

export function severityChip(severity) {
  const s = severity || "ok";
  return el("span", { class: `sev sev-${s}` }, s);
}
