// agor dashboard: plain JavaScript against the Gateway's REST API and its WebSocket stream.
// Everything live arrives by push (/v1/stream); REST is used to load and to fetch bodies.
"use strict";

const STATUSES = ["STATUS_TODO", "STATUS_IN_PROGRESS", "STATUS_REVIEW", "STATUS_BLOCKED", "STATUS_DONE", "STATUS_REJECTED"];
const state = { me: null, group: null, channel: null, tasks: new Map(), people: new Map(), cursors: {}, socket: null,
                sessions: new Map(), tails: new Map(), tailOf: null, leases: new Map() };
const ENDED = ["finished", "failed", "stopped", "interrupted"];
const sessionState = (s) => (s.state || "SESSION_STATE_UNSPECIFIED").replace("SESSION_STATE_", "").toLowerCase();
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
  // One panel's refusal (a role that may not see it) leaves the others loaded.
  const loads = await Promise.allSettled([loadChannels(), loadBoard(), loadPeople(), loadDiagnostics(), loadSessions(), loadLeases()]);
  for (const load of loads) if (load.status === "rejected") console.error(load.reason);
}

// Who reads a system channel (review-queue, review-log) without being a member: btmsg's rule
// (BtmsgRules.systemChannelRoles).
const SYSTEM_CHANNEL_ROLES = ["operator", "manager", "reviewer"];

async function loadChannels() {
  const { channels = [] } = await api("GET", `/v1/channels?group=${encodeURIComponent(state.group)}`);
  // Only the channels this person may read: opening one they may not would only show a refusal.
  const readable = channels.filter((c) => c.is_member || (c.system && SYSTEM_CHANNEL_ROLES.includes(state.me.role)));
  $("channels").replaceChildren(...readable.map((c) =>
    el("li", { textContent: "#" + c.name, onclick: () => selectChannel(c), "data-channel": c.id })));
  const first = readable.find((c) => !c.system) || readable[0];
  if (first) return selectChannel(first);
  $("channel-title").textContent = "no channel yet";
  $("messages").replaceChildren();
}

async function selectChannel(channel) {
  state.channel = channel;
  for (const li of $("channels").children) li.classList.toggle("selected", li.dataset.channel === channel.id);
  $("channel-title").textContent = "#" + channel.name;
  try {
    const { messages = [] } = await api("GET", `/v1/history?channel_id=${channel.id}&limit=50`);
    messages.sort((a, b) => a.created_at_us - b.created_at_us);
    $("messages").replaceChildren(...messages.map((m, index) => messageItem(m, index + 1)));
  } catch (error) {
    // A refusal here belongs to this panel, not to signing in.
    $("messages").replaceChildren(el("li", { class: "error", textContent: error.message }));
  }
}

// Numbered in the text (not by the list's marker, which a narrow margin cut to "0." from the tenth).
function messageItem(m, number) {
  return el("li", { "data-message": m.id }, el("span", { class: "number", textContent: number + "." }),
            el("span", { class: "sender", textContent: m.sender }), m.body);
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

// ---- agent sessions (the runner) ---------------------------------------------------------
async function loadSessions() {
  try {
    const { sessions = [] } = await api("GET", "/v1/sessions");
    state.sessions = new Map(sessions.filter((s) => s.group === state.group).map((s) => [s.id, s]));
    renderSessions();
  } catch (error) {
    $("sessions").tBodies[0].replaceChildren(el("tr", {}, el("td", { colSpan: 6, class: "error", textContent: error.message })));
  }
}

// Sessions as teams: each root (newest first) with its children under it (a child's parent is
// the session that spawned it), and under each session the sub-agents its program ran in-process
// (Claude's Task tool), marked as such.
function renderSessions() {
  const all = [...state.sessions.values()];
  const children = new Map();
  for (const s of all) if (s.parent && state.sessions.has(s.parent)) children.set(s.parent, [...(children.get(s.parent) || []), s]);
  const roots = all.filter((s) => !s.parent || !state.sessions.has(s.parent)).sort((a, b) => (b.created_us || 0) - (a.created_us || 0)).slice(0, 30);
  const rows = [];
  const visit = (s, depth) => {
    rows.push(sessionRow(s, depth));
    for (const agent of s.in_process || []) rows.push(inProcessRow(s, agent, depth + 1));
    for (const child of (children.get(s.id) || []).sort((a, b) => (a.created_us || 0) - (b.created_us || 0))) visit(child, depth + 1);
  };
  for (const root of roots) visit(root, 0);
  $("sessions").tBodies[0].replaceChildren(...rows);
}

function sessionRow(s, depth) {
  const word = sessionState(s);
  const actions = el("td", {});
  if (word === "needs_input") {
    actions.append(el("span", { class: "badge", textContent: "needs you", title: s.state_reason || "" }),
      el("button", { textContent: "Allow", "data-action": "allow", onclick: (e) => { e.stopPropagation(); act(s.id, "answer", { allow: true }); } }),
      el("button", { textContent: "Deny", "data-action": "deny", onclick: (e) => { e.stopPropagation(); act(s.id, "answer", { allow: false }); } }));
  }
  if (!ENDED.includes(word)) {
    actions.append(el("button", { textContent: "Stop", "data-action": "stop", onclick: (e) => { e.stopPropagation(); act(s.id, "stop", {}); } }));
  }
  const name = el("td", { class: "member", textContent: (depth ? "└ " : "") + `${s.agent} (${s.provider})` });
  name.style.paddingLeft = `${0.4 + depth * 1.2}rem`;
  const row = el("tr", { "data-session": s.id, "data-state": word, "data-parent": s.parent || "", "data-depth": String(depth),
                         onclick: () => selectSession(s.id) },
    el("td", { textContent: s.id.slice(0, 8) }), name,
    el("td", { class: word === "failed" ? "down" : "", textContent: word + (s.state_reason && word !== "running" ? ` (${s.state_reason})` : "") }),
    el("td", { class: "tools", textContent: (s.tools_in_flight || []).join(", ") || "-" }),
    el("td", { class: "cost", textContent: "$" + (s.cost_usd || 0).toFixed(4) }), actions);
  row.classList.toggle("selected", s.id === state.tailOf);
  return row;
}

function inProcessRow(s, agent, depth) {
  const name = el("td", { class: "member", textContent: `└ ${agent.kind || "sub-agent"}: ${agent.description || agent.tool_use_id}` });
  name.style.paddingLeft = `${0.4 + depth * 1.2}rem`;
  return el("tr", { class: "inprocess", "data-in-process": agent.tool_use_id, "data-of": s.id, "data-state": agent.state },
    el("td", { textContent: "in-process" }), name, el("td", { textContent: agent.state }),
    el("td", { textContent: `${agent.events || 0} events` }), el("td", {}), el("td", {}));
}

async function act(id, verb, body) {
  try {
    state.sessions.set(id, await api("POST", `/v1/sessions/${id}/${verb}`, body));
    renderSessions();
  } catch (error) {
    $("tail-title").textContent = `${verb}: ${error.message}`;
  }
}

async function selectSession(id) {
  state.tailOf = id;
  const s = state.sessions.get(id);
  $("tail-title").textContent = s ? `${s.agent}: ${id}` : id;
  if (!state.tails.has(id) && s) {
    // Its last 200 stored events first; what arrives by push from now on is appended.
    try {
      const { events = [] } = await api("GET", `/v1/sessions/${id}/events?from=${Math.max(1, (s.last_seq || 0) - 199)}&limit=200`);
      const known = state.tails.get(id) || [];
      const first = known.length ? known[0].seq : Infinity;
      state.tails.set(id, events.filter((f) => f.seq < first).map(tailLine).concat(known));
    } catch (error) {
      $("tail-title").textContent += ` (${error.message})`;
    }
  }
  if (state.tailOf !== id) return;
  $("tail").replaceChildren(...(state.tails.get(id) || []).map(tailItem));
  renderSessions();
}

// One line of a session's live tail, from a stream frame.
function tailLine(frame) {
  const e = frame.event || {};
  const text = e.assistant_text ? e.assistant_text.text : e.thinking ? "(thinking) " + e.thinking.text
    : e.tool_call ? `→ ${e.tool_call.name} ${e.tool_call.input_json || ""}` : e.tool_result ? `← ${e.tool_result.id} ${e.tool_result.content || ""}`
    : e.approval_requested ? `asks to use ${e.approval_requested.tool_name}`
    : e.approval_answered ? `${e.approval_answered.allowed ? "allowed" : "denied"} by ${e.approval_answered.by || "?"}` : e.error ? `${e.error.kind}: ${e.error.message}`
    : e.state_changed ? `state ${(e.state_changed.state || "").replace("SESSION_STATE_", "").toLowerCase()} ${e.state_changed.reason || ""}`
    : e.turn_finished ? "turn finished" : e.session_finished ? `finished (exit ${e.session_finished.exit_code || 0})` : frame.type;
  return { seq: frame.seq, text: String(text).slice(0, 500), error: !!e.error };
}

function tailItem(line) {
  return el("li", { value: line.seq, class: line.error ? "error" : "", textContent: line.text });
}

async function handleSession(frame) {
  const id = frame.stream.split("/")[2];
  const lines = state.tails.get(id) || [];
  const line = tailLine(frame);
  lines.push(line);
  if (lines.length > 200) lines.shift();
  state.tails.set(id, lines);
  if (state.tailOf === id) {
    $("tail").append(tailItem(line));
    while ($("tail").children.length > 200) $("tail").firstChild.remove();
    $("tail").scrollTop = $("tail").scrollHeight;
  }
  await refreshSession(id);
}

// The row (state, tools in flight, cost) from the runner's record: one fetch per burst of events,
// and one more if events came while it was in flight.
const refreshing = new Map();
async function refreshSession(id) {
  if (refreshing.has(id)) { refreshing.set(id, true); return; }
  try {
    do {
      refreshing.set(id, false);
      await new Promise((resolve) => setTimeout(resolve, 100));
      state.sessions.set(id, await api("GET", `/v1/sessions/${id}`));
      renderSessions();
    } while (refreshing.get(id));
  } finally {
    refreshing.delete(id);
  }
}

// ---- file leases (bttask): who holds what ------------------------------------------------
async function loadLeases() {
  try {
    const { leases = [] } = await api("GET", `/v1/leases?group=${encodeURIComponent(state.group)}`);
    state.leases = new Map(leases.map((l) => [l.id, l]));
    renderLeases();
  } catch (error) {
    $("leases").tBodies[0].replaceChildren(el("tr", {}, el("td", { colSpan: 5, class: "error", textContent: error.message })));
  }
}

function renderLeases() {
  const now = Date.now() * 1000;
  const rows = [...state.leases.values()].filter((l) => Number(l.expires_us || 0) > now)
    .sort((a, b) => (a.project + a.path).localeCompare(b.project + b.path))
    .map((l) => el("tr", { "data-lease": l.id, "data-holder": l.holder },
      el("td", { textContent: (l.project ? l.project + ":" : "") + l.path }), el("td", { textContent: l.holder }),
      el("td", { textContent: l.exclusive ? "exclusive" : "shared" }), el("td", { textContent: l.task ? l.task.slice(0, 8) : "-" }),
      el("td", { textContent: new Date(Number(l.expires_us) / 1000).toLocaleTimeString() })));
  $("leases").tBodies[0].replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colSpan: 5, textContent: "nobody holds a file" }))]));
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
        if (!document.querySelector(`[data-message="${m.id}"]`)) {
          $("messages").append(messageItem(full, $("messages").querySelectorAll("li[data-message]").length + 1));
        }
      }
    } else if (event.channel_created || event.member_added || event.member_removed) {
      await loadChannels();
    } else if (event.presence) {
      const p = state.people.get(event.presence.principal);
      if (p) { p.online = !!event.presence.online; renderPeople(); }
    }
  } else if (frame.stream.startsWith("bttask/")) {
    if (event.lease && event.lease.id) {
      if (event.kind === "lease.released" || event.kind === "lease.expired") state.leases.delete(event.lease.id);
      else state.leases.set(event.lease.id, event.lease);
      renderLeases();
    }
    const task = event.task;
    if (task) {
      if (event.kind === "task.deleted") state.tasks.delete(task.id); else state.tasks.set(task.id, task);
      renderBoard();
    }
  } else if (frame.stream.startsWith("runner/")) {
    await handleSession(frame);
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
