// ACME telemetry live dashboard: one WebSocket to the platform's API Gateway WebSocket API.
//
// Messages from the consumer Lambda (see handlers/README.md, "consumer"), one per batch:
//   {"type": "telemetry", "events": [the batch's latest 20], "summary": {...}}
// Every summary figure is a count or a sum over its whole batch, so the page adds them up
// and derives rates and ratios from the sums; nothing is recomputed from raw events. The
// $default route answers {"action": "ping"} with {"type": "pong", ...} and anything else with
// {"type": "error", "error": "..."}. Unknown types are counted and ignored.
//
// Rates use the time the page has actually been open: "Events / s" is the events of the last
// 60 s divided by 60 s, or by the seconds since the page opened when that is less. Trends
// put each batch in the 10-second step in which it reached the page.
//
// API Gateway closes a connection after 10 idle minutes and every connection after 2 hours:
// the page pings every 4 minutes and reconnects with exponential backoff (1 s doubling to
// 30 s, with jitter). Every value from the network is written with textContent, never as HTML.
// Charts are drawn by uPlot (web/package.json), served from this page's own origin.
//
// Access "cognito" (the config block): the $connect authorizer wants a Cognito access token
// in the query string (?token=...). The page signs in with Cognito's InitiateAuth
// (USER_PASSWORD_AUTH, then REFRESH_TOKEN_AUTH when the access token expires within a
// minute of a (re)connect) and keeps the tokens in sessionStorage (this tab only). A failed
// refresh, or a socket closed before it opened (the token refused), signs the page out.
"use strict";

(() => {
  const RATE_WINDOW_MS = 60_000;
  const STEP_MS = 10_000;
  const TREND_STEPS = 90; // 15 minutes
  const RECENT_KEEP = 500;
  const RECENT_SHOWN = 25;
  const RECENT_SHOWN_NARROW = 10; // on a phone each event is a card of four lines
  const narrow = window.matchMedia("(max-width: 600px)");
  const TOP_TITLES = 10;
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
    ["by_state", "by-state"],
    ["by_isp", "by-isp"],
    ["by_connection_type", "by-connection-type"],
  ];
  const COLUMNS = ["Time", "Event", "Title", "Device", "Quality", "Location", "Bandwidth"];

  const byId = (id) => document.getElementById(id);
  const integer = new Intl.NumberFormat("en-US");
  const openedAt = Date.now();

  // Sums since the page opened. Maps, not plain objects: keys come from the network
  // ("__proto__" is just a key).
  const emptySums = () => ({
    events: 0,
    watch: 0,
    buffering: 0,
    errorEvents: 0,
    uhd: 0,
    bandwidthSum: 0,
    bandwidthEvents: 0,
  });
  const totals = {
    ...emptySums(),
    messages: 0,
    ignored: 0,
    counts: new Map(BREAKDOWNS.map(([key]) => [key, new Map()])),
    titles: new Map(),
  };
  const steps = new Map(); // step start (ms) -> sums of the batches that arrived in it
  const arrivals = []; // [Date.now(), events] per telemetry message, for the rate
  let recent = []; // newest first, at most RECENT_KEEP
  let shown = []; // what the table shows (frozen while paused)
  let paused = false;
  let arrivedWhilePaused = 0;
  let renderQueued = false;

  let socket = null;
  let attempt = 0;
  let reconnectTimer = null;
  let countdownTimer = null;
  let pingTimer = null;
  let pongTimer = null;
  let pingSentAt = null;
  let session = 0; // bumped by sign-in and sign-out: a connect in flight for an old one stops
  const TOKENS_KEY = "acme-dashboard-tokens";
  const REFRESH_MARGIN_MS = 60_000;

  // ------------------------------------------------------------------ helpers

  const isObject = (value) =>
    value !== null && typeof value === "object" && !Array.isArray(value);

  const count = (value) => (Number.isSafeInteger(value) && value >= 0 ? value : null);

  const finite = (value) => (typeof value === "number" && Number.isFinite(value) ? value : null);

  const amount = (value) => {
    const n = finite(value);
    return n !== null && n >= 0 ? n : 0;
  };

  const text = (value) => (typeof value === "string" && value !== "" ? value : "–");

  const utcTime = (date) => date.toISOString().slice(11, 19);
  const utcMinutes = (seconds) => new Date(seconds * 1000).toISOString().slice(11, 16);

  function eventTime(value) {
    if (typeof value !== "string") return "–";
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? "–" : date.toISOString().slice(11, 23);
  }

  function duration(ms) {
    const seconds = Math.floor(ms / 1000);
    if (seconds < 60) return `${seconds} s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  function element(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  // Derived figures, shared by the totals and the trends. null: nothing to divide by.
  const ratio = (part, whole, scale) => (whole > 0 ? (scale * part) / whole : null);
  const derived = (sums) => ({
    buffering: ratio(sums.buffering, sums.watch, 100),
    errors: ratio(sums.errorEvents, sums.events, 1000),
    uhd: ratio(sums.uhd, sums.events, 100),
    bandwidth: ratio(sums.bandwidthSum, sums.bandwidthEvents, 1),
  });

  // ------------------------------------------------------------------ connection state

  function setState(state, label, detail) {
    const status = byId("status");
    status.dataset.state = state;
    const textNode = byId("status-text");
    if (textNode.textContent !== label) textNode.textContent = label;
    byId("status-detail").textContent = detail || "–";
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

  // ------------------------------------------------------------------ sign-in (Cognito)

  function loadTokens() {
    try {
      const tokens = JSON.parse(sessionStorage.getItem(TOKENS_KEY));
      return isObject(tokens) && typeof tokens.access === "string" ? tokens : null;
    } catch {
      return null;
    }
  }

  async function initiateAuth(flow, parameters) {
    const response = await fetch(config.cognitoEndpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
      },
      body: JSON.stringify({ AuthFlow: flow, ClientId: config.cognitoClientId, AuthParameters: parameters }),
      cache: "no-store",
      credentials: "omit",
    });
    const body = await response.json().catch(() => ({}));
    const result = isObject(body) ? body.AuthenticationResult : null;
    if (response.ok && isObject(result) && typeof result.AccessToken === "string") {
      const tokens = {
        access: result.AccessToken,
        refresh: typeof result.RefreshToken === "string" ? result.RefreshToken : parameters.REFRESH_TOKEN,
        expiresAt: Date.now() + (finite(result.ExpiresIn) ?? 3600) * 1000,
      };
      sessionStorage.setItem(TOKENS_KEY, JSON.stringify(tokens));
      return tokens;
    }
    if (isObject(body) && typeof body.ChallengeName === "string") {
      throw new Error(`Cognito asks for ${body.ChallengeName}; ask the platform team`);
    }
    throw new Error(isObject(body) && typeof body.message === "string" ? body.message : `HTTP ${response.status}`);
  }

  // The URL to connect to: with Cognito, the access token (refreshed first when it expires
  // within a minute); null when the page is signed out.
  async function socketUrl() {
    if (config.access !== "cognito") return config.websocketUrl;
    let tokens = loadTokens();
    if (tokens === null) return null;
    if (!(tokens.expiresAt - Date.now() > REFRESH_MARGIN_MS)) {
      if (typeof tokens.refresh !== "string") return null;
      try {
        tokens = await initiateAuth("REFRESH_TOKEN_AUTH", { REFRESH_TOKEN: tokens.refresh });
      } catch {
        return null;
      }
    }
    const url = new URL(config.websocketUrl);
    url.searchParams.set("token", tokens.access);
    return url.href;
  }

  function signOut(detail) {
    session += 1;
    clearTimers();
    sessionStorage.removeItem(TOKENS_KEY);
    const ws = socket;
    socket = null;
    if (ws) ws.close(1000, "signed out");
    attempt = 0;
    setState("signed-out", "Signed out", detail);
    byId("sign-out").hidden = true;
    byId("sign-in").hidden = false;
  }

  async function signIn(event) {
    event.preventDefault();
    const button = byId("sign-in-button");
    const problem = byId("sign-in-error");
    button.disabled = true;
    problem.textContent = "";
    try {
      await initiateAuth("USER_PASSWORD_AUTH", {
        USERNAME: byId("username").value,
        PASSWORD: byId("password").value,
      });
      byId("password").value = "";
      byId("sign-in").hidden = true;
      byId("sign-out").hidden = false;
      session += 1;
      attempt = 0;
      connect();
    } catch (error) {
      problem.textContent = `Sign-in failed: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ the socket

  async function connect() {
    clearTimers();
    if (attempt === 0) setState("connecting", "Connecting…");
    else setState("reconnecting", "Reconnecting…", `Attempt ${attempt}: connecting`);
    const mine = session;
    const url = await socketUrl();
    if (mine !== session) return;
    if (url === null) {
      signOut("sign in again to watch the live feed");
      return;
    }
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (error) {
      showNotice(`cannot open the WebSocket: ${error.message}`);
      scheduleReconnect();
      return;
    }
    socket = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      if (socket !== ws) return;
      opened = true;
      attempt = 0;
      setState("live", "Live", `connected at ${utcTime(new Date())} UTC`);
      sendPing();
      pingTimer = setInterval(sendPing, PING_INTERVAL_MS);
    });
    ws.addEventListener("message", (event) => {
      if (socket === ws) handleMessage(event.data);
    });
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      socket = null;
      if (!opened && config.access === "cognito") signOut("the platform refused the sign-in");
      else scheduleReconnect();
    });
    // An "error" event is always followed by "close", which reconnects.
  }

  function scheduleReconnect() {
    clearTimers();
    attempt += 1;
    const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** (attempt - 1));
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    const due = Date.now() + delay;
    const countdown = () => {
      const seconds = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      setState("reconnecting", "Reconnecting…", `attempt ${attempt} in ${seconds} s`);
    };
    countdown();
    countdownTimer = setInterval(countdown, 1000);
    reconnectTimer = setTimeout(connect, delay);
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
    scheduleReconnect();
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

  function addSums(target, sums) {
    for (const key of Object.keys(sums)) target[key] += sums[key];
  }

  function batchSums(summary, received) {
    const byQuality = isObject(summary.by_quality) ? summary.by_quality : {};
    return {
      events: received,
      watch: amount(summary.watch_seconds),
      buffering: amount(summary.buffering_seconds),
      errorEvents: count(summary.events_with_errors) ?? 0,
      uhd: count(byQuality["4K"]) ?? 0,
      bandwidthSum: amount(summary.bandwidth_mbps_sum),
      bandwidthEvents: count(summary.bandwidth_events) ?? 0,
    };
  }

  function addTelemetry(message) {
    if (!Array.isArray(message.events) || !isObject(message.summary)) return false;
    const events = message.events.filter(isObject);
    const summary = message.summary;
    const received = count(summary.events) ?? events.length;
    const now = Date.now();
    const sums = batchSums(summary, received);
    addSums(totals, sums);
    const stepStart = now - (now % STEP_MS);
    if (!steps.has(stepStart)) steps.set(stepStart, emptySums());
    addSums(steps.get(stepStart), sums);
    totals.messages += 1;
    for (const [key] of BREAKDOWNS) addCounts(totals.counts.get(key), summary[key]);
    if (isObject(summary.top_titles)) {
      for (const [title, seconds] of Object.entries(summary.top_titles)) {
        totals.titles.set(title, (totals.titles.get(title) || 0) + amount(seconds));
      }
    }
    arrivals.push([now, received]);
    addRecent(events);
    if (socket) setState("live", "Live", `last update ${utcTime(new Date(now))} UTC`);
    queueRender();
    return true;
  }

  function addRecent(events) {
    // Newest first by event time; among equal times, the later arrival first.
    const newest = events.slice().reverse();
    recent = newest
      .concat(recent)
      .sort((a, b) => timeKey(b).localeCompare(timeKey(a)))
      .slice(0, RECENT_KEEP);
    if (paused) arrivedWhilePaused += events.length;
    else shown = recent;
  }

  const timeKey = (event) =>
    typeof event.event_timestamp === "string" ? event.event_timestamp : "";

  // ------------------------------------------------------------------ rendering

  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render();
    });
  }

  function render() {
    byId("total-events").textContent = integer.format(totals.events);
    byId("message-count").textContent = integer.format(totals.messages);
    const now = derived(totals);
    byId("buffering-ratio").textContent = now.buffering === null ? "–" : now.buffering.toFixed(2);
    byId("error-rate").textContent = now.errors === null ? "–" : now.errors.toFixed(1);
    byId("uhd-share").textContent = now.uhd === null ? "–" : now.uhd.toFixed(1);
    byId("avg-bandwidth").textContent = now.bandwidth === null ? "–" : now.bandwidth.toFixed(1);
    renderClock();
    for (const [key, id] of BREAKDOWNS) renderShares(byId(id), totals.counts.get(key));
    renderTitles();
    renderFilters();
    renderRecent();
  }

  // Once a second, and after each message: the rate, the page's age and the charts.
  function renderClock() {
    const now = Date.now();
    const open = now - openedAt;
    byId("open-for").textContent = duration(open);
    const span = Math.max(1000, Math.min(RATE_WINDOW_MS, open));
    while (arrivals.length && arrivals[0][0] < now - RATE_WINDOW_MS) arrivals.shift();
    const inSpan = arrivals.reduce((sum, [at, n]) => (at >= now - span ? sum + n : sum), 0);
    byId("event-rate").textContent = (inSpan / (span / 1000)).toFixed(1);
    byId("rate-window").textContent =
      span < RATE_WINDOW_MS ? `(last ${Math.round(span / 1000)} s, since opened)` : "(last 60 s)";
    charts.update(now);
  }

  function bars(list, rows, total, describe) {
    const items = rows.map(([label, n]) => {
      const share = total > 0 ? (100 * n) / total : 0;
      const item = element("li");
      item.dataset.key = label;
      item.append(element("span", "label", label));
      item.lastChild.title = label;
      const bar = element("span", "bar");
      bar.setAttribute("aria-hidden", "true");
      const fill = element("span", "fill");
      fill.style.width = `${Math.min(100, share).toFixed(1)}%`;
      bar.append(fill);
      item.append(bar, element("span", "value", describe(n, share)));
      return item;
    });
    if (!items.length) items.push(element("li", "empty", "no events yet"));
    list.replaceChildren(...items);
  }

  const byCount = (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1);

  function renderShares(list, counts) {
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const rows = [...counts.entries()].sort(byCount);
    bars(list, rows, total, (n, share) => `${integer.format(n)} · ${Math.round(share)}%`);
  }

  function renderTitles() {
    const rows = [...totals.titles.entries()].sort(byCount).slice(0, TOP_TITLES);
    const top = rows.length ? rows[0][1] : 0;
    bars(byId("top-titles"), rows, top, (seconds) => `${(seconds / 3600).toFixed(1)} h`);
  }

  function renderFilters() {
    for (const [key, id] of [
      ["by_event_type", "filter-event-type"],
      ["by_device_type", "filter-device-type"],
    ]) {
      const select = byId(id);
      const known = new Set([...select.options].map((o) => o.value));
      const seen = [...totals.counts.get(key).keys()].filter((k) => !known.has(k)).sort();
      for (const value of seen) select.append(new Option(value, value));
    }
  }

  function matchesFilters(event) {
    const type = byId("filter-event-type").value;
    const device = byId("filter-device-type").value;
    return (!type || event.event_type === type) && (!device || event.device_type === device);
  }

  function cell(column, className, content) {
    const td = element("td", className, content);
    td.dataset.label = column;
    return td;
  }

  function renderRecent() {
    const body = byId("recent-body");
    const filtered = shown.filter(matchesFilters);
    const visible = filtered.slice(0, narrow.matches ? RECENT_SHOWN_NARROW : RECENT_SHOWN);
    const note = paused
      ? `Paused · ${integer.format(arrivedWhilePaused)} new events since`
      : "Newest first, live.";
    const filter =
      filtered.length < shown.length
        ? ` Showing ${integer.format(filtered.length)} matching of the latest ` +
          `${integer.format(shown.length)}.`
        : "";
    byId("recent-note").textContent = note + filter;
    if (!visible.length) {
      const row = element("tr", "empty");
      const empty = shown.length ? "No recent event matches the filters." : "Waiting for events…";
      const td = element("td", "", empty);
      td.colSpan = COLUMNS.length;
      row.append(td);
      body.replaceChildren(row);
      return;
    }
    const rows = visible.map((event) => {
      const row = element("tr");
      const bandwidth = finite(event.bandwidth_mbps);
      const device = [event.device_type, event.device_os].filter((v) => typeof v === "string");
      const place = [event.city, event.state].filter((v) => typeof v === "string");
      const title = cell(COLUMNS[2], "title", text(event.title_id));
      if (typeof event.title_type === "string") {
        title.append(" ", element("span", "tag", event.title_type));
      }
      row.append(
        cell(COLUMNS[0], "time", eventTime(event.event_timestamp)),
        cell(COLUMNS[1], "event", text(event.event_type)),
        title,
        cell(COLUMNS[3], "", text(device.join(" · "))),
        cell(COLUMNS[4], "", text(event.quality)),
        cell(COLUMNS[5], "", text(place.join(", "))),
        cell(COLUMNS[6], "num", bandwidth === null ? "–" : `${bandwidth.toFixed(2)} Mbps`),
      );
      return row;
    });
    body.replaceChildren(...rows);
  }

  function togglePause() {
    paused = !paused;
    arrivedWhilePaused = 0;
    if (!paused) shown = recent;
    const button = byId("pause");
    button.setAttribute("aria-pressed", String(paused));
    button.textContent = paused ? "Resume" : "Pause";
    renderRecent();
  }

  // ------------------------------------------------------------------ charts (uPlot)

  const SERIES = [
    // [figure data-series, element id, value of a step, decimals]
    ["rate", "chart-rate", null, 1],
    ["buffering", "chart-buffering", (d) => d.buffering, 2],
    ["errors", "chart-errors", (d) => d.errors, 1],
    ["uhd", "chart-uhd", (d) => d.uhd, 1],
    ["bandwidth", "chart-bandwidth", (d) => d.bandwidth, 1],
  ];

  const charts = (() => {
    const plots = new Map(); // id -> uPlot
    const available = typeof window.uPlot === "function";

    function trend(now) {
      const first = now - (now % STEP_MS) - (TREND_STEPS - 1) * STEP_MS;
      const xs = [];
      const columns = new Map(SERIES.map(([name]) => [name, []]));
      for (let i = 0; i < TREND_STEPS; i += 1) {
        const start = first + i * STEP_MS;
        xs.push(start / 1000);
        const sums = steps.get(start);
        // Seconds of this step during which the page was open (the current step so far).
        const open = Math.min(start + STEP_MS, now) - Math.max(start, openedAt);
        const events = sums ? sums.events : 0;
        columns.get("rate").push(open > 0 ? events / Math.max(open / 1000, 1) : null);
        const values = sums && sums.events > 0 ? derived(sums) : null;
        for (const [name, , pick] of SERIES) {
          if (pick) columns.get(name).push(values ? pick(values) : null);
        }
      }
      for (const key of steps.keys()) if (key < first) steps.delete(key);
      return { xs, columns };
    }

    function options(element, decimals) {
      const style = getComputedStyle(document.documentElement);
      const color = (name) => style.getPropertyValue(name).trim();
      const axis = {
        stroke: color("--muted"),
        grid: { stroke: color("--grid"), width: 1 },
        ticks: { stroke: color("--grid"), width: 1 },
        font: "11px system-ui, sans-serif",
      };
      return {
        width: Math.max(element.clientWidth, 100),
        height: element.clientHeight || 120,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [
          { ...axis, space: 60, values: (u, ticks) => ticks.map(utcMinutes) },
          {
            ...axis,
            size: 44,
            values: (u, ticks) => ticks.map((v) => v.toFixed(v < 10 && decimals ? 1 : 0)),
          },
        ],
        series: [
          {},
          {
            stroke: color("--series"),
            fill: color("--series-fill"),
            width: 2,
            points: { size: 4 },
          },
        ],
      };
    }

    function build() {
      for (const plot of plots.values()) plot.destroy();
      plots.clear();
      if (!available) return;
      for (const [, id, , decimals] of SERIES) {
        const element = byId(id);
        plots.set(id, new uPlot(options(element, decimals), [[], []], element));
      }
    }

    function update(now) {
      const { xs, columns } = trend(now);
      for (const [name, id, , decimals] of SERIES) {
        const values = columns.get(name);
        const latest = [...values].reverse().find((v) => v !== null);
        const figure = document.querySelector(`figure[data-series="${name}"]`);
        const shownLatest = latest === undefined ? "" : latest.toFixed(decimals);
        if (figure.dataset.latest !== shownLatest) {
          figure.dataset.latest = shownLatest;
          figure.querySelector(".latest").textContent = shownLatest ? `now ${shownLatest}` : "";
        }
        const plot = plots.get(id);
        if (plot) plot.setData([xs, values]);
      }
    }

    function resize() {
      for (const [id, plot] of plots) {
        const element = byId(id);
        const width = Math.max(element.clientWidth, 100);
        plot.setSize({ width, height: element.clientHeight || 120 });
      }
    }

    return { build, update, resize, available };
  })();

  // ------------------------------------------------------------------ start

  function readConfig() {
    try {
      const parsed = JSON.parse(byId("config").textContent);
      const cognito =
        parsed.access !== "cognito" ||
        (typeof parsed.cognitoEndpoint === "string" && typeof parsed.cognitoClientId === "string");
      if (isObject(parsed) && typeof parsed.websocketUrl === "string" && cognito) return parsed;
    } catch {
      // fall through
    }
    return null;
  }

  const config = readConfig();
  byId("opened-at").textContent = utcTime(new Date(openedAt));
  byId("opened-at").dateTime = new Date(openedAt).toISOString();
  charts.build();
  if (!charts.available) showNotice("the chart library did not load; trends are not drawn");
  render();
  setInterval(renderClock, 1000);
  new ResizeObserver(() => charts.resize()).observe(document.querySelector(".charts"));
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    charts.build();
    renderClock();
  });
  byId("pause").addEventListener("click", togglePause);
  narrow.addEventListener("change", renderRecent);
  for (const id of ["filter-event-type", "filter-device-type"]) {
    byId(id).addEventListener("change", renderRecent);
  }
  if (config === null) {
    setState("error", "Not configured", "the page has no WebSocket URL");
  } else {
    window.addEventListener("online", () => {
      if (!socket && byId("sign-in").hidden) connect();
    });
    byId("sign-in").addEventListener("submit", signIn);
    byId("sign-out").addEventListener("click", () => signOut("you signed out"));
    if (config.access === "cognito" && loadTokens() === null) {
      signOut("sign in to watch the live feed");
    } else {
      byId("sign-out").hidden = config.access !== "cognito";
      connect();
    }
  }
})();
