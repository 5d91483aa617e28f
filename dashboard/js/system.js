// System: recent logs (live), the config check (admins), the privacy manifest.
'use strict';
(() => {
  const { t, h, fill, empty } = K;
  let sys = null;
  const $ = (id) => document.getElementById(id);

  function check() {
    const c = sys.check || {};
    if (c.admin_only) return empty('sys.admin_only');
    if (!c.available) return empty('sys.check_unavailable');
    if (!c.problems.length) return h('p', { class: 'note' }, t('sys.check_ok'));
    return [h('p', null, t('sys.check_problems', { n: c.problems.length })), h('ul', { class: 'problems' }, c.problems.map((p) => h('li', null, p)))];
  }

  // The manifest is free-form JSON: nested objects become definition lists, arrays become lists.
  function tree(v) {
    if (Array.isArray(v)) return v.length ? h('ul', null, v.map((x) => h('li', null, tree(x)))) : '—';
    if (v && typeof v === 'object') {
      return h('dl', { class: 'kv' }, Object.entries(v).map(([k, x]) => [h('dt', null, t('privacy.' + k) === 'privacy.' + k ? k.replace(/_/g, ' ') : t('privacy.' + k)), h('dd', null, tree(x))]));
    }
    if (v === null || v === undefined) return '—';
    return String(v);
  }

  function logs() {
    const q = $('log-filter').value.trim().toLowerCase();
    const lines = (sys.logs || []).filter((l) => !q || l.toLowerCase().includes(q));
    fill('log-count', t('sys.log_count', { n: lines.length, total: (sys.logs || []).length }));
    const pre = $('sys-logs');
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.textContent = lines.length ? lines.join('\n') : t('sys.no_logs');
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  function render() {
    fill('sys-check', check());
    fill('sys-privacy', sys.privacy ? tree(sys.privacy) : empty('sys.no_privacy'));
    logs();
  }

  document.addEventListener('DOMContentLoaded', () => $('log-filter').addEventListener('input', () => sys && logs()));

  K.page({
    async load() { sys = await K.api('/api/dash/system'); },
    render,
    live(m) {
      if (m.type === 'log' && sys) {
        sys.logs.push(String(m.data));
        if (sys.logs.length > 500) sys.logs.shift();
        logs();
      }
    },
  });
})();
