// Crew dashboard in a real headless browser (Debian's chromium driven by playwright-core).
//
// Environment:
//   BASE_URL              the daemon's HTTP address, e.g. http://127.0.0.1:8080 (required)
//   DASH_USER, DASH_PASSWORD               a crew user (required)
//   DASH_ADMIN_USER, DASH_ADMIN_PASSWORD   an admin user (required)
//   SCREENSHOT_DIR        where PNG screenshots go (default ./screenshots)
//   CHROMIUM              browser binary (default /usr/bin/chromium)
//   RATE_LIMIT_MAX        failed logins allowed per address/name (default 5)
//   EXPECT_CAMERA         a camera id the overview must list (optional)
//   REQUIRE_DATA          pages that must show data rather than their empty state, comma-separated
//                         (overview,road-damage,intersections,crowding,system,calibration)
//   REQUIRE_MARK=1        fail when no road-damage record exists to mark (default: skip that part)
//   MARK_RESULT_FILE      the marked record is written here as JSON {record_id, status, user}
//   MARK_CHECK_CMD        shell command run after the mark with RECORD_ID set; must exit 0
//                         (the MQTT side is otherwise checked by the Rust test that reads MARK_RESULT_FILE)
// The variables are not USER/PASSWORD because the shell already sets USER.
// Prints "N passed, M failed, K skipped" and exits non-zero when anything failed.

import { chromium } from 'playwright-core';
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const BASE = env('BASE_URL', '').replace(/\/$/, '');
const CREW = { user: env('DASH_USER'), password: env('DASH_PASSWORD') };
const ADMIN = { user: env('DASH_ADMIN_USER'), password: env('DASH_ADMIN_PASSWORD') };
const SHOTS = path.resolve(env('SCREENSHOT_DIR', 'screenshots'));
const RATE_MAX = Number(env('RATE_LIMIT_MAX', '5'));
const REQUIRE = new Set(env('REQUIRE_DATA', '').split(',').map((s) => s.trim()).filter(Boolean));
const PAGE_BUDGET = 500 * 1024;

if (!BASE || !CREW.user || !CREW.password || !ADMIN.user || !ADMIN.password) {
  console.error('set BASE_URL, DASH_USER, DASH_PASSWORD, DASH_ADMIN_USER, DASH_ADMIN_PASSWORD');
  process.exit(2);
}
fs.mkdirSync(SHOTS, { recursive: true });

let passed = 0, failed = 0, skipped = 0;
class Skip extends Error {}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok    ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    if (e instanceof Skip) { skipped++; console.log(`skip  ${name}: ${e.message}`); return; }
    failed++;
    console.log(`FAIL  ${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join('\n      ') : e}`);
  }
}

const browser = await chromium.launch({
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

// Every page of every context: console errors, page errors and CSP violations fail the page test.
const problems = [];
async function newContext(locale) {
  const ctx = await browser.newContext({ locale, viewport: { width: 1280, height: 900 } });
  ctx.on('page', watch);
  return ctx;
}
function watch(page) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[13]|status of 429/.test(m.text())) problems.push(`${page.url()}: console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
}
function takeProblems() { return problems.splice(0, problems.length); }

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}
async function ready(page) {
  await page.waitForFunction(() => document.body && document.body.dataset.ready === 'yes', null, { timeout: 15000 });
}
async function login(ctx, who) {
  const page = await ctx.newPage();
  await page.goto(BASE + '/login');
  await page.getByLabel(/User name|ユーザー名/).fill(who.user);
  await page.getByLabel(/Password|パスワード/).fill(who.password);
  await Promise.all([page.waitForURL(/\/dashboard\/overview$/), page.locator('#login-form button[type=submit]').click()]);
  await ready(page);
  return page;
}
async function apiStatus(ctx, p) {
  const r = await ctx.request.get(BASE + p, { maxRedirects: 0 });
  return r.status();
}
// Bytes a page load transfers (HTML, scripts, styles, translations, images; not the SSE stream).
function weigh(page) {
  let total = 0;
  const on = async (resp) => {
    if (resp.url().includes('/api/dash/events')) return;
    try { total += (await resp.body()).length; } catch (_) { /* redirects have no body */ }
  };
  page.on('response', on);
  return () => { page.off('response', on); return total; };
}
// Shows data or its explained empty state; REQUIRE_DATA makes the empty state a failure.
async function dataOrEmpty(page, slug, dataSel, emptySel) {
  const hasData = await page.locator(dataSel).count() > 0;
  if (REQUIRE.has(slug)) assert(hasData, `${slug}: expected data (${dataSel}), page shows its empty state`);
  if (!hasData) assert(await page.locator(emptySel).count() > 0, `${slug}: neither data (${dataSel}) nor an empty state (${emptySel})`);
  return hasData;
}

const anon = await newContext('en-US');
const crewCtx = await newContext('en-US');
const adminCtx = await newContext('en-US');
let crew, admin;

await test('unauthenticated requests are refused', async () => {
  const r = await anon.request.get(BASE + '/api/dash/overview');
  assert(r.status() === 401, `API without session: ${r.status()}`);
  assert((await r.json()).error === 'unauthenticated', '401 body is JSON with error');
  for (const p of ['/dashboard/overview', '/dashboard/system', '/']) {
    const s = await apiStatus(anon, p);
    assert(s === 303, `${p} without session: ${s} (expected 303 to /login)`);
  }
  const m = await anon.request.post(BASE + '/api/dash/road-damage/x/mark', { data: { status: 'repaired' } });
  assert(m.status() === 401, `mark without session: ${m.status()}`);
  const h = (await anon.request.get(BASE + '/login')).headers();
  assert(/default-src 'self'/.test(h['content-security-policy'] || ''), 'CSP header');
  assert(h['x-frame-options'] === 'DENY' && h['referrer-policy'] === 'no-referrer' && h['x-content-type-options'] === 'nosniff', 'security headers');
});

await test('login page follows the browser language (ja) and is labelled', async () => {
  const ja = await newContext('ja-JP');
  const page = await ja.newPage();
  await page.goto(BASE + '/login');
  await ready(page);
  assert((await page.locator('h1').textContent()).trim() === 'ログイン', 'Japanese heading');
  assert(await page.evaluate(() => document.documentElement.lang) === 'ja', 'html lang=ja');
  await page.getByLabel('ユーザー名').waitFor();
  await page.getByLabel('パスワード').waitFor();
  await shot(page, '01-login-ja');
  await ja.close();
});

await test('wrong password is refused with a message', async () => {
  const page = await anon.newPage();
  await page.goto(BASE + '/login');
  await ready(page);
  await shot(page, '02-login-en');
  await page.getByLabel('User name').fill(CREW.user);
  await page.getByLabel('Password').fill(CREW.password + '-wrong');
  const [resp] = await Promise.all([page.waitForNavigation(), page.locator('#login-form button[type=submit]').click()]);
  assert(resp.status() === 401, `status ${resp.status()}`);
  await ready(page);
  const msg = await page.locator('#login-error').textContent();
  assert(/Wrong user name or password/.test(msg), `message: ${msg}`);
  assert(await apiStatus(anon, '/api/dash/me') === 401, 'no session after a failed login');
  await shot(page, '03-login-wrong-password');
  await page.close();
});

await test('crew and admin log in', async () => {
  crew = await login(crewCtx, CREW);
  admin = await login(adminCtx, ADMIN);
  const cookies = await crewCtx.cookies();
  const c = cookies.find((x) => x.name === 'kaiteki_session');
  assert(c && c.httpOnly && c.sameSite === 'Strict', `session cookie flags: ${JSON.stringify(c)}`);
  const me = await (await crewCtx.request.get(BASE + '/api/dash/me')).json();
  assert(me.user === CREW.user && me.role === 'crew', JSON.stringify(me));
});

await test('POST without the CSRF token is refused', async () => {
  const r = await crewCtx.request.post(BASE + '/api/dash/road-damage/any/mark', { data: { status: 'repaired' } });
  assert(r.status() === 403 && (await r.json()).error === 'csrf', `status ${r.status()}`);
  const lo = await crewCtx.request.post(BASE + '/logout');
  assert(lo.status() === 403, `logout without token: ${lo.status()}`);
});

await test('overview shows cameras, status and live updates', async () => {
  const page = crew;
  const done = weigh(page);
  await page.goto(BASE + '/dashboard/overview');
  await ready(page);
  await page.waitForSelector('#live[data-state="live"]', { timeout: 10000 });
  const rows = page.locator('#cameras tbody tr');
  if (await dataOrEmpty(page, 'overview', '#cameras tbody tr', '#cameras .empty')) {
    const exp = process.env.EXPECT_CAMERA;
    if (exp) assert(await page.locator(`#cameras tr[data-camera="${exp}"]`).count() === 1, `camera ${exp} not listed`);
    assert(await rows.count() >= 1, 'camera rows');
  }
  assert(await page.locator('#status-cards .card').count() >= 4, 'status cards');
  const bytes = done();
  assert(bytes > 0 && bytes < PAGE_BUDGET, `page weight ${bytes} B`);
  console.log(`      overview page load: ${(bytes / 1024).toFixed(1)} KiB`);
  await shot(page, '10-overview');
});

await test('intersections page renders', async () => {
  await crew.goto(BASE + '/dashboard/intersections');
  await ready(crew);
  await dataOrEmpty(crew, 'intersections', '#ix-list tbody tr', '#ix-list .empty');
  if (await crew.locator('#ix-list tbody tr').count()) {
    assert(await crew.locator('#ix-plot svg .pt').count() > 0, 'conflict points plotted');
    assert(await crew.locator('#ix-trend svg rect').count() > 0, 'hourly trend bars');
  } else {
    assert(await crew.locator('#ix-note').isVisible(), 'empty-state note shown');
  }
  await shot(crew, '12-intersections');
});

await test('crowding page renders', async () => {
  await crew.goto(BASE + '/dashboard/crowding');
  await ready(crew);
  await dataOrEmpty(crew, 'crowding', '#cr-now .zone', '#cr-now .empty');
  if (await crew.locator('#cr-now .zone').count()) assert(await crew.locator('#cr-trend svg path').count() > 0 || await crew.locator('#cr-trend .empty').count() > 0, 'trend');
  await shot(crew, '13-crowding');
});

await test('system page: logs and privacy manifest; config check for admins only', async () => {
  await crew.goto(BASE + '/dashboard/system');
  await ready(crew);
  const logs = (await crew.locator('#sys-logs').textContent()).trim();
  if (REQUIRE.has('system')) assert(logs && !/^No log lines/.test(logs), 'log lines expected');
  assert(/Only admins/.test(await crew.locator('#sys-check').textContent()), 'crew sees no config check');
  await shot(crew, '14-system-crew');
  await admin.goto(BASE + '/dashboard/system');
  await ready(admin);
  assert(!/Only admins/.test(await admin.locator('#sys-check').textContent()), 'admin sees the config check');
  if (REQUIRE.has('system')) assert(await admin.locator('#sys-privacy dl').count() > 0, 'privacy manifest expected');
  await shot(admin, '15-system-admin');
});

await test('calibration view is admin-only', async () => {
  const r = await crewCtx.request.get(BASE + '/dashboard/calibration');
  assert(r.status() === 403, `crew page status ${r.status()}`);
  assert(await apiStatus(crewCtx, '/api/dash/calibration') === 403, 'crew API 403');
  assert(!(await crew.locator('nav a[href="/dashboard/calibration"]').count()), 'no calibration link for crew');
  await admin.goto(BASE + '/dashboard/calibration');
  await ready(admin);
  await dataOrEmpty(admin, 'calibration', '#cal-stills img', '#cal-stills .empty');
  const imgs = admin.locator('#cal-stills img');
  for (let i = 0; i < await imgs.count(); i++) {
    assert(await imgs.nth(i).evaluate((el) => el.complete && el.naturalWidth > 0), 'still image loads');
  }
  await shot(admin, '16-calibration-admin');
});

let marked = null;
await test('road damage: list, filters, map, detail, repaired mark round trip', async () => {
  const page = crew;
  await page.goto(BASE + '/dashboard/road-damage');
  await ready(page);
  const rows = page.locator('#rd-list tbody tr');
  const n = await rows.count();
  if (!n) {
    assert(await page.locator('#rd-note').isVisible(), 'empty-state note shown');
    await shot(page, '11-road-damage-empty');
    if (env('REQUIRE_MARK', '0') === '1' || REQUIRE.has('road-damage')) throw new Error('no road-damage records to mark');
    throw new Skip('no road-damage records in this run (empty state checked)');
  }
  assert(await page.locator('#rd-map svg').count() === 1, 'local map drawn');
  // Sort by date (oldest first) and check the order.
  await page.selectOption('#f-sort', 'date_asc');
  // Filter by a triage that exists, then clear.
  await page.selectOption('#f-triage', 'repair_needed');
  const filtered = await rows.count();
  assert(filtered <= n, 'filter narrows');
  await page.selectOption('#f-triage', '');
  await page.selectOption('#f-sort', 'severity');
  await shot(page, '11-road-damage');
  // Prefer an open record; open its detail.
  const target = page.locator('#rd-list tbody tr', { hasText: 'Open' }).first();
  const row = (await target.count()) ? target : rows.first();
  const id = await row.getAttribute('data-record');
  await row.locator('button').click();
  await page.waitForSelector('#rd-detail:not([hidden])');
  await page.fill('#rd-note-input', 'filled with cold asphalt (e2e)');
  await page.click('#rd-detail button[data-status="repaired"]');
  await page.waitForSelector('#rd-mark-msg');
  const msg = await page.locator('#rd-mark-msg').textContent();
  assert(/Marked as Repaired/.test(msg), `mark message: ${msg}`);
  await shot(page, '11b-road-damage-detail-marked');
  // Stored: a reload shows it.
  await page.reload();
  await ready(page);
  const status = await page.locator(`#rd-list tr[data-record="${id}"] td:nth-child(5)`).textContent();
  assert(/Repaired/.test(status), `status after reload: ${status}`);
  marked = { record_id: id, status: 'repaired', user: CREW.user };
  if (process.env.MARK_RESULT_FILE) fs.writeFileSync(process.env.MARK_RESULT_FILE, JSON.stringify(marked));
  if (process.env.MARK_CHECK_CMD) execSync(process.env.MARK_CHECK_CMD, { env: { ...process.env, RECORD_ID: id }, stdio: 'inherit', timeout: 30000 });
});

await test('language switch to Japanese and back', async () => {
  const page = crew;
  await page.goto(BASE + '/dashboard/overview');
  await ready(page);
  await page.selectOption('#lang-select', 'ja');
  await page.waitForFunction(() => document.documentElement.lang === 'ja');
  assert((await page.locator('h1').textContent()).trim() === '概要', 'Japanese heading');
  assert(/交差点/.test(await page.locator('nav').textContent()), 'Japanese navigation');
  await page.reload();
  await ready(page);
  assert(await page.evaluate(() => document.documentElement.lang) === 'ja', 'choice kept after reload');
  await shot(page, '20-overview-ja');
  await page.goto(BASE + '/dashboard/road-damage');
  await ready(page);
  await shot(page, '21-road-damage-ja');
  await page.goto(BASE + '/dashboard/crowding');
  await ready(page);
  await shot(page, '22-crowding-ja');
  await page.selectOption('#lang-select', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert((await page.locator('h1').textContent()).trim() === 'Crowding', 'back to English');
});

await test('keyboard navigation: skip link, nav links, focus visible', async () => {
  const page = crew;
  await page.goto(BASE + '/dashboard/overview');
  await ready(page);
  await page.keyboard.press('Tab');
  assert(await page.evaluate(() => document.activeElement.classList.contains('skip')), 'first Tab reaches the skip link');
  let found = false;
  for (let i = 0; i < 10 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement.getAttribute('href') === '/dashboard/intersections');
  }
  assert(found, 'nav links are reachable by Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert(outline !== 'none', 'focused link shows an outline');
  await Promise.all([page.waitForURL(/intersections$/), page.keyboard.press('Enter')]);
  await ready(page);
});

await test('basic accessibility: labels, alt text, contrast', async () => {
  for (const [ctxPage, slug] of [[crew, 'overview'], [crew, 'road-damage'], [crew, 'intersections'], [crew, 'crowding'], [admin, 'system'], [admin, 'calibration']]) {
    await ctxPage.goto(BASE + '/dashboard/' + slug);
    await ready(ctxPage);
    const issues = await ctxPage.evaluate(() => {
      const out = [];
      for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
        const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest('label') || el.getAttribute('aria-label');
        if (!labelled) out.push('unlabelled ' + el.tagName + '#' + el.id);
      }
      for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) out.push('img without alt ' + img.src);
      for (const b of document.querySelectorAll('button, a')) if (!b.textContent.trim() && !b.getAttribute('aria-label')) out.push('empty control ' + b.outerHTML.slice(0, 60));
      // Contrast (WCAG 2): text colour against the first opaque background up the tree.
      const lum = (c) => {
        const m = c.match(/rgba?\(([^)]+)\)/);
        if (!m) return null;
        const [r, g, b, a] = m[1].split(',').map(Number);
        if (a === 0) return null;
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const bg = (el) => { for (let e = el; e; e = e.parentElement) { const l = lum(getComputedStyle(e).backgroundColor); if (l !== null) return l; } return 1; };
      for (const el of document.querySelectorAll('h1, h2, p, td, th, a, button, label, .badge, .muted, .sub, .label, dt, dd, li')) {
        if (!el.textContent.trim() || el.closest('[hidden]') || !el.getClientRects().length) continue;
        const fg = lum(getComputedStyle(el).color);
        if (fg === null) continue;
        const b = bg(el);
        const ratio = (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05);
        if (ratio < 4.5) out.push(`contrast ${ratio.toFixed(2)} for ${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}"`);
      }
      return out;
    });
    assert(!issues.length, `${slug}: ${issues.slice(0, 5).join('; ')}`);
  }
});

await test('no script errors or CSP violations on any page', async () => {
  const p = takeProblems();
  assert(!p.length, p.slice(0, 5).join('\n'));
});

await test('logout ends the session', async () => {
  await crew.goto(BASE + '/dashboard/overview');
  await ready(crew);
  await Promise.all([crew.waitForURL(/\/login$/), crew.click('#logout')]);
  assert(await apiStatus(crewCtx, '/api/dash/me') === 401, 'session gone after logout');
});

// Last: it locks this address out of logging in for the window.
await test('login rate limit answers 429 with Retry-After', async () => {
  const page = await anon.newPage();
  let got = null;
  for (let i = 1; i <= RATE_MAX + 2 && !got; i++) {
    await page.goto(BASE + '/login');
    await page.getByLabel('User name').fill(ADMIN.user);
    await page.getByLabel('Password').fill('not-the-password-' + i);
    const [resp] = await Promise.all([page.waitForNavigation(), page.locator('#login-form button[type=submit]').click()]);
    if (resp.status() === 429) got = { i, resp };
    else assert(resp.status() === 401, `attempt ${i}: ${resp.status()}`);
  }
  assert(got, `no 429 after ${RATE_MAX + 2} failures`);
  assert(got.i <= RATE_MAX + 1, `429 only at attempt ${got.i}`);
  const ra = Number(got.resp.headers()['retry-after']);
  assert(ra > 0, `Retry-After: ${ra}`);
  await ready(page);
  assert(/Too many failed attempts/.test(await page.locator('#login-error').textContent()), 'rate-limit message');
  await shot(page, '30-login-rate-limited');
  // Even the right password is refused while locked.
  await page.goto(BASE + '/login');
  await page.getByLabel('User name').fill(ADMIN.user);
  await page.getByLabel('Password').fill(ADMIN.password);
  const [resp] = await Promise.all([page.waitForNavigation(), page.locator('#login-form button[type=submit]').click()]);
  assert(resp.status() === 429, `correct password while locked: ${resp.status()}`);
});

await browser.close();
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped; screenshots in ${SHOTS}`);
if (marked) console.log('MARKED ' + JSON.stringify(marked));
process.exit(failed ? 1 : 0);
