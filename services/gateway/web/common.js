// What the desktop and the widget share: building elements (text only, never HTML), calling the gateway's
// HTTP API, and a live stream that resumes from the last position it saw.

/** An element with attributes and children; strings become text nodes (never parsed as HTML). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren(...nodes(children));
}

/** Like fill, for what is redrawn while the user works in it (tabs, offers, work lists, the board): a new
 * element with the id of one already there among the same parent's children keeps that element, its attributes
 * and children brought up to date the same way; an element without an id is kept where it equals the one at its
 * place. So a redraw does not replace the element under the pointer, which would lose a click pressed before it and
 * released after it. A kept element keeps its first render's listeners: listeners must depend only on what the id
 * of the element (or of its nearest ancestor with one) names. */
export function update(el, ...children) {
  const had = [...el.childNodes];
  const byId = new Map(had.filter((c) => c.id).map((c) => [c.id, c]));
  place(el, nodes(children).map((fresh, i) => {
    const old = fresh.id ? byId.get(fresh.id) : undefined;
    if (old && old.tagName === fresh.tagName) {
      for (const a of [...old.attributes]) if (!fresh.hasAttribute(a.name)) old.removeAttribute(a.name);
      for (const a of fresh.attributes) if (old.getAttribute(a.name) !== a.value) old.setAttribute(a.name, a.value);
      update(old, [...fresh.childNodes]);
      return old;
    }
    return had[i] && !had[i].id && had[i].isEqualNode(fresh) ? had[i] : fresh;
  }));
}

const nodes = (children) => children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
  .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));

/** Make `el`'s children exactly `list`, in order, moving only what is out of place. */
function place(el, list) {
  list.forEach((n, i) => { if (el.childNodes[i] !== n) el.insertBefore(n, el.childNodes[i] || null); });
  while (el.childNodes.length > list.length) el.lastChild.remove();
}

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(status, body));
    this.status = status;
    this.body = body;
  }

  static describe(status, body) {
    if (body && typeof body === "object") {
      const inner = body.detail && typeof body.detail === "object" && !Array.isArray(body.detail) ? body.detail : body;
      if (inner.reason) return inner.reason;
      if (Array.isArray(inner.detail)) return inner.detail.map((d) => `${d.field}: ${d.reason}`).join("; ");
      if (typeof inner.detail === "string") return inner.detail;
      if (inner.code) return inner.code;
    }
    return `The request failed (${status}).`;
  }
}

/** A JSON client of the gateway; `token()` gives the bearer token (or null). */
export class Api {
  constructor(token, onUnauthorized) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  async call(method, path, body, { raw = false, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    const token = this.token();
    if (token) init.headers.authorization = `Bearer ${token}`;
    if (body !== undefined && !(body instanceof Blob)) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    } else if (body instanceof Blob) {
      init.body = body;
    }
    let response = await fetch(path, init);
    if (response.status === 401 && this.onUnauthorized && (await this.onUnauthorized())) {
      init.headers.authorization = `Bearer ${this.token()}`;
      response = await fetch(path, init);
    }
    if (raw) return response;
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    if (response.status === 504 && data && data.answer_url) return this.answer(data.answer_url);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /** A command the owner did not answer in time: read its answer until it is there (at most 30 s). */
  async answer(url) {
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const response = await this.call("GET", url, undefined, { raw: true });
      if (response.status === 202) continue;
      const data = await response.json();
      if (!response.ok) throw new ApiError(response.status, data);
      return data;
    }
    throw new ApiError(504, { detail: "No answer yet; try again." });
  }

  /** A command sent with an Idempotency-Key and, while the gateway answers 504 (no answer yet), sent again
   * with the same key (at most 30 s): the owner does it once, and the repeat gets the first answer. For
   * requests whose answer the caller cannot fetch at answer_url (a visitor with no token yet). */
  async postOnce(path, body = {}) {
    const key = crypto.randomUUID();
    const deadline = Date.now() + 30000;
    for (;;) {
      const response = await this.call("POST", path, body, { raw: true, headers: { "Idempotency-Key": key } });
      const text = await response.text();
      let data = null;
      try { data = text ? JSON.parse(text) : null; } catch { data = text; }
      if (response.status === 504 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (!response.ok) throw new ApiError(response.status, data);
      return data;
    }
  }

  get(path) { return this.call("GET", path); }
  post(path, body = {}) { return this.call("POST", path, body); }
  put(path, body) { return this.call("PUT", path, body); }
}

/** A WebSocket stream of the gateway: reconnects with ?after=<last position> and gets what it missed. */
export class LiveStream {
  constructor({ url, onFrame, onStatus = () => {}, onClosedForGood = () => {}, after = -1 }) {
    this.url = url;  // (after) => the socket's URL
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.onClosedForGood = onClosedForGood;
    this.position = after;
    this.delay = 500;
    this.stopped = false;
  }

  open() {
    if (this.stopped) return;
    const socket = new WebSocket(this.url(this.position));
    this.socket = socket;
    socket.addEventListener("open", () => { this.delay = 500; this.onStatus("live"); });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (typeof frame.position === "number") this.position = frame.position;
      this.onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (this.stopped) return;
      if (event.code === 4401) { this.stopped = true; this.onClosedForGood(event); return; }
      this.onStatus("reconnecting");
      setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    });
  }

  close() {
    this.stopped = true;
    if (this.socket) this.socket.close();
  }
}

export function wsUrl(path, params) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams(params).toString();
  return `${scheme}//${location.host}${path}?${query}`;
}

export function timeOf(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** A message as a bubble (customer, agent, bot) or a system line; its text always as text. */
export function messageElement(message, mine, fileUrl, customerLabel = "Customer") {
  const kind = message.sender.kind;
  if (kind === "system") {
    return h("li", { class: "system", "data-seq": message.seq }, message.text);
  }
  const who = kind === "customer" ? customerLabel : kind === "agent" ? message.sender.id : "Bot";
  const files = (message.attachments || []).map((a) =>
    h("a", { href: "#", class: "file", "data-attachment": a.attachment_id, "data-name": a.name,
             onclick: (event) => { event.preventDefault(); fileUrl(a); } }, `📎 ${a.name}`));
  return h("li", { class: `bubble ${mine ? "mine" : "theirs"} ${message.private ? "private" : ""}`,
                   "data-seq": message.seq },
    h("span", { class: "who" }, message.private ? `${who} (private note)` : who),
    h("p", { class: "text" }, message.text),
    files.length ? h("p", { class: "files" }, files) : null,
    h("time", { datetime: message.sent_at }, timeOf(message.sent_at)));
}

/** Save a response body as a file the browser downloads. */
export async function download(response, fallbackName) {
  const blob = await response.blob();
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  const name = match ? match[1] : fallbackName;
  const a = h("a", { href: URL.createObjectURL(blob), download: name, hidden: true }, name);
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
