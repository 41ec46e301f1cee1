// The dashboard: a hash router over five pages, the sign-in field, and the site's calendar they share.
import "./style.css";
import { ApiError, api, claims, setApiBase, setToken, token } from "./api.js";
import { destroyCharts, mountCharts } from "./charts.js";
import { finishSignIn, startSignIn } from "./hosted-ui.js";
import * as fleet from "./pages/fleet.js";
import * as lease from "./pages/lease.js";
import * as line from "./pages/line.js";
import * as machine from "./pages/machine.js";
import * as parts from "./pages/parts.js";
import { loadSettings, setChain, settings } from "./settings.js";
import { today } from "./time.js";
import { el, notice } from "./ui.js";

const PAGES = { fleet, machine, line, lease, parts };
const NAV = [
  ["fleet", "Fleet"],
  ["machine", "Machine"],
  ["line", "Line"],
  ["lease", "Lease"],
  ["parts", "Parts"],
];
let cleanup = null;
let calendarCache = null;

/** The route: page, the id after it, and the query (#/machine/cnc-01?day=2026-11-30). */
export function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [page = "fleet", ...rest] = path.split("/");
  return { page: PAGES[page] ? page : "fleet", id: rest.length ? decodeURIComponent(rest.join("/")) : "", params: new URLSearchParams(query) };
}

export function go(page, id = "", params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString();
  location.hash = `#/${page}${id ? `/${encodeURIComponent(id)}` : ""}${query ? `?${query}` : ""}`;
}

async function calendar() {
  if (calendarCache) return calendarCache;
  const site = settings().site || "plant-a";
  try {
    calendarCache = (await api(`/sites/${encodeURIComponent(site)}/calendar`)).calendar || { timezone: "UTC", shifts: [] };
  } catch {
    calendarCache = { timezone: "UTC", shifts: [] };
  }
  return calendarCache;
}

function renderNav(current) {
  const nav = document.getElementById("nav");
  nav.replaceChildren(el("ul", {}, NAV.map(([page, label]) => el("li", {}, el("a", { href: `#/${page}`, "aria-current": page === current ? "page" : null }, label)))));
}

function renderWho() {
  const who = document.getElementById("who");
  const c = claims();
  if (!token() || !c) {
    who.replaceChildren();
    return;
  }
  who.replaceChildren(el("span", { class: "tenant" }, `${c.tenant} · ${c.role}`), el("button", { type: "button", class: "link", onclick: () => { setToken(""); render(); } }, "Sign out"));
}

function signIn(main, message) {
  const s = settings();
  if (s.cognito) {
    main.replaceChildren(el("div", { class: "card signin" }, el("h1", {}, "Sign in"), message ? notice(message, "error") : null, el("button", { type: "button", class: "primary", onclick: () => startSignIn(s.cognito) }, "Sign in with your account")));
    return;
  }
  const input = el("textarea", { id: "token", name: "token", rows: "4", autocomplete: "off", spellcheck: "false", required: true });
  const rpc = el("input", { id: "rpc", name: "rpc", type: "url", value: s.rpc_url || "", placeholder: "http://127.0.0.1:8545" });
  const registry = el("input", { id: "registry", name: "registry", type: "text", value: s.anchor_registry || "", placeholder: "0x…" });
  const form = el(
    "form",
    {
      class: "card signin",
      onsubmit: (event) => {
        event.preventDefault();
        setToken(input.value);
        setChain(rpc.value.trim() !== (s.rpc_url || "") ? rpc.value.trim() : "", registry.value.trim() !== (s.anchor_registry || "") ? registry.value.trim() : "");
        render();
      },
    },
    el("h1", {}, "Sign in"),
    message ? notice(message, "error") : null,
    el("label", { for: "token" }, "Access token"),
    el("p", { class: "hint", id: "token-hint" }, "Locally: one of the tokens `twinledger up` or `twinledger api` printed (also in their tokens.json); the URL they print fills it in."),
    input,
    el(
      "details",
      {},
      el("summary", {}, "Chain used to check proofs"),
      el("label", { for: "rpc" }, "JSON-RPC URL"),
      rpc,
      el("label", { for: "registry" }, "AnchorRegistry address"),
      registry,
    ),
    el("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  input.setAttribute("aria-describedby", "token-hint");
  main.replaceChildren(form);
}

export async function render() {
  if (cleanup) cleanup();
  cleanup = null;
  destroyCharts();
  const main = document.getElementById("main");
  const { page, id, params } = route();
  renderNav(page);
  renderWho();
  const chainStatus = document.getElementById("chain-status");
  const s = settings();
  chainStatus.textContent = s.rpc_url ? `chain: ${s.rpc_url} · registry ${s.anchor_registry || "—"}` : "chain: not configured";
  if (!token()) {
    document.title = "Sign in · twinledger";
    signIn(main);
    return;
  }
  main.replaceChildren(el("p", { class: "loading" }, "Loading…"));
  try {
    const cal = await calendar();
    const tz = cal.timezone || "UTC";
    const day = params.get("day") || s.default_day || today(tz);
    const ctx = { id, params, day, tz, calendar: cal, claims: claims(), settings: s, go, refresh: render };
    const view = el("div", { class: "page" });
    cleanup = (await PAGES[page].render(view, ctx)) || null;
    main.replaceChildren(view);
    mountCharts();
    document.title = `${view.dataset.title || page} · twinledger`;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setToken("");
      signIn(main, "The token was not accepted: sign in again.");
      return;
    }
    main.replaceChildren(el("div", { class: "card" }, el("h1", {}, "Something went wrong"), notice(error.message || String(error), "error")));
  }
}

async function start() {
  const fragment = new URLSearchParams(location.hash.startsWith("#token=") ? location.hash.slice(1) : "");
  if (fragment.get("token")) {
    setToken(fragment.get("token"));
    history.replaceState(null, "", `${location.pathname}#/fleet`);
  }
  await loadSettings();
  setApiBase(settings().api);
  try {
    const idToken = await finishSignIn(settings().cognito);
    if (idToken) setToken(idToken);
  } catch (error) {
    window.addEventListener("hashchange", render);
    signIn(document.getElementById("main"), error.message);
    return;
  }
  window.addEventListener("hashchange", render);
  await render();
}

start();
