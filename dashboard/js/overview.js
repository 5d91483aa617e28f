// Overview: appliance status cards, cameras, models, latest scene summaries. Live via SSE.
'use strict';
(() => {
  const { t, tv, h, fill, empty, badge, table, fmtNum, fmtDuration, fmtTime } = K;
  let ov = null;
  let summaries = [];

  const STATE_TONE = { streaming: 'ok', running: 'ok', finished: 'info', connecting: 'warn', starting: 'warn', backoff: 'bad', stopped: 'bad' };

  function card(labelKey, value, sub, tone) {
    return h('div', { class: 'card' }, h('div', { class: 'label' }, t(labelKey)),
      h('div', { class: 'value' }, tone ? badge(value, tone) : value), sub ? h('div', { class: 'sub' }, sub) : null);
  }

  function cards() {
    if (!ov) return [empty('overview.no_data')];
    const mq = ov.mqtt || ov.broker || {};
    const connected = mq.connected === true;
    const out = ov.outbox || null;
    const depth = out ? (out.depth ?? out.queued) : (mq.queued ?? null);
    const g = ov.gnss;
    let gnss;
    if (!g) gnss = card('overview.gnss', t('overview.gnss_none'), t('overview.gnss_not_built'), '');
    else {
      const fix = g.fix || 'none';
      const sub = (g.lat !== undefined && g.lat !== null) ? fmtNum(g.lat, 5) + ', ' + fmtNum(g.lon, 5) + (g.satellites !== undefined ? ' · ' + t('overview.sats', { n: g.satellites }) : '') : '';
      gnss = card('overview.gnss', tv('gnss', fix), fix === 'none' && g.reason ? g.reason : sub, fix === 'none' ? 'bad' : 'ok');
    }
    return [
      card('overview.uptime', fmtDuration(ov.uptime_s), ov.version ? t('overview.version', { v: ov.version }) : ''),
      card('overview.broker', connected ? t('overview.connected') : t('overview.disconnected'), mq.last_error || (mq.acked !== undefined ? t('overview.acked', { n: fmtNum(mq.acked, 0) }) : ''), connected ? 'ok' : 'bad'),
      card('overview.outbox', depth === null || depth === undefined ? '—' : fmtNum(depth, 0), t('overview.outbox_sub')),
      gnss,
      card('overview.device', ov.device_id || '—', ''),
    ];
  }

  function modelFor(cam) {
    if (cam.model) return cam.model + (cam.model_version ? ' (' + cam.model_version + ')' : '');
    return '—';
  }

  function cameras() {
    const cams = (ov && ov.cameras) || [];
    if (!cams.length) return empty('overview.no_cameras');
    const cols = [
      { label: t('overview.camera') }, { label: t('overview.state') }, { label: t('overview.fps'), num: true },
      { label: t('overview.model') }, { label: t('overview.processed'), num: true }, { label: t('overview.dropped'), num: true },
      { label: t('overview.since') },
    ];
    const rows = cams.map((c) => ({
      attrs: { 'data-camera': c.id },
      cells: [
        h('strong', null, c.id), badge(tv('camstate', c.state), STATE_TONE[c.state] || ''), fmtNum(c.fps, 1), modelFor(c),
        fmtNum(c.frames_processed, 0), fmtNum(c.frames_dropped, 0),
        [fmtTime(c.since), c.last_error ? h('div', { class: 'muted' }, c.last_error) : null],
      ],
    }));
    return table(cols, rows, { caption: t('overview.cameras') });
  }

  function models() {
    const ms = (ov && ov.models) || [];
    if (!ms.length) return empty('overview.no_models');
    const cols = [{ label: t('overview.model') }, { label: t('overview.version_col') }, { label: t('overview.backend') }];
    return table(cols, ms.map((m) => ({ cells: [m.id || m.name || '—', m.version || m.model_version || m.sha256_short || '—', m.backend || '—'] })));
  }

  function summaryTable() {
    if (!summaries.length) return empty('overview.no_summaries');
    const rows = summaries.slice(-8).reverse().map((e) => {
      const d = e.data || {};
      const counts = Object.entries(d.counts || {}).map(([k, v]) => tv('label', k) + ' ' + fmtNum(v.mean, 1)).join(', ');
      return { cells: [fmtTime(e.observed_at), d.camera || '—', counts || '—', fmtNum(d.frames_processed, 0)] };
    });
    return table([{ label: t('common.time') }, { label: t('overview.camera') }, { label: t('overview.mean_counts') }, { label: t('overview.frames'), num: true }], rows);
  }

  function render() {
    fill('status-cards', cards());
    fill('cameras', cameras());
    fill('models', models());
    fill('summaries', summaryTable());
  }

  K.page({
    async load() {
      const [o, r] = await Promise.all([K.api('/api/dash/overview'), K.api('/api/dash/recent/scene_summary?limit=50')]);
      ov = o.overview;
      summaries = r.events || [];
    },
    render,
    live(m) {
      if (m.type === 'overview') { ov = m.data; render(); }
      if (m.type === 'event' && m.data && m.data.kind === 'scene_summary') { summaries.push(m.data); summaries = summaries.slice(-50); render(); }
    },
  });
})();
