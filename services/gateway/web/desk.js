// The agent desktop: sign-in, presence, offers with a countdown, the sessions panel (tabs with unread badges
// and the sentiment alert), the conversation pane with the active-conversation view beside it, work lists,
// transfer, wrap-up, and the supervisor's queue board. Everything through the gateway's public API.
import { $, Api, ApiError, LiveStream, download, fill, h, messageElement, timeOf, update, wsUrl } from "./common.js";

const MAX_TEXT = 1000;
const RESERVED = /[<>]/;
const storeKey = "omni.desk";
let auth = loadAuth();
const api = new Api(() => auth && auth.access, refresh);
let stream = null;
let panel = { focused: "home", version: -1, sessions: [] };
const offers = new Map();       // offer_id -> offer frame
const settled = new Set();      // offers answered or withdrawn: a work list read a moment behind never brings them back
const conversations = new Map(); // conversation id -> {messages: Map(seq -> message), loaded, state}
let pendingFocus = null;        // a conversation just accepted: focus its session when it appears
let draftTimer = null;
let lastDraft = null;
let lastTypingSent = 0;
let typingTimer = null;
const later = new Map();        // debounced refreshes by name

function loadAuth() {
  try { return JSON.parse(sessionStorage.getItem(storeKey)); } catch { return null; }
}
function saveAuth() { if (auth) sessionStorage.setItem(storeKey, JSON.stringify(auth)); else sessionStorage.removeItem(storeKey); }

// One refresh at a time: requests that get 401 together wait for the same one. A refresh token is spent when
// used, and the gateway takes a spent one presented again for a stolen copy and ends the session.
let refreshing = null;
function refresh() {
  if (!refreshing) refreshing = refreshOnce().finally(() => { refreshing = null; });
  return refreshing;
}
async function refreshOnce() {
  if (!auth || !auth.refresh) return false;
  const response = await fetch("/v1/auth/refresh", { method: "POST", headers: { "content-type": "application/json" },
                                                      body: JSON.stringify({ refresh_token: auth.refresh }) });
  if (!response.ok) { signedOut("Your session ended; sign in again."); return false; }
  const tokens = await response.json();
  auth.access = tokens.access_token;
  auth.refresh = tokens.refresh_token;
  saveAuth();
  return true;
}

function notice(text) {
  const el = $("#notice");
  el.textContent = text || "";
  el.hidden = !text;
}

function debounce(name, fn, ms = 300) {
  clearTimeout(later.get(name));
  later.set(name, setTimeout(() => fn().catch((e) => notice(e.message)), ms));
}

// Conversations shown without a session of the gateway's panel (a conference member's: the gateway opens
// sessions for the assignee only, and POST /v1/agent/sessions opens contacts, accounts and cases).
const localTabs = new Map();
const allSessions = () => [...panel.sessions, ...localTabs.values()];

function openLocally(cid, title) {
  const sid = `local:${cid}`;
  if (!localTabs.has(sid)) {
    localTabs.set(sid, { id: sid, kind: "conversation", ref: cid, title: title || "Customer",
                         icon: (title || "Cu").slice(0, 2), unread: 0, local: true });
  }
  return focusSession(sid);
}

const focusedConversation = () => {
  const s = allSessions().find((x) => x.id === panel.focused);
  return s && s.kind === "conversation" ? s.ref : null;
};

// ---- sign-in -------------------------------------------------------------------------------------------------
$("#tenant").value = new URLSearchParams(location.search).get("tenant") || "";

$("#signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  let tokens;
  try {
    tokens = await new Api(() => null).post("/v1/auth/sign-in", {
      tenant_id: $("#tenant").value.trim(), username: $("#username").value.trim(), password: $("#password").value });
  } catch (e) {
    notice(e instanceof ApiError && e.status === 401 ? "Wrong tenant, user name or password." : e.message);
    return;
  }
  auth = { access: tokens.access_token, refresh: tokens.refresh_token, user: tokens.user_id, role: tokens.role,
           tenant: tokens.tenant_id };
  saveAuth();
  $("#password").value = "";
  notice("");
  await enterDesk().catch(enterFailed);
});

$("#sign-out").addEventListener("click", async () => {
  try { await api.post("/v1/auth/sign-out"); } catch { /* signed out anyway */ }
  signedOut("");
});

function signedOut(message) {
  if (stream) stream.close();
  auth = null;
  saveAuth();
  offers.clear();
  conversations.clear();
  $("#desk-view").hidden = true;
  $("#me").hidden = true;
  $("#signin-view").hidden = false;
  notice(message);
  $("#username").focus();
}

async function enterDesk() {
  $("#signin-view").hidden = true;
  $("#desk-view").hidden = false;
  $("#me").hidden = false;
  $("#who").textContent = `${auth.user} (${auth.role}) · ${auth.tenant}`;
  stream = new LiveStream({
    url: (after) => wsUrl("/v1/agent/stream", { access_token: auth.access, after }),
    onFrame,
    onStatus: (s) => { $("#connection").textContent = s === "live" ? "Live" : "Reconnecting…"; },
    onClosedForGood: async () => { if (await refresh()) { stream.stopped = false; stream.open(); } },
  });
  stream.open();  // first, so nothing that happens while the state is read is missed
  const loads = await Promise.allSettled([loadPanel(), loadWork(), loadBoard(), loadLine().catch(() => {})]);
  const failed = loads.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

// A list that could not be read when the desk opened (a busy or restarting service: 5xx, a timeout) is told in
// the notice and the agent stays signed in; only a session that really ended (401 after the refresh) signs out.
function enterFailed(e) {
  if (e instanceof ApiError && e.status === 401) signedOut("Your session ended; sign in again.");
  else notice(`${e.message} Some lists could not be read; reload the page to read them again.`);
}

// ---- presence ------------------------------------------------------------------------------------------------
$("#presence").addEventListener("change", async () => {
  try {
    await api.put("/v1/agent/presence", { presence: $("#presence").value });
    $("#presence-note").textContent = "";
  } catch (e) { notice(e.message); }
});

// ---- the stream ----------------------------------------------------------------------------------------------
function onFrame(frame) {
  const cid = frame.conversation_id;
  switch (frame.type) {
    case "offer": offers.set(frame.offer_id, frame); renderOffers(); debounce("work", loadWork); break;
    case "conference_invite":
      offers.set(`conference:${cid}`, { ...frame, offer_id: `conference:${cid}`, conference: true });
      renderOffers();
      break;
    case "offer_withdrawn":
      settled.add(frame.offer_id);
      if (offers.delete(frame.offer_id)) {
        renderOffers();
        if (frame.why === "expired") notice("An offer expired before it was answered.");
      }
      debounce("work", loadWork);
      break;
    case "presence":
      $("#presence").value = frame.presence;
      $("#presence").dataset.confirmed = frame.presence;  // routing has it: offers can come
      $("#presence-note").textContent = frame.automatic ? `Set to ${frame.presence} automatically` +
        (frame.reason ? `: ${frame.reason}` : "") : "";
      break;
    case "sessions": applyPanel(frame); break;
    case "message": onMessage(frame); break;
    case "typing":
      if (cid === focusedConversation() && frame.who.kind === "customer") {
        $("#typing").textContent = "The customer is typing…";
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { $("#typing").textContent = ""; }, 5000);
      }
      break;
    case "suggestions": if (cid === focusedConversation()) renderSuggestions(frame.suggestions); break;
    case "view": case "case_linked": case "customer_identified": case "sentiment":
      if (cid === focusedConversation()) debounce("view", () => loadView(cid), 200);
      break;
    case "conversation_state": case "conversation_closed": case "assigned": case "transferred_away":
      if (conversations.has(cid)) {
        const c = conversations.get(cid);
        c.state = frame.type === "conversation_closed" ? "closed" : frame.state || c.state;
        if (frame.agents && frame.agents.length) c.assignee = frame.agents[0];
        // chat took this agent on: a message posted before that (chat was behind on routing's assignment, after
        // a restart) reached only the agents chat knew then, so the list is read again
        if (frame.type === "conversation_state" && (frame.agents || []).includes(auth.user)
            && !(c.agents || []).includes(auth.user)) {
          c.loaded = false;
          if (cid === focusedConversation()) loadConversation(cid);
        }
        if (frame.agents) c.agents = frame.agents;
      }
      if (cid === focusedConversation()) showState(cid);
      if (frame.type === "transferred_away") notice(`Transferred to ${frame.to_agent_id || frame.to_queue_id}.`);
      debounce("work", loadWork);
      break;
    case "queued": case "offline_message": debounce("work", loadWork); break;
    case "line_user": if (frame.line_id === $("#line-id").value.trim()) debounce("line", loadLine, 500); break;
    case "board_conversation": case "board_agent": case "sentiment_alert": debounce("board", loadBoard, 500); break;
    case "resync": loadPanel(); loadWork(); for (const c of conversations.values()) c.loaded = false; break;
    default: break;
  }
}

// ---- offers --------------------------------------------------------------------------------------------------
function renderOffers() {
  const now = Date.now();
  update($("#offers"), [...offers.values()].map((o) => {
    const left = o.expires_at ? Math.max(0, Math.round((Date.parse(o.expires_at) - now) / 1000)) : null;
    const what = o.conference ? `Conference with ${o.inviter_id}` : "Offer";
    return h("div", { class: "offer card", role: "group", id: `offer-${o.offer_id}`,
                      "aria-label": `${what}: ${o.customer_name || "a customer"}` },
      h("strong", {}, o.customer_name || "A customer"), " · ",
      h("span", { class: "muted" }, o.conference ? `${o.inviter_id} invites you to a conference` : o.queue_id || ""),
      h("p", { class: "text" }, o.preview || ""),
      // role timer: not read out every second (the offers region is assertive for the offer itself)
      left !== null ? h("p", { class: "countdown", role: "timer", "data-offer": o.offer_id },
                        `Answer within ${left} s`) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => answerOffer(o, "accept") }, "Accept"),
        h("button", { type: "button", onclick: () => answerOffer(o, "decline") }, "Decline")));
  }));
}

setInterval(() => {
  for (const el of document.querySelectorAll(".countdown")) {
    const o = offers.get(el.dataset.offer);
    if (!o) continue;
    el.textContent = `Answer within ${Math.max(0, Math.round((Date.parse(o.expires_at) - Date.now()) / 1000))} s`;
  }
}, 1000);

async function answerOffer(offer, how) {
  try {
    if (offer.conference) await api.post(`/v1/conversations/${offer.conversation_id}/conference/${how}`);
    else await api.post(`/v1/conversations/${offer.conversation_id}/${how}`, { offer_id: offer.offer_id });
    offers.delete(offer.offer_id);
    settled.add(offer.offer_id);
    renderOffers();
    if (how === "accept" && offer.conference) await openLocally(offer.conversation_id, offer.customer_name);
    else if (how === "accept") { pendingFocus = offer.conversation_id; await loadPanel(); }
    debounce("work", loadWork);
  } catch (e) { notice(e.message); }
}

// ---- sessions panel ------------------------------------------------------------------------------------------
async function loadPanel() { applyPanel(await api.get("/v1/agent/sessions")); }

let focusing = null;  // a session focused here: frames from before the focus do not take it away

function applyPanel(next) {
  if (next.version < panel.version) return;
  if (focusing && next.focused !== focusing) next = { ...next, focused: focusing };
  else focusing = null;
  const before = panel.focused;
  panel = next;
  renderTabs();
  if (pendingFocus) {
    const sid = `conversation:${pendingFocus}`;
    if (panel.sessions.some((s) => s.id === sid)) { pendingFocus = null; focusSession(sid); return; }
  }
  if (panel.focused !== before || !rendered) showFocused();
}

let rendered = false;

function renderTabs() {
  const had = document.activeElement && document.activeElement.closest("#tabs") ? document.activeElement.id : null;
  update($("#tabs"), allSessions().map((s) => {
    const selected = s.id === panel.focused;
    const label = s.kind === "home" ? "Home" : s.title;
    return h("button", { type: "button", role: "tab", id: `tab-${s.id}`, class: "tab", "data-session": s.id,
                         "aria-selected": selected ? "true" : "false", tabindex: selected ? 0 : -1,
                         "aria-controls": s.kind === "home" ? "home" : s.kind === "conversation" ? "conversation" : "record",
                         onclick: () => focusSession(s.id), onkeydown: tabKeys },
      s.kind === "home" ? null : h("span", { class: "icon", "aria-hidden": "true" }, s.icon),
      h("span", { class: "title" }, label),
      s.unread > 0 ? h("span", { class: "unread", "aria-label": `${s.unread} unread` }, s.unread_display) : null,
      s.alert ? h("span", { class: "alert", role: "img", title: s.alert.text, "aria-label": s.alert.text }, "!") : null,
      s.state === "closed" ? h("span", { class: "muted" }, " (closed)") : null);
  }));
  if (had) document.getElementById(had)?.focus();  // rebuilt tabs keep the keyboard's place
}

function tabKeys(event) {
  const tabs = [...document.querySelectorAll("#tabs [role=tab]")];
  const i = tabs.indexOf(event.currentTarget);
  const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (to === undefined) return;
  event.preventDefault();
  const next = tabs[(to + tabs.length) % tabs.length];
  tabs.forEach((t) => t.setAttribute("tabindex", t === next ? "0" : "-1"));
  next.focus();
}

let editedAt = 0;  // the composer's last edit: a draft arriving later does not overwrite newer typing

async function focusSession(sid) {
  await saveDraft();
  const asked = Date.now();
  if (sid.startsWith("local:")) {
    panel.focused = sid;
    focusing = sid;
    renderTabs();
    document.getElementById(`tab-${sid}`)?.focus();
    await showFocused("");
    return;
  }
  try {
    const session = await api.post(`/v1/agent/sessions/${encodeURIComponent(sid)}/focus`);
    panel.focused = sid;
    focusing = sid;
    renderTabs();
    document.getElementById(`tab-${sid}`)?.focus();
    await showFocused(editedAt > asked ? undefined : session.draft);
  } catch (e) { notice(e.message); }
}

async function showFocused(draft) {
  rendered = true;
  const cid = focusedConversation();
  const focused = allSessions().find((s) => s.id === panel.focused);
  const record = focused && ["contact", "account", "case"].includes(focused.kind) ? focused : null;
  $("#home").hidden = !!cid || !!record;
  $("#conversation").hidden = !cid;
  $("#record").hidden = !record;
  if (record) { await showRecord(record); return; }
  if (!cid) return;
  $("#conversation").setAttribute("aria-labelledby", `tab-${panel.focused}`);
  const session = allSessions().find((s) => s.id === panel.focused);
  $("#conv-title").textContent = session.title;
  fill($("#suggestions"));
  fill($("#quick"));
  $("#typing").textContent = "";
  if (draft !== undefined) {
    $("#text").value = draft && typeof draft === "object" ? draft.text || "" : "";
    lastDraft = $("#text").value;
    checkComposer();
  }
  await loadConversation(cid);
  await loadView(cid);
}

async function saveDraft() {
  clearTimeout(draftTimer);
  const cid = focusedConversation();
  const text = $("#text").value;
  if (!cid || text === lastDraft || panel.focused.startsWith("local:")) return;
  lastDraft = text;
  try {
    await api.put(`/v1/agent/sessions/${encodeURIComponent(panel.focused)}/draft`, { draft: text ? { text } : null });
  } catch { /* a draft is a nicety */ }
}

// ---- conversation pane ---------------------------------------------------------------------------------------
function conversation(cid) {
  if (!conversations.has(cid)) conversations.set(cid, { messages: new Map(), loaded: false, state: null });
  return conversations.get(cid);
}

async function loadConversation(cid) {
  const c = conversation(cid);
  if (!c.loaded) {
    const read = await api.get(`/v1/conversations/${cid}`);
    c.state = read.state;
    c.assignee = read.assignee;
    let after = 0;
    for (;;) {
      const page = await api.get(`/v1/conversations/${cid}/messages?after_seq=${after}`);
      for (const m of page.messages) c.messages.set(m.seq, m);
      if (!page.messages.length || page.messages[page.messages.length - 1].seq >= page.last_seq) break;
      after = page.messages[page.messages.length - 1].seq;
    }
    c.loaded = true;
  }
  if (cid !== focusedConversation()) return;
  fill($("#messages"), [...c.messages.values()].sort((a, b) => a.seq - b.seq).map(bubble));
  $("#messages").lastElementChild?.scrollIntoView({ block: "nearest" });
  showState(cid);
}

const bubble = (m) => messageElement(m, m.sender.kind !== "customer", (a) => openFile(m.conversation_id, a));

function onMessage(m) {
  const c = conversation(m.conversation_id);
  if (c.messages.has(m.seq)) return;
  c.messages.set(m.seq, m);
  if (m.conversation_id !== focusedConversation()) return;
  const list = $("#messages");
  const after = [...list.children].find((li) => Number(li.dataset.seq) > m.seq);
  const el = bubble(m);
  list.insertBefore(el, after || null);
  el.scrollIntoView({ block: "nearest" });
  if (m.sender.kind === "customer") {
    $("#typing").textContent = "";
    if (document.visibilityState === "visible") {
      api.post(`/v1/conversations/${m.conversation_id}/read`, { up_to_seq: m.seq }).catch(() => {});
    }
  }
}

function showState(cid) {
  const state = conversation(cid).state || "";
  $("#conv-state").textContent = state.replace("_", "-");
  // agents write while chat says the conversation is active (routing's assignment may reach the desk first)
  const open = state === "active";
  for (const id of ["text", "file", "private", "transfer", "end-conv"]) $(`#${id}`).disabled = !open;
  const c = conversation(cid);
  const tab = localTabs.get(panel.focused);
  const observing = !!(tab && tab.observing);
  // in a colleague's conversation: a conference member (or an observer: read-only, and chat says so)
  const member = c.assignee && c.assignee !== auth.user;
  $("#wrap-up").disabled = state === "closed" || member;
  for (const id of ["transfer", "invite", "end-conv", "wrap-up"]) $(`#${id}`).hidden = member;
  $("#leave-conference").hidden = !member || !open || observing;
  $("#invite").disabled = !open;
  checkComposer();
}

async function openFile(cid, attachment) {
  const response = await api.call("GET", `/v1/conversations/${cid}/attachments/${attachment.attachment_id}`,
                                  undefined, { raw: true });
  if (response.ok) await download(response, attachment.name);
  else notice("The file could not be downloaded.");
}

function renderSuggestions(suggestions) {
  fill($("#suggestions"), suggestions.length ? [h("span", { class: "muted" }, "Suggested answers:"),
    suggestions.map((s) => h("button", { type: "button", class: "suggestion", title: s.snippet,
                                          onclick: () => insert(s.text) }, s.title))] : []);
}

function insert(text) {
  const box = $("#text");
  box.value = box.value.trim() ? `${box.value.trimEnd()} ${text}` : text;
  checkComposer();
  box.focus();
  draftSoon();
}

function checkComposer() {
  const text = $("#text").value;
  $("#counter").textContent = `${text.length} / ${MAX_TEXT}`;
  let problem = "";
  if (text.length > MAX_TEXT) problem = `At most ${MAX_TEXT} characters: remove ${text.length - MAX_TEXT}.`;
  else if (RESERVED.test(text) && !$("#private").checked) {
    problem = "The characters < and > cannot be sent: they are reserved for message templates.";
  }
  $("#composer-error").textContent = problem;
  $("#text").setAttribute("aria-invalid", problem ? "true" : "false");
  const state = conversation(focusedConversation() || "").state;
  $("#send").disabled = !!problem || state === "closed" || state === "wrap_up";
  return !problem;
}

function draftSoon() {
  clearTimeout(draftTimer);
  draftTimer = setTimeout(saveDraft, 1000);
}

$("#private").addEventListener("change", checkComposer);

$("#text").addEventListener("input", async () => {
  editedAt = Date.now();
  checkComposer();
  draftSoon();
  const cid = focusedConversation();
  const text = $("#text").value;
  if (cid && Date.now() - lastTypingSent > 3000 && text) {
    lastTypingSent = Date.now();
    api.post(`/v1/conversations/${cid}/typing`).catch(() => {});
  }
  if (cid && /^\/[\w-]*$/.test(text)) {
    try {
      const found = await api.get(`/v1/agent/conversations/${cid}/quick-replies?prefix=${encodeURIComponent(text.slice(1))}`);
      const replies = found.replies || found.quick_replies || [];
      fill($("#quick"), replies.map((r) => h("button", { type: "button", class: "quick-reply",
        onclick: () => { $("#text").value = r.text; fill($("#quick")); checkComposer(); $("#text").focus(); } },
        `/${r.name}: ${r.text}`)));
    } catch { fill($("#quick")); }
  } else {
    fill($("#quick"));
  }
});

$("#text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("#composer").requestSubmit();
  }
});

$("#composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const cid = focusedConversation();
  const text = $("#text").value.trim();
  if (!cid || !text || !checkComposer()) return;
  try {
    await api.post(`/v1/conversations/${cid}/messages`, { client_message_id: crypto.randomUUID(), text,
                                                            private: $("#private").checked });
    $("#text").value = "";
    $("#private").checked = false;
    checkComposer();
    fill($("#quick"));
    await saveDraft();
  } catch (e) {
    $("#composer-error").textContent = e.message;
  }
});

$("#file").addEventListener("change", async () => {
  const cid = focusedConversation();
  const file = $("#file").files[0];
  if (!cid || !file) return;
  try {
    const uploaded = await api.call("POST", `/v1/conversations/${cid}/attachments?name=${encodeURIComponent(file.name)}`,
                                    file, { headers: { "content-type": file.type || "application/octet-stream" } });
    await api.post(`/v1/conversations/${cid}/messages`, { client_message_id: crypto.randomUUID(), text: "",
                                                            attachment_ids: [uploaded.attachment_id] });
  } catch (e) { notice(e.message); } finally { $("#file").value = ""; }
});

$("#end-conv").addEventListener("click", async () => {
  const cid = focusedConversation();
  try { await api.post(`/v1/conversations/${cid}/end`); } catch (e) { notice(e.message); }
});

// ---- the active-conversation view ----------------------------------------------------------------------------
function facts(pairs) {
  const shown = pairs.filter(([, v]) => v !== null && v !== undefined && v !== "");
  return h("dl", {}, shown.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
}

async function loadView(cid) {
  let view;
  try { view = await api.get(`/v1/conversations/${cid}/view`); } catch (e) {
    fill($("#view"), h("p", { class: "muted" }, e.status === 404 ? "No view: the conversation is closed." : e.message));
    return;
  }
  if (cid !== focusedConversation()) return;
  const customer = view.customer || {};
  const contact = customer.contact || {};
  const summary = view.summary || {};
  const context = view.context || {};
  const sentiment = summary.sentiment;
  const kase = view.case && !view.case.error ? view.case : null;
  const timeline = view.timeline && Array.isArray(view.timeline.entries) ? view.timeline.entries : [];
  const notes = view.quick_notes && Array.isArray(view.quick_notes.entries) ? view.quick_notes.entries : [];
  // the linked case's notes in the case's card; without a case, the contact's or account's in the customer's
  const notesList = () => notes.length ? h("ul", { class: "notes", "aria-label": "Quick notes" }, notes.map((n) =>
    h("li", {}, h("time", { datetime: n.at }, timeOf(n.at)), " ", n.detail))) : null;
  const caseNotes = view.quick_notes && view.quick_notes.kind === "case";
  // update, keyed by what the listeners act on: a redraw keeps what the agent is typing into or pressing
  const key = (...parts) => parts.map((p) => p || "-").join(":");
  update($("#view"), h("div", { id: `view-${cid}` },
    h("section", { class: "card", "aria-labelledby": "v-customer",
                   id: `v-customer-card-${key(customer.contact_id, customer.account_id)}` }, h("h3", { id: "v-customer" }, "Customer"),
      facts([["Name", customer.name], ["E-mail", contact.email], ["Phone", contact.phone],
             ["Company", customer.company]]),
      customer.contact_id ? h("button", { type: "button", onclick: () => openRecord("contact", customer.contact_id) },
                              "Open the contact in a tab") : null,
      customer.account_id ? h("button", { type: "button", onclick: () => openRecord("account", customer.account_id) },
                              "Open the account in a tab") : null,
      customer.contact_id ? null : h("form", { class: "inline-form", id: "link-form", onsubmit: (e) => linkContact(e, cid) },
        h("label", { for: "link-contact" }, "Link to contact (id)"), h("input", { id: "link-contact", required: true }),
        h("button", { type: "submit" }, "Link")),
      caseNotes ? null : notesList()),
    h("section", { class: "card", "aria-labelledby": "v-summary", id: "v-summary-card" }, h("h3", { id: "v-summary" }, "Summary"),
      facts([["Channel", summary.channel], ["Queue", summary.queue_id], ["State", summary.state],
             ["Waited", summary.waited_s != null ? `${Math.round(summary.waited_s)} s` : null],
             ["Customer messages", summary.customer_messages],
             ["Sentiment", sentiment ? `${sentiment.level}${sentiment.alert ? " (alert)" : ""}` : null]]),
      Object.keys(context.prechat || {}).length ? [h("h4", {}, "Pre-chat"),
        facts(Object.entries(context.prechat))] : null,
      Object.keys(context.visitor || {}).length ? [h("h4", {}, "Visitor"),
        facts(Object.entries(context.visitor).filter(([, v]) => typeof v !== "object"))] : null,
      Object.keys(context.variables || {}).length ? [h("h4", {}, "Variables"),
        facts(Object.entries(context.variables))] : null,
      (context.trail || []).length ? [h("h4", {}, "Before the chat"), h("ol", { class: "timeline" },
        context.trail.slice(0, 10).map((t) => h("li", {}, h("time", { datetime: t.at }, timeOf(t.at)), " ",
                                                 t.title || t.kind)))] : null),
    h("section", { class: "card", "aria-labelledby": "v-case", id: `v-case-card-${key(kase && kase.case_id)}` }, h("h3", { id: "v-case" }, "Case"),
      kase ? [facts([["Number", kase.number], ["Title", kase.title], ["Status", kase.status],
                     ["Priority", kase.priority]]),
              h("form", { class: "inline-form", id: "quick-note-form", onsubmit: (e) => quickNote(e, cid, kase.case_id) },
                h("label", { for: "quick-note" }, "Quick note"), h("input", { id: "quick-note", required: true,
                                                                              maxlength: 2000 }),
                h("button", { type: "submit" }, "Add note")),
              caseNotes ? notesList() : null,
              h("button", { type: "button", onclick: () => openRecord("case", kase.case_id) }, "Open the case in a tab")]
        : h("form", { class: "inline-form", id: "case-form", onsubmit: (e) => openCase(e, cid) },
          h("label", { for: "case-title" }, "Open a case: title"), h("input", { id: "case-title", required: true }),
          h("button", { type: "submit" }, "Open case"))),
    h("section", { class: "card", "aria-labelledby": "v-recent", id: "v-recent-card" }, h("h3", { id: "v-recent" }, "Recent cases"),
      (view.recent_cases || []).length ? h("ul", {}, view.recent_cases.map((c) =>
        h("li", {}, `${c.number || ""} ${c.title} (${c.status})`))) : h("p", { class: "muted" }, "None")),
    h("section", { class: "card", "aria-labelledby": "v-timeline", id: "v-timeline-card" }, h("h3", { id: "v-timeline" }, "Timeline"),
      timeline.length ? h("ol", { class: "timeline" }, timeline.map((t) =>
        h("li", {}, h("time", { datetime: t.at }, timeOf(t.at)), " ", t.title, t.detail ? ` — ${t.detail}` : "")))
        : h("p", { class: "muted" }, "Nothing yet"))));
}

async function linkContact(event, cid) {
  event.preventDefault();
  try {
    await api.post(`/v1/conversations/${cid}/link`, { contact_id: $("#link-contact").value.trim() });
    debounce("view", () => loadView(cid), 500);
  } catch (e) { notice(e.message); }
}

async function quickNote(event, cid, caseId) {
  event.preventDefault();
  try {
    await api.post(`/v1/cases/${caseId}/notes`, { text: $("#quick-note").value.trim() });
    $("#quick-note").value = "";
    debounce("view", () => loadView(cid), 500);
  } catch (e) { notice(e.message); }
}

async function openRecord(kind, id) {
  try {
    await api.post("/v1/agent/sessions", { kind, id });
    await focusSession(`${kind}:${id}`);
  } catch (e) { notice(e.message); }
}

const PLURAL = { contact: "contacts", account: "accounts", case: "cases" };

async function showRecord(session) {
  $("#record").setAttribute("aria-labelledby", `tab-${session.id}`);
  $("#record-title").textContent = `${session.kind[0].toUpperCase()}${session.kind.slice(1)}: ${session.title}`;
  try {
    const read = await api.get(`/v1/${PLURAL[session.kind]}/${encodeURIComponent(session.ref)}`);
    const scalars = Object.entries(read).filter(([, v]) => v !== null && typeof v !== "object");
    fill($("#record-body"), facts(scalars.map(([k, v]) => [k.replaceAll("_", " "), v])),
      h("div", { class: "actions" }, h("button", { type: "button", onclick: () => closeSession(session.id, false) },
                                       "Close tab")));
  } catch (e) { fill($("#record-body"), h("p", { class: "muted" }, e.message)); }
}

async function openCase(event, cid) {
  event.preventDefault();
  try {
    await api.post("/v1/cases", { title: $("#case-title").value.trim(), conversation_id: cid });
    debounce("view", () => loadView(cid), 500);
  } catch (e) { notice(e.message); }
}

// ---- dialogs: transfer, wrap-up, close -----------------------------------------------------------------------
for (const dialog of document.querySelectorAll("dialog")) {
  dialog.querySelector(".cancel").addEventListener("click", () => dialog.close());
}

$("#transfer").addEventListener("click", () => {
  $("#transfer-error").textContent = "";
  $("#transfer-dialog").showModal();
  $("#transfer-agent").focus();
});

$("#transfer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const cid = focusedConversation();
  const body = { reason: $("#transfer-reason").value.trim() };
  if ($("#transfer-agent").value.trim()) body.to_agent_id = $("#transfer-agent").value.trim();
  else if ($("#transfer-queue").value.trim()) body.to_queue_id = $("#transfer-queue").value.trim();
  else { $("#transfer-error").textContent = "Name an agent or a queue."; return; }
  try {
    await api.post(`/v1/conversations/${cid}/transfer`, body);
    $("#transfer-dialog").close();
    notice(`Transferred to ${body.to_agent_id || body.to_queue_id}.`);
    await loadPanel();
  } catch (e) { $("#transfer-error").textContent = e.message; }
});

$("#invite").addEventListener("click", () => {
  $("#invite-error").textContent = "";
  $("#invite-dialog").showModal();
  $("#invite-agent").focus();
});

$("#invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const cid = focusedConversation();
  try {
    await api.post(`/v1/conversations/${cid}/conference/invite`, { agent_id: $("#invite-agent").value.trim() });
    $("#invite-dialog").close();
    notice(`Invited ${$("#invite-agent").value.trim()}.`);
  } catch (e) { $("#invite-error").textContent = e.message; }
});

$("#leave-conference").addEventListener("click", async () => {
  const sid = panel.focused;
  try {
    await api.post(`/v1/conversations/${focusedConversation()}/conference/leave`);
    await closeSession(sid, true);
  } catch (e) { notice(e.message); }
});

$("#wrap-up").addEventListener("click", () => {
  $("#wrap-error").textContent = "";
  $("#wrap-dialog").showModal();
  $("#wrap-reason").focus();
});

$("#wrap-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const cid = focusedConversation();
  const body = { note: $("#wrap-note").value };
  if ($("#wrap-reason").value.trim()) body.reason_code = $("#wrap-reason").value.trim();
  try {
    await api.post(`/v1/conversations/${cid}/wrap-up`, body);
    $("#wrap-dialog").close();
    conversation(cid).state = "closed";
    showState(cid);
    notice("Wrapped up.");
    await closeSession(panel.focused, true);
  } catch (e) { $("#wrap-error").textContent = e.message; }
});

$("#close-session").addEventListener("click", () => closeSession(panel.focused, false));

async function closeSession(sid, confirm) {
  if (sid.startsWith("local:")) {
    const tab = localTabs.get(sid);
    if (tab && tab.observing) {
      api.call("DELETE", `/v1/supervisor/conversations/${tab.ref}/observe`).catch(() => {});
    }
    localTabs.delete(sid);
    await focusSession("home");
    return;
  }
  try {
    await api.post(`/v1/agent/sessions/${encodeURIComponent(sid)}/close`, { confirm });
    lastDraft = null;
    await loadPanel();
    document.getElementById(`tab-${panel.focused}`)?.focus();
  } catch (e) {
    const losses = e.body && e.body.detail && e.body.detail.losses;
    if (e.status === 409 && losses) {
      fill($("#close-losses"), losses.map((l) => h("li", {}, l.detail)));
      $("#close-dialog").dataset.session = sid;
      $("#close-dialog").showModal();
    } else notice(e.message);
  }
}

$("#close-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#close-dialog").close();
  await closeSession($("#close-dialog").dataset.session, true);
});

// ---- Home: work lists, the board -----------------------------------------------------------------------------
async function loadWork() {
  const work = await api.get("/v1/agent/work");
  const row = (list, w, ...buttons) => h("li", { id: `${list}-${w.conversation_id}`, "data-conversation": w.conversation_id },
    h("strong", {}, w.customer_name || "Customer"), " ", h("span", { class: "badge" }, w.state.replace("_", "-")),
    h("p", { class: "text" }, w.preview || ""), buttons);
  update($("#list-my"), work.my.length ? work.my.map((w) => {
    if (w.offer_id && !offers.has(w.offer_id) && !settled.has(w.offer_id)) {
      offers.set(w.offer_id, { offer_id: w.offer_id, conversation_id: w.conversation_id, customer_name: w.customer_name,
                               preview: w.preview, queue_id: w.queue_id });
      renderOffers();
    }
    const sid = `conversation:${w.conversation_id}`;
    const open = () => (panel.sessions.some((s) => s.id === sid) ? focusSession(sid)
      : openLocally(w.conversation_id, w.customer_name));
    return row("my", w, w.offer_id ? null : h("button", { type: "button", onclick: open }, "Open"));
  }) : h("li", { class: "muted" }, "Nothing"));
  update($("#list-open"), work.open.length ? work.open.map((w) => row("open", w, h("button", { type: "button",
    onclick: () => take(w.conversation_id) }, "Take"))) : h("li", { class: "muted" }, "Nothing"));
  update($("#list-closed"), work.closed.length ? work.closed.map((w) => row("closed", w, h("button", { type: "button",
    onclick: () => readClosed(w) }, "Open"))) : h("li", { class: "muted" }, "Nothing"));
}

async function take(cid) {
  try {
    await api.post(`/v1/conversations/${cid}/take`);
    pendingFocus = cid;
    await loadPanel();
  } catch (e) { notice(e.message); }
}

async function readClosed(w) {
  try {
    const page = await api.get(`/v1/conversations/${w.conversation_id}/messages`);
    $("#closed-read-title").textContent = `Transcript: ${w.customer_name || "Customer"}`;
    fill($("#closed-messages"), page.messages.map(bubble));
    $("#closed-read").hidden = false;
    $("#closed-read").scrollIntoView();
  } catch (e) { notice(e.message); }
}

async function loadBoard() {
  if (!auth || auth.role === "agent") return;
  const board = await api.get("/v1/supervisor/board");
  $("#board").hidden = false;
  // rows keyed by conversation (update: a redraw keeps the Observe button under the pointer)
  const table = (id, caption, headers, rows) => h("table", { id }, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", { id: `${id}-rows` }, rows.length ? rows.map(([key, ...r]) => h("tr", { id: `${id}-${key}` },
      r.map((c) => h("td", {}, c ?? "")))) : h("tr", {}, h("td", { colspan: headers.length }, "None"))));
  update($("#board-body"),
    table("board-waiting", "Waiting", ["Customer", "Queue", "Waited", "Preview"], (board.waiting || []).map((c) =>
      [c.conversation_id, c.customer_name, c.queue_id, c.waited_s != null ? `${Math.round(c.waited_s)} s` : "",
       c.preview])),
    table("board-conversations", "Conversations", ["Customer", "Queue", "State", "Agent", ""],
      (board.conversations || []).map((c) =>
      [c.conversation_id, c.customer_name, c.queue_id, c.state, (c.agents || []).join(", ") || c.agent_id,
       h("button", { type: "button", "aria-label": `Observe ${c.customer_name || c.conversation_id}`,
                     onclick: () => observe(c) }, "Observe")])),
    table("board-agents", "Agents", ["Agent", "Presence", "Load", "Capacity"], (board.agents || []).map((a) =>
      [a.agent_id, a.agent_id, a.presence, a.load, a.capacity && typeof a.capacity === "object" ? JSON.stringify(a.capacity) : a.capacity])));
}

async function observe(row) {
  try {
    await api.post(`/v1/supervisor/conversations/${row.conversation_id}/observe`);
    const sid = `local:${row.conversation_id}`;
    localTabs.set(sid, { id: sid, kind: "conversation", ref: row.conversation_id, local: true, observing: true,
                         title: `${row.customer_name || "Customer"} (observing)`,
                         icon: (row.customer_name || "Cu").slice(0, 2), unread: 0 });
    conversation(row.conversation_id).loaded = false;
    await focusSession(sid);
  } catch (e) { notice(e.message); }
}

// ---- the line's clients: search, favourites -------------------------------------------------------------------
$("#line-form").addEventListener("submit", (event) => {
  event.preventDefault();
  loadLine().catch((e) => fill($("#line-body"), h("p", { class: "muted" }, e.message)));
});

async function loadLine() {
  const line = $("#line-id").value.trim();
  if (!line) return;
  const q = $("#line-q").value.trim();
  const page = await api.get(`/v1/lines/${encodeURIComponent(line)}/users?limit=50${q ? `&q=${encodeURIComponent(q)}` : ""}`);
  update($("#line-body"), page.rows.length ? h("table", { id: "line-table" },
    h("caption", {}, `${page.line_size} on line ${line}`),
    h("thead", {}, h("tr", {}, ["Name", "Status", "Company", "Last message", "Favourite"].map((x) =>
      h("th", { scope: "col" }, x)))),
    h("tbody", { id: "line-rows" }, page.rows.map((r) => h("tr", { id: `line-${r.customer_id}` }, h("td", {}, r.name), h("td", {}, r.status),
      h("td", {}, r.company || ""), h("td", {}, r.preview),
      h("td", {}, h("button", { type: "button", "aria-pressed": r.favourite ? "true" : "false",
                                "aria-label": `Favourite: ${r.name}`, onclick: () => favourite(r) },
                    r.favourite ? "★" : "☆"))))))
    : h("p", { class: "muted" }, "No clients on this line."));
}

async function favourite(row) {
  try {
    await api.put(`/v1/agent/users/${encodeURIComponent(row.customer_id)}`, { favourite: !row.favourite });
    debounce("line", loadLine, 300);
  } catch (e) { notice(e.message); }
}

// ---- start ---------------------------------------------------------------------------------------------------
if (auth) enterDesk().catch(enterFailed);
else $("#tenant").value ? $("#username").focus() : $("#tenant").focus();
