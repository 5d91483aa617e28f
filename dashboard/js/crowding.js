// Crowding: level per zone now, a per-minute trend chart, recent level changes. Live via SSE.
'use strict';
(() => {
  const { t, tv, h, fill, empty, badge, table, fmtNum, fmtTime, toDate } = K;
  let now = null;
  let minutes = [];
  let levels = [];
  const $ = (id) => document.getElementById(id);

  // Level of service A..F (Fruin) or alert levels: greens to reds; unknown values stay neutral.
  function tone(level) {
    const l = String(level).toUpperCase();
    if ('AB'.includes(l) || ['NORMAL', 'LOW'].includes(l)) return 'ok';
    if ('CD'.includes(l) || ['ELEVATED', 'WARNING', 'MEDIUM'].includes(l)) return 'warn';
    if ('EF'.includes(l) || ['HIGH', 'CRITICAL', 'ALERT'].includes(l)) return 'bad';
    return '';
  }

  // Zones now: the daemon's `crowd_now` when present, else the latest per-minute record per zone.
  function zonesNow() {
    if (now && Array.isArray(now.zones) && now.zones.length) return now.zones;
    const latest = new Map();
    for (const e of minutes) {
      const d = e.data || {};
      if (d.zoneId) latest.set(d.zoneId, { zone_id: d.zoneId, level: d.levelOfService, scale: 'los', count: d.peopleCount, density_ppm2: d.densityMean, at: e.observed_at });
    }
    return [...latest.values()];
  }

  function zoneCards() {
    const zs = zonesNow();
    if (!zs.length) return empty('cr.no_zones');
    return zs.map((z) => h('div', { class: 'card zone', 'data-zone': z.zone_id },
      h('div', { class: 'label' }, z.zone_id),
      h('div', { class: 'level' }, badge(z.level === undefined ? '—' : String(z.level), tone(z.level))),
      h('div', { class: 'sub' }, t('cr.scale_' + (z.scale || 'los'))),
      h('div', null, t('cr.people', { n: fmtNum(z.count, 0) }) + (z.density_ppm2 !== undefined ? ' · ' + fmtNum(z.density_ppm2, 2) + ' ' + t('cr.ppm2') : ''))));
  }

  function trend() {
    const byZone = new Map();
    for (const e of minutes) {
      const d = e.data || {};
      const ts = toDate(d.dateObservedTo) || toDate(e.observed_at);
      if (!d.zoneId || !ts || !isFinite(Number(d.peopleCount))) continue;
      if (!byZone.has(d.zoneId)) byZone.set(d.zoneId, []);
      byZone.get(d.zoneId).push([ts.getTime(), Number(d.peopleCount)]);
    }
    if (!byZone.size) return [empty('cr.no_trend'), null];
    const series = [...byZone.entries()].map(([name, points], i) => ({ name, points, color: Charts.PALETTE[i % Charts.PALETTE.length] }));
    return [Charts.line({ series, label: t('cr.trend_label', { zones: series.map((x) => x.name).join(', ') }) }), Charts.legend(series)];
  }

  function changes() {
    if (!levels.length) return empty('cr.no_changes');
    const cols = [{ label: t('common.time') }, { label: t('cr.zone') }, { label: t('cr.change') }, { label: t('cr.count'), num: true }, { label: t('cr.density'), num: true }];
    return table(cols, levels.slice().reverse().slice(0, 100).map((e) => {
      const d = e.data || {};
      return { cells: [fmtTime(e.observed_at), d.zone_id || '—', [badge(String(d.from), tone(d.from)), d.rising ? ' → ' : ' ↘ ', badge(String(d.to), tone(d.to)), ' ', t(d.rising ? 'cr.rising' : 'cr.falling')], fmtNum(d.count, 0), fmtNum(d.density_ppm2, 2)] };
    }));
  }

  function render() {
    $('cr-note').hidden = zonesNow().length > 0 || minutes.length > 0;
    fill('cr-now', zoneCards());
    const [chart, legend] = trend();
    fill('cr-trend', chart);
    fill('cr-legend', legend);
    fill('cr-changes', changes());
  }

  K.page({
    async load() {
      const r = await K.api('/api/dash/crowding');
      now = r.now;
      minutes = r.minutes || [];
      levels = r.levels || [];
    },
    render,
    live(m) {
      if (m.type === 'crowd_now') { now = m.data; render(); }
      if (m.type === 'event' && m.data) {
        if (m.data.kind === 'crowd_minute') { minutes.push(m.data); render(); }
        if (m.data.kind === 'crowd_level') { levels.push(m.data); render(); }
      }
    },
  });
})();
