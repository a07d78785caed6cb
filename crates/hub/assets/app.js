// plugctl dashboard: plain ES2020 module, no framework, no build step.
//
// Every page is the same HTML shell; the view is picked from the path:
//   /               device list        /device/{id}   one device
//   /schedules      local schedules    /events        event log
// Data comes from the JSON API (/api/v1/…); live changes come over Server-Sent Events
// (/api/v1/events/stream) and are applied to the views in place (no full re-render).

import { lineChart, barChart, drawAndFollowWidth, dayFmt, timeFmt } from './charts.js';

const API = '/api/v1';
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

// ---- small DOM helper ------------------------------------------------------------------------

/** h('div.card', {attrs}, ...children): an element; strings become text nodes (never HTML). */
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const node = document.createElement(tag || 'div');
  if (classes.length) node.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = v;
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

// ---- formatting ------------------------------------------------------------------------------

function fmt(v, decimals) {
  return v.toLocaleString(undefined, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}
const fmtW = (w) => (w == null ? '—' : fmt(w, Math.abs(w) < 100 ? 1 : 0));
const fmtKwh = (k) => (k == null ? '—' : fmt(k, k < 10 ? 3 : k < 1000 ? 2 : 0));
const fmtV = (v) => (v == null ? '—' : fmt(v, 1));
const fmtA = (a) => (a == null ? '—' : fmt(a, 3));

const clockFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
function when(ms) {
  const d = new Date(ms);
  return new Date().toDateString() === d.toDateString() ? clockFmt.format(d) : dateTimeFmt.format(d);
}

// ---- API ---------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Plugctl'] = '1';
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(`the hub did not answer (${e.message})`, 0);
  }
  if (res.status === 401) {
    toLogin();
    throw new ApiError('login required', 401);
  }
  const type = res.headers.get('content-type') || '';
  // application/json and application/problem+json both contain "json".
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    // The API answers problems as application/problem+json: {type, title, status, detail}.
    const msg = (data && (data.detail || data.title || data.message || (typeof data.error === 'string' && data.error)))
      || `${res.status} ${res.statusText}`;
    throw new ApiError(msg, res.status);
  }
  return data;
}

/** Lists may come bare or wrapped ({devices:[…]}, {items:[…]} …). */
function listOf(data, ...keys) {
  if (Array.isArray(data)) return data;
  for (const k of [...keys, 'items', 'data']) if (data && Array.isArray(data[k])) return data[k];
  return [];
}

const enc = encodeURIComponent;

// ---- toasts ----------------------------------------------------------------------------------

function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h('div.toast', { class: `toast ${kind}` }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 6000 : 3000);
}

// ---- the store: devices, energy totals, and who wants to hear about changes -------------------

const store = {
  devices: new Map(),
  totals: new Map(),
  totalsAt: new Map(),
  listeners: new Set(),

  put(view) {
    if (view && typeof view.id === 'string') {
      this.devices.set(view.id, view);
      this.emit({ type: 'device', id: view.id });
    }
  },
  remove(id) {
    this.devices.delete(id);
    this.emit({ type: 'device', id });
  },
  emit(change) {
    for (const l of this.listeners) l(change);
  },
  sorted() {
    return [...this.devices.values()].sort((a, b) => (a.name || '').localeCompare(b.name || '') || a.id.localeCompare(b.id));
  },
  name(id) {
    return this.devices.get(id)?.name || id || '';
  },
};

async function loadDevices() {
  const list = listOf(await api(`${API}/devices`), 'devices');
  const seen = new Set();
  for (const d of list) {
    seen.add(d.id);
    store.put(d);
  }
  for (const id of [...store.devices.keys()]) if (!seen.has(id)) store.remove(id);
  return list;
}

async function loadDevice(id) {
  const d = await api(`${API}/devices/${enc(id)}`);
  store.put(d);
  return d;
}

/** Energy today and this month; refreshed at most every 30 s per device. */
async function loadTotals(id, force = false) {
  const at = store.totalsAt.get(id) || 0;
  if (!force && Date.now() - at < 30_000) return store.totals.get(id);
  store.totalsAt.set(id, Date.now());
  try {
    // The answer carries `totals` whatever the range: ask for the smallest one.
    const now = Date.now();
    const data = await api(`${API}/devices/${enc(id)}/energy?from=${now - MINUTE}&to=${now}&bucket=raw`);
    const t = data?.totals || data || {};
    const totals = { today_kwh: t.today_kwh ?? null, month_kwh: t.month_kwh ?? null };
    store.totals.set(id, totals);
    store.emit({ type: 'totals', id });
    return totals;
  } catch (e) {
    if (e.status !== 404) console.warn('energy', id, e.message);
    return store.totals.get(id);
  }
}

/** Switches a device or one outlet; the answer is the state read back from the device. */
async function switchDevice(id, outlet, on, button) {
  const body = { action: on ? 'on' : 'off' };
  if (outlet !== null && outlet !== undefined) body.outlet = outlet;
  button?.setAttribute('aria-busy', 'true');
  if (button) button.disabled = true;
  try {
    const view = await api(`${API}/devices/${enc(id)}/switch`, { method: 'POST', body });
    if (view && view.id) store.put(view);
    else await loadDevice(id);
  } catch (e) {
    if (e.status !== 401) toast(`Could not switch ${store.name(id)}: ${e.message}`, 'error');
  } finally {
    button?.removeAttribute('aria-busy');
    store.emit({ type: 'device', id });
  }
}

// ---- live updates (SSE) ----------------------------------------------------------------------

const live = {
  source: null,
  everOpen: false,
  retry: 0,
  handlers: new Set(),
  timer: 0,
  idle: 0,

  start() {
    this.stop();
    const es = new EventSource(`${API}/events/stream`, { withCredentials: true });
    this.source = es;
    setLive('connecting');
    es.onopen = () => {
      setLive('live');
      // After a reconnect, resynchronise what the stream may have missed.
      if (this.everOpen) loadDevices().catch(() => {});
      this.everOpen = true;
      this.retry = 0;
    };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (a 401, or a non-stream answer): find out why, then retry.
        setLive('error');
        api(`${API}/devices`).catch(() => {});
        this.retry = Math.min(this.retry + 1, 6);
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.start(), 1000 * 2 ** this.retry);
      } else {
        setLive('connecting');
      }
    };
    const onMessage = (name) => (msg) => {
      let ev;
      try {
        ev = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (!ev || typeof ev !== 'object') return;
      if (!ev.type && name !== 'message') ev.type = name;
      applyEvent(ev);
      for (const f of this.handlers) f(ev);
    };
    es.onmessage = onMessage('message');
    // The hub dropped events for this (slow) client: reread the state.
    es.addEventListener('lagged', () => loadDevices().catch(() => {}));
    for (const t of ['state_changed', 'sample', 'online', 'offline', 'device_added', 'device_removed', 'device_updated', 'error']) {
      es.addEventListener(t, onMessage(t));
    }
  },

  /** Closes the stream. A browser allows only 6 HTTP/1.1 connections per host, shared by all
   * tabs: a stream left open by a page in the back/forward cache or by a background tab
   * would starve the others, so pages close theirs when hidden and reopen (and resync) when
   * shown again. */
  stop() {
    clearTimeout(this.timer);
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  },
};

addEventListener('pagehide', () => live.stop());
addEventListener('pageshow', (e) => {
  if (e.persisted) {
    live.everOpen = true;
    live.start();
  }
});
document.addEventListener('visibilitychange', () => {
  clearTimeout(live.idle);
  if (document.visibilityState === 'hidden') {
    live.idle = setTimeout(() => live.stop(), 30_000);
  } else if (!live.source) {
    live.everOpen = true;
    live.start();
  }
});

function setLive(state) {
  const el = document.getElementById('live');
  if (!el) return;
  el.dataset.state = state;
  const text = { live: 'Live', connecting: 'Connecting', error: 'Offline' }[state] || state;
  setText(el.querySelector('.live-text'), text);
  el.title = state === 'live' ? 'Live updates are on' : 'Live updates are not connected';
}

/** Applies a hub event to the store. */
function applyEvent(ev) {
  const dev = ev.id && store.devices.get(ev.id);
  switch (ev.type) {
    case 'state_changed': {
      if (!dev) return;
      const r = { ...(dev.reading || { at_ms: ev.at_ms, latency_ms: 0 }) };
      if (ev.outlet !== undefined && ev.outlet !== null) {
        const outs = [...(r.outlets_on || (dev.outlets || []).map(() => false))];
        outs[ev.outlet] = ev.on;
        r.outlets_on = outs;
        r.on = outs.some(Boolean);
      } else {
        r.on = ev.on;
        if (r.outlets_on?.length) r.outlets_on = r.outlets_on.map(() => ev.on);
      }
      store.put({ ...dev, reading: r });
      break;
    }
    case 'sample':
      if (dev && ev.reading) {
        store.put({ ...dev, reading: ev.reading, availability: { ...dev.availability, online: true } });
        loadTotals(ev.id);
      }
      break;
    case 'online':
    case 'offline':
      if (dev) {
        const online = ev.type === 'online';
        const availability = { ...dev.availability, online, since_ms: ev.at_ms ?? Date.now() };
        if (online) delete availability.last_error;
        else availability.last_error = ev.error;
        store.put({ ...dev, availability });
      }
      break;
    case 'device_added':
    case 'device_updated':
      if (ev.id) loadDevice(ev.id).catch(() => {});
      break;
    case 'device_removed':
      if (ev.id) store.remove(ev.id);
      break;
    default:
  }
}

// ---- pieces shared by the views --------------------------------------------------------------

function isOnline(d) {
  return d?.availability?.online !== false;
}

function badge() {
  return h('span.badge');
}
function setBadge(el, d) {
  const online = isOnline(d);
  el.className = `badge ${online ? 'online' : 'offline'}`;
  setText(el, online ? 'online' : 'offline');
  el.title = online ? '' : d?.availability?.last_error || 'not answering';
}

/** An on/off button: aria-pressed carries the state; the label names what it switches. */
function toggleButton(label, onClick) {
  const b = h('button.toggle', { type: 'button', 'aria-pressed': 'false', 'aria-label': label },
    h('span.knob', { 'aria-hidden': 'true' }), h('span.state', 'Off'));
  b.addEventListener('click', () => onClick(b));
  return b;
}
function setToggle(b, on, enabled) {
  b.setAttribute('aria-pressed', on ? 'true' : 'false');
  setText(b.querySelector('.state'), on ? 'On' : 'Off');
  if (!b.hasAttribute('aria-busy')) b.disabled = !enabled;
}

function metric(label, unit, cls) {
  const value = h('span.value.num', '—');
  const dd = h('dd', value, h('span.unit', unit));
  const node = h('div.metric', { class: `metric ${cls || ''}` }, h('dt', label), dd);
  return { node, value };
}

function familyName(f) {
  return { kasa: 'Kasa', hf: 'Hi-Flying' }[f] || f || '';
}

function metaLine(d) {
  return [d.room, d.model, familyName(d.family)].filter(Boolean).join(' · ');
}

/** Whether the plug reports a cumulative energy counter (Hi-Flying plugs measure power only). */
function hasCounter(d) {
  return d?.reading?.total_kwh !== undefined && d?.reading?.total_kwh !== null;
}

function hasMeter(d) {
  return d?.reading?.power_w !== undefined && d?.reading?.power_w !== null;
}

/** The switches of a device: one for a plug; one for the whole strip and one per outlet. */
function switchesFor(d) {
  const container = h('div.outlets', { class: d.outlets?.length ? 'outlets strip' : 'outlets' });
  const rows = [];
  const add = (label, outlet) => {
    const btn = toggleButton(label, (b) => {
      const cur = store.devices.get(d.id);
      const on = outlet === null ? cur?.reading?.on : cur?.reading?.outlets_on?.[outlet];
      switchDevice(d.id, outlet, !on, b);
    });
    btn.dataset.outlet = outlet === null ? '' : String(outlet);
    const name = h('span.label', outlet === null ? (d.outlets?.length ? 'All outlets' : 'Power') : label);
    const row = h('div.switch-row', { class: outlet === null ? 'switch-row' : 'switch-row outlet-row' }, name, btn);
    container.append(row);
    rows.push({ outlet, btn, name });
  };
  add(`${d.name}`, null);
  (d.outlets || []).forEach((o, i) => add(o.name || `Outlet ${i + 1}`, o.index ?? i));
  const update = (dev) => {
    const online = isOnline(dev) && !!dev.reading;
    for (const r of rows) {
      const on = r.outlet === null ? !!dev.reading?.on : !!dev.reading?.outlets_on?.[r.outlet];
      setToggle(r.btn, on, online);
      if (r.outlet !== null) {
        const o = (dev.outlets || []).find((x, i) => (x.index ?? i) === r.outlet);
        if (o) {
          setText(r.name, o.name || `Outlet ${r.outlet + 1}`);
          r.btn.setAttribute('aria-label', `${dev.name}: ${o.name || `outlet ${r.outlet + 1}`}`);
        }
      } else {
        r.btn.setAttribute('aria-label', dev.outlets?.length ? `${dev.name}: all outlets` : dev.name);
      }
    }
  };
  return { node: container, update, count: (d.outlets || []).length };
}

function setNav(which) {
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === which) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function errorNotice(main, e) {
  main.replaceChildren(h('p.notice.error', `Could not load: ${e.message}`));
}

// ---- view: device list -----------------------------------------------------------------------

function deviceCard(d) {
  const title = h('a', { href: `/device/${enc(d.id)}` });
  const b = badge();
  const meta = h('p.meta');
  const power = metric('Power now', 'W', 'm-power');
  const today = metric('Today', 'kWh', 'm-today');
  const month = metric('This month', 'kWh', 'm-month');
  let sw = switchesFor(d);
  const swBox = h('div', sw.node);
  const node = h('article.card', { 'data-id': d.id },
    h('div.card-head', h('div.card-title', h('h2', title), meta), b),
    h('dl.metrics', power.node, today.node, month.node),
    swBox);
  const update = (dev) => {
    setText(title, dev.name);
    setText(meta, metaLine(dev));
    setBadge(b, dev);
    node.dataset.online = String(isOnline(dev));
    node.dataset.on = String(!!dev.reading?.on);
    const meter = hasMeter(dev);
    setText(power.value, meter ? fmtW(dev.reading.power_w) : '—');
    const t = store.totals.get(dev.id);
    const counts = hasCounter(dev) || t?.month_kwh > 0;
    setText(today.value, counts ? fmtKwh(t?.today_kwh ?? null) : '—');
    setText(month.value, counts ? fmtKwh(t?.month_kwh ?? null) : '—');
    today.node.title = month.node.title = counts ? '' : 'This plug reports no energy counter';
    if ((dev.outlets || []).length !== sw.count) {
      sw = switchesFor(dev);
      swBox.replaceChildren(sw.node);
    }
    sw.update(dev);
  };
  update(d);
  return { node, update };
}

async function listView(main) {
  setNav('devices');
  document.title = 'Devices · plugctl';
  const sub = h('p.sub.num', '\u00a0');
  const grid = h('div.grid', { id: 'devices', 'aria-busy': 'true' },
    h('div.skeleton'), h('div.skeleton'), h('div.skeleton'));
  main.replaceChildren(h('div.page-head', h('div', h('h1', 'Devices'), sub)), grid);
  const cards = new Map();

  const summary = () => {
    const ds = store.sorted();
    const on = ds.filter((d) => d.reading?.on).length;
    const offline = ds.filter((d) => !isOnline(d)).length;
    const watts = ds.reduce((s, d) => s + (hasMeter(d) && isOnline(d) ? d.reading.power_w : 0), 0);
    const parts = [`${ds.length} device${ds.length === 1 ? '' : 's'}`, `${on} on`];
    if (offline) parts.push(`${offline} offline`);
    if (ds.some(hasMeter)) parts.push(`${fmtW(watts)} W now`);
    setText(sub, parts.join(' · '));
  };

  const place = () => {
    // Keep the cards in name order; move only what is out of place (no flicker).
    const ds = store.sorted();
    if (!ds.length) {
      grid.replaceChildren(h('p.notice', 'No devices yet. Add them in the configuration file, or let discovery find them.'));
      return;
    }
    grid.querySelector('.notice')?.remove();
    grid.querySelectorAll('.skeleton').forEach((n) => n.remove());
    let prev = null;
    for (const d of ds) {
      let c = cards.get(d.id);
      if (!c) {
        c = deviceCard(d);
        cards.set(d.id, c);
      }
      const want = prev ? prev.nextSibling : grid.firstChild;
      if (want !== c.node) grid.insertBefore(c.node, want);
      prev = c.node;
    }
    for (const [id, c] of cards) {
      if (!store.devices.has(id)) {
        c.node.remove();
        cards.delete(id);
      }
    }
  };

  store.listeners.add((ch) => {
    const d = store.devices.get(ch.id);
    const c = cards.get(ch.id);
    if (!d || !c) {
      place();
      if (d) cards.get(d.id)?.update(d);
    } else {
      if (ch.type === 'device' && c.node.querySelector('a')?.textContent !== d.name) place();
      c.update(d);
    }
    summary();
  });

  try {
    await loadDevices();
  } catch (e) {
    if (e.status !== 401) errorNotice(main, e);
    return;
  }
  place();
  grid.removeAttribute('aria-busy');
  summary();
  for (const d of store.devices.values()) loadTotals(d.id, true);
  // Energy totals move slowly; refresh them every minute even for devices without samples.
  setInterval(() => {
    for (const d of store.devices.values()) loadTotals(d.id);
  }, 60_000);
}

// ---- view: one device ------------------------------------------------------------------------

const RANGES = [
  { key: '1h', label: '1 h', ms: HOUR, bucket: 'minute' },
  { key: '6h', label: '6 h', ms: 6 * HOUR, bucket: 'minute' },
  { key: '24h', label: '24 h', ms: DAY, bucket: 'minute' },
  { key: '7d', label: '7 d', ms: 7 * DAY, bucket: 'hour' },
];

function segmented(options, current, onPick, label) {
  const box = h('div.seg', { role: 'group', 'aria-label': label });
  const buttons = options.map((o) => {
    const b = h('button', { type: 'button', 'aria-pressed': String(o.key === current), 'data-key': o.key }, o.label);
    b.addEventListener('click', () => {
      for (const x of buttons) x.setAttribute('aria-pressed', String(x === b));
      onPick(o);
    });
    return b;
  });
  box.append(...buttons);
  return box;
}

function localMidnight(ms) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

async function deviceView(main, id) {
  setNav('devices');
  let dev;
  try {
    dev = await loadDevice(id);
  } catch (e) {
    if (e.status === 404) main.replaceChildren(h('a.back', { href: '/' }, '← Devices'), h('p.notice', `No device with id ${id}.`));
    else if (e.status !== 401) errorNotice(main, e);
    return;
  }
  // Names of the other devices, for the schedules list and the event log.
  loadDevices().catch(() => {});
  document.title = `${dev.name} · plugctl`;

  const title = h('span.name', dev.name);
  const b = badge();
  const meta = h('p.meta');
  const errLine = h('p.error-line', { hidden: true });
  // A plug's switch sits in the header; a strip gets a panel with one switch per outlet.
  const sw = switchesFor(dev);
  const strip = sw.count > 0;
  const swPanel = strip
    ? h('section.panel.outlets-panel', { 'aria-labelledby': 'h-outlets' }, h('h2', { id: 'h-outlets' }, 'Outlets'), sw.node)
    : null;

  const mPower = metric('Power', 'W', 'm-power');
  const mVolt = metric('Voltage', 'V');
  const mCurr = metric('Current', 'A');
  const mToday = metric('Today', 'kWh', 'm-today');
  const mMonth = metric('This month', 'kWh', 'm-month');
  const mRssi = metric('Wi-Fi signal', 'dBm');
  const stats = h('dl.stats', mPower.node, mVolt.node, mCurr.node, mToday.node, mMonth.node, mRssi.node);

  const powerBox = h('div.chart', { id: 'power-chart' });
  const energyBox = h('div.chart', { id: 'energy-chart' });
  let range = RANGES[1];
  const powerPanel = h('section.panel', { 'aria-labelledby': 'h-power' },
    h('div.panel-head', h('h2', { id: 'h-power' }, 'Power'),
      segmented(RANGES, range.key, (r) => { range = r; loadPower(); }, 'Time range')),
    powerBox);
  const energyPanel = h('section.panel', { 'aria-labelledby': 'h-energy' },
    h('div.panel-head', h('h2', { id: 'h-energy' }, 'Energy per day'), h('span.muted', 'last 30 days, today highlighted')),
    energyBox);

  const schedPanel = h('section.panel', { id: 'schedules', 'aria-labelledby': 'h-sched' });
  const eventsPanel = h('section.panel', { id: 'events', 'aria-labelledby': 'h-events' });

  main.replaceChildren(...[
    h('a.back', { href: '/' }, '← Devices'),
    h('div.device-head',
      h('div.device-title', h('h1', title, b), meta, errLine),
      strip ? null : h('div.head-switch', sw.node)),
    stats,
    swPanel,
    h('div.two-col', powerPanel, energyPanel),
    h('div.two-col', schedPanel, eventsPanel),
  ].filter(Boolean));

  const update = (d) => {
    dev = d;
    setText(title, d.name);
    document.title = `${d.name} · plugctl`;
    setBadge(b, d);
    const addr = `${d.host}:${d.port}`;
    setText(meta, [metaLine(d), addr, d.mac].filter(Boolean).join(' · '));
    const err = !isOnline(d) && d.availability?.last_error;
    errLine.hidden = !err;
    setText(errLine, err || '');
    const r = d.reading || {};
    const meter = hasMeter(d);
    setText(mPower.value, meter ? fmtW(r.power_w) : '—');
    setText(mVolt.value, fmtV(r.voltage_v));
    setText(mCurr.value, fmtA(r.current_a));
    setText(mRssi.value, r.rssi == null ? '—' : String(r.rssi));
    const t = store.totals.get(d.id);
    const counts = hasCounter(d) || t?.month_kwh > 0;
    setText(mToday.value, counts ? fmtKwh(t?.today_kwh ?? null) : '—');
    setText(mMonth.value, counts ? fmtKwh(t?.month_kwh ?? null) : '—');
    sw.update(d);
  };
  update(dev);
  store.listeners.add((ch) => {
    if (ch.id === id && store.devices.has(id)) update(store.devices.get(id));
  });
  loadTotals(id, true);

  // Power chart: history from the store, then live samples appended.
  let points = [];
  let to = Date.now();
  const drawPower = () => {
    lineChart(powerBox, {
      points, from: to - range.ms, to, title: 'Power', unit: 'W', gapMs: range.bucket === 'hour' ? 3 * HOUR : 5 * MINUTE,
      ariaLabel: `Power of ${dev.name} over the last ${range.label}, in watts`,
      empty: hasMeter(dev) || points.length ? 'No samples in this range yet' : 'This device has no power meter',
    });
  };
  async function loadPower() {
    to = Date.now();
    const from = to - range.ms;
    try {
      const data = await api(`${API}/devices/${enc(id)}/history?from=${from}&to=${to}&bucket=${range.bucket}`);
      points = listOf(data, 'points', 'history').filter((p) => p.power_w != null).map((p) => ({ t: p.t_ms, v: p.power_w }));
    } catch (e) {
      if (e.status !== 401) console.warn('history', e.message);
      points = [];
    }
    if (dev.reading && hasMeter(dev)) points.push({ t: dev.reading.at_ms, v: dev.reading.power_w });
    drawPower();
  }

  // Energy chart: kWh per local day, the last 30 days, today highlighted.
  let days = [];
  const drawEnergy = () => {
    barChart(energyBox, {
      bars: days, title: 'Energy', unit: 'kWh', xTitle: 'Day',
      ariaLabel: `Energy used by ${dev.name} per day over the last 30 days, in kilowatt-hours`,
      empty: hasCounter(dev) ? 'No energy recorded yet' : 'This device reports no energy counter',
    });
  };
  async function loadEnergy() {
    const now = Date.now();
    const start = localMidnight(now - 29 * DAY);
    let got = [];
    try {
      const data = await api(`${API}/devices/${enc(id)}/history?from=${start}&to=${now}&bucket=day`);
      got = listOf(data, 'points', 'history');
    } catch (e) {
      if (e.status !== 401) console.warn('energy history', e.message);
    }
    // Buckets are the hub's local days; file each under the browser's day holding its middle.
    const byDay = new Map();
    for (const p of got) {
      const k = localMidnight(p.t_ms + 12 * HOUR);
      byDay.set(k, (byDay.get(k) || 0) + (p.energy_kwh || 0));
    }
    days = [];
    const today = localMidnight(now);
    for (let d = start; d <= today; d = localMidnight(d + DAY + 2 * HOUR)) {
      days.push({ t: d, v: byDay.get(d) ?? 0, label: dayFmt.format(new Date(d)), highlight: d === today });
    }
    // Today's bar follows the live total.
    const t = store.totals.get(id);
    if (t?.today_kwh != null && days.length) days[days.length - 1].v = Math.max(days[days.length - 1].v, t.today_kwh);
    drawEnergy();
  }

  drawAndFollowWidth(powerBox, drawPower);
  drawAndFollowWidth(energyBox, drawEnergy);
  loadPower();
  loadEnergy();

  let lastDraw = 0;
  live.handlers.add((ev) => {
    if (ev.id !== id) return;
    if (ev.type === 'sample' && ev.reading?.power_w != null) {
      points.push({ t: ev.reading.at_ms, v: ev.reading.power_w });
      to = Math.max(Date.now(), ev.reading.at_ms);
      points = points.filter((p) => p.t >= to - range.ms);
      // Redraw at most every 2 s, however fast the device is polled.
      if (Date.now() - lastDraw > 2000) {
        lastDraw = Date.now();
        drawPower();
      }
    }
  });
  store.listeners.add((ch) => {
    if (ch.type === 'totals' && ch.id === id && days.length) {
      const t = store.totals.get(id);
      const last = days[days.length - 1];
      if (t?.today_kwh != null && Math.abs(last.v - t.today_kwh) > 1e-6) {
        last.v = Math.max(last.v, t.today_kwh);
        drawEnergy();
      }
    }
  });
  setInterval(() => loadTotals(id), 60_000);

  deviceSchedules(schedPanel, id);
  eventsLog(eventsPanel, { deviceId: id, limit: 30, heading: 'Events' });
}

// ---- schedules -------------------------------------------------------------------------------
//
// Local hub schedules (crates/hub/src/scheduler): the API stores {id, rule}; a rule is
//   {name, enabled, device, outlet, action: on|off|toggle,
//    when: {cron: "M H * * DoW"} | {sunrise: {offset_min}} | {sunset: {offset_min}},
//    days?: ["mon", …] (sun rules only), timezone?, state? (written by the scheduler)}.
// The form offers a clock time (turned into a cron expression), sunrise or sunset with an
// offset, or a raw cron expression; `ruleFromForm` and `describeRule` are the only places that
// know the rule's JSON.

const WEEKDAYS = [['mon', 'Mon', 1], ['tue', 'Tue', 2], ['wed', 'Wed', 3], ['thu', 'Thu', 4], ['fri', 'Fri', 5], ['sat', 'Sat', 6], ['sun', 'Sun', 0]];
const DAY_NAME = Object.fromEntries(WEEKDAYS.flatMap(([k, l, n]) => [[k, l], [String(n), l]]));
DAY_NAME['7'] = 'Sun';

function ruleFromForm(f) {
  const kind = f.kind.value;
  const days = [...f.querySelectorAll('input[name=day]:checked')].map((x) => x.value);
  const rule = { device: f.device.value, action: f.action.value, enabled: true };
  const name = f.rname.value.trim();
  if (name) rule.name = name;
  rule.outlet = f.outlet.value === '' ? null : Number(f.outlet.value);
  if (kind === 'time') {
    const [hh, mm] = (f.time.value || '').split(':').map(Number);
    if (!Number.isInteger(hh) || !Number.isInteger(mm)) throw new Error('Pick a time.');
    const dow = days.length && days.length < 7
      ? WEEKDAYS.filter(([k]) => days.includes(k)).map(([, , n]) => n).join(',') : '*';
    rule.when = { cron: `${mm} ${hh} * * ${dow}` };
  } else if (kind === 'cron') {
    const expr = f.cron.value.trim();
    if (!expr) throw new Error('Write a cron expression, e.g. 30 7 * * 1-5.');
    rule.when = { cron: expr };
  } else {
    rule.when = { [kind]: { offset_min: Math.round(Number(f.offset.value || 0)) } };
    if (days.length && days.length < 7) rule.days = days;
  }
  return rule;
}

function daysText(list) {
  if (!list || !list.length || list.length === 7) return 'every day';
  const names = list.map((d) => DAY_NAME[String(d).toLowerCase()] || d);
  if (names.join() === 'Mon,Tue,Wed,Thu,Fri') return 'Mon–Fri';
  if (names.join() === 'Sat,Sun') return 'weekends';
  return names.join(', ');
}

/** Expands a cron day-of-week field of numbers, names and ranges ("1-5", "MON,WED") to names. */
function cronDays(field) {
  if (field === '*' || field === '?') return null;
  const idx = (t) => {
    const n = Number(t);
    if (Number.isInteger(n)) return n % 7;
    const i = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].indexOf(t.toLowerCase());
    return i < 0 ? null : i;
  };
  const out = new Set();
  for (const part of field.split(',')) {
    const [a, b] = part.split('-');
    const x = idx(a);
    const y = b === undefined ? x : idx(b);
    if (x === null || y === null) return undefined;
    for (let i = x; ; i = (i + 1) % 7) {
      out.add(i);
      if (i === y) break;
    }
  }
  return WEEKDAYS.filter(([, , n]) => out.has(n)).map(([k]) => k);
}

function describeRule(stored) {
  const r = stored?.rule || stored || {};
  const act = String(r.action || '').toLowerCase();
  const action = { on: 'Switch on', off: 'Switch off', toggle: 'Toggle' }[act] || act;
  const w = r.when || {};
  let time = '';
  let days = daysText(r.days);
  const off = (o, ev) => (!o ? `at ${ev}` : `${Math.abs(o)} min ${o > 0 ? 'after' : 'before'} ${ev}`);
  if (typeof w.cron === 'string') {
    const m = w.cron.trim().match(/^(\d{1,2})\s+(\d{1,2})\s+\*\s+\*\s+(\S+)$/);
    const d = m && cronDays(m[3]);
    if (m && d !== undefined) {
      time = `at ${m[2].padStart(2, '0')}:${m[1].padStart(2, '0')}`;
      days = daysText(d);
    } else {
      time = `cron ${w.cron}`;
      days = '';
    }
  } else if (w.sunrise) time = off(w.sunrise.offset_min, 'sunrise');
  else if (w.sunset) time = off(w.sunset.offset_min, 'sunset');
  const st = r.state || {};
  let last = '';
  if (st.last_run_ms) {
    last = `last run ${when(st.last_run_ms)}${st.last_outcome && st.last_outcome !== 'ran' ? ` (${st.last_outcome})` : ''}`;
  }
  return { action, time, days, last, name: r.name || '', device: r.device, outlet: r.outlet, enabled: r.enabled !== false };
}

/** The rule as the user defined it (without the scheduler's state), for a PUT. */
function definition(stored) {
  const { state, ...rule } = stored.rule || {};
  return rule;
}

function scheduleForm(deviceId, onSaved) {
  const err = h('p.form-error', { role: 'alert' });
  const devSelect = h('select', { name: 'device', required: true });
  const outletSelect = h('select', { name: 'outlet' });
  const outletField = h('label.field', h('span', 'Outlet'), outletSelect);
  const fillOutlets = () => {
    const d = store.devices.get(devSelect.value);
    const outs = d?.outlets || [];
    const cur = outletSelect.value;
    outletSelect.replaceChildren(h('option', { value: '' }, outs.length ? 'All outlets' : 'Whole device'),
      ...outs.map((o, i) => h('option', { value: String(o.index ?? i) }, o.name || `Outlet ${i + 1}`)));
    if ([...outletSelect.options].some((o) => o.value === cur)) outletSelect.value = cur;
    outletField.hidden = !outs.length;
  };
  const fillDevices = () => {
    const cur = devSelect.value || deviceId || '';
    const ds = store.sorted();
    devSelect.replaceChildren(...ds.map((d) => h('option', { value: d.id }, d.name)));
    if (cur && ds.some((d) => d.id === cur)) devSelect.value = cur;
    fillOutlets();
  };
  devSelect.addEventListener('change', fillOutlets);

  const kindSelect = h('select', { name: 'kind' },
    h('option', { value: 'time' }, 'At a time'), h('option', { value: 'sunrise' }, 'Sunrise'),
    h('option', { value: 'sunset' }, 'Sunset'), h('option', { value: 'cron' }, 'Cron expression'));
  const timeField = h('label.field', h('span', 'Time'), h('input', { type: 'time', name: 'time', value: '07:00' }));
  const offsetField = h('label.field', { hidden: true }, h('span', 'Offset, minutes (− before, + after)'),
    h('input', { type: 'number', name: 'offset', value: '0', min: '-720', max: '720', step: '1' }));
  const cronField = h('label.field.wide', { hidden: true }, h('span', 'Cron: minute hour day month weekday'),
    h('input', { type: 'text', name: 'cron', placeholder: '30 7 * * 1-5', spellcheck: 'false', autocomplete: 'off' }));
  const daysField = h('fieldset', h('legend', 'Days (none ticked: every day)'),
    h('div.days', WEEKDAYS.map(([v, l]) => h('label', h('input', { type: 'checkbox', name: 'day', value: v }), l))));
  kindSelect.addEventListener('change', () => {
    const k = kindSelect.value;
    timeField.hidden = k !== 'time';
    offsetField.hidden = k !== 'sunrise' && k !== 'sunset';
    cronField.hidden = k !== 'cron';
    daysField.hidden = k === 'cron';
  });
  const submit = h('button.btn.btn-primary', { type: 'submit' }, 'Add schedule');
  const form = h('form.stack', { 'aria-label': 'New schedule', novalidate: true },
    h('div.fields',
      h('label.field', { hidden: !!deviceId }, h('span', 'Device'), devSelect),
      outletField,
      h('label.field', h('span', 'When'), kindSelect),
      timeField, offsetField, cronField,
      h('label.field', h('span', 'Action'), h('select', { name: 'action' },
        h('option', { value: 'on' }, 'Switch on'), h('option', { value: 'off' }, 'Switch off'),
        h('option', { value: 'toggle' }, 'Toggle'))),
      h('label.field', h('span', 'Name (optional)'), h('input', { type: 'text', name: 'rname', maxlength: '100', autocomplete: 'off' }))),
    daysField,
    h('div.form-actions', submit, err));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setText(err, '');
    let rule;
    try {
      rule = ruleFromForm(form);
    } catch (x) {
      setText(err, x.message);
      return;
    }
    submit.disabled = true;
    try {
      await api(`${API}/schedules`, { method: 'POST', body: rule });
      toast('Schedule added');
      form.rname.value = '';
      await onSaved();
    } catch (x) {
      if (x.status !== 401) setText(err, x.message);
    } finally {
      submit.disabled = false;
    }
  });
  fillDevices();
  store.listeners.add((ch) => {
    if (ch.type === 'device' && !devSelect.querySelector(`option[value="${CSS.escape(ch.id)}"]`)) fillDevices();
  });
  return form;
}

function scheduleList(deviceId) {
  const list = h('ul.list.schedules', { 'aria-live': 'polite' });
  const refresh = async () => {
    let items;
    try {
      items = listOf(await api(`${API}/schedules`), 'schedules', 'rules');
    } catch (x) {
      if (x.status !== 401) list.replaceChildren(h('li.muted', `Could not load schedules: ${x.message}`));
      return;
    }
    const mine = items.filter((s) => !deviceId || (s.rule || s).device === deviceId);
    if (!mine.length) {
      list.replaceChildren(h('li.muted', deviceId ? 'No schedules for this device.' : 'No schedules yet.'));
      return;
    }
    list.replaceChildren(...mine.map((s) => scheduleRow(s, deviceId, refresh)));
  };
  return { node: list, refresh };
}

function scheduleRow(s, deviceId, refresh) {
  const d = describeRule(s);
  const dev = store.devices.get(d.device);
  const outletName = d.outlet != null ? (dev?.outlets?.find((o, i) => (o.index ?? i) === d.outlet)?.name || `outlet ${d.outlet + 1}`) : null;
  const target = [deviceId ? null : store.name(d.device), outletName].filter(Boolean).join(' · ');
  const label = `${d.action} ${d.time}`;
  const enabled = h('button.toggle.toggle-small', { type: 'button', 'aria-pressed': String(d.enabled), 'aria-label': `Enabled: ${label}`, title: d.enabled ? 'Active: click to pause' : 'Paused: click to activate' },
    h('span.knob', { 'aria-hidden': 'true' }), h('span.state', d.enabled ? 'Active' : 'Paused'));
  enabled.addEventListener('click', async () => {
    enabled.disabled = true;
    try {
      await api(`${API}/schedules/${enc(s.id)}`, { method: 'PUT', body: { ...definition(s), enabled: !d.enabled } });
      await refresh();
    } catch (x) {
      enabled.disabled = false;
      if (x.status !== 401) toast(`Could not change the schedule: ${x.message}`, 'error');
    }
  });
  const del = h('button.btn.btn-small.btn-danger', { type: 'button', 'aria-label': `Delete schedule: ${label}` }, 'Delete');
  del.addEventListener('click', async () => {
    del.disabled = true;
    try {
      await api(`${API}/schedules/${enc(s.id)}`, { method: 'DELETE' });
      await refresh();
    } catch (x) {
      del.disabled = false;
      if (x.status !== 401) toast(`Could not delete: ${x.message}`, 'error');
    }
  });
  return h('li', { 'data-schedule': s.id, class: d.enabled ? '' : 'disabled' },
    h('div.what',
      h('div', h('strong', d.action), ' ', d.time, d.name ? h('span.muted', ` — ${d.name}`) : null),
      h('div.when', [d.days, target, d.last].filter(Boolean).join(' · '))),
    h('div.row-actions', enabled, del));
}

/** The schedules of one device (device page): the list, and a form behind "New schedule". */
async function deviceSchedules(panel, deviceId) {
  const list = scheduleList(deviceId);
  const form = scheduleForm(deviceId, list.refresh);
  const add = h('details.add', h('summary.btn.btn-small', 'New schedule'), form);
  panel.replaceChildren(h('h2', { id: 'h-sched' }, 'Schedules'), list.node, add);
  await list.refresh();
}

async function schedulesView(main) {
  setNav('schedules');
  document.title = 'Schedules · plugctl';
  const listPanel = h('section.panel', { 'aria-labelledby': 'h-rules' });
  const formPanel = h('section.panel', { 'aria-labelledby': 'h-new' });
  main.replaceChildren(h('div.page-head', h('div', h('h1', 'Schedules'),
    h('p.sub', 'Run by the hub itself, so they work with the plugs\u2019 cloud blocked.'))),
  h('div.two-col.top', listPanel, formPanel));
  try {
    await loadDevices();
  } catch (e) {
    if (e.status !== 401) errorNotice(main, e);
    return;
  }
  const list = scheduleList(null);
  listPanel.replaceChildren(h('h2', { id: 'h-rules' }, 'Rules'), list.node);
  formPanel.replaceChildren(h('h2', { id: 'h-new' }, 'New schedule'), scheduleForm(null, list.refresh));
  await list.refresh();
}

// ---- events ----------------------------------------------------------------------------------

function kwhStep(f) {
  return Number.isFinite(f.from_kwh) && Number.isFinite(f.to_kwh) ? ` from ${fmtKwh(f.from_kwh)} to ${fmtKwh(f.to_kwh)} kWh` : '';
}

function describeEvent(ev) {
  const kind = ev.kind || ev.type;
  const f = { ...(ev.detail || {}), ...ev };
  const dev = store.devices.get(f.id);
  const outletName = (i) => dev?.outlets?.find((o, n) => (o.index ?? n) === i)?.name || `outlet ${i + 1}`;
  switch (kind) {
    case 'state_changed':
      return { kind: f.on ? 'on' : 'off', text: `${f.outlet != null ? `${outletName(f.outlet)} switched` : 'Switched'} ${f.on ? 'on' : 'off'}` };
    case 'online': return { kind: 'online', text: 'Answers again' };
    case 'offline': return { kind: 'offline', text: `Stopped answering${f.error ? `: ${f.error}` : ''}` };
    case 'error': return { kind: 'error', text: f.message || 'Error' };
    case 'device_added': return { kind: 'added', text: 'Added' };
    case 'device_removed': return { kind: 'removed', text: 'Removed' };
    case 'device_updated': return { kind: 'updated', text: 'Settings changed' };
    case 'counter_reset':
      return { kind: 'meter', text: `Energy counter reset${kwhStep(f)} (a reboot or a cleared meter); nothing lost is counted twice` };
    case 'counter_jump':
      return { kind: 'meter', text: `Energy counter jumped${kwhStep(f)}; the implausible step was not counted` };
    default: return { kind: kind || 'event', text: String(kind || '').replace(/_/g, ' ') };
  }
}

function eventRow(ev, showDevice = true) {
  const at = ev.at_ms ?? ev.detail?.at_ms ?? Date.now();
  const d = describeEvent(ev);
  const id = ev.id ?? ev.detail?.id;
  return h('li', { 'data-kind': ev.kind || ev.type },
    h('time', { datetime: new Date(at).toISOString() }, when(at)),
    h('div.ev',
      id && showDevice ? h('a.dev', { href: `/device/${enc(id)}` }, store.name(id)) : null,
      h('span', { class: `kind k-${d.kind}` }, d.kind),
      d.text));
}

async function eventsLog(panel, { deviceId, limit, heading }) {
  const log = h('ol.log', { 'aria-live': 'polite' });
  const more = h('button.btn.btn-small.more', { type: 'button', hidden: true }, 'Older events');
  panel.replaceChildren(h('h2', { id: 'h-events' }, heading), log, more);
  let oldest = null;
  const load = async () => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (deviceId) q.set('device', deviceId);
    if (oldest != null) q.set('before', String(oldest));
    let data;
    try {
      data = await api(`${API}/events?${q}`);
    } catch (e) {
      if (e.status !== 401) log.append(h('li.muted', `Could not load events: ${e.message}`));
      return;
    }
    const items = listOf(data, 'events').filter((e) => (e.kind || e.type) !== 'sample');
    if (oldest == null && !items.length) log.replaceChildren(h('li.muted.empty', 'No events yet.'));
    log.append(...items.map((e) => eventRow(e, !deviceId)));
    // `next_before` is there when an older page exists.
    oldest = data?.next_before ?? null;
    more.hidden = oldest == null;
  };
  more.addEventListener('click', () => {
    more.disabled = true;
    load().finally(() => {
      more.disabled = false;
    });
  });
  live.handlers.add((ev) => {
    if (ev.type === 'sample' || (deviceId && ev.id !== deviceId)) return;
    log.querySelector('.empty')?.remove();
    log.prepend(eventRow(ev, !deviceId));
  });
  await load();
}

async function eventsView(main) {
  setNav('events');
  document.title = 'Events · plugctl';
  const panel = h('section.panel', { 'aria-labelledby': 'h-events' });
  main.replaceChildren(h('div.page-head', h('div', h('h1', 'Events'), h('p.sub', 'Switching, availability and errors, newest first.'))), panel);
  loadDevices().catch(() => {});
  await eventsLog(panel, { deviceId: null, limit: 100, heading: 'Log' });
}

// ---- start -----------------------------------------------------------------------------------

function route() {
  const main = document.getElementById('main');
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const m = path.match(/^\/device\/([^/]+)$/);
  if (path === '/') return listView(main);
  if (m) return deviceView(main, decodeURIComponent(m[1]));
  if (path === '/schedules') return schedulesView(main);
  if (path === '/events') return eventsView(main);
  main.replaceChildren(h('p.notice', 'No such page. '), h('a', { href: '/' }, 'Devices'));
  return null;
}

// "Log out" only makes sense when the hub has a token: an open (loopback) hub answers
// GET /login with a redirect, a hub with a token with its sign-in page.
fetch('/login', { redirect: 'manual', credentials: 'same-origin', cache: 'no-store' })
  .then((r) => {
    const btn = document.getElementById('logout');
    if (btn) btn.hidden = !(r.ok && r.type === 'basic');
  })
  .catch(() => {});

document.getElementById('logout')?.addEventListener('click', async () => {
  try {
    await fetch('/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-Plugctl': '1' } });
  } finally {
    location.assign('/login');
  }
});

live.start();
route();

// For tests and the curious: the dashboard's state.
window.plugctl = { store, live };
export { timeFmt };
