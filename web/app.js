// pathpilot dashboard: polls the daemon's read-only API and redraws.
//
//   GET /api/v1/status    every second: paths and route tables (the `pathpilot status` document)
//   GET /api/v1/history   every 5 s: per-path loss and RTT buckets for the sparklines
//   GET /api/v1/events    every 3 s and on search: the event timeline, newest first
//
// Polling rather than a stream: the API serves immutable snapshots from a small thread pool,
// so a few cheap requests per second per viewer cost nothing and survive proxies and daemon
// restarts without reconnect logic. Everything from the API is inserted with textContent
// (never innerHTML): event messages quote probe errors and AWS responses.
"use strict";

(() => {
  const STATUS_EVERY_MS = 1000;
  const HISTORY_EVERY_MS = 5000;
  const EVENTS_EVERY_MS = 3000;
  const REQUEST_TIMEOUT_MS = 4000;
  const STALE_AFTER_MS = 5000;
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  let history = null;
  let lastStatusAt = 0;
  let statusFailures = 0;

  // ---- helpers ---------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else if (k === "title") e.title = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function replaceRows(tbody, rows, emptyText, columns) {
    if (rows.length === 0) {
      rows = [el("tr", { class: "empty" }, el("td", { colspan: String(columns) }, emptyText))];
    }
    tbody.replaceChildren(...rows);
  }

  async function getJson(url) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS);
    try {
      const res = await fetch(url, { signal: ctrl.signal, cache: "no-store" });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        throw new Error(body.error || `${res.status} ${res.statusText}`);
      }
      return body;
    } finally {
      clearTimeout(timer);
    }
  }

  const pct = (x) => (typeof x === "number" ? `${(x * 100).toFixed(x > 0 && x < 0.01 ? 1 : 0)}%` : "–");
  const ms = (x) => {
    if (typeof x !== "number") return "–";
    return `${x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2)} ms`;
  };

  function ago(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds)) return "–";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s ago`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s ago`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ago`;
  }

  function localTime(rfc3339) {
    const d = new Date(rfc3339);
    if (isNaN(d)) return rfc3339 || "";
    const p = (n, w = 2) => String(n).padStart(w, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
      `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  function stateBadge(state) {
    const s = ["up", "degraded", "down", "unknown"].includes(state) ? state : "unknown";
    return el("span", { class: `state ${s}` }, state || "unknown");
  }

  // ---- sparkline -------------------------------------------------------------------------

  // Loss as red bars from the bottom, mean RTT as a blue line scaled to the window's maximum.
  function sparkline(name) {
    const W = 180, H = 28;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("width", W);
    svg.setAttribute("height", H);
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("role", "img");
    const base = document.createElementNS(SVG, "line");
    base.setAttribute("class", "base");
    base.setAttribute("x1", 0); base.setAttribute("x2", W);
    base.setAttribute("y1", H - 0.5); base.setAttribute("y2", H - 0.5);
    svg.append(base);
    const points = history && history.paths ? history.paths[name] || [] : [];
    if (!history || points.length === 0) {
      svg.setAttribute("aria-label", `${name}: no history yet`);
      return svg;
    }
    // A fixed window (the recorder's ring), newest bucket at the right edge.
    const last = history.last_index;
    const span = Math.max(1, history.buckets || (last - history.first_index + 1));
    const first = last - span + 1;
    const step = W / span;
    const maxRtt = Math.max(0.001, ...points.map((p) => p[3]));
    let path = "";
    let lossTotal = 0, sentTotal = 0;
    for (const [index, sent, lost, rtt] of points) {
      const x = (index - first) * step;
      sentTotal += sent; lossTotal += lost;
      if (lost > 0 && sent > 0) {
        const h = Math.max(1, (lost / sent) * (H - 2));
        const bar = document.createElementNS(SVG, "rect");
        bar.setAttribute("class", "loss");
        bar.setAttribute("x", x.toFixed(1));
        bar.setAttribute("y", (H - h).toFixed(1));
        bar.setAttribute("width", Math.max(1, step - 0.5).toFixed(1));
        bar.setAttribute("height", h.toFixed(1));
        svg.append(bar);
      }
      if (sent > lost) {
        const y = H - 2 - (rtt / maxRtt) * (H - 6);
        path += `${path ? "L" : "M"}${(x + step / 2).toFixed(1)},${y.toFixed(1)}`;
      }
    }
    if (path) {
      const line = document.createElementNS(SVG, "path");
      line.setAttribute("class", "rtt");
      line.setAttribute("d", path);
      svg.append(line);
    }
    const minutes = Math.round((span * history.bucket_seconds) / 60);
    svg.setAttribute("aria-label",
      `${name}: last ${minutes} min, loss ${pct(sentTotal ? lossTotal / sentTotal : 0)}, ` +
      `max RTT ${ms(maxRtt)}`);
    const title = document.createElementNS(SVG, "title");
    title.textContent = svg.getAttribute("aria-label");
    svg.append(title);
    return svg;
  }

  // ---- status ----------------------------------------------------------------------------

  function renderPaths(paths) {
    const rows = paths.map((p) =>
      el("tr", { "data-path": p.name, "data-state": p.state, "data-drained": String(!!p.drained) },
        el("td", { class: "path-name" }, p.name),
        el("td", {}, p.link || ""),
        el("td", {}, p.az || "–"),
        el("td", {}, stateBadge(p.state), p.drained ? el("span", { class: "drained" }, "DRAINED") : null),
        el("td", { class: "num" }, pct(p.loss)),
        el("td", { class: "num" }, ms(p.rtt_p50_ms)),
        el("td", { class: "num" }, ms(p.rtt_p95_ms)),
        el("td", { class: "spark-cell" }, sparkline(p.name)),
        el("td", { class: "time", title: p.since || "" }, ago(p.since_seconds)),
        el("td", { class: "why" }, p.reason || "")));
    replaceRows($("paths").tBodies[0], rows, "no paths configured", 10);
  }

  function renderRoutes(routes) {
    const rows = routes.map((r) => {
      const hold = typeof r.hold_down_remaining_ms === "number" && r.hold_down_remaining_ms > 0
        ? `${(r.hold_down_remaining_ms / 1000).toFixed(0)} s` : "–";
      const moved = r.current && r.preferred && r.current !== r.preferred;
      let why = r.reason || "";
      if (r.fail_static) why = `FAIL STATIC: ${why}`;
      if (r.last_error) why = `${why}${why ? " — " : ""}last error: ${r.last_error}`;
      return el("tr", {
        "data-route-table": r.route_table, "data-destination": r.destination,
        "data-current": r.current || "", class: r.fail_static ? "fail-static" : null,
      },
        el("td", { title: r.route_table }, r.table_name && r.table_name !== r.route_table
          ? `${r.table_name} (${r.route_table})` : r.route_table),
        el("td", {}, r.destination),
        el("td", { class: moved ? "moved" : null, title: r.next_hop || "" }, r.current || "–"),
        el("td", {}, r.desired || "–"),
        el("td", {}, r.preferred || "–"),
        el("td", { class: "num" }, hold),
        el("td", {}, r.sync || ""),
        el("td", { class: "why" }, why));
    });
    replaceRows($("routes").tBodies[0], rows, "no route tables configured", 8);
  }

  function setConnection(state, text) {
    const c = $("conn");
    c.dataset.state = state;
    c.textContent = text;
  }

  function showBanner(text) {
    const b = $("banner");
    b.textContent = text || "";
    b.hidden = !text;
  }

  // HA (docs/ha.md): this monitor's role in its group, the leader, the term and the lease.
  function renderHa(ha) {
    const h = $("ha");
    if (!ha) {
      h.hidden = true;
      return;
    }
    const leader = ha.role === "leader";
    h.hidden = false;
    h.dataset.role = ha.role;
    h.dataset.writing = String(!!ha.writing);
    h.textContent = leader
      ? `${ha.node}: leader, term ${ha.term}${ha.writing ? "" : " (not writing)"}`
      : `${ha.node}: follower of ${ha.leader || "(no leader known)"}, term ${ha.term}`;
    h.title = `lease ${Number(ha.lease_left_seconds || 0).toFixed(1)} s left; etcd ` +
      `${ha.etcd_endpoint}${ha.last_error ? ` — ${ha.last_error}` : ""}`;
  }

  async function pollStatus() {
    try {
      const s = await getJson("/api/v1/status");
      lastStatusAt = Date.now();
      statusFailures = 0;
      $("site").textContent = s.site || "";
      document.title = `pathpilot — ${s.site || ""}`;
      $("version").textContent = s.version ? `v${s.version}` : "";
      $("started").textContent = s.started_at ? `up since ${localTime(s.started_at)}` : "";
      $("updated").textContent = s.now ? `as of ${localTime(s.now)}` : "";
      renderPaths(s.paths || []);
      renderRoutes(s.routes || []);
      renderHa(s.ha);
      setConnection("live", "live");
      const failStatic = (s.routes || []).filter((r) => r.fail_static).length;
      let banner = failStatic ? `${failStatic} route(s) in FAIL STATIC: no healthy path` : "";
      if (s.ha && !s.ha.etcd_ok) {
        banner = `etcd does not answer this monitor: nobody writes, routes stay as they are` +
          (s.ha.last_error ? ` (${s.ha.last_error})` : "") + (banner ? `; ${banner}` : "");
      }
      showBanner(banner);
    } catch (e) {
      statusFailures += 1;
      if (statusFailures >= 2) {
        setConnection("lost", "connection lost");
        showBanner(`Cannot read the daemon's status: ${e.message}. Retrying…`);
      }
    }
  }

  async function pollHistory() {
    try {
      history = await getJson("/api/v1/history");
    } catch (e) {
      // The sparklines keep their last data; the status poll reports connection problems.
    }
  }

  // ---- events ----------------------------------------------------------------------------

  function eventQuery() {
    const form = $("filters");
    const params = new URLSearchParams();
    for (const name of ["site", "path", "link", "route_table", "since", "q"]) {
      const v = form.elements[name].value.trim();
      if (v) params.set(name, v);
    }
    params.set("limit", "200");
    return params;
  }

  function renderEvents(list) {
    const rows = list.map((e) =>
      el("tr", { "data-kind": e.kind, "data-seq": String(e.seq || "") },
        el("td", { class: "time", title: e.time }, localTime(e.time)),
        el("td", {}, el("span", { class: `sev ${e.severity}` }, e.severity)),
        el("td", {}, e.kind),
        el("td", {}, e.site || ""),
        el("td", {}, e.path || ""),
        el("td", {}, e.link || ""),
        el("td", {}, e.route_table || ""),
        el("td", { class: "what", title: e.reason || "" },
          e.message || "",
          e.reason ? el("div", { class: "why" }, e.reason) : null)));
    replaceRows($("events").tBodies[0], rows, "no events match", 8);
  }

  let eventsInFlight = false;
  async function pollEvents() {
    if (eventsInFlight) return;
    eventsInFlight = true;
    try {
      const r = await getJson(`/api/v1/events?${eventQuery()}`);
      renderEvents(r.events || []);
      $("events-count").textContent = `${r.count} event(s)${r.count >= r.limit ? " (newest shown)" : ""}`;
    } catch (e) {
      $("events-count").textContent = `search failed: ${e.message}`;
    } finally {
      eventsInFlight = false;
    }
  }

  // ---- start -----------------------------------------------------------------------------

  function every(fn, ms) {
    fn();
    setInterval(fn, ms);
  }

  function start() {
    const form = $("filters");
    form.addEventListener("submit", (ev) => { ev.preventDefault(); pollEvents(); });
    form.addEventListener("reset", () => setTimeout(pollEvents, 0));
    for (const field of form.querySelectorAll("select")) {
      field.addEventListener("change", pollEvents);
    }
    every(pollStatus, STATUS_EVERY_MS);
    every(pollHistory, HISTORY_EVERY_MS);
    every(pollEvents, EVENTS_EVERY_MS);
    setInterval(() => {
      if (lastStatusAt && Date.now() - lastStatusAt > STALE_AFTER_MS && statusFailures < 2) {
        setConnection("stale", "stale");
      }
    }, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
