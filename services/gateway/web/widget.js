// The customer chat widget: pre-chat form, queue place, messages both ways, typing, files, hints, end,
// survey, transcript, offline message; the visitor token and the conversation token stay in localStorage,
// so a reload resumes the conversation with its history.
import { $, Api, ApiError, LiveStream, download, fill, h, messageElement, wsUrl } from "./common.js";

const params = new URLSearchParams(location.search);
const tenant = params.get("tenant") || "demo";
const queue = params.get("queue") || "support";
const questions = (params.get("prechat") ?? "Order number").split(",").map((q) => q.trim()).filter(Boolean);
const storeKey = `omni.widget.${tenant}`;
// A customer signed in on the tenant's site: its server signs user:expires (services/gateway/README.md) and
// passes user, expires and mac in the widget's URL; the gateway checks them.
const identity = params.get("user") && params.get("mac") ? {
  user_id: params.get("user"), expires_at: Number(params.get("expires")), mac: params.get("mac"),
  name: params.get("name") || undefined } : null;

const state = load();
let stream = null;
let typingTimer = null;
let lastTypingSent = 0;
let hintTimer = null;
const shown = new Set();

function load() {
  try { return JSON.parse(localStorage.getItem(storeKey)) || {}; } catch { return {}; }
}
function save() { localStorage.setItem(storeKey, JSON.stringify(state)); }

const api = new Api(() => state.conversation?.token || null);
const base = () => `/v1/widget/conversations/${state.conversation.id}`;

function notice(text) {
  const el = $("#notice");
  el.textContent = text || "";
  el.hidden = !text;
}

function show(which) {
  for (const id of ["prechat", "offline", "chat"]) $(`#${id}`).hidden = id !== which;
}

async function start() {
  for (const q of questions) {
    const id = `pc-q-${questions.indexOf(q)}`;
    $("#pc-questions").append(h("label", { for: id }, `${q} (optional)`),
      h("input", { id, "data-question": q, maxlength: 500 }));
  }
  if (state.conversation) {
    await resume();
    return;
  }
  await showStart();
}

async function showStart() {
  let status = null;
  try { status = await api.get(`/v1/widget/${tenant}/queues/${queue}/status`); } catch (e) { notice(e.message); }
  if (status && !status.open) {
    $("#offline-why").textContent = status.opens_at
      ? `We are closed now; we open ${new Date(status.opens_at).toLocaleString()}.` : "We are closed now.";
    show("offline");
    return;
  }
  $("#queue-status").textContent = !status ? "" : !status.agents_online
    ? "No one is online right now; you can still start a chat and wait."
    : status.estimated_wait_s != null ? `Estimated wait: ${minutes(status.estimated_wait_s)}.` : "";
  $("#to-offline").hidden = !(status && status.offer_offline_message);
  show("prechat");
  $("#pc-name").focus();
}

function minutes(seconds) {
  if (seconds < 60) return "less than a minute";
  const m = Math.round(seconds / 60);
  return m === 1 ? "about 1 minute" : `about ${m} minutes`;
}

$("#to-offline").addEventListener("click", () => {
  $("#offline-why").textContent = "Nobody can answer right now; we will write back.";
  $("#off-name").value = $("#pc-name").value;
  $("#off-email").value = $("#pc-email").value;
  $("#off-text").value = $("#pc-message").value;
  show("offline");
  $("#off-name").focus();
});

$("#prechat").addEventListener("submit", async (event) => {
  event.preventDefault();
  const prechat = {};
  for (const input of document.querySelectorAll("[data-question]")) {
    if (input.value.trim()) prechat[input.dataset.question] = input.value.trim();
  }
  const body = { queue_id: queue, name: $("#pc-name").value.trim(), prechat,
                 message: $("#pc-message").value.trim() };
  if ($("#pc-email").value.trim()) body.email = $("#pc-email").value.trim();
  if (identity) body.identity = identity;
  else if (state.visitor_token) body.visitor_token = state.visitor_token;
  try {
    const started = await new Api(() => null).postOnce(`/v1/widget/${tenant}/conversations`, body);
    adopt(started);
    notice("");
    await openChat();
  } catch (e) {
    if (e instanceof ApiError && e.body && e.body.code === "closed") {
      $("#offline-why").textContent = e.message;
      show("offline");
      return;
    }
    notice(e.message);
  }
});

$("#offline").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { queue_id: queue, name: $("#off-name").value.trim(), email: $("#off-email").value.trim(),
                 text: $("#off-text").value.trim() };
  if (identity) body.identity = identity;
  else if (state.visitor_token) body.visitor_token = state.visitor_token;
  try {
    const left = await new Api(() => null).postOnce(`/v1/widget/${tenant}/offline-messages`, body);
    if (left.visitor_token) state.visitor_token = left.visitor_token;
    save();
    fill($("#offline"), h("p", { role: "status" }, "Thank you: your message was sent. We will answer by e-mail."));
  } catch (e) {
    notice(e.message);
  }
});

function adopt(started) {
  if (started.visitor_token) state.visitor_token = started.visitor_token;
  state.conversation = { id: started.conversation_id, token: started.conversation_token, after: -1,
                         ended: false, name: started.customer_name };
  save();
}

async function resume() {
  try {
    await openChat();
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 404)) {  // expired token or gone
      delete state.conversation;
      save();
      await showStart();
      return;
    }
    notice(e.message);
  }
}

async function openChat() {
  show("chat");
  fill($("#messages"));
  shown.clear();
  await readMessages();
  const conversation = state.conversation;
  if (conversation.ended) {
    ended();
  } else {
    await readPlace();
  }
  stream = new LiveStream({
    url: (after) => wsUrl("/v1/widget/stream", { token: conversation.token, after }),
    after: conversation.after,
    onFrame,
    onStatus: (s) => { $("#connection").textContent = s === "live" ? "" : "Reconnecting…"; },
    onClosedForGood: () => notice("This chat can no longer be reached. Start a new chat."),
  });
  stream.open();
  if (!conversation.ended) $("#text").focus();
}

async function readMessages() {
  let after = 0;
  for (;;) {
    const page = await api.get(`${base()}/messages?after_seq=${after}`);
    page.messages.forEach(addMessage);
    if (!page.messages.length || page.messages[page.messages.length - 1].seq >= page.last_seq) break;
    after = page.messages[page.messages.length - 1].seq;
  }
}

async function readPlace() {
  try {
    const place = await api.get(`${base()}/position`);
    showPlace(place.waiting ? place.position : null, place.estimated_wait_s);
  } catch { /* the place is a nicety */ }
}

function showPlace(place, wait) {
  $("#waiting").textContent = place == null ? ""
    : `You are number ${place} in the queue.` + (wait != null ? ` Estimated wait: ${minutes(wait)}.` : "");
}

function addMessage(message) {
  if (shown.has(message.seq) || message.private) return;
  shown.add(message.seq);
  const el = messageElement(message, message.sender.kind === "customer", openFile, "You");
  const list = $("#messages");
  const later = [...list.children].find((li) => Number(li.dataset.seq) > message.seq);
  list.insertBefore(el, later || null);
  el.scrollIntoView({ block: "nearest" });
  if (message.sender.kind !== "customer" && !state.conversation.ended) {
    api.post(`${base()}/read`, { up_to_seq: message.seq }).catch(() => {});
  }
}

async function openFile(attachment) {
  const response = await api.call("GET", `${base()}/attachments/${attachment.attachment_id}`, undefined,
                                  { raw: true });
  if (response.ok) await download(response, attachment.name);
  else notice("The file could not be downloaded.");
}

function onFrame(frame) {
  const conversation = state.conversation;
  if (!conversation) return;
  if (typeof frame.position === "number") { conversation.after = frame.position; save(); }
  switch (frame.type) {
    case "message":
      addMessage(frame);
      if (frame.sender.kind === "agent") $("#typing").textContent = "";
      break;
    case "typing":
      if (frame.who.kind !== "customer") {
        $("#typing").textContent = "The agent is typing…";
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { $("#typing").textContent = ""; }, 5000);
      }
      break;
    case "queue_position":
      showPlace(frame.place, frame.estimated_wait_s);
      break;
    case "conversation_state":
      if (frame.state === "active") showPlace(null);
      if ((frame.state === "wrap_up" || frame.state === "closed") && !conversation.ended) {
        conversation.ended = true;  // the agent ended it
        save();
        ended();
      }
      break;
    case "conversation_closed":
      if (!conversation.ended) {
        conversation.ended = true;
        save();
        ended();
      }
      break;
    case "survey_invite":
      showSurvey(frame.question);
      break;
    case "resync":
      fill($("#messages"));
      shown.clear();
      readMessages().catch((e) => notice(e.message));
      break;
    default:
      break;
  }
}

async function ended() {
  showPlace(null);
  $("#typing").textContent = "";
  $("#composer").hidden = true;
  $("#after").hidden = false;
  try {
    const survey = await api.get(`${base()}/survey`);
    if (survey.enabled && survey.pending) showSurvey(survey.question);
    else if (survey.survey) $("#survey-thanks").hidden = false;
  } catch { /* no survey */ }
}

function showSurvey(question) {
  if (!$("#survey-thanks").hidden) return;
  $("#survey-question").textContent = question;
  const rating = $("#rating");
  if (!rating.children.length) {
    for (let n = 1; n <= 5; n++) {
      const id = `rating-${n}`;
      rating.append(h("input", { type: "radio", name: "rating", id, value: n, required: true }),
                    h("label", { for: id }, `${n} ${"★".repeat(n)}`));
    }
  }
  $("#survey").hidden = false;
}

$("#survey").addEventListener("submit", async (event) => {
  event.preventDefault();
  const chosen = document.querySelector("input[name=rating]:checked");
  if (!chosen) { notice("Choose a rating from 1 to 5."); return; }
  try {
    await api.post(`${base()}/survey`, { rating: Number(chosen.value), comment: $("#survey-comment").value });
    $("#survey").hidden = true;
    $("#survey-thanks").hidden = false;
    notice("");
  } catch (e) {
    notice(e.message);
  }
});

$("#composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("#text").value.trim();
  if (!text) return;
  try {
    await api.post(`${base()}/messages`, { client_message_id: crypto.randomUUID(), text });
    $("#text").value = "";
    fill($("#hints"));
    notice("");
  } catch (e) {
    notice(e.message);
  }
});

$("#text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("#composer").requestSubmit();
  }
});

$("#text").addEventListener("input", () => {
  const now = Date.now();
  if (now - lastTypingSent > 3000 && state.conversation && !state.conversation.ended) {
    lastTypingSent = now;
    api.post(`${base()}/typing`).catch(() => {});
  }
  clearTimeout(hintTimer);
  hintTimer = setTimeout(hints, 400);
});

async function hints() {
  const q = $("#text").value.trim();
  if (q.length < 3 || !state.conversation) { fill($("#hints")); return; }
  try {
    const found = await api.get(`${base()}/hints?q=${encodeURIComponent(q)}`);
    const items = found.hints || found.articles || [];
    fill($("#hints"), items.length ? [h("p", { class: "muted" }, "These articles may help:"),
      h("ul", {}, items.map((a) => h("li", {}, h("button", { type: "button", class: "link",
        onclick: () => openArticle(a.article_id) }, a.title))))] : []);
  } catch { fill($("#hints")); }
}

async function openArticle(id) {
  try {
    const article = await api.get(`${base()}/articles/${id}`);
    fill($("#hints"), h("article", { class: "article", tabindex: -1 }, h("h3", {}, article.title),
      h("p", {}, article.body || article.text || "")));
    $("#hints article").focus();
  } catch (e) { notice(e.message); }
}

$("#file").addEventListener("change", async () => {
  const file = $("#file").files[0];
  if (!file) return;
  try {
    const uploaded = await api.call("POST", `${base()}/attachments?name=${encodeURIComponent(file.name)}`, file,
                                    { headers: { "content-type": file.type || "application/octet-stream" } });
    await api.post(`${base()}/messages`, { client_message_id: crypto.randomUUID(), text: "",
                                           attachment_ids: [uploaded.attachment_id] });
    notice("");
  } catch (e) {
    notice(e.message);
  } finally {
    $("#file").value = "";
  }
});

$("#end").addEventListener("click", async () => {
  try {
    await api.post(`${base()}/end`);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) { notice(e.message); return; }
  }
  state.conversation.ended = true;
  save();
  ended();
  $("#transcript").focus();
});

$("#transcript").addEventListener("click", async () => {
  const response = await api.call("GET", `${base()}/transcript`, undefined, { raw: true });
  if (response.ok) await download(response, "transcript.txt");
  else notice("The transcript could not be downloaded.");
});

$("#new-chat").addEventListener("click", async () => {
  if (stream) stream.close();
  delete state.conversation;
  save();
  $("#composer").hidden = false;
  $("#after").hidden = true;
  $("#survey").hidden = true;
  $("#survey-thanks").hidden = true;
  fill($("#rating"));
  $("#pc-message").value = "";
  await showStart();
});

start();
