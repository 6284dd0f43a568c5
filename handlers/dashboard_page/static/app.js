// ACME telemetry live dashboard: one WebSocket to the platform's API Gateway WebSocket API.
//
// Messages from the consumer Lambda (see handlers/README.md, "consumer"), one per batch:
//   {"type": "telemetry", "events": [the batch's latest 20], "summary": {...}}
// each summary counts its whole batch, so totals are simple sums; "part"/"parts", which
// earlier consumers sent when a batch took several messages, are still shown if present. The $default route
// answers {"action": "ping"} with {"type": "pong", ...} and anything else with
// {"type": "error", "error": "..."}. Unknown types are counted and ignored.
//
// API Gateway closes a connection after 10 idle minutes and every connection after 2 hours:
// the page pings every 4 minutes and reconnects with exponential backoff (1 s doubling to
// 30 s, with jitter). Every value from the network is written with textContent, never as HTML.
"use strict";

(() => {
  const RECENT_LIMIT = 20;
  const RATE_WINDOW_MS = 60_000;
  const PING_INTERVAL_MS = 4 * 60_000;
  const PONG_TIMEOUT_MS = 30_000;
  const RECONNECT_BASE_MS = 1_000;
  const RECONNECT_MAX_MS = 30_000;
  // summary key -> list element id
  const BREAKDOWNS = [
    ["by_event_type", "by-event-type"],
    ["by_device_type", "by-device-type"],
    ["by_quality", "by-quality"],
    ["by_title_type", "by-title-type"],
  ];

  const byId = (id) => document.getElementById(id);
  const integer = new Intl.NumberFormat("en-US");

  const totals = {
    events: 0,
    messages: 0,
    buffering: 0,
    errors: 0,
    ignored: 0,
    bandwidthSum: 0,
    bandwidthEvents: 0,
    // Maps, not plain objects: keys come from the network ("__proto__" is just a key).
    counts: new Map(BREAKDOWNS.map(([key]) => [key, new Map()])),
  };
  const arrivals = []; // [Date.now(), events] per telemetry message, for the rate
  let recent = []; // newest first

  let socket = null;
  let attempt = 0;
  let reconnectTimer = null;
  let countdownTimer = null;
  let pingTimer = null;
  let pongTimer = null;
  let pingSentAt = null;

  // ------------------------------------------------------------------ helpers

  const isObject = (value) =>
    value !== null && typeof value === "object" && !Array.isArray(value);

  const count = (value) =>
    Number.isSafeInteger(value) && value >= 0 ? value : null;

  const finite = (value) =>
    typeof value === "number" && Number.isFinite(value) ? value : null;

  const text = (value) =>
    typeof value === "string" && value !== "" ? value : "–";

  const utcTime = (date) => date.toISOString().slice(11, 19);

  function eventTime(value) {
    if (typeof value !== "string") return "–";
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? "–" : utcTime(date);
  }

  function element(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  // ------------------------------------------------------------------ connection state

  function setState(state, label, detail) {
    const status = byId("status");
    status.dataset.state = state;
    const textNode = byId("status-text");
    if (textNode.textContent !== label) textNode.textContent = label;
    byId("status-detail").textContent = detail || "";
  }

  function showNotice(message) {
    const notice = byId("notice");
    notice.textContent = `${utcTime(new Date())} UTC · ${message}`;
    notice.hidden = false;
  }

  function clearTimers() {
    clearTimeout(reconnectTimer);
    clearInterval(countdownTimer);
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    reconnectTimer = countdownTimer = pingTimer = pongTimer = null;
    pingSentAt = null;
  }

  function connect(url) {
    clearTimers();
    if (attempt === 0) setState("connecting", "Connecting…");
    else setState("reconnecting", "Reconnecting…", `Attempt ${attempt}: connecting`);
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (error) {
      showNotice(`cannot open the WebSocket: ${error.message}`);
      scheduleReconnect(url);
      return;
    }
    socket = ws;
    ws.addEventListener("open", () => {
      if (socket !== ws) return;
      attempt = 0;
      setState("live", "Live", `Connected at ${utcTime(new Date())} UTC`);
      sendPing();
      pingTimer = setInterval(sendPing, PING_INTERVAL_MS);
    });
    ws.addEventListener("message", (event) => {
      if (socket === ws) handleMessage(event.data);
    });
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      socket = null;
      scheduleReconnect(url);
    });
    // An "error" event is always followed by "close", which reconnects.
  }

  function scheduleReconnect(url) {
    clearTimers();
    attempt += 1;
    const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** (attempt - 1));
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    const due = Date.now() + delay;
    const countdown = () => {
      const seconds = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      setState("reconnecting", "Reconnecting…", `Attempt ${attempt} in ${seconds} s`);
    };
    countdown();
    countdownTimer = setInterval(countdown, 1000);
    reconnectTimer = setTimeout(() => connect(url), delay);
  }

  function sendPing() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ action: "ping" }));
    pingSentAt = performance.now();
    if (pongTimer === null) pongTimer = setTimeout(pongMissing, PONG_TIMEOUT_MS);
  }

  function pongMissing() {
    // No answer to a ping: treat the connection as dead and start over.
    const ws = socket;
    socket = null;
    if (ws) {
      try {
        ws.close(4000, "no pong");
      } catch {
        // already closing
      }
    }
    showNotice("no answer to ping; reconnecting");
    scheduleReconnect(config.websocketUrl);
  }

  // ------------------------------------------------------------------ messages

  function handleMessage(data) {
    let message = null;
    try {
      message = typeof data === "string" ? JSON.parse(data) : null;
    } catch {
      message = null;
    }
    const type = isObject(message) ? message.type : undefined;
    if (type === "telemetry" && addTelemetry(message)) return;
    if (type === "pong") return onPong();
    if (type === "error") {
      showNotice(`server error: ${typeof message.error === "string" ? message.error : "unknown"}`);
      return;
    }
    totals.ignored += 1;
    byId("ignored-count").textContent = integer.format(totals.ignored);
  }

  function onPong() {
    clearTimeout(pongTimer);
    pongTimer = null;
    const roundTrip = pingSentAt === null ? null : Math.round(performance.now() - pingSentAt);
    pingSentAt = null;
    const when = `${utcTime(new Date())} UTC`;
    byId("last-pong").textContent = roundTrip === null ? when : `${when} (${roundTrip} ms)`;
  }

  function addCounts(target, source) {
    if (!isObject(source)) return;
    for (const [key, value] of Object.entries(source)) {
      const n = count(value);
      if (n !== null) target.set(key, (target.get(key) || 0) + n);
    }
  }

  function addTelemetry(message) {
    if (!Array.isArray(message.events) || !isObject(message.summary)) return false;
    const events = message.events.filter(isObject);
    const summary = message.summary;
    const received = count(summary.events) ?? events.length;
    totals.events += received;
    totals.messages += 1;
    totals.buffering += count(summary.buffering_events) ?? 0;
    totals.errors += count(summary.errors) ?? 0;
    const average = finite(summary.avg_bandwidth_mbps);
    if (average !== null && received > 0) {
      totals.bandwidthSum += average * received;
      totals.bandwidthEvents += received;
    }
    for (const [key] of BREAKDOWNS) addCounts(totals.counts.get(key), summary[key]);
    arrivals.push([Date.now(), received]);
    recent = events.slice(-RECENT_LIMIT).reverse().concat(recent).slice(0, RECENT_LIMIT);

    const part = count(message.part);
    const parts = count(message.parts);
    const of = part && parts && parts > 1 ? ` (part ${part} of ${parts})` : "";
    if (socket) {
      setState("live", "Live", `Last update ${utcTime(new Date())} UTC${of}`);
    }
    render();
    return true;
  }

  // ------------------------------------------------------------------ rendering

  function render() {
    byId("total-events").textContent = integer.format(totals.events);
    byId("message-count").textContent = integer.format(totals.messages);
    byId("buffering-events").textContent = integer.format(totals.buffering);
    byId("error-count").textContent = integer.format(totals.errors);
    byId("avg-bandwidth").textContent =
      totals.bandwidthEvents > 0 ? (totals.bandwidthSum / totals.bandwidthEvents).toFixed(1) : "–";
    renderRate();
    for (const [key, id] of BREAKDOWNS) renderBars(byId(id), totals.counts.get(key));
    renderRecent();
  }

  function renderRate() {
    const cutoff = Date.now() - RATE_WINDOW_MS;
    while (arrivals.length && arrivals[0][0] < cutoff) arrivals.shift();
    const inWindow = arrivals.reduce((sum, [, n]) => sum + n, 0);
    byId("event-rate").textContent = (inWindow / (RATE_WINDOW_MS / 1000)).toFixed(1);
  }

  function renderBars(list, counts) {
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const rows = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const items = rows.map(([label, n]) => {
      const share = total > 0 ? (100 * n) / total : 0;
      const item = element("li");
      item.dataset.key = label;
      item.append(element("span", "label", label));
      const bar = element("span", "bar");
      bar.setAttribute("aria-hidden", "true");
      const fill = element("span", "fill");
      fill.style.width = `${share.toFixed(1)}%`;
      bar.append(fill);
      item.append(bar);
      item.append(element("span", "value", `${integer.format(n)} · ${Math.round(share)}%`));
      return item;
    });
    if (!items.length) items.push(element("li", "empty", "no events yet"));
    list.replaceChildren(...items);
  }

  function renderRecent() {
    const body = byId("recent-body");
    if (!recent.length) return;
    const rows = recent.map((event) => {
      const row = element("tr");
      const bandwidth = finite(event.bandwidth_mbps);
      const device = [event.device_type, event.device_os].filter((v) => typeof v === "string");
      const place = [event.city, event.state].filter((v) => typeof v === "string");
      const title = element("td", "title", text(event.title_id));
      if (typeof event.title_type === "string") {
        title.append(" ", element("span", "tag", event.title_type));
      }
      row.append(
        element("td", "time", eventTime(event.event_timestamp)),
        element("td", "event", text(event.event_type)),
        title,
        element("td", "", text(device.join(" · "))),
        element("td", "", text(event.quality)),
        element("td", "", text(place.join(", "))),
        element("td", "num", bandwidth === null ? "–" : `${bandwidth.toFixed(2)} Mbps`),
      );
      return row;
    });
    body.replaceChildren(...rows);
  }

  // ------------------------------------------------------------------ start

  function readConfig() {
    try {
      const parsed = JSON.parse(byId("config").textContent);
      if (isObject(parsed) && typeof parsed.websocketUrl === "string") return parsed;
    } catch {
      // fall through
    }
    return null;
  }

  const config = readConfig();
  byId("opened-at").textContent = utcTime(new Date());
  render();
  setInterval(renderRate, 1000);
  if (config === null) {
    setState("error", "Not configured", "The page has no WebSocket URL");
  } else {
    window.addEventListener("online", () => {
      if (!socket) connect(config.websocketUrl);
    });
    connect(config.websocketUrl);
  }
})();
