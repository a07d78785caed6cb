// SVG charts for the dashboard: a time series line chart (power, W) and a bar chart (energy
// per day, kWh). Drawn at the container's real width, so text stays at its true size on a
// phone and on a desktop; redrawn when the width changes. No library.

const SVG_NS = 'http://www.w3.org/2000/svg';
const MINUTE = 60_000;
const DAY = 86_400_000;

function s(name, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Round ticks covering [min, max]: about `count` steps of 1, 2, 2.5 or 5 × 10^n. */
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) [min, max] = [0, 1];
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks = [];
  for (let i = 0; lo + i * step <= hi + step * 1e-6; i++) ticks.push(Number((lo + i * step).toFixed(10)));
  return { ticks, step, lo, hi };
}

/** The decimals a tick step needs (0.25 → 2, 5 → 0). */
export function decimalsFor(step) {
  let d = 0;
  while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-6) d++;
  return d;
}

function fmtTick(v, step) {
  return v.toLocaleString(undefined, { minimumFractionDigits: decimalsFor(step), maximumFractionDigits: decimalsFor(step) });
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const fullFmt = new Intl.DateTimeFormat(undefined, {
  day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE);

/** Time ticks on local-time boundaries (every 15 min, 1 h, 6 h, 1 day …), at most `maxTicks`. */
export function timeTicks(from, to, maxTicks) {
  const span = Math.max(MINUTE, to - from);
  const step = TIME_STEPS.find((st) => span / st <= maxTicks) ?? Math.ceil(span / maxTicks / DAY) * DAY;
  const ticks = [];
  // Align in local time: local = utc - offset.
  const off = new Date(from).getTimezoneOffset() * MINUTE;
  let t = Math.ceil((from - off) / step) * step + off;
  for (; t <= to; t += step) ticks.push(t);
  const label = (t) => {
    const d = new Date(t);
    if (step >= DAY || (d.getHours() === 0 && d.getMinutes() === 0 && span > 6 * 3_600_000)) return dayFmt.format(d);
    return timeFmt.format(d);
  };
  return { ticks, step, label };
}

function estimateTextWidth(text, px = 11) {
  return text.length * px * 0.62;
}

function frame(container, { title, unit, yMax, xTitle, ariaLabel }) {
  const width = Math.max(260, Math.round(container.clientWidth || 600));
  const height = width < 520 ? 220 : 260;
  const y = niceTicks(0, yMax > 0 ? yMax * 1.08 : 1, height < 240 ? 4 : 5);
  const labels = y.ticks.map((v) => fmtTick(v, y.step));
  const labelW = Math.max(...labels.map((l) => estimateTextWidth(l)));
  const m = { top: 14, right: 14, bottom: 44, left: Math.ceil(24 + labelW + 8) };
  const plot = { x: m.left, y: m.top, w: width - m.left - m.right, h: height - m.top - m.bottom };
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': ariaLabel,
    class: 'chart-svg', 'data-unit': unit,
  });
  svg.append(s('title', {}, ariaLabel));
  const sy = (v) => plot.y + plot.h - ((v - y.lo) / (y.hi - y.lo)) * plot.h;

  const gy = s('g', { class: 'axis axis-y' });
  y.ticks.forEach((v, i) => {
    const py = Math.round(sy(v)) + 0.5;
    svg.append(s('line', { class: 'gridline', x1: plot.x, x2: plot.x + plot.w, y1: py, y2: py }));
    gy.append(s('line', { x1: plot.x - 4, x2: plot.x, y1: py, y2: py }));
    gy.append(s('text', { x: plot.x - 7, y: py, 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'tick' }, labels[i]));
  });
  gy.append(s('line', { x1: plot.x + 0.5, x2: plot.x + 0.5, y1: plot.y, y2: plot.y + plot.h }));
  const cy = plot.y + plot.h / 2;
  gy.append(s('text', {
    class: 'axis-title', x: 12, y: cy, 'text-anchor': 'middle', 'dominant-baseline': 'middle',
    transform: `rotate(-90 12 ${cy})`,
  }, `${title} (${unit})`));
  svg.append(gy);

  const gx = s('g', { class: 'axis axis-x' });
  const base = Math.round(plot.y + plot.h) + 0.5;
  gx.append(s('line', { x1: plot.x, x2: plot.x + plot.w, y1: base, y2: base }));
  gx.append(s('text', { class: 'axis-title', x: plot.x + plot.w / 2, y: height - 6, 'text-anchor': 'middle' }, xTitle));
  svg.append(gx);
  return { svg, plot, sy, gx, base, width, height };
}

/**
 * A line chart of a time series.
 * opts: { points: [{t, v}], from, to, title, unit, gapMs, ariaLabel, empty }
 */
export function lineChart(container, opts) {
  const pts = (opts.points || []).filter((p) => Number.isFinite(p.v) && p.t >= opts.from && p.t <= opts.to)
    .sort((a, b) => a.t - b.t);
  const yMax = pts.reduce((m, p) => Math.max(m, p.v), 0);
  const f = frame(container, { ...opts, yMax, xTitle: 'Time' });
  const { svg, plot, sy, gx, base } = f;
  const sx = (t) => plot.x + ((t - opts.from) / (opts.to - opts.from)) * plot.w;

  const xt = timeTicks(opts.from, opts.to, Math.max(2, Math.floor(plot.w / 72)));
  for (const t of xt.ticks) {
    const px = Math.round(sx(t)) + 0.5;
    gx.append(s('line', { x1: px, x2: px, y1: base, y2: base + 4 }));
    gx.append(s('text', { x: px, y: base + 16, 'text-anchor': 'middle', class: 'tick' }, xt.label(t)));
  }

  // Segments, broken where samples are missing.
  const segs = [];
  let cur = [];
  for (const p of pts) {
    if (cur.length && p.t - cur[cur.length - 1].t > (opts.gapMs || 5 * MINUTE)) {
      segs.push(cur);
      cur = [];
    }
    cur.push(p);
  }
  if (cur.length) segs.push(cur);
  const y0 = sy(0);
  for (const seg of segs) {
    const d = seg.map((p, i) => `${i ? 'L' : 'M'}${sx(p.t).toFixed(1)},${sy(p.v).toFixed(1)}`).join('');
    if (seg.length === 1) {
      svg.append(s('circle', { cx: sx(seg[0].t), cy: sy(seg[0].v), r: 2.5, class: 'line' }));
      continue;
    }
    const first = sx(seg[0].t).toFixed(1);
    const last = sx(seg[seg.length - 1].t).toFixed(1);
    svg.append(s('path', { class: 'area', d: `${d}L${last},${y0}L${first},${y0}Z` }));
    svg.append(s('path', { class: 'line', d }));
  }
  if (pts.length) {
    const p = pts[pts.length - 1];
    const dot = s('circle', { cx: sx(p.t), cy: sy(p.v), r: 3.5, class: 'line last' });
    dot.append(s('title', {}, `${fullFmt.format(new Date(p.t))}: ${p.v.toFixed(1)} ${opts.unit}`));
    svg.append(dot);
  } else {
    svg.append(s('text', { class: 'empty', x: plot.x + plot.w / 2, y: plot.y + plot.h / 2, 'text-anchor': 'middle' },
      opts.empty || 'No data yet'));
  }
  container.replaceChildren(svg);
  return svg;
}

/**
 * A bar chart, one bar per bucket (day).
 * opts: { bars: [{t, v, label, highlight}], title, unit, xTitle, ariaLabel, empty }
 */
export function barChart(container, opts) {
  const bars = opts.bars || [];
  const yMax = bars.reduce((m, b) => Math.max(m, Number.isFinite(b.v) ? b.v : 0), 0);
  const f = frame(container, { ...opts, yMax, xTitle: opts.xTitle || 'Day' });
  const { svg, plot, sy, gx, base } = f;
  const n = Math.max(1, bars.length);
  const band = plot.w / n;
  const every = Math.max(1, Math.ceil(46 / band));
  const bw = Math.max(1, Math.min(36, band * 0.72));
  bars.forEach((b, i) => {
    const cx = plot.x + band * (i + 0.5);
    const v = Number.isFinite(b.v) ? b.v : 0;
    const top = sy(v);
    const rect = s('rect', {
      class: b.highlight ? 'bar today' : 'bar', x: (cx - bw / 2).toFixed(1), y: top.toFixed(1),
      width: bw.toFixed(1), height: Math.max(0, sy(0) - top).toFixed(1), rx: Math.min(3, bw / 4),
    });
    rect.append(s('title', {}, `${b.label}: ${v.toFixed(3)} ${opts.unit}`));
    svg.append(rect);
    // Label every `every`-th bar, counted from the newest so today is always labelled.
    if ((bars.length - 1 - i) % every === 0) {
      gx.append(s('line', { x1: Math.round(cx) + 0.5, x2: Math.round(cx) + 0.5, y1: base, y2: base + 4 }));
      gx.append(s('text', { x: cx, y: base + 16, 'text-anchor': 'middle', class: 'tick' }, b.label));
    }
  });
  if (!bars.length || yMax === 0) {
    svg.append(s('text', { class: 'empty', x: plot.x + plot.w / 2, y: plot.y + plot.h / 2, 'text-anchor': 'middle' },
      opts.empty || 'No energy recorded yet'));
  }
  container.replaceChildren(svg);
  return svg;
}

/** Calls `draw()` now and whenever the container's width changes. Returns a stop function. */
export function drawAndFollowWidth(container, draw) {
  let width = -1;
  let frameReq = 0;
  const run = () => {
    frameReq = 0;
    const w = Math.round(container.clientWidth);
    if (w !== width) {
      width = w;
      draw();
    }
  };
  run();
  if (typeof ResizeObserver === 'undefined') return () => {};
  const ro = new ResizeObserver(() => {
    if (!frameReq) frameReq = requestAnimationFrame(run);
  });
  ro.observe(container);
  return () => ro.disconnect();
}

export { dayFmt, timeFmt, fullFmt };
