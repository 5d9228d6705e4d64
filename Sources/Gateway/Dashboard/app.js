// agor dashboard: plain JavaScript against the Gateway's REST API and its WebSocket stream.
// Everything live arrives by push (/v1/stream); REST is used to load and to fetch bodies.
"use strict";

const STATUSES = ["STATUS_TODO", "STATUS_IN_PROGRESS", "STATUS_REVIEW", "STATUS_BLOCKED", "STATUS_DONE", "STATUS_REJECTED"];
const state = { me: null, group: null, channel: null, tasks: new Map(), people: new Map(), cursors: {}, socket: null };
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const response = await fetch(path, {
    method, credentials: "same-origin",
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) throw Object.assign(new Error(data.error ? data.error.message : response.statusText), { status: response.status });
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value; else if (key.startsWith("data-")) node.setAttribute(key, value); else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

const micros = (us) => !us ? "-" : us < 1000 ? us + "µs" : us < 1e6 ? (us / 1000).toFixed(1) + "ms" : (us / 1e6).toFixed(2) + "s";

// ---- sign-in ----------------------------------------------------------------------------
async function start() {
  try {
    state.me = await api("GET", "/v1/me");
  } catch (error) {
    if (error.status === 401) return showSignIn();
    throw error;
  }
  $("signin-panel").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("who").textContent = `${state.me.name} (${state.me.role}) in ${state.me.groups.join(", ")}`;
  const select = $("group");
  select.replaceChildren(...state.me.groups.map((g) => el("option", { value: g, textContent: g })));
  select.hidden = state.me.groups.length < 2;
  state.group = state.me.groups[0];
  await loadGroup();
  connect();
  setInterval(loadDiagnostics, 5000);
}

function showSignIn() {
  $("app").hidden = true;
  $("signout").hidden = true;
  $("signin-panel").hidden = false;
}

$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", "/v1/session", { token: $("token").value.trim() });
    $("token").value = "";
    $("signin-error").textContent = "";
    await start();
  } catch (error) {
    $("signin-error").textContent = error.message;
  }
});

$("signout").addEventListener("click", async () => {
  await api("DELETE", "/v1/session").catch(() => {});
  if (state.socket) state.socket.close();
  location.reload();
});

$("group").addEventListener("change", async (event) => {
  state.group = event.target.value;
  await loadGroup();
  connect();
});

// ---- loading ----------------------------------------------------------------------------
async function loadGroup() {
  state.channel = null;
  await Promise.all([loadChannels(), loadBoard(), loadPeople(), loadDiagnostics()]);
}

async function loadChannels() {
  const { channels = [] } = await api("GET", `/v1/channels?group=${encodeURIComponent(state.group)}`);
  const mine = channels.filter((c) => c.is_member || c.system);
  $("channels").replaceChildren(...mine.map((c) =>
    el("li", { textContent: "#" + c.name, onclick: () => selectChannel(c), "data-channel": c.id })));
  const first = mine.find((c) => !c.system) || mine[0];
  if (first) await selectChannel(first);
}

async function selectChannel(channel) {
  state.channel = channel;
  for (const li of $("channels").children) li.classList.toggle("selected", li.dataset.channel === channel.id);
  $("channel-title").textContent = "#" + channel.name;
  const { messages = [] } = await api("GET", `/v1/history?channel_id=${channel.id}&limit=50`);
  messages.sort((a, b) => a.created_at_us - b.created_at_us);
  $("messages").replaceChildren(...messages.map(messageItem));
}

function messageItem(m) {
  return el("li", { "data-message": m.id }, el("span", { class: "sender", textContent: m.sender }), m.body);
}

async function loadBoard() {
  const { tasks = [] } = await api("GET", `/v1/tasks?group=${encodeURIComponent(state.group)}&all=true`);
  state.tasks = new Map(tasks.map((t) => [t.id, t]));
  renderBoard();
}

function renderBoard() {
  $("board").replaceChildren(...STATUSES.map((status) => {
    const cards = [...state.tasks.values()].filter((t) => (t.status || "STATUS_TODO") === status)
      .map((t) => el("div", { class: "card", "data-task": t.id }, t.title, el("small", { textContent: t.assignee || "unassigned" })));
    return el("div", { class: "column", "data-status": status }, el("h3", { textContent: status.replace("STATUS_", "").replace("_", " ") }), ...cards);
  }));
}

async function loadPeople() {
  const info = await api("GET", `/v1/groups/${encodeURIComponent(state.group)}/members`);
  state.people = new Map((info.members || []).map((p) => [p.name, p]));
  renderPeople();
}

function renderPeople() {
  $("people").replaceChildren(...[...state.people.values()].map((p) =>
    el("li", { class: p.online ? "online" : "", textContent: `${p.name} (${p.kind || "?"}, ${p.role || "?"})` })));
}

async function loadDiagnostics() {
  try {
    const { services = [] } = await api("GET", "/v1/diagnostics/summary");
    $("services").tBodies[0].replaceChildren(...services.map((s) => {
      const health = s.health === "SERVICE_HEALTH_UP" ? "up" : s.health === "SERVICE_HEALTH_DOWN" ? "down" : "unknown";
      const latency = s.latency || {};
      return el("tr", { "data-service": s.service }, el("td", { textContent: s.service }), el("td", { class: health, textContent: health }),
        el("td", { textContent: (s.requests_per_s || 0).toFixed(1) }), el("td", { textContent: micros(latency.p50_us) }),
        el("td", { textContent: micros(latency.p99_us) }), el("td", { textContent: micros(latency.max_us) }),
        el("td", { textContent: s.dropped_events || 0 }), el("td", { textContent: s.reconnects || 0 }));
    }));
  } catch (error) {
    $("services").tBodies[0].replaceChildren(el("tr", {}, el("td", { colSpan: 8, class: "error", textContent: error.message })));
  }
}

// ---- the stream -------------------------------------------------------------------------
function connect() {
  if (state.socket) { state.socket.onclose = null; state.socket.close(); }
  const cursor = Object.entries(state.cursors).filter(([stream]) => stream.includes(`/${state.group}/`) || stream === "diag/health")
    .map(([stream, seq]) => `${stream}:${seq}`).join(",");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/v1/stream?groups=${encodeURIComponent(state.group)}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
  state.socket = socket;
  socket.onopen = () => { $("live").textContent = "live"; $("live").classList.add("on"); };
  socket.onclose = () => {
    $("live").textContent = "reconnecting";
    $("live").classList.remove("on");
    setTimeout(connect, 1000);   // resumes from the cursors: nothing is missed
  };
  socket.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.seq === undefined) return;
    state.cursors[frame.stream] = frame.seq;
    handle(frame).catch((error) => console.error(error));
  };
}

async function handle(frame) {
  const event = frame.event || {};
  if (frame.stream.startsWith("btmsg/")) {
    if (event.message_created) {
      const m = event.message_created;
      if (state.channel && m.channel_id === state.channel.id && !document.querySelector(`[data-message="${m.id}"]`)) {
        const full = await api("GET", `/v1/messages/${m.id}`);
        if (!document.querySelector(`[data-message="${m.id}"]`)) $("messages").append(messageItem(full));
      }
    } else if (event.channel_created || event.member_added || event.member_removed) {
      await loadChannels();
    } else if (event.presence) {
      const p = state.people.get(event.presence.principal);
      if (p) { p.online = !!event.presence.online; renderPeople(); }
    }
  } else if (frame.stream.startsWith("bttask/")) {
    const task = event.task;
    if (task) {
      if (event.kind === "task.deleted") state.tasks.delete(task.id); else state.tasks.set(task.id, task);
      renderBoard();
    }
  } else if (frame.stream === "diag/health") {
    const line = event.service ? `${event.service} ${frame.type}${event.reason ? ": " + event.reason : ""}` :
      `${(event.event || {}).kind || frame.type} on ${event.service || "?"}`;
    $("health-events").prepend(el("li", { textContent: line }));
    while ($("health-events").children.length > 20) $("health-events").lastChild.remove();
    loadDiagnostics();
  }
}

$("send").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("message").value.trim();
  if (!text || !state.channel) return;
  await api("POST", "/v1/messages", { channel_id: state.channel.id, body: text });
  $("message").value = "";
});

start().catch((error) => { document.body.append(el("p", { class: "error", textContent: String(error) })); });
