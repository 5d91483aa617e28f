// Intersections: near-miss list, conflict points on the ground plane, hourly trend. Live via SSE.
'use strict';
(() => {
  const { t, tv, h, fill, empty, badge, table, fmtNum, fmtTime, toDate } = K;
  let events = [];
  let focusId = null;
  const SHOW = 100;
  const TYPE_COLOR = { rear_end: '#0b5cab', lane_change: '#7e22ce', crossing: '#c2410c' };
  const $ = (id) => document.getElementById(id);

  function filtered() {
    const ty = $('ix-type').value, sv = $('ix-sev').value;
    return events.filter((e) => (!ty || e.data.conflict_type === ty) && (!sv || e.data.severity === sv));
  }

  function cards(rows) {
    const day = Date.now() - 86400e3;
    const last24 = rows.filter((e) => (toDate(e.observed_at) || 0) >= day);
    const crit = last24.filter((e) => e.data.severity === 'critical').length;
    const ttc = last24.map((e) => Number(e.data.min_ttc_s)).filter(isFinite);
    const c = (k, v) => h('div', { class: 'card' }, h('div', { class: 'label' }, t(k)), h('div', { class: 'value' }, v));
    return [c('ix.last24', fmtNum(last24.length, 0)), c('ix.critical24', fmtNum(crit, 0)),
      c('ix.min_ttc', ttc.length ? fmtNum(Math.min(...ttc), 2) + ' s' : '—'), c('ix.total', fmtNum(rows.length, 0))];
  }

  function describe(e) {
    const d = e.data;
    return tv('conflict', d.conflict_type) + ', ' + tv('sev', d.severity) + ', ' + fmtTime(e.observed_at) + ', TTC ' + fmtNum(d.min_ttc_s, 2) + ' s';
  }

  function plot(rows) {
    const pts = rows.filter((e) => Array.isArray(e.data.position) && e.data.position.length >= 2).map((e) => ({
      x: Number(e.data.position[0]), y: Number(e.data.position[1]), color: TYPE_COLOR[e.data.conflict_type] || '#52606d',
      shape: e.data.severity === 'critical' ? 'square' : 'circle', r: e.id === focusId ? 9 : 6, label: describe(e),
      onActivate: () => { focusId = e.id; render(); const row = document.querySelector(`tr[data-id="${CSS.escape(e.id)}"]`); if (row) row.scrollIntoView({ block: 'center' }); },
    }));
    if (!pts.length) return empty('ix.no_positions');
    return Charts.plane({ points: pts, label: t('ix.plot_label', { n: pts.length }), origin: t('ix.origin'), minSpan: 20 });
  }

  function trend(rows) {
    const now = new Date();
    now.setMinutes(0, 0, 0);
    const bins = [];
    for (let i = 23; i >= 0; i--) {
      const start = now.getTime() - i * 3600e3;
      bins.push({ start, label: String(new Date(start).getHours()).padStart(2, '0'), value: 0 });
    }
    for (const e of rows) {
      const ts = (toDate(e.observed_at) || new Date(0)).getTime();
      const b = bins.find((x) => ts >= x.start && ts < x.start + 3600e3);
      if (b) b.value++;
    }
    if (!bins.some((b) => b.value)) return empty('ix.no_trend');
    const total = bins.reduce((a, b) => a + b.value, 0);
    return Charts.bars({ bins, label: t('ix.trend_label', { n: total }), color: '#0b5cab' });
  }

  function list(rows) {
    if (!events.length) return empty('ix.empty');
    if (!rows.length) return empty('common.none_match');
    const cols = [{ label: t('common.time') }, { label: t('ix.type') }, { label: t('ix.severity') }, { label: t('ix.users') },
      { label: 'TTC (s)', num: true }, { label: 'PET (s)', num: true }, { label: t('ix.drac'), num: true }, { label: t('ix.zone') }];
    const when = (e) => (toDate(e.observed_at) || new Date(0)).getTime();
    const shown = rows.slice().sort((a, b) => when(b) - when(a)).slice(0, SHOW);
    return [rows.length > SHOW ? h('p', { class: 'muted' }, t('ix.showing', { n: SHOW, total: rows.length })) : null, table(cols, shown.map((e) => {
      const d = e.data;
      return {
        attrs: { 'data-id': e.id, class: e.id === focusId ? 'selected' : null },
        cells: [fmtTime(e.observed_at), tv('conflict', d.conflict_type), badge(tv('sev', d.severity), d.severity === 'critical' ? 'bad' : 'warn'),
          (d.users || []).map((u) => tv('road_user', u.kind)).join(' × '), fmtNum(d.min_ttc_s, 2), fmtNum(d.pet_s, 2), fmtNum(d.max_drac_mps2, 1),
          [d.zone_id || '—', d.camera ? h('div', { class: 'muted' }, d.camera) : null]],
      };
    }), { caption: t('ix.list') })];
  }

  function render() {
    const rows = filtered();
    $('ix-note').hidden = events.length > 0;
    fill('ix-cards', cards(rows));
    fill('ix-plot', plot(rows));
    fill('ix-legend', Charts.legend(Object.keys(TYPE_COLOR).map((k) => ({ name: tv('conflict', k), color: TYPE_COLOR[k] }))));
    fill('ix-trend', trend(rows));
    fill('ix-list', list(rows));
  }

  document.addEventListener('DOMContentLoaded', () => {
    ['ix-type', 'ix-sev'].forEach((id) => $(id).addEventListener('change', render));
  });

  K.page({
    async load() {
      events = ((await K.api('/api/dash/recent/near_miss?limit=2000')).events || []).filter((e) => e && e.data);
    },
    render,
    live(m) {
      if (m.type === 'event' && m.data && m.data.kind === 'near_miss' && m.data.data) {
        events.push(m.data);
        render();
      }
    },
  });
})();
