// Drives the explorer in headless Chromium as a person would and prints what it saw as JSON.
// Usage: node explorer.mjs '{"url", "out", "search", "pong", "ping", "start", "spawned", "expect_total_at_least"}'
// stdout: `READY_FOR_LIVE` once the pong page is open (then one line on stdin starts the live
// check), and a last line {"ok": true, …} or {"ok": false, "error", "step"} (exit 1).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const WAIT = 20_000;
const config = JSON.parse(process.argv[2] ?? '{}');
const { url, out, search, pong, ping, start, spawned } = config;
const minTotal = config.expect_total_at_least ?? 1;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

let step = 0;
let browser;
let page;

function fail(message) {
  throw new Error(message);
}

async function shot(name) {
  await page.screenshot({ path: join(out, name), fullPage: true, timeout: WAIT });
}

// Resolves with the next stdin line; the harness sends it once the page is watching.
function stdinLine(timeoutMs) {
  const lines = createInterface({ input: process.stdin });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no line on stdin')), timeoutMs);
    lines.once('line', (line) => {
      clearTimeout(timer);
      // Settle first: close() emits 'close' at once.
      resolve(line);
      lines.close();
    });
    lines.once('close', () => {
      clearTimeout(timer);
      reject(new Error('stdin closed before the go line'));
    });
  });
}

async function text(selector) {
  return (await page.locator(selector).first().textContent({ timeout: WAIT }))?.trim() ?? '';
}

async function main() {
  for (const [key, value] of Object.entries({ url, out, search, pong, ping, start, spawned })) {
    if (!value) fail(`the config has no ${key}`);
  }
  mkdirSync(out, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
    headless: true,
  });
  // A new context is a fresh profile: no cache, no cookies, no service workers.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  let blocked = 0;
  // Nothing leaves this machine: the page must work from loopback alone.
  await context.route('**/*', (route) => {
    const target = new URL(route.request().url());
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(target.protocol) || LOOPBACK.has(target.hostname)) {
      return route.continue();
    }
    blocked++;
    return route.abort('blockedbyclient');
  });
  page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  // 1. The list: measured in the page, from navigation start to rows and a full count.
  step = 1;
  await page.goto(url, { waitUntil: 'commit', timeout: WAIT });
  const loaded = await page.waitForFunction((min) => {
    const count = document.querySelector('#process-count');
    const ready = document.querySelector('#processes tr[data-process]') && count && Number(count.dataset.total) >= min;
    return ready ? performance.now() : false;
  }, minTotal, { timeout: WAIT, polling: 10 });
  const loadMs = Math.round(await loaded.jsonValue());
  await shot('01-list.png');

  // 2. Search, then open pong.
  step = 2;
  await page.fill('#search', search);
  await page.waitForFunction(({ q, pid }) => {
    const rows = [...document.querySelectorAll('#processes tr[data-process]')];
    const total = Number(document.querySelector('#process-count')?.dataset.total);
    const lower = q.toLowerCase();
    return rows.some((r) => r.dataset.process === pid)
      && rows.every((r) => (r.dataset.name || '').toLowerCase().includes(lower) || r.dataset.process.startsWith(q))
      && (total > rows.length || total === rows.length);
  }, { q: search, pid: pong }, { timeout: WAIT, polling: 50 });
  await page.click(`#processes tr[data-process="${pong}"] a.process-link`);
  await page.waitForFunction((pid) => document.querySelector('#process-id')?.textContent.trim() === pid, pong, { timeout: WAIT });
  // The Ping that ping pushed for the user's Start: on the newest page, or an older one.
  const pingRow = page.locator(`#messages tr[data-message][data-action="Ping"][data-from="${ping}"][data-pushed-for="${start}"]`).first();
  for (let older = 0; ; older++) {
    // A page's rows arrive together.
    await page.locator('#messages tr[data-message]').first().waitFor({ timeout: WAIT });
    if (await pingRow.count()) break;
    if (older === 10 || !(await page.locator('#messages-older').count())) fail(`no Ping from ping for ${start} in pong's log`);
    const first = await page.getAttribute('#messages tr[data-message]', 'data-nonce');
    await page.click('#messages-older');
    await page.waitForFunction((nonce) => {
      const row = document.querySelector('#messages tr[data-message]');
      return row && row.dataset.nonce !== nonce;
    }, first, { timeout: WAIT });
  }
  await shot('02-process.png');

  // 3. The Ping message: tags, gas, the reply in its outbox.
  step = 3;
  const pingId = await pingRow.getAttribute('data-message');
  await pingRow.locator('a.message-link').click();
  await page.waitForFunction((id) => document.querySelector('#message-id')?.textContent.trim() === id, pingId, { timeout: WAIT });
  const sender = await text('#message-tags tr[data-tag="From-Process"] td');
  if (sender !== ping) fail(`From-Process of ${pingId} shows ${JSON.stringify(sender)}, not ping ${ping}`);
  await page.waitForFunction(() => /^\d+$/.test(document.querySelector('#gas')?.textContent.trim() ?? ''), null, { timeout: WAIT });
  const gas = Number(await text('#gas'));
  await page.locator(`#result-messages li[data-target="${ping}"]`).first().waitFor({ timeout: WAIT });
  await shot('03-message.png');

  // 4. The graph: the user's Start on the left; the reply to ping on the right, opened by a click.
  step = 4;
  await page.locator(`svg#graph g.node[data-role="parent"][data-message="${start}"]`).waitFor({ timeout: WAIT });
  const childNode = page.locator(`svg#graph g.node[data-role="child"][data-process="${ping}"]`).first();
  await childNode.waitFor({ timeout: WAIT });
  const child = await childNode.getAttribute('data-message');
  await childNode.click();
  await page.waitForFunction(({ id, pid }) => document.querySelector('#message-id')?.textContent.trim() === id
    && document.querySelector('#message-process')?.textContent.trim() === pid
    && document.querySelector('#message-tags tr[data-tag="Action"] td'), { id: child, pid: ping }, { timeout: WAIT });
  const childAction = await text('#message-tags tr[data-tag="Action"] td');
  if (childAction !== 'Pong') fail(`the child ${child} has Action ${JSON.stringify(childAction)}, not Pong`);
  await shot('04-graph-child.png');

  // 4b. The user's Start caused two things: the Ping to pong and a spawned process, whose node
  // opens the process's own first message.
  await page.evaluate(({ pid, id }) => {
    location.hash = `#/message/${pid}/${id}`;
  }, { pid: ping, id: start });
  await page.locator(`svg#graph g.node[data-role="child"][data-process="${pong}"][data-message="${pingId}"]`).waitFor({ timeout: WAIT });
  const spawnNode = page.locator(`svg#graph g.node[data-role="child"][data-process="${spawned}"][data-message="${spawned}"]`);
  await spawnNode.waitFor({ timeout: WAIT });
  await shot('04b-start-graph.png');
  await spawnNode.click();
  await page.waitForFunction((id) => document.querySelector('#message-id')?.textContent.trim() === id
    && document.querySelector('#message-tags tr[data-tag="Type"] td')?.textContent.trim() === 'Process', spawned, { timeout: WAIT });
  const spawnedFrom = await text('#message-tags tr[data-tag="From-Process"] td');
  if (spawnedFrom !== ping) fail(`the spawned process ${spawned} shows From-Process ${JSON.stringify(spawnedFrom)}`);

  // 5. Live: a new message shows on pong's page without a reload.
  step = 5;
  await page.evaluate((pid) => {
    location.hash = `#/process/${pid}`;
  }, pong);
  await page.waitForFunction((pid) => document.querySelector('#process-id')?.textContent.trim() === pid
    && document.querySelector('#messages tr[data-message]'), pong, { timeout: WAIT });
  const known = await page.$$eval('#messages tr[data-message]', (rows) => rows.map((r) => r.dataset.message));
  // Survives only if the document is not reloaded.
  await page.evaluate(() => {
    window.explorerNotReloaded = true;
  });
  process.stdout.write('READY_FOR_LIVE\n');
  await stdinLine(120_000);
  const goAt = Date.now();
  const fresh = await page.waitForFunction((ids) => {
    const row = [...document.querySelectorAll('#messages tr[data-message]')].find((r) => !ids.includes(r.dataset.message));
    return row ? { id: row.dataset.message, action: row.dataset.action } : false;
  }, known, { timeout: WAIT, polling: 20 });
  const liveMs = Date.now() - goAt;
  const newRow = await fresh.jsonValue();
  if (!(await page.evaluate(() => window.explorerNotReloaded === true))) fail('the page reloaded to show the new message');
  await shot('05-live.png');

  // 6. The status panel, once it has had two polls to compute a rate.
  step = 6;
  await page.waitForFunction(() => ['#stat-rate', '#stat-processes', '#stat-queue']
    .every((s) => !['', '…'].includes(document.querySelector(s)?.textContent.trim())), null, { timeout: WAIT }).catch(() => {});
  const stats = {
    rate: await text('#stat-rate'),
    processes: await text('#stat-processes'),
    queue: await text('#stat-queue'),
  };

  console.log(JSON.stringify({
    ok: true,
    load_ms: loadMs,
    live_ms: liveMs,
    ping_message: pingId,
    gas,
    child,
    child_action: childAction,
    live_message: newRow,
    blocked_requests: blocked,
    stats,
    console_errors: consoleErrors,
  }));
}

try {
  await main();
  await browser.close();
  process.exit(0);
} catch (e) {
  if (page) await page.screenshot({ path: join(out, 'fail.png'), fullPage: true, timeout: 5000 }).catch(() => {});
  console.log(JSON.stringify({ ok: false, error: e?.message ?? String(e), step }));
  await browser?.close().catch(() => {});
  process.exit(1);
}
