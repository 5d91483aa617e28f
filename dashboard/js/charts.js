// Small SVG charts drawn locally (no libraries, no tiles): time lines, bars, and an equal-scale
// plane for positions in metres. Every chart has a text label for screen readers; points are focusable.
'use strict';

const Charts = (() => {
  const { s, h } = K;
  const PALETTE = ['#0b5cab', '#c2410c', '#1b6e3a', '#7e22ce', '#a4161a', '#0f766e', '#854d0e', '#334155'];

  function ticks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    const raw = (hi - lo) / Math.max(1, n);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  function frame(w, ht, label) {
    return s('svg', { viewBox: `0 0 ${w} ${ht}`, class: 'chart', role: 'img', 'aria-label': label, preserveAspectRatio: 'xMidYMid meet' });
  }

  function legend(items) {
    return h('ul', { class: 'legend' }, items.map((it) => {
      const sw = h('span', { class: 'sw', 'aria-hidden': 'true' });
      sw.style.background = it.color; // CSSOM, allowed by the CSP
      return h('li', null, sw, it.name);
    }));
  }

  // series: [{name, color?, points: [[timeMs, y]]}]
  function line(opts) {
    const W = opts.width || 720, H = opts.height || 260, m = { l: 48, r: 12, t: 12, b: 30 };
    const svg = frame(W, H, opts.label || '');
    const pts = opts.series.flatMap((se) => se.points);
    if (!pts.length) return svg;
    let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
    if (x1 === x0) { x0 -= 60000; x1 += 60000; }
    const y1 = Math.max(1, ...pts.map((p) => p[1])) * 1.1;
    const X = (v) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
    const Y = (v) => H - m.b - (v / y1) * (H - m.t - m.b);
    for (const v of ticks(0, y1, 4)) {
      svg.append(s('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v) }),
        s('text', { x: m.l - 6, y: Y(v) + 4, 'text-anchor': 'end' }, K.fmtNum(v)));
    }
    const span = x1 - x0;
    const step = [60e3, 300e3, 900e3, 1800e3, 3600e3, 7200e3, 21600e3, 43200e3, 86400e3].find((st) => span / st <= 6) || 86400e3;
    for (let v = Math.ceil(x0 / step) * step; v <= x1; v += step) {
      svg.append(s('line', { class: 'grid', x1: X(v), x2: X(v), y1: m.t, y2: H - m.b }),
        s('text', { x: X(v), y: H - m.b + 16, 'text-anchor': 'middle' }, K.fmtTime(v, false).slice(0, 5)));
    }
    svg.append(s('line', { class: 'axis', x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }),
      s('line', { class: 'axis', x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
    if (opts.yLabel) svg.append(s('text', { x: 4, y: m.t + 2, 'dominant-baseline': 'hanging' }, ''));
    opts.series.forEach((se, i) => {
      const color = se.color || PALETTE[i % PALETTE.length];
      const sorted = se.points.slice().sort((a, b) => a[0] - b[0]);
      const d = sorted.map((p, j) => (j ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1)).join(' ');
      svg.append(s('path', { d, fill: 'none', stroke: color, 'stroke-width': 2 }));
      if (sorted.length < 60) for (const p of sorted) svg.append(s('circle', { cx: X(p[0]), cy: Y(p[1]), r: 2.5, fill: color }));
    });
    return svg;
  }

  // bins: [{label, value}]
  function bars(opts) {
    const W = opts.width || 720, H = opts.height || 220, m = { l: 40, r: 8, t: 12, b: 30 };
    const svg = frame(W, H, opts.label || '');
    const bins = opts.bins;
    const y1 = Math.max(1, ...bins.map((b) => b.value)) * 1.1;
    const bw = (W - m.l - m.r) / Math.max(1, bins.length);
    const Y = (v) => H - m.b - (v / y1) * (H - m.t - m.b);
    for (const v of ticks(0, y1, 4)) {
      if (v !== Math.round(v)) continue;
      svg.append(s('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v) }),
        s('text', { x: m.l - 6, y: Y(v) + 4, 'text-anchor': 'end' }, K.fmtNum(v, 0)));
    }
    bins.forEach((b, i) => {
      const x = m.l + i * bw;
      const r = s('rect', { x: x + 1.5, y: Y(b.value), width: Math.max(1, bw - 3), height: H - m.b - Y(b.value), fill: opts.color || PALETTE[0], rx: 2 },
        s('title', null, b.label + ': ' + b.value));
      svg.append(r);
      const every = Math.ceil(bins.length / 12);
      if (i % every === 0) svg.append(s('text', { x: x + bw / 2, y: H - m.b + 16, 'text-anchor': 'middle' }, b.label));
    });
    svg.append(s('line', { class: 'axis', x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
    return svg;
  }

  function marker(shape, x, y, r, color, attrs) {
    const a = Object.assign({ fill: color, stroke: '#fff', 'stroke-width': 1.5 }, attrs);
    if (shape === 'square') return s('rect', Object.assign({ x: x - r, y: y - r, width: 2 * r, height: 2 * r }, a));
    if (shape === 'diamond') return s('path', Object.assign({ d: `M${x} ${y - r * 1.3}L${x + r * 1.3} ${y}L${x} ${y + r * 1.3}L${x - r * 1.3} ${y}Z` }, a));
    if (shape === 'triangle') return s('path', Object.assign({ d: `M${x} ${y - r * 1.3}L${x + r * 1.2} ${y + r}L${x - r * 1.2} ${y + r}Z` }, a));
    return s('circle', Object.assign({ cx: x, cy: y, r }, a));
  }

  // points: [{x, y (metres, east/north), color, shape, label, onActivate}]; equal scale on both axes,
  // north up, with a grid and a scale bar. `origin` draws the reference point (camera/device).
  function plane(opts) {
    const W = opts.width || 640, H = opts.height || 420, pad = 36;
    const svg = frame(W, H, opts.label || '');
    const pts = opts.points.filter((p) => isFinite(p.x) && isFinite(p.y));
    const xs = pts.map((p) => p.x).concat(opts.origin ? [0] : []);
    const ys = pts.map((p) => p.y).concat(opts.origin ? [0] : []);
    if (!xs.length) return svg;
    let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const spanMin = opts.minSpan || 10;
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    let span = Math.max(x1 - x0, (y1 - y0) * (W - 2 * pad) / (H - 2 * pad), spanMin) * 1.15;
    const scale = (W - 2 * pad) / span; // px per metre, same on both axes
    const X = (v) => W / 2 + (v - cx) * scale;
    const Y = (v) => H / 2 - (v - cy) * scale;
    const step = ticks(0, span, 6)[1] || 1;
    svg.append(s('rect', { x: 1, y: 1, width: W - 2, height: H - 2, class: 'frame' }));
    for (let v = Math.floor((cx - span) / step) * step; v <= cx + span; v += step) {
      if (X(v) < 0 || X(v) > W) continue;
      svg.append(s('line', { class: 'grid', x1: X(v), x2: X(v), y1: 0, y2: H }));
    }
    for (let v = Math.floor((cy - span) / step) * step; v <= cy + span; v += step) {
      if (Y(v) < 0 || Y(v) > H) continue;
      svg.append(s('line', { class: 'grid', x1: 0, x2: W, y1: Y(v), y2: Y(v) }));
    }
    // North arrow and scale bar.
    svg.append(s('path', { d: `M${W - 22} 30 L${W - 16} 14 L${W - 10} 30 Z`, fill: '#33414e' }),
      s('text', { x: W - 16, y: 44, 'text-anchor': 'middle' }, 'N'));
    const barPx = step * scale;
    svg.append(s('line', { x1: 12, x2: 12 + barPx, y1: H - 14, y2: H - 14, stroke: '#17202a', 'stroke-width': 3 }),
      s('text', { x: 12 + barPx / 2, y: H - 20, 'text-anchor': 'middle' }, K.fmtNum(step, 1) + ' m'));
    if (opts.origin) {
      svg.append(marker('triangle', X(0), Y(0), 7, '#17202a', { 'aria-hidden': 'true' }),
        s('text', { x: X(0) + 10, y: Y(0) + 4 }, opts.origin));
    }
    for (const p of pts) {
      const attrs = { class: 'pt' };
      if (p.onActivate) {
        attrs.tabindex = 0;
        attrs.role = 'button';
        attrs['aria-label'] = p.label || '';
      }
      const mk = marker(p.shape, X(p.x), Y(p.y), p.r || 6, p.color || PALETTE[0], attrs);
      mk.append(s('title', null, p.label || ''));
      if (p.onActivate) {
        mk.addEventListener('click', p.onActivate);
        mk.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); p.onActivate(); } });
      }
      svg.append(mk);
    }
    return svg;
  }

  // Lat/lon to local east/north metres around a reference (equirectangular: fine over a few km).
  function project(lat, lon, ref) {
    const R = 6371008.8, rad = Math.PI / 180;
    return { x: (lon - ref.lon) * rad * R * Math.cos(ref.lat * rad), y: (lat - ref.lat) * rad * R };
  }

  return { line, bars, plane, legend, project, PALETTE };
})();
