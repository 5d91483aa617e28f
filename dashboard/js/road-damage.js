// Road damage: filterable, sortable list; a local map drawn from positions (no tiles); a detail view
// with the redacted snapshot and observation history; crew marks (verified / false positive / repaired).
'use strict';
(() => {
  const { t, tv, h, s, fill, empty, badge, table, fmtNum, fmtTime, toDate } = K;
  let records = [];
  let selected = null; // {record, history}
  let message = null; // {key, tone, vars}

  const TRIAGE_RANK = { repair_needed: 2, damage_no_repair: 1, none: 0 };
  const TRIAGE_TONE = { repair_needed: 'bad', damage_no_repair: 'warn', none: '' };
  const TRIAGE_COLOR = { repair_needed: '#a4161a', damage_no_repair: '#c2410c', none: '#52606d' };
  const STATUS_TONE = { open: 'warn', verified: 'info', false_positive: '', repaired: 'ok', possibly_repaired: 'ok' };
  const STATUS_SHAPE = { open: 'circle', verified: 'diamond', false_positive: 'square', repaired: 'triangle', possibly_repaired: 'triangle' };
  const $ = (id) => document.getElementById(id);

  const size = (r) => Number((r.severity && r.severity.size_m) ?? 0);
  const lastSeen = (r) => (toDate(r.last_seen) || new Date(0)).getTime();
  const bin = (r) => (r.severity && r.severity.bin !== undefined ? String(r.severity.bin) : '');

  function filtered() {
    const fs = $('f-severity').value, ft = $('f-triage').value, fst = $('f-status').value, fc = $('f-class').value;
    const since = $('f-since').value ? new Date($('f-since').value).getTime() : null;
    const out = records.filter((r) => (!fs || bin(r) === fs) && (!ft || r.triage === ft) && (!fst || (r.status || 'open') === fst)
      && (!fc || r.class === fc) && (since === null || lastSeen(r) >= since));
    const sort = $('f-sort').value;
    const cmp = {
      severity: (a, b) => size(b) - size(a) || lastSeen(b) - lastSeen(a),
      triage: (a, b) => (TRIAGE_RANK[b.triage] || 0) - (TRIAGE_RANK[a.triage] || 0) || size(b) - size(a),
      date: (a, b) => lastSeen(b) - lastSeen(a),
      date_asc: (a, b) => lastSeen(a) - lastSeen(b),
    }[sort] || (() => 0);
    return out.sort(cmp);
  }

  function severityText(r) {
    if (!r.severity) return '—';
    const b = bin(r);
    return (b ? tv('bin', b) + ' · ' : '') + fmtNum(size(r), 2) + ' m';
  }

  function list(rows) {
    if (!records.length) return empty('rd.empty');
    if (!rows.length) return empty('rd.none_match');
    const sortKey = { severity: 'severity', triage: 'triage', date: 'date', date_asc: 'date' }[$('f-sort').value];
    const dir = $('f-sort').value === 'date_asc' ? 1 : -1;
    const cols = [
      { label: t('rd.record') }, { label: t('rd.class') }, { label: t('rd.severity'), sortKey: 'severity' },
      { label: t('rd.triage'), sortKey: 'triage' }, { label: t('rd.status') }, { label: t('rd.last_seen'), sortKey: 'date' },
    ];
    return table(cols, rows.map((r) => ({
      attrs: { class: selected && selected.record.record_id === r.record_id ? 'selected' : null, 'data-record': r.record_id },
      cells: [
        h('button', { type: 'button', class: 'linkish', onclick: () => open(r.record_id) }, shortId(r.record_id)),
        tv('class', r.class), severityText(r), badge(tv('triage', r.triage || 'none'), TRIAGE_TONE[r.triage]),
        badge(tv('status', r.status || 'open'), STATUS_TONE[r.status || 'open']), fmtTime(r.last_seen),
      ],
    })), {
      sort: { key: sortKey, dir },
      onSort: (k) => {
        const sel = $('f-sort');
        sel.value = k === 'date' ? (sel.value === 'date' ? 'date_asc' : 'date') : k;
        render();
      },
    });
  }

  function shortId(id) {
    return String(id).length > 14 ? String(id).slice(0, 8) + '…' + String(id).slice(-4) : String(id);
  }

  function map(rows) {
    const pos = rows.filter((r) => r.position && isFinite(r.position.lat) && isFinite(r.position.lon));
    if (!pos.length) return empty(records.length ? 'rd.no_positions' : 'rd.map_empty');
    const ref = { lat: pos.reduce((a, r) => a + r.position.lat, 0) / pos.length, lon: pos.reduce((a, r) => a + r.position.lon, 0) / pos.length };
    const points = pos.map((r) => {
      const p = Charts.project(r.position.lat, r.position.lon, ref);
      return {
        x: p.x, y: p.y, color: TRIAGE_COLOR[r.triage] || '#52606d', shape: STATUS_SHAPE[r.status || 'open'],
        r: selected && selected.record.record_id === r.record_id ? 9 : 6,
        label: tv('class', r.class) + ', ' + severityText(r) + ', ' + tv('triage', r.triage || 'none') + ', ' + tv('status', r.status || 'open'),
        onActivate: () => open(r.record_id),
      };
    });
    return Charts.plane({ points, label: t('rd.map_label', { n: pos.length }), minSpan: 20 });
  }

  function legendItems() {
    return Charts.legend(Object.keys(TRIAGE_COLOR).map((k) => ({ name: tv('triage', k), color: TRIAGE_COLOR[k] })));
  }

  async function open(id) {
    try {
      selected = await K.api('/api/dash/road-damage/' + encodeURIComponent(id));
      message = null;
      history.replaceState(null, '', '#' + encodeURIComponent(id));
      render();
      const d = $('rd-detail');
      d.scrollIntoView({ block: 'start' });
      d.focus();
    } catch (e) {
      K.showError(e);
    }
  }

  async function mark(status) {
    if (!selected) return;
    const id = selected.record.record_id;
    const note = ($('rd-note-input') || {}).value || '';
    document.querySelectorAll('.btn-mark').forEach((b) => { b.disabled = true; });
    try {
      const r = await K.api('/api/dash/road-damage/' + encodeURIComponent(id) + '/mark', { method: 'POST', body: { status, note: note || undefined } });
      selected.record = r.record;
      records = records.map((x) => (x.record_id === id ? r.record : x));
      message = { key: 'rd.marked', tone: 'ok', vars: { status: tv('status', status) } };
    } catch (e) {
      message = { key: 'rd.mark_failed', tone: 'bad', vars: { error: e.message } };
    }
    render();
    const m = $('rd-mark-msg');
    if (m) m.focus();
  }

  function detail() {
    const sec = $('rd-detail');
    if (!selected) { sec.hidden = true; return; }
    sec.hidden = false;
    const r = selected.record;
    fill('rd-detail-title', t('rd.detail_title', { id: shortId(r.record_id) }));
    const img = r.snapshot
      ? h('img', { class: 'snapshot', src: r.snapshot, alt: t('rd.snapshot_alt', { cls: tv('class', r.class) }), width: 640, height: 360 })
      : h('div', { class: 'noimg' }, t('rd.no_snapshot'));
    const pos = r.position ? fmtNum(r.position.lat, 6) + ', ' + fmtNum(r.position.lon, 6) + (r.position.uncertainty_m !== undefined ? ' (±' + fmtNum(r.position.uncertainty_m, 1) + ' m)' : '') : t('rd.no_position');
    const kv = h('dl', { class: 'kv' },
      [['rd.record', r.record_id], ['rd.class', tv('class', r.class) + ' (' + (r.class || '?') + ')'], ['rd.severity', severityText(r)],
        ['rd.triage', tv('triage', r.triage || 'none')], ['rd.status', tv('status', r.status || 'open')], ['rd.confidence', fmtNum(r.confidence, 2)],
        ['rd.observations', fmtNum(r.observations, 0)], ['rd.first_seen', fmtTime(r.first_seen)], ['rd.last_seen', fmtTime(r.last_seen)],
        ['rd.position', pos]].map(([k, v]) => [h('dt', null, t(k)), h('dd', null, v)]));
    const hist = selected.history || [];
    const histTable = hist.length ? table(
      [{ label: t('common.time') }, { label: t('rd.severity') }, { label: t('rd.confidence'), num: true }, { label: t('rd.observations'), num: true }, { label: t('rd.status') }],
      hist.slice().reverse().map((e) => ({ cells: [fmtTime(e.observed_at), severityText(e.data || {}), fmtNum((e.data || {}).confidence, 2), fmtNum((e.data || {}).observations, 0), tv('status', (e.data || {}).status || 'open')] })))
      : empty('rd.no_history');
    const marks = (r.marks || []).slice().reverse();
    const marksList = marks.length ? h('ul', null, marks.map((m) => h('li', null, fmtTime(m.at) + ' — ' + tv('status', m.status) + ' — ' + m.user + (m.note ? ': ' + m.note : ''))))
      : empty('rd.no_marks');
    const msg = message ? h('p', { id: 'rd-mark-msg', class: 'status-msg ' + (message.tone === 'bad' ? 'error' : 'note'), role: 'status', tabindex: -1 }, t(message.key, message.vars)) : null;
    fill('rd-detail-body', h('div', { class: 'detail' },
      h('div', null, img, h('p', { class: 'muted' }, t('rd.redacted'))),
      h('div', null, kv,
        h('h3', null, t('rd.mark_title')),
        h('label', { for: 'rd-note-input' }, t('rd.note')),
        h('textarea', { id: 'rd-note-input', maxlength: 500, rows: 2 }),
        h('div', { class: 'marks', role: 'group', 'aria-label': t('rd.mark_title') },
          ['verified', 'false_positive', 'repaired'].map((st) => h('button', { type: 'button', class: 'btn btn-mark', 'data-status': st, onclick: () => mark(st) }, t('rd.mark_' + st)))),
        msg,
        h('h3', null, t('rd.marks')), marksList,
        h('h3', null, t('rd.history')), histTable)));
  }

  function severityOptions() {
    const sel = $('f-severity');
    const cur = sel.value;
    const bins = [...new Set(records.map(bin).filter(Boolean))].sort();
    sel.replaceChildren(h('option', { value: '' }, t('common.all')), bins.map((b) => h('option', { value: b }, tv('bin', b))));
    sel.value = bins.includes(cur) ? cur : '';
  }

  function render() {
    $('rd-note').hidden = records.length > 0;
    severityOptions();
    const rows = filtered();
    fill('rd-count', t('rd.count', { n: rows.length, total: records.length }));
    fill('rd-list', list(rows));
    fill('rd-map', map(rows));
    fill('rd-legend', rows.some((r) => r.position) ? legendItems() : null);
    detail();
  }

  document.addEventListener('DOMContentLoaded', () => {
    ['f-severity', 'f-triage', 'f-status', 'f-class', 'f-since', 'f-sort'].forEach((id) => $(id).addEventListener('change', render));
    $('rd-filters').addEventListener('submit', (e) => e.preventDefault());
  });

  K.page({
    async load() {
      records = (await K.api('/api/dash/road-damage')).records || [];
      const want = decodeURIComponent(location.hash.slice(1));
      if (want && !selected && records.some((r) => r.record_id === want)) selected = await K.api('/api/dash/road-damage/' + encodeURIComponent(want));
    },
    render,
    live(m) {
      if (m.type !== 'damage' || !m.data || !m.data.record_id) return;
      const i = records.findIndex((r) => r.record_id === m.data.record_id);
      if (i >= 0) records[i] = m.data; else records.push(m.data);
      if (selected && selected.record.record_id === m.data.record_id) {
        // Keep a half-typed note: only the parts around it change.
        const note = ($('rd-note-input') || {}).value;
        selected.record = m.data;
        render();
        if (note && $('rd-note-input')) $('rd-note-input').value = note;
      } else render();
    },
  });
})();
