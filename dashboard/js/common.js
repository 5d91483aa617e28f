// Shared by every page: translations, DOM building (text only, never innerHTML), the JSON API with
// the CSRF token, the live event stream, formatting. Pages register with K.page({...}).
'use strict';

const K = (() => {
  const LANGS = ['en', 'ja'];
  let dict = {};
  let lang = 'en';
  let pageDef = null;
  const liveHandlers = [];

  function storedLang() {
    try { return localStorage.getItem('kaiteki.lang'); } catch (_) { return null; }
  }
  function pickLang() {
    const s = storedLang();
    if (LANGS.includes(s)) return s;
    const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
    for (const p of prefs) {
      const base = String(p).toLowerCase().split('-')[0];
      if (LANGS.includes(base)) return base;
    }
    return 'en';
  }

  // t('key', {n: 3}) -> text with {n} replaced; unknown keys fall back to the key itself.
  function t(key, vars) {
    let s = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split('{' + k + '}').join(String(v));
    return s;
  }
  // A translation when one exists, otherwise the raw value (for enum-like data such as states).
  function tv(prefix, value) {
    const key = prefix + '.' + value;
    return Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : String(value);
  }

  function applyI18n(root) {
    root.querySelectorAll('[data-i18n]').forEach((el) => {
      el.textContent = t(el.dataset.i18n, el.dataset.n !== undefined ? { n: el.dataset.n } : undefined);
    });
    root.querySelectorAll('[data-i18n-label]').forEach((el) => el.setAttribute('aria-label', t(el.dataset.i18nLabel)));
    root.querySelectorAll('[data-i18n-title]').forEach((el) => el.setAttribute('title', t(el.dataset.i18nTitle)));
    const tk = document.body.dataset.titleKey;
    if (tk) document.title = t(tk) + ' · Kaiteki Edge';
  }

  async function setLang(l) {
    try {
      const r = await fetch('/assets/i18n/' + l + '.json', { credentials: 'same-origin' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      dict = await r.json();
      lang = l;
    } catch (e) {
      console.warn('translations unavailable', e);
    }
    document.documentElement.lang = lang;
    const sel = document.getElementById('lang-select');
    if (sel) sel.value = lang;
    applyI18n(document);
    if (pageDef && pageDef.render && pageDef.loaded) pageDef.render();
  }

  // h('td', {class: 'num', onclick: fn}, 'text', childNode, [more]) -> element.
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }
  function setAttrs(el, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = String(v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(el, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === undefined || k === null || k === false) continue;
      el.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }
  function fill(id, ...kids) {
    const el = typeof id === 'string' ? document.getElementById(id) : id;
    if (!el) return null;
    el.replaceChildren();
    append(el, kids);
    return el;
  }
  function empty(key, vars) {
    return h('p', { class: 'empty' }, t(key, vars));
  }
  function badge(text, tone) {
    return h('span', { class: 'badge ' + (tone || '') }, text);
  }
  // A table: cols [{key, label, num, sort}], rows of cells (strings or nodes).
  function table(cols, rows, opts) {
    opts = opts || {};
    const head = h('tr', null, cols.map((c) => {
      const th = h('th', { scope: 'col', class: c.num ? 'num' : null });
      if (c.sortKey && opts.onSort) {
        const st = opts.sort && opts.sort.key === c.sortKey ? (opts.sort.dir > 0 ? 'ascending' : 'descending') : null;
        if (st) th.setAttribute('aria-sort', st);
        th.appendChild(h('button', { type: 'button', class: 'sort', onclick: () => opts.onSort(c.sortKey) }, c.label));
      } else th.textContent = c.label;
      return th;
    }));
    const body = h('tbody', null, rows.map((r) => {
      const tr = h('tr', r.attrs || null);
      r.cells.forEach((cell, i) => tr.appendChild(h('td', { class: cols[i] && cols[i].num ? 'num' : null }, cell)));
      return tr;
    }));
    return h('div', { class: 'table-wrap' }, h('table', opts.caption ? { 'aria-label': opts.caption } : null, h('thead', null, head), body));
  }

  function csrf() {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : '';
  }
  // JSON API: a lapsed session goes back to the login page; other errors throw with the server's message.
  async function api(path, opts) {
    opts = opts || {};
    const init = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (opts.method && opts.method !== 'GET') {
      init.method = opts.method;
      init.headers['X-CSRF-Token'] = csrf();
      if (opts.body !== undefined) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(opts.body);
      }
    }
    const r = await fetch(path, init);
    if (r.status === 401) {
      location.assign('/login');
      throw new Error(t('error.session'));
    }
    let body = null;
    try { body = await r.json(); } catch (_) { /* empty or not JSON */ }
    if (!r.ok) throw new Error((body && body.message) || ('HTTP ' + r.status));
    return body;
  }

  // One EventSource per page; handlers get {type, data}. The indicator says whether updates are live.
  function startLive() {
    const ind = document.getElementById('live');
    const mark = (state, key) => {
      if (!ind) return;
      ind.dataset.state = state;
      ind.dataset.i18n = key;
      ind.textContent = t(key);
    };
    if (!window.EventSource) { mark('down', 'live.unsupported'); return; }
    const es = new EventSource('/api/dash/events');
    es.onopen = () => mark('live', 'live.on');
    es.onerror = () => mark('down', 'live.down');
    es.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch (_) { return; }
      if (msg.type === 'session_ended') { es.close(); location.assign('/login'); return; }
      for (const f of liveHandlers) {
        try { f(msg); } catch (e) { console.error(e); }
      }
    };
  }
  function onLive(f) { liveHandlers.push(f); }

  // Formatting.
  function toDate(v) {
    if (v === null || v === undefined || v === '') return null;
    const d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
    return isNaN(d.getTime()) ? null : d;
  }
  function fmtTime(v, withDate) {
    const d = toDate(v);
    if (!d) return '—';
    const o = withDate === false ? { hour: '2-digit', minute: '2-digit', second: '2-digit' }
      : { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' };
    return new Intl.DateTimeFormat(lang === 'ja' ? 'ja-JP' : 'en-GB', o).format(d);
  }
  function fmtNum(v, digits) {
    if (v === null || v === undefined || v === '' || isNaN(Number(v))) return '—';
    return new Intl.NumberFormat(lang === 'ja' ? 'ja-JP' : 'en-GB', { maximumFractionDigits: digits === undefined ? 1 : digits, minimumFractionDigits: 0 }).format(Number(v));
  }
  function fmtDuration(sec) {
    if (sec === null || sec === undefined || isNaN(Number(sec))) return '—';
    sec = Math.max(0, Math.floor(Number(sec)));
    const d = Math.floor(sec / 86400), hh = Math.floor((sec % 86400) / 3600), m = Math.floor((sec % 3600) / 60), ss = sec % 60;
    const parts = [];
    if (d) parts.push(t('unit.d', { n: d }));
    if (d || hh) parts.push(t('unit.h', { n: hh }));
    if (!d) parts.push(t('unit.min', { n: m }));
    if (!d && !hh) parts.push(t('unit.s', { n: ss }));
    return parts.join(' ');
  }

  // A page: {load: async () => void, render: () => void, live: (msg) => void}. Errors show in #page-error.
  function page(def) { pageDef = def; }
  function showError(e) {
    let box = document.getElementById('page-error');
    const main = document.getElementById('main');
    if (!box && main) {
      box = h('p', { id: 'page-error', class: 'error', role: 'alert' });
      main.prepend(box);
    }
    if (box) box.textContent = t('error.load') + ' ' + (e && e.message ? e.message : String(e));
  }
  function clearError() {
    const box = document.getElementById('page-error');
    if (box) box.remove();
  }
  async function reload() {
    if (!pageDef || !pageDef.load) return;
    try {
      await pageDef.load();
      pageDef.loaded = true;
      clearError();
      if (pageDef.render) pageDef.render();
    } catch (e) {
      showError(e);
    }
  }

  async function init() {
    const sel = document.getElementById('lang-select');
    if (sel) sel.addEventListener('change', () => {
      try { localStorage.setItem('kaiteki.lang', sel.value); } catch (_) { /* private mode */ }
      setLang(sel.value);
    });
    const out = document.getElementById('logout');
    if (out) out.addEventListener('click', async () => {
      out.disabled = true;
      try { await api('/logout', { method: 'POST' }); } catch (_) { /* go to login anyway */ }
      location.assign('/login');
    });
    await setLang(pickLang());
    document.body.dataset.ready = 'i18n';
    if (pageDef) {
      await reload();
      if (pageDef.live) onLive((m) => (m.type === 'resync' ? reload() : pageDef.live(m)));
      startLive();
    }
    document.body.dataset.ready = 'yes';
  }
  document.addEventListener('DOMContentLoaded', init);

  return { t, tv, h, s, fill, empty, badge, table, api, onLive, page, reload, fmtTime, fmtNum, fmtDuration, toDate, showError,
    get lang() { return lang; }, get role() { return document.body.dataset.role; } };
})();
