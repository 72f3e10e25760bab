// The aorta explorer: one page over the node's public SU, CU, MU and gateway HTTP APIs.
// No framework and no build step. Data reaches the DOM only as text nodes and attribute values,
// never as HTML, so nothing a process writes can run here.
'use strict';

const LIST_PAGE = 50;
const MESSAGE_PAGE = 50;
// A watched process keeps appending rows; past this the oldest go (the Older link follows them).
const MAX_LIVE_ROWS = 200;
const POLL_MS = 2000;
const DATA_PREVIEW = 4096;
// Results are fetched for a page of rows at a time; a few at once keeps the CU responsive.
const CU_CONCURRENCY = 4;
// How long the message page keeps looking for pushes that have not reached the gateway yet.
const GRAPH_RETRIES = 60;
const ID = /^[A-Za-z0-9_-]{43}$/;
// Tags the MU drops or rewrites when it turns an outbox entry into a pushed item (spec §4.4).
const REWRITTEN = new Set(['Data-Protocol', 'Type', 'Variant', 'From-Process', 'From-Module', 'Pushed-For', 'Assignments']);

let config = null;
// Bumped on every route change: the async work and timers of an older view see a stale value and stop.
let generation = 0;

// ---------------------------------------------------------------------------------------------
// DOM

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

// Like Element.append, but skips null and false (append would insert the text "null").
function add(el, ...children) {
  appendAll(el, children);
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

// Only touches the DOM on a change, so polling does not disturb selection or screen readers.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function errorBox(e) {
  return h('div', { class: 'error', role: 'alert' }, messageOf(e));
}

function messageOf(e) {
  return (e && e.message) || String(e);
}

// A place for the errors of a view's refreshes: shown while they fail, gone when they recover.
function errorSlot() {
  const el = h('div', { class: 'error', role: 'alert', hidden: true });
  return {
    el,
    show(e) {
      setText(el, messageOf(e));
      el.hidden = false;
    },
    clear() {
      el.hidden = true;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting

function short(id) {
  if (!id) return '—';
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id;
}

function idCode(id) {
  return id ? h('code', { class: 'id', title: id }, short(id)) : h('span', { class: 'muted' }, '—');
}

function fmt(n) {
  const x = Number(n);
  return Number.isFinite(x) ? x.toLocaleString('en-US') : '—';
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function ago(ms) {
  const sec = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (sec < 5) return 'just now';
  if (sec < 60) return `${sec} s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.floor(sec / 3600)} h ago`;
  return `${Math.floor(sec / 86400)} d ago`;
}

function validTime(ms) {
  const n = Number(ms);
  return Number.isFinite(n) && n > 0 ? n : null;
}

// Relative time, with the exact date on hover.
function when(ms) {
  const n = validTime(ms);
  if (n == null) return h('span', { class: 'muted' }, '—');
  const iso = new Date(n).toISOString();
  return h('time', { datetime: iso, title: iso }, ago(n));
}

// Exact date, relative time after it.
function whenFull(ms) {
  const n = validTime(ms);
  if (n == null) return h('span', { class: 'muted' }, '—');
  const iso = new Date(n).toISOString();
  return h('time', { datetime: iso }, `${iso} (${ago(n)})`);
}

// aos colours its output with terminal escapes.
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

function plain(text) {
  return String(text).replace(ANSI, '');
}

function excerpt(text, n) {
  const one = plain(text).replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

function asText(value) {
  if (value == null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

// `Output` is a string, or aos's `{data, prompt, print}` whose data may itself be `{output, json}`.
function outputText(out) {
  if (out == null) return '';
  if (typeof out !== 'object') return String(out);
  const data = out.data;
  if (data == null) return '';
  if (typeof data === 'string') return data;
  if (typeof data === 'object' && typeof data.output === 'string') return data.output;
  return asText(data);
}

function hasError(r) {
  return r.Error != null && r.Error !== '' && !(typeof r.Error === 'object' && Object.keys(r.Error).length === 0);
}

function tagValue(tags, name) {
  const tag = (tags || []).find((t) => t.name === name);
  return tag ? String(tag.value) : null;
}

function actionOf(tags) {
  return tagValue(tags, 'Action') || (tagValue(tags, 'Type') === 'Process' ? 'Process' : '');
}

function unique(values) {
  return [...new Set(values)];
}

function plural(n, word) {
  return `${fmt(n)} ${word}${n === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------------------------------------
// HTTP

const enc = encodeURIComponent;

function query(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') p.set(k, String(v));
  const text = p.toString();
  return text ? `?${text}` : '';
}

async function request(url, init = {}) {
  const what = `${init.method || 'GET'} ${url}`;
  let res;
  try {
    // A unit that stops answering must not hang a view's refresh loop.
    const signal = typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(30000) : undefined;
    res = await fetch(url, { ...init, signal });
  } catch (e) {
    throw new Error(`${what} failed: the unit did not answer (${messageOf(e)}).`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // Metrics and raw data are not JSON; callers that need JSON check `body`.
  }
  if (!res.ok) {
    const reason = body && body.error != null ? asText(body.error) : text.slice(0, 300) || res.statusText;
    throw new Error(`${what} answered ${res.status}: ${reason}`);
  }
  return { status: res.status, body, text };
}

async function getJson(url) {
  const r = await request(url);
  if (r.body == null) throw new Error(`GET ${url} did not answer JSON.`);
  return r.body;
}

const TX_QUERY = `query Explorer($ids: [ID!], $recipients: [String!], $tags: [TagFilter!], $first: Int, $after: String) {
  transactions(ids: $ids, recipients: $recipients, tags: $tags, first: $first, after: $after, sort: HEIGHT_ASC) {
    edges { cursor node { id recipient owner { address } tags { name value } } }
    pageInfo { hasNextPage }
  }
}`;

// Gateway items matching `filter` ({ids, recipients, tags}), following at most `pages` pages.
async function items(filter, pages = 5) {
  if (!config.gateway) throw new Error('No gateway is configured, so items cannot be looked up.');
  const out = [];
  let after = null;
  for (let i = 0; i < pages; i++) {
    const r = await request(`${config.gateway}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: TX_QUERY, variables: { ...filter, first: 100, after } }),
    });
    const errors = r.body && r.body.errors;
    if (errors && errors.length) throw new Error(`Gateway GraphQL: ${errors.map((e) => e.message).join('; ')}`);
    const conn = r.body && r.body.data && r.body.data.transactions;
    if (!conn) throw new Error('Gateway GraphQL answered without transactions.');
    for (const edge of conn.edges) {
      out.push(edge.node);
      after = edge.cursor;
    }
    if (!conn.pageInfo || !conn.pageInfo.hasNextPage || conn.edges.length === 0) break;
  }
  return out;
}

// Gateway headers of many ids, 100 a query.
async function headers(ids) {
  const out = new Map();
  for (let i = 0; i < ids.length; i += 100) {
    for (const node of await items({ ids: ids.slice(i, i + 100) }, 1)) out.set(node.id, node);
  }
  return out;
}

function limiter(n) {
  let active = 0;
  const queue = [];
  const next = () => {
    if (active >= n || queue.length === 0) return;
    active++;
    const { fn, resolve, reject } = queue.shift();
    fn().then(resolve, reject).finally(() => {
      active--;
      next();
    });
  };
  return (fn) => new Promise((resolve, reject) => {
    queue.push({ fn, resolve, reject });
    next();
  });
}

const cuSlot = limiter(CU_CONCURRENCY);
// The CU answers 202 while it is still evaluating; the caller asks again on its next refresh.
const BUSY = Object.freeze({ busy: true });
// A computed result never changes, so it is kept (bounded; Map keeps insertion order).
const results = new Map();
const resultsInFlight = new Map();

function result(pid, mid) {
  const key = `${pid}/${mid}`;
  if (results.has(key)) return Promise.resolve(results.get(key));
  if (resultsInFlight.has(key)) return resultsInFlight.get(key);
  const promise = cuSlot(() => request(`${config.cu}/result/${enc(mid)}${query({ 'process-id': pid })}`))
    .then((r) => {
      if (r.status === 202 || r.body == null || typeof r.body !== 'object') return BUSY;
      results.set(key, r.body);
      if (results.size > 2000) results.delete(results.keys().next().value);
      return r.body;
    })
    .finally(() => resultsInFlight.delete(key));
  resultsInFlight.set(key, promise);
  return promise;
}

// Gateway headers by id, asked for together: the graph and the links of a page name many
// processes at once, and a GraphQL miss (a wallet) is an empty answer rather than a failed
// request. A miss is not kept, as an item may reach the gateway later.
const headerCache = new Map();
let headerBatch = null;

function header(id) {
  if (headerCache.has(id)) return headerCache.get(id);
  if (!headerBatch) {
    headerBatch = new Map();
    setTimeout(flushHeaders, 10);
  }
  const promise = new Promise((resolve) => headerBatch.set(id, resolve));
  headerCache.set(id, promise);
  return promise;
}

async function flushHeaders() {
  const batch = headerBatch;
  headerBatch = null;
  let found = new Map();
  try {
    found = await headers([...batch.keys()]);
  } catch {
    // Names are decoration; the ids stay shown.
  }
  for (const [id, resolve] of batch) {
    const item = found.get(id) || null;
    if (!item) headerCache.delete(id);
    resolve(item);
  }
}

// The process's header, or null for anything else (a wallet, an unknown id).
async function processHeader(pid) {
  const item = await header(pid);
  return item && tagValue(item.tags, 'Type') === 'Process' ? item : null;
}

async function processName(pid) {
  const item = await processHeader(pid);
  return item ? tagValue(item.tags, 'Name') : null;
}

// ---------------------------------------------------------------------------------------------
// Status panel

function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (!line) return null;
  const value = Number(line.trim().split(/\s+/).pop());
  return Number.isFinite(value) ? value : null;
}

let lastCount = null;

function showStat(id, settled, unit, read) {
  const el = document.getElementById(id);
  let text;
  let title = '';
  let failed = false;
  if (settled.status === 'rejected') {
    text = 'unavailable';
    title = messageOf(settled.reason);
    failed = true;
  } else if (settled.value === null) {
    text = 'n/a';
    title = `No ${unit} is configured.`;
  } else {
    text = read(settled.value.text);
    if (text == null) {
      text = 'n/a';
      title = `The ${unit} does not report this figure.`;
    }
  }
  setText(el, text);
  if (el.title !== title) el.title = title;
  el.classList.toggle('stat-error', failed);
}

async function pollStatus() {
  const fetchMetrics = (base) => (base ? request(`${base}/metrics`) : Promise.resolve(null));
  const [su, cu, mu] = await Promise.allSettled([fetchMetrics(config.su), fetchMetrics(config.cu), fetchMetrics(config.mu)]);
  showStat('stat-rate', su, 'SU', (text) => {
    const count = metric(text, 'aorta_su_messages_total');
    if (count == null) return null;
    const now = performance.now();
    const previous = lastCount;
    lastCount = { count, at: now };
    if (!previous || now <= previous.at) return '…';
    // A restarted SU starts its counter again from zero.
    const rate = Math.max(0, count - previous.count) / ((now - previous.at) / 1000);
    return rate < 10 ? rate.toFixed(1) : fmt(Math.round(rate));
  });
  showStat('stat-processes', cu, 'CU', (text) => {
    const n = metric(text, 'aorta_cu_processes');
    return n == null ? null : fmt(n);
  });
  showStat('stat-queue', mu, 'MU', (text) => {
    const n = metric(text, 'aorta_mu_queue');
    return n == null ? null : fmt(n);
  });
}

function statusLoop() {
  pollStatus()
    .catch(() => {})
    .finally(() => setTimeout(statusLoop, POLL_MS));
}

// ---------------------------------------------------------------------------------------------
// Routing: #/ (processes), #/process/PID[?from=NONCE], #/message/PID/MSGID

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const params = new URLSearchParams(at < 0 ? '' : raw.slice(at + 1));
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, params };
}

function checkId(id, what) {
  if (!ID.test(id)) throw new Error(`“${id}” is not a ${what} (43 characters of base64url).`);
  return id;
}

// Calls `fn` every POLL_MS while the view that started it is shown.
function every(gen, fn) {
  const tick = async () => {
    if (gen !== generation) return;
    try {
      await fn();
    } catch {
      // Each view shows its own refresh errors; this only keeps the loop alive.
    }
    if (gen === generation) setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

async function route() {
  const gen = ++generation;
  const main = document.getElementById('main');
  main.replaceChildren();
  const { parts, params } = parseHash();
  try {
    if (parts.length === 0) {
      await listView(main, gen, params);
    } else if (parts[0] === 'process' && parts.length === 2) {
      await processView(main, gen, checkId(parts[1], 'process id'), params);
    } else if (parts[0] === 'message' && parts.length === 3) {
      await messageView(main, gen, checkId(parts[1], 'process id'), checkId(parts[2], 'message id'));
    } else {
      document.title = 'Not found — aorta explorer';
      add(main, h('h1', {}, 'Not found'), h('p', {}, 'There is no view at this address. ', h('a', { href: '#/' }, 'See the processes'), '.'));
    }
  } catch (e) {
    if (gen === generation) add(main, errorBox(e));
  }
}

// ---------------------------------------------------------------------------------------------
// #/ — processes

async function listView(main, gen, params) {
  document.title = 'Processes — aorta explorer';
  const state = { q: (params.get('q') || '').trim(), before: null, above: [], next: null, seq: 0, loading: false };

  const search = h('input', {
    id: 'search',
    type: 'search',
    name: 'q',
    value: state.q,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'Name, or the start of an id',
  });
  const count = h('span', { id: 'process-count' }, '…');
  const countWord = h('span', {}, ' processes');
  const errors = errorSlot();
  const tbody = h('tbody');
  const newest = h('button', { type: 'button', id: 'list-newest', hidden: true }, 'Newest');
  const newer = h('button', { type: 'button', id: 'list-newer', hidden: true }, 'Newer');
  const older = h('button', { type: 'button', id: 'list-older', disabled: true }, 'Older');

  add(main,
    h('h1', {}, 'Processes'),
    h('form', { class: 'search', role: 'search', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'search' }, 'Search processes'),
      search,
      h('p', { class: 'count', 'aria-live': 'polite' }, count, countWord)),
    errors.el,
    h('table', { id: 'processes' },
      h('caption', {}, 'Newest first. A search matches anywhere in a name, or the start of an id.'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col' }, 'Process'),
        h('th', { scope: 'col' }, 'Owner'),
        h('th', { scope: 'col' }, 'Module'),
        h('th', { scope: 'col', class: 'num' }, 'Messages'),
        h('th', { scope: 'col' }, 'Last activity'))),
      tbody),
    h('nav', { class: 'pager', 'aria-label': 'Process pages' }, newest, newer, older),
  );

  const render = (page) => {
    const focused = tbody.contains(document.activeElement) ? document.activeElement.closest('tr') : null;
    const focusedPid = focused && focused.dataset.process;
    const rows = (page.processes || []).map(processRow);
    if (rows.length === 0) {
      rows.push(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, state.q ? `No process matches “${state.q}”.` : 'No processes yet.')));
    }
    tbody.replaceChildren(...rows);
    if (focusedPid) {
      const link = tbody.querySelector(`tr[data-process="${CSS.escape(focusedPid)}"] a.process-link`);
      if (link) link.focus({ preventScroll: true });
    }
    const total = Number(page.total) || 0;
    count.dataset.total = String(total);
    setText(count, fmt(total));
    setText(countWord, `${total === 1 ? ' process' : ' processes'}${state.q ? ` match “${state.q}”` : ''}`);
    state.next = page.next || null;
    older.disabled = !state.next;
    newest.hidden = state.before == null;
    newer.hidden = state.above.length < 2;
  };

  let shown = { json: '', at: 0 };
  // `refresh`: a poll, which leaves the rows alone while someone selects text in them, and
  // redraws unchanged rows only now and then (their relative times).
  const load = async (refresh = false) => {
    const seq = ++state.seq;
    state.loading = true;
    try {
      const page = await getJson(`${config.su}/processes${query({ q: state.q, limit: LIST_PAGE, before: state.before })}`);
      if (seq !== state.seq || gen !== generation) return;
      errors.clear();
      const json = JSON.stringify(page);
      const selection = document.getSelection();
      if (refresh && ((selection && !selection.isCollapsed && tbody.contains(selection.anchorNode))
        || (json === shown.json && Date.now() - shown.at < 30000))) return;
      shown = { json, at: Date.now() };
      render(page);
    } catch (e) {
      if (seq === state.seq && gen === generation) errors.show(e);
    } finally {
      if (seq === state.seq) state.loading = false;
    }
  };

  let debounce = null;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.q = search.value.trim();
      state.before = null;
      state.above = [];
      // replaceState, not a hash change: the view (and the search box's focus) stays.
      history.replaceState(null, '', state.q ? `#/?q=${enc(state.q)}` : '#/');
      load();
    }, 250);
  });
  older.addEventListener('click', () => {
    if (!state.next) return;
    state.above.push(state.before);
    state.before = state.next;
    load();
  });
  newer.addEventListener('click', () => {
    state.before = state.above.pop() ?? null;
    load();
  });
  newest.addEventListener('click', () => {
    state.before = null;
    state.above = [];
    load();
  });

  await load();
  // Only the first page refreshes: an older page would shift under the reader as new activity arrives.
  every(gen, async () => {
    if (state.before == null && !state.loading) await load(true);
  });
}

function processRow(p) {
  const name = p.name || '';
  return h('tr', { 'data-process': p.id, 'data-name': name },
    h('td', {},
      h('a', { class: 'process-link', href: `#/process/${p.id}` }, name || short(p.id)),
      name ? null : h('span', { class: 'muted' }, ' (no name)')),
    h('td', {}, idCode(p.id)),
    h('td', {}, idCode(p.owner)),
    h('td', {}, idCode(p.module)),
    h('td', { class: 'num' }, fmt(p.messages)),
    h('td', {}, when(p.last_activity)));
}

// ---------------------------------------------------------------------------------------------
// #/process/PID — the process and its log
//
// Paging uses the SU's nonce mode (`from-nonce` exclusive, spec §3.4): the newest page is
// `from-nonce = latest - MESSAGE_PAGE`, found with one `/latest` call, so a long log is never
// walked from the start. Older/Newer are links (`?from=NONCE`) so every page has an address.
// Only the newest page (no `from`) follows the log live, by asking for what comes after its
// last nonce.

function nonceOf(node) {
  return Number(tagValue(node.assignment && node.assignment.tags, 'Nonce'));
}

function messageIdOf(node, pid) {
  if (node.message && node.message.id) return node.message.id;
  return tagValue(node.assignment && node.assignment.tags, 'Message') || (nonceOf(node) === 0 ? pid : null);
}

function fromOf(tags, owner) {
  return tagValue(tags, 'From-Process') || owner || null;
}

async function processView(main, gen, pid, params) {
  const fromParam = params.get('from');
  const pinned = fromParam != null && /^-?\d+$/.test(fromParam) ? Math.max(-1, Number(fromParam)) : null;
  const live = pinned == null;
  document.title = `Process ${short(pid)} — aorta explorer`;
  const heading = h('h1', {}, 'Process');
  add(main, heading, h('p', {}, h('code', { id: 'process-id', class: 'full-id' }, pid)));

  const [info, latest] = await Promise.all([
    getJson(`${config.su}/processes/${enc(pid)}`),
    getJson(`${config.su}/${enc(pid)}/latest`),
  ]);
  if (gen !== generation) return;
  const name = tagValue(info.tags, 'Name');
  if (name) {
    heading.textContent = `Process ${name}`;
    document.title = `Process ${name} — aorta explorer`;
  }
  let latestNonce = nonceOf(latest);
  const total = h('span', { id: 'message-total' }, fmt(latestNonce + 1));
  const data = info.data == null ? null : String(info.data);

  add(main,
    h('dl', { class: 'facts', id: 'process-info' },
      h('dt', {}, 'Name'), h('dd', { id: 'process-name' }, name || h('span', { class: 'muted' }, 'none')),
      h('dt', {}, 'Owner'), h('dd', {}, h('code', { id: 'process-owner' }, (info.owner && info.owner.address) || '—')),
      h('dt', {}, 'Module'), h('dd', {}, h('code', { id: 'process-module' }, tagValue(info.tags, 'Module') || '—')),
      h('dt', {}, 'Spawned'), h('dd', {}, whenFull(info.timestamp)),
      h('dt', {}, 'Messages'), h('dd', {}, total, ' (the process itself is nonce 0: ',
        h('a', { href: `#/message/${pid}/${pid}` }, 'its spawn'), ')'),
      tagValue(info.tags, 'From-Process')
        ? [h('dt', {}, 'Spawned by'), h('dd', {}, processLink(tagValue(info.tags, 'From-Process')))]
        : null),
    h('h2', {}, 'Tags'),
    tagsTable('process-tags', info.tags),
    data != null && data !== ''
      ? h('details', {}, h('summary', {}, `Data (${bytes(new TextEncoder().encode(data).length)})`), dataBlock('process-data', data))
      : null,
  );

  const errors = errorSlot();
  const range = h('p', { id: 'messages-range', class: 'note' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Message pages' });
  const tbody = h('tbody');
  const columns = ['Nonce', 'Time', 'Action', 'From', 'Message'].concat(config.cu ? ['Result'] : []);
  add(main,
    h('h2', {}, 'Messages'),
    range,
    pager,
    errors.el,
    h('table', { id: 'messages' },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c === 'Nonce' ? 'num' : null }, c)))),
      tbody),
    config.cu ? null : h('p', { class: 'note' }, 'No compute unit is configured, so results are not shown.'),
  );

  let from = live ? Math.max(-1, latestNonce - MESSAGE_PAGE) : pinned;
  let lastNonce = from;
  const shown = () => tbody.querySelectorAll('tr[data-message]');

  const updatePager = () => {
    const first = from + 1;
    const count = shown().length;
    setText(total, fmt(latestNonce + 1));
    setText(range, count === 0
      ? 'No messages in this range.'
      : `Nonces ${fmt(first)}–${fmt(lastNonce)} of ${plural(latestNonce + 1, 'message')}${live ? '; new messages appear as they arrive.' : '.'}`);
    const links = [];
    if (!live) links.push(h('a', { class: 'button', id: 'messages-newest', href: `#/process/${pid}` }, 'Newest'));
    if (!live && lastNonce < latestNonce) {
      links.push(h('a', { class: 'button', id: 'messages-newer', href: `#/process/${pid}?from=${lastNonce}` },
        `Newer (${fmt(latestNonce - lastNonce)} after these)`));
    }
    if (first > 0) {
      links.push(h('a', { class: 'button', id: 'messages-older', href: `#/process/${pid}?from=${Math.max(-1, Math.min(from, latestNonce) - MESSAGE_PAGE)}` }, 'Older'));
    }
    // Rebuilt only on a change, so a focused link survives the refreshes.
    const signature = links.map((a) => `${a.getAttribute('href')} ${a.textContent}`).join('|');
    if (pager.dataset.signature !== signature) {
      pager.dataset.signature = signature;
      pager.replaceChildren(...links);
    }
  };

  // Rows for log nodes after `lastNonce`; returns the new rows.
  const append = (edges, fresh) => {
    const rows = [];
    for (const edge of edges || []) {
      const node = edge.node;
      const nonce = nonceOf(node);
      if (!(nonce > lastNonce)) continue;
      lastNonce = nonce;
      rows.push(messageRow(pid, node, info, fresh));
    }
    tbody.append(...rows);
    if (lastNonce > latestNonce) latestNonce = lastNonce;
    return rows;
  };

  const page = await getJson(`${config.su}/${enc(pid)}${query({ 'process-id': pid, 'from-nonce': from, limit: MESSAGE_PAGE })}`);
  if (gen !== generation) return;
  append(page.edges, false);
  updatePager();
  enrich(pid, [...shown()], gen);

  every(gen, async () => {
    try {
      if (live) {
        const next = await getJson(`${config.su}/${enc(pid)}${query({ 'process-id': pid, 'from-nonce': lastNonce, limit: 100 })}`);
        if (gen !== generation) return;
        const rows = append(next.edges, true);
        const all = shown();
        for (let i = 0; i < all.length - MAX_LIVE_ROWS; i++) {
          all[i].remove();
          from = Number(all[i].dataset.nonce);
        }
        if (rows.length) enrich(pid, rows, gen);
      } else {
        latestNonce = nonceOf(await getJson(`${config.su}/${enc(pid)}/latest`));
        if (gen !== generation) return;
      }
      updatePager();
      errors.clear();
    } catch (e) {
      if (gen === generation) errors.show(e);
    }
    if (config.cu) {
      for (const row of tbody.querySelectorAll('td.result-summary[data-state="busy"]')) summarize(pid, row.closest('tr'));
    }
  });
}

function messageRow(pid, node, info, fresh) {
  const nonce = nonceOf(node);
  const id = messageIdOf(node, pid);
  const m = node.message;
  const tags = m ? m.tags : null;
  const owner = nonce === 0 ? info.owner && info.owner.address : m && m.owner && m.owner.address;
  const action = tags ? actionOf(tags) : '';
  const from = tags ? fromOf(tags, owner) : null;
  const tr = h('tr', {
    'data-message': id,
    'data-nonce': nonce,
    'data-action': action,
    'data-from': from || '',
    'data-pushed-for': tags ? tagValue(tags, 'Pushed-For') || '' : '',
    class: fresh ? 'fresh' : null,
  },
  h('td', { class: 'num' }, fmt(nonce)),
  h('td', {}, when(tagValue(node.assignment && node.assignment.tags, 'Timestamp'))),
  h('td', { class: 'action' }, tags ? action || h('span', { class: 'muted' }, 'none') : h('span', { class: 'muted' }, 'assigned')),
  h('td', { class: 'from' }, tags ? fromCell(tags, owner) : '…'),
  h('td', {}, h('a', { class: 'message-link', href: `#/message/${pid}/${id}`, title: id, 'aria-label': `Message ${id}` }, short(id))),
  config.cu ? h('td', { class: 'result-summary', 'data-state': 'pending' }, '…') : null);
  if (!tags) tr.dataset.assigned = '';
  return tr;
}

function fromCell(tags, owner) {
  const process = tagValue(tags, 'From-Process');
  return process ? processLink(process) : idCode(owner);
}

// A link to a process, showing its name once known.
function processLink(pid) {
  const link = h('a', { href: `#/process/${pid}`, title: pid }, short(pid));
  processName(pid).then((name) => {
    if (name) link.textContent = name;
  });
  return link;
}

// Fills in what a page of rows needs beyond the log: the headers of assigned items (one
// gateway query) and result summaries.
function enrich(pid, rows, gen) {
  const assigned = rows.filter((tr) => tr.dataset.assigned != null);
  if (assigned.length) {
    headers(assigned.map((tr) => tr.dataset.message))
      .then((found) => {
        if (gen !== generation) return;
        for (const tr of assigned) {
          const item = found.get(tr.dataset.message);
          if (!item) {
            tr.querySelector('td.from').textContent = 'not on the gateway';
            continue;
          }
          const action = actionOf(item.tags);
          tr.dataset.action = action;
          tr.dataset.from = fromOf(item.tags, item.owner && item.owner.address) || '';
          tr.querySelector('td.action').replaceChildren(action || 'none', h('span', { class: 'muted' }, ' (assigned)'));
          tr.querySelector('td.from').replaceChildren(fromCell(item.tags, item.owner && item.owner.address));
        }
      })
      .catch((e) => {
        for (const tr of assigned) {
          const cell = tr.querySelector('td.from');
          cell.textContent = 'unknown';
          cell.title = messageOf(e);
        }
      });
  }
  if (config.cu) for (const tr of rows) summarize(pid, tr);
}

function summarize(pid, tr) {
  const cell = tr.querySelector('td.result-summary');
  if (!cell || cell.dataset.state === 'loading') return;
  cell.dataset.state = 'loading';
  result(pid, tr.dataset.message).then((r) => {
    if (r === BUSY) {
      cell.dataset.state = 'busy';
      setText(cell, 'computing…');
      return;
    }
    cell.dataset.state = 'done';
    if (hasError(r)) {
      cell.replaceChildren(h('span', { class: 'error-text' }, `Error: ${excerpt(asText(r.Error), 80)}`));
      return;
    }
    const parts = [];
    const out = excerpt(outputText(r.Output), 60);
    if (out) parts.push(`“${out}”`);
    const sent = (r.Messages || []).length;
    const spawns = (r.Spawns || []).length;
    const assignments = (r.Assignments || []).length;
    if (sent) parts.push(`${plural(sent, 'message')} sent`);
    if (spawns) parts.push(plural(spawns, 'spawn'));
    if (assignments) parts.push(plural(assignments, 'assignment'));
    cell.replaceChildren(parts.length ? parts.join(' · ') : h('span', { class: 'muted' }, 'no output'));
  }, (e) => {
    cell.dataset.state = 'error';
    cell.replaceChildren(h('span', { class: 'error-text', title: messageOf(e) }, 'result unavailable'));
  });
}

function tagsTable(id, tags, extraClass) {
  if (!tags || tags.length === 0) return h('p', { id, class: 'muted' }, 'No tags.');
  return h('table', { id, class: extraClass ? `tags ${extraClass}` : 'tags' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Value'))),
    h('tbody', {}, tags.map((t) => h('tr', { 'data-tag': t.name }, h('th', { scope: 'row' }, t.name), h('td', {}, asText(t.value))))));
}

// A <pre> of the first DATA_PREVIEW characters, with a button for the rest.
function dataBlock(id, text) {
  if (text.length <= DATA_PREVIEW) return h('pre', { id }, text);
  const pre = h('pre', { id, 'data-truncated': '' }, text.slice(0, DATA_PREVIEW));
  const size = bytes(new TextEncoder().encode(text).length);
  const note = h('p', { class: 'note' }, `Showing the first ${fmt(DATA_PREVIEW)} characters of ${size}.`);
  const button = h('button', { type: 'button', 'aria-controls': id }, `Show all (${size})`);
  button.addEventListener('click', () => {
    pre.textContent = text;
    delete pre.dataset.truncated;
    note.remove();
    button.remove();
    pre.focus();
  });
  pre.tabIndex = -1;
  return h('div', {}, note, pre, button);
}

// ---------------------------------------------------------------------------------------------
// #/message/PID/MSGID — one message, its result and its graph

// The log node of a message. The process's own item (nonce 0) is the first node of its log:
// `GET /{pid}?process-id={pid}` reads the log, not a message.
async function loadNode(pid, mid) {
  if (mid === pid) {
    const page = await getJson(`${config.su}/${enc(pid)}${query({ 'process-id': pid, limit: 1 })}`);
    if (!page.edges || page.edges.length === 0) throw new Error(`The SU has no log for process ${pid}.`);
    return page.edges[0].node;
  }
  return getJson(`${config.su}/${enc(mid)}${query({ 'process-id': pid })}`);
}

async function messageView(main, gen, pid, mid) {
  document.title = `Message ${short(mid)} — aorta explorer`;
  const heading = h('h1', {}, 'Message');
  add(main, heading, h('p', {}, h('code', { id: 'message-id', class: 'full-id' }, mid)));

  // An item pushed to a wallet is on the gateway but in no log: asking the SU would only fail.
  const [item, isProcess] = await Promise.all([header(mid), processHeader(pid)]);
  let node;
  let unscheduled = null;
  const toWallet = item && item.recipient === pid && !isProcess && mid !== pid;
  if (toWallet) {
    unscheduled = h('p', { class: 'note' }, `${pid} is not a process here (a wallet), so this item is in no log; it is read from the gateway.`);
  } else {
    try {
      node = await loadNode(pid, mid);
    } catch (e) {
      if (!item) throw e;
      unscheduled = h('div', { class: 'error', role: 'alert' },
        `This item is not in the log of ${pid} (${messageOf(e)}). What follows is read from the gateway.`);
    }
  }
  if (unscheduled) {
    node = { message: { id: mid, owner: item.owner, tags: item.tags, target: item.recipient, data: null }, assignment: null };
  }
  if (gen !== generation) return;

  let m = node.message;
  let data = m && m.data != null ? String(m.data) : null;
  if (!m) {
    // An assigned item: the SU has only its assignment; the item is on the gateway.
    m = item
      ? { id: mid, owner: item.owner, tags: item.tags, target: item.recipient }
      : { id: mid, owner: null, tags: [], target: null };
  }
  if (data == null && !config.gateway) {
    add(main, h('p', { class: 'note' }, 'No gateway is configured, so the data of this item cannot be read.'));
    data = '';
  } else if (data == null) {
    data = await request(`${config.gateway}/raw/${enc(mid)}`).then((r) => r.text, (e) => {
      add(main, errorBox(new Error(`The data could not be read: ${messageOf(e)}`)));
      return '';
    });
  }
  if (gen !== generation) return;

  const tags = m.tags || [];
  const assignment = (node.assignment && node.assignment.tags) || [];
  const owner = m.owner && m.owner.address;
  const msg = {
    id: mid,
    pid,
    tags,
    owner,
    root: tagValue(tags, 'Pushed-For') || mid,
  };
  const action = actionOf(tags);
  if (action) {
    heading.textContent = `Message: ${action}`;
    document.title = `${action} ${short(mid)} — aorta explorer`;
  }

  const processLabel = h('span', {}, short(pid));
  processName(pid).then((name) => {
    if (name) processLabel.textContent = name;
  });
  const fact = (label, value) => (value == null || value === '' ? null : [h('dt', {}, label), h('dd', {}, value)]);
  const from = tagValue(tags, 'From-Process');
  add(main,
    unscheduled,
    h('dl', { class: 'facts', id: 'message-facts' },
      h('dt', {}, toWallet ? 'Recipient' : 'Process'),
      h('dd', {}, toWallet ? 'a wallet, ' : h('a', { href: `#/process/${pid}` }, processLabel), ' ',
        h('code', { id: 'message-process', class: 'id' }, pid)),
      fact('Nonce', tagValue(assignment, 'Nonce') != null ? h('span', { id: 'message-nonce' }, tagValue(assignment, 'Nonce')) : null),
      fact('Timestamp', tagValue(assignment, 'Timestamp') != null ? whenFull(tagValue(assignment, 'Timestamp')) : null),
      fact('Block height', tagValue(assignment, 'Block-Height') != null ? String(Number(tagValue(assignment, 'Block-Height'))) : null),
      fact('Action', action || null),
      fact('From', from ? [processLink(from), ' (process)'] : idCode(owner)),
      fact('Signed by', h('code', {}, owner || '—')),
      fact('Target', m.target ? h('code', {}, m.target) : null),
      fact('Caused by user message', tagValue(tags, 'Pushed-For') ? h('code', {}, tagValue(tags, 'Pushed-For')) : null),
      fact('Assignment', node.assignment && node.assignment.id ? h('code', {}, node.assignment.id) : null)),
  );

  const graph = h('section', { 'aria-labelledby': 'graph-heading' }, h('h2', { id: 'graph-heading' }, 'Message graph'));
  const resultSection = h('section', { id: 'result', 'aria-labelledby': 'result-heading' }, h('h2', { id: 'result-heading' }, 'Result'));
  add(main,
    graph,
    h('h2', {}, 'Tags'),
    tagsTable('message-tags', tags),
    h('h2', {}, 'Data'),
    data === '' ? h('pre', { id: 'message-data', class: 'muted' }, '(no data)') : dataBlock('message-data', data),
    resultSection,
  );

  if (!config.cu) {
    resultSection.append(h('p', { class: 'note' }, unscheduled
      ? 'Not scheduled, so never evaluated: there is no result.'
      : 'No compute unit is configured, so the result is not available.'));
    graph.append(h('p', { class: 'note' }, 'No compute unit is configured: the graph is built from results, so it is not available.'));
    return;
  }
  if (!config.gateway) {
    graph.append(h('p', { class: 'note' }, 'No gateway is configured: the graph finds messages through it, so it is not available.'));
  }
  if (unscheduled) {
    resultSection.append(h('p', { class: 'note' }, 'Not scheduled, so never evaluated: there is no result.'));
    // Nothing follows from it, but its sender can still be traced.
    const picture = new Graph(graph, msg);
    const nothing = { Messages: [], Spawns: [], Assignments: [] };
    let tries = 0;
    const trace = async () => {
      if (!picture.complete() && tries++ < GRAPH_RETRIES) await picture.update(nothing, gen);
    };
    await trace();
    every(gen, trace);
    return;
  }

  const resultBody = h('div', {}, h('p', { class: 'note' }, 'Loading the result…'));
  const resultErrors = errorSlot();
  resultSection.append(resultErrors.el, resultBody);
  const picture = config.gateway ? new Graph(graph, msg) : null;

  let r = null;
  let attempts = 0;
  const refresh = async () => {
    if (r == null || r === BUSY) {
      try {
        r = await result(pid, mid);
      } catch (e) {
        // Shown in place (not re-created), so a screen reader hears it once; asked again next tick.
        r = null;
        resultErrors.show(e);
        resultBody.replaceChildren();
        if (picture) picture.note('The graph needs the result, which could not be read.');
        return;
      }
      if (gen !== generation) return;
      resultErrors.clear();
      if (r === BUSY) {
        resultBody.replaceChildren(h('p', { class: 'note' }, 'The compute unit is still evaluating this message; asking again…'));
        return;
      }
      resultBody.replaceChildren(...renderResult(r));
    }
    if (!picture || picture.complete() || attempts >= GRAPH_RETRIES) return;
    attempts++;
    await picture.update(r, gen);
    if (gen !== generation) return;
    for (const child of picture.children || []) {
      const list = child.kind === 'message' ? 'result-messages' : child.kind === 'spawn' ? 'result-spawns' : null;
      const slot = list && document.querySelector(`#${list} li[data-index="${child.index}"] .delivered`);
      if (slot && child.id && !slot.firstChild) {
        slot.append(' · delivered as ', h('a', { class: 'delivered-link', href: `#/message/${child.pid}/${child.id}` }, short(child.id)));
      }
    }
  };
  await refresh();
  // Pushes reach the gateway after the result is computed; keep looking until they are all found.
  every(gen, refresh);
}

function renderResult(r) {
  const out = [];
  out.push(h('dl', { class: 'facts' },
    h('dt', {}, 'Gas used'),
    h('dd', {}, h('span', { id: 'gas' }, r.GasUsed != null ? String(r.GasUsed) : 'not reported'))));
  if (hasError(r)) {
    out.push(h('h3', {}, 'Error'), h('pre', { id: 'result-error', class: 'error' }, plain(asText(r.Error))));
  }
  const text = plain(outputText(r.Output));
  out.push(h('h3', {}, 'Output'), text ? dataBlock('result-output', text) : h('pre', { id: 'result-output', class: 'muted' }, '(no output)'));

  const messages = r.Messages || [];
  out.push(h('h3', {}, `Messages sent (${messages.length})`), h('div', { id: 'result-messages' },
    messages.length === 0 ? h('p', { class: 'muted' }, 'None.') : h('ol', { class: 'outbox' }, messages.map((e, i) =>
      h('li', { 'data-target': e.Target || '', 'data-index': i },
        h('p', {}, 'To ', e.Target ? targetLink(e.Target) : '—',
          tagValue(e.Tags, 'Action') ? ` · ${tagValue(e.Tags, 'Action')}` : '',
          h('span', { class: 'delivered' })),
        tagsTable(null, e.Tags, 'small'),
        e.Data ? h('pre', {}, excerpt(asText(e.Data), 300)) : null)))));

  const spawns = r.Spawns || [];
  out.push(h('h3', {}, `Spawns (${spawns.length})`), h('div', { id: 'result-spawns' },
    spawns.length === 0 ? h('p', { class: 'muted' }, 'None.') : h('ol', { class: 'outbox' }, spawns.map((sp, i) =>
      h('li', { 'data-index': i },
        h('p', {}, 'Process', tagValue(sp.Tags, 'Name') ? ` “${tagValue(sp.Tags, 'Name')}”` : '', h('span', { class: 'delivered' })),
        tagsTable(null, sp.Tags, 'small'),
        sp.Data ? h('pre', {}, excerpt(asText(sp.Data), 300)) : null)))));

  const assignments = r.Assignments || [];
  out.push(h('h3', {}, `Assignments (${assignments.length})`), h('div', { id: 'result-assignments' },
    assignments.length === 0 ? h('p', { class: 'muted' }, 'None.') : h('ol', { class: 'outbox' }, assignments.map((a) =>
      h('li', {}, 'Message ', idCode(a.Message), ' to ',
        (a.Processes || []).map((p, i) => [i ? ', ' : '', h('a', { href: `#/message/${p}/${a.Message}` }, short(p))]))))));
  return out;
}

// A link to a message's target: a process page, or plain text for a wallet.
function targetLink(target) {
  const slot = h('span', {}, h('a', { href: `#/process/${target}`, title: target }, short(target)));
  processHeader(target).then((item) => {
    if (!item) slot.replaceChildren(idCode(target), ' (not a process here)');
    else if (tagValue(item.tags, 'Name')) slot.firstChild.textContent = tagValue(item.tags, 'Name');
  });
  return slot;
}

// ---------------------------------------------------------------------------------------------
// The message graph
//
// ao records no parent pointer, so edges are recovered from tags and results (spec §4.4):
// a pushed item carries From-Process (the sender) and Pushed-For (the ROOT user message of the
// chain, not its direct parent), and keeps the outbox entry's tags, among them aos's Reference.
// Children: the items on the gateway from this process for the same root whose Reference (else
// tags) match an entry of this result. Parent: among the messages to the sender for the same
// root (and the root itself), the one whose result holds an entry with this message's Reference.

function tagsInclude(have, want) {
  return (want || []).filter((t) => !REWRITTEN.has(t.name))
    .every((t) => (have || []).some((x) => x.name === t.name && String(x.value) === String(t.value)));
}

// The first unused candidate for outbox entry `entry`.
function pick(candidates, entry, used) {
  const ref = tagValue(entry.Tags, 'Reference');
  const hit = candidates.find((c) => !used.has(c.id)
    && (ref != null ? tagValue(c.tags, 'Reference') === ref : tagsInclude(c.tags, entry.Tags)));
  if (hit) used.add(hit.id);
  return hit || null;
}

async function findChildren(msg, r) {
  const base = [{ name: 'From-Process', values: [msg.pid] }, { name: 'Pushed-For', values: [msg.root] }];
  // With every entry referenced, the Reference filter finds exactly the pushes, however long the chain.
  const narrowed = (entries) => {
    const refs = entries.map((e) => tagValue(e.Tags, 'Reference'));
    return refs.every((x) => x != null) ? [...base, { name: 'Reference', values: unique(refs) }] : base;
  };
  const children = [];

  const messages = r.Messages || [];
  const targets = unique(messages.map((e) => e.Target).filter((t) => ID.test(t || '')));
  const pushed = targets.length ? await items({ recipients: targets, tags: narrowed(messages) }) : [];
  const usedMessages = new Set();
  messages.forEach((e, index) => {
    const hit = ID.test(e.Target || '') ? pick(pushed.filter((c) => c.recipient === e.Target), e, usedMessages) : null;
    children.push({
      role: 'child',
      kind: 'message',
      index,
      pid: e.Target,
      id: hit ? hit.id : null,
      label: tagValue(e.Tags, 'Action') || 'Message',
      // The MU drops an entry without a valid target; there is nothing to wait for.
      undeliverable: !ID.test(e.Target || ''),
    });
  });

  const spawns = r.Spawns || [];
  const spawned = spawns.length
    ? await items({ tags: [...narrowed(spawns), { name: 'Type', values: ['Process'] }] })
    : [];
  const usedSpawns = new Set();
  spawns.forEach((sp, index) => {
    const hit = pick(spawned, sp, usedSpawns);
    children.push({ role: 'child', kind: 'spawn', index, pid: hit ? hit.id : null, id: hit ? hit.id : null, label: 'Spawn', name: tagValue(sp.Tags, 'Name') });
  });

  for (const a of r.Assignments || []) {
    for (const p of a.Processes || []) {
      children.push({ role: 'child', kind: 'assignment', pid: p, id: a.Message || null, label: 'Assignment' });
    }
  }
  return children;
}

async function findParents(msg) {
  const sender = tagValue(msg.tags, 'From-Process');
  if (!sender) return { nodes: [], note: 'Sent by a wallet (no From-Process tag), so nothing before it.' };
  const root = tagValue(msg.tags, 'Pushed-For');
  if (!root) return { nodes: [], note: `Sent by process ${sender} without a Pushed-For tag, so the message that caused it cannot be traced.` };
  const [pushed, rootItem] = await Promise.all([
    items({ recipients: [sender], tags: [{ name: 'Pushed-For', values: [root] }] }),
    headers([root]),
  ]);
  const candidates = pushed.filter((c) => c.id !== msg.id);
  const first = rootItem.get(root);
  if (first && first.recipient === sender) candidates.unshift(first);

  const ref = tagValue(msg.tags, 'Reference');
  // A spawned process (and the Spawned notice to its parent) comes from a result's Spawns.
  const fromSpawn = tagValue(msg.tags, 'Type') === 'Process' || tagValue(msg.tags, 'Action') === 'Spawned';
  const holds = (r) => {
    const entries = fromSpawn ? r.Spawns || [] : (r.Messages || []).filter((e) => e.Target === msg.pid);
    return entries.some((e) => (ref != null ? tagValue(e.Tags, 'Reference') === ref : tagsInclude(msg.tags, e.Tags)));
  };
  let busy = false;
  for (let i = 0; i < candidates.length; i += CU_CONCURRENCY) {
    const batch = candidates.slice(i, i + CU_CONCURRENCY);
    const rs = await Promise.all(batch.map((c) => result(sender, c.id).catch(() => null)));
    busy = busy || rs.includes(BUSY);
    const at = rs.findIndex((r) => r && r !== BUSY && holds(r));
    if (at >= 0) {
      const c = batch[at];
      return { nodes: [{ role: 'parent', pid: sender, id: c.id, label: actionOf(c.tags) || 'Message' }] };
    }
  }
  return {
    nodes: [],
    retry: busy || candidates.length === 0,
    note: `Sent by process ${sender}, but none of the ${candidates.length} messages to it in this chain sent it (yet).`,
  };
}

class Graph {
  constructor(section, msg) {
    this.msg = msg;
    this.self = { role: 'self', pid: msg.pid, id: msg.id, label: actionOf(msg.tags) || 'Message' };
    this.parents = null;
    this.children = null;
    this.parentsDone = false;
    this.svg = s('svg', { id: 'graph', role: 'group', 'aria-label': 'Messages that caused this one and messages it caused' });
    this.notes = h('p', { id: 'graph-note', class: 'note' });
    this.drawn = '';
    section.append(
      h('p', { class: 'note' }, 'Left: the message that caused this one. Right: what its result caused. Select a box to open that message.'),
      this.svg,
      this.notes,
    );
    this.parentNote = '';
    this.childNote = '';
    this.draw();
  }

  complete() {
    return this.parentsDone && this.children != null && this.children.every((c) => c.id || c.undeliverable);
  }

  note(text) {
    setText(this.notes, text);
  }

  async update(r, gen) {
    const work = [];
    if (!this.parentsDone) {
      work.push(findParents(this.msg).then((p) => {
        this.parents = p.nodes;
        this.parentNote = p.note || '';
        this.parentsDone = !p.retry;
      }, (e) => {
        this.parents = this.parents || [];
        this.parentNote = `The parent could not be looked up: ${messageOf(e)}`;
      }));
    }
    if (this.children == null || !this.children.every((c) => c.id || c.undeliverable)) {
      work.push(findChildren(this.msg, r).then((c) => {
        this.children = c;
        const missing = c.filter((x) => !x.id && !x.undeliverable).length;
        this.childNote = missing
          ? `${missing === 1 ? 'One push is' : `${fmt(missing)} pushes are`} not on the gateway yet; looking again every 2 s for two minutes.`
          : '';
      }, (e) => {
        this.childNote = `What this message caused could not be looked up: ${messageOf(e)}`;
      }));
    }
    await Promise.all(work);
    const nodes = [this.self, ...(this.parents || []), ...(this.children || [])];
    await Promise.all(nodes.map(async (n) => {
      if (n.pid && !n.name) n.name = await processName(n.pid);
    }));
    if (gen !== generation) return;
    this.note([this.parentNote, this.childNote].filter(Boolean).join(' '));
    this.draw();
  }

  draw() {
    const parents = this.parents || [];
    const children = this.children || [];
    const signature = JSON.stringify([this.self, parents, children, this.parents == null, this.children == null]);
    if (signature === this.drawn) return;
    this.drawn = signature;
    // Redrawing replaces the nodes; keep the keyboard where it was.
    const active = document.activeElement;
    const focused = active && this.svg.contains(active) ? [active.getAttribute('data-role'), active.getAttribute('data-message')] : null;

    const W = 960;
    const NW = 280;
    const NH = 50;
    const GAP = 14;
    const TOP = 30;
    const x = { parent: 10, self: (W - NW) / 2, child: W - NW - 10 };
    const rows = Math.max(1, parents.length, children.length);
    const height = TOP + rows * (NH + GAP) + GAP;
    const top = (i, n) => TOP + GAP + ((rows - n) * (NH + GAP)) / 2 + i * (NH + GAP);
    const selfY = top(0, 1);

    const parts = [
      s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto' },
        s('path', { d: 'M0,0 L10,5 L0,10 z' }))),
      s('text', { x: x.parent, y: 18, class: 'column' }, 'Caused by'),
      s('text', { x: x.self, y: 18, class: 'column' }, 'This message'),
      s('text', { x: x.child, y: 18, class: 'column' }, 'Caused'),
    ];
    const placeholder = (col, text) => s('text', { x: x[col] + 12, y: selfY + NH / 2 + 5, class: 'column' }, text);
    if (parents.length === 0) parts.push(placeholder('parent', this.parents == null ? 'looking…' : 'none'));
    if (children.length === 0) parts.push(placeholder('child', this.children == null ? 'looking…' : 'none'));
    parents.forEach((p, i) => {
      const y = top(i, parents.length);
      parts.push(s('line', { x1: x.parent + NW, y1: y + NH / 2, x2: x.self, y2: selfY + NH / 2, 'marker-end': 'url(#arrow)' }));
    });
    children.forEach((c, i) => {
      const y = top(i, children.length);
      parts.push(s('line', { x1: x.self + NW, y1: selfY + NH / 2, x2: x.child, y2: y + NH / 2, 'marker-end': 'url(#arrow)' }));
    });
    parents.forEach((p, i) => parts.push(this.node(p, x.parent, top(i, parents.length), NW, NH)));
    children.forEach((c, i) => parts.push(this.node(c, x.child, top(i, children.length), NW, NH)));
    parts.push(this.node(this.self, x.self, selfY, NW, NH));

    this.svg.setAttribute('viewBox', `0 0 ${W} ${height}`);
    this.svg.replaceChildren(...parts);
    if (focused) {
      const again = [...this.svg.querySelectorAll('g.node')]
        .find((g) => g.getAttribute('data-role') === focused[0] && g.getAttribute('data-message') === focused[1]);
      if (again) again.focus();
    }
  }

  node(n, x, y, w, hgt) {
    const clip = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
    const where = n.name || (n.pid ? short(n.pid) : 'new process');
    const role = { parent: 'Caused by', self: 'This message', child: 'Caused' }[n.role];
    const shapes = [
      s('title', {}, `${n.label} at ${n.name ? `${n.name} (${n.pid})` : n.pid || 'a new process'}\n${n.id ? `message ${n.id}` : n.undeliverable ? 'the target is not an id, so the MU drops it' : 'not on the gateway yet'}`),
      s('rect', { x, y, width: w, height: hgt, rx: 6 }),
      s('text', { x: x + 12, y: y + 21 }, clip(n.label, 32)),
      s('text', { x: x + 12, y: y + 40, class: 'sub' }, clip(n.id ? where : `${where} · ${n.undeliverable ? 'not deliverable' : 'not delivered yet'}`, 40)),
    ];
    if (!n.id) {
      return s('g', { class: 'pending', 'data-role': n.role, 'data-process': n.pid || '' }, shapes);
    }
    const href = `#/message/${n.pid}/${n.id}`;
    const g = s('g', {
      class: 'node',
      'data-message': n.id,
      'data-process': n.pid,
      'data-role': n.role,
      tabindex: 0,
      role: 'link',
      'aria-label': `${role}: ${n.label} at ${where}, message ${short(n.id)}`,
    }, shapes);
    g.addEventListener('click', () => {
      location.hash = href;
    });
    g.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        location.hash = href;
      }
    });
    return g;
  }
}

// ---------------------------------------------------------------------------------------------
// Start

async function boot() {
  const main = document.getElementById('main');
  try {
    const raw = await getJson('./config.json');
    const base = (u) => (typeof u === 'string' && u ? u.replace(/\/+$/, '') : null);
    config = { su: base(raw.su), cu: base(raw.cu), mu: base(raw.mu), gateway: base(raw.gateway) };
    if (!config.su) throw new Error('it names no SU.');
  } catch (e) {
    main.replaceChildren(h('h1', {}, 'aorta explorer'), errorBox(new Error(`The explorer's configuration (config.json) could not be read: ${messageOf(e)}`)));
    return;
  }
  window.addEventListener('hashchange', () => {
    route();
    // Move keyboard and screen-reader position to the new view.
    main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  });
  route();
  statusLoop();
}

boot();
