// The API, same origin, with the signed-in bearer token. Errors are RFC 9457 problem details.
const TOKEN_KEY = "twinledger.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** The token's claims (tenant, role, sub, exp), read without checking it: the API checks it. */
export function claims(value = token()) {
  try {
    const part = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")), (c) => c.charCodeAt(0)));
    const parsed = JSON.parse(text);
    return { tenant: parsed.tenant || parsed["custom:tenant"] || "", role: parsed.role || parsed["custom:role"] || "", sub: parsed.sub || "", exp: parsed.exp || 0 };
  } catch {
    return null;
  }
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let base = "";

/** The API's base URL: the page's own origin locally, the deployment's API in AWS (config `api`). */
export function setApiBase(url) {
  base = url ? url.replace(/\/+$/, "") : "";
}

export async function api(path, { method = "GET", body, query } = {}) {
  const url = new URL(base ? `${base}${path}` : path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await answer.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!answer.ok) throw new ApiError(answer.status, parsed);
  return parsed;
}

/** Every item of a paged list. */
export async function all(path, query = {}) {
  const items = [];
  let next = null;
  for (let page = 0; page < 50; page += 1) {
    const answer = await api(path, { query: { ...query, limit: 1000, next } });
    items.push(...answer.items);
    next = answer.next;
    if (!next) break;
  }
  return items;
}

export const enc = (value) => encodeURIComponent(value);
