// Drives a running aorta node with the real @permaweb/aoconnect and prints what it saw as JSON.
// Usage: node aoconnect-flows.mjs CONFIG.json
// CONFIG: { mu, cu, gateway, module, scheduler, muAddress, wallet: JWK path }
import { readFileSync } from 'node:fs';

// Nothing leaves this machine: aoconnect looks up a public SU router first; any host that is
// not loopback gets a 404 before aoconnect is loaded (it captures fetch at load).
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input.url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    return new Response('not on this machine', { status: 404 });
  }
  return realFetch(input, init);
};

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { connect, createDataItemSigner } = await import('@permaweb/aoconnect');
const ao = connect({ MODE: 'legacy', MU_URL: config.mu, CU_URL: config.cu, GATEWAY_URL: config.gateway });
const signer = createDataItemSigner(JSON.parse(readFileSync(config.wallet, 'utf8')));
const report = {};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tag = (name, value) => ({ name, value });

async function spawn(name) {
  return ao.spawn({
    module: config.module,
    scheduler: config.scheduler,
    signer,
    tags: [tag('Name', name), tag('Authority', config.muAddress)],
  });
}

async function send(process, tags, data = '') {
  const message = await ao.message({ process, signer, tags, data });
  return { message, result: await ao.result({ message, process }) };
}

async function evalIn(process, code) {
  return (await send(process, [tag('Action', 'Eval')], code)).result;
}

// A value read by a dry-run.
async function read(process, expression) {
  const res = await ao.dryrun({
    process,
    tags: [tag('Action', 'Read')],
    data: expression,
  });
  return res.Messages?.[0]?.Data;
}

// Polls a dry-run until `ok` holds (pushes between processes happen after `result`).
async function until(process, expression, ok) {
  let value;
  for (let i = 0; i < 150; i++) {
    value = await read(process, expression);
    if (ok(value)) return value;
    await sleep(200);
  }
  return value;
}

const HANDLERS = `
Handlers.add('ping', 'Ping', function(msg) msg.reply({ Data = 'Pong' }) end)
Handlers.add('read', 'Read', function(msg)
  local f = load('return ' .. msg.Data)
  msg.reply({ Data = tostring(f()) })
end)
Handlers.add('bounce', 'Bounce', function(msg)
  Bounces = (Bounces or 0) + 1
  local n = tonumber(msg.N)
  if n < 10 then Send({ Target = msg.Other, Action = 'Bounce', N = tostring(n + 1), Other = ao.id }) end
end)
Handlers.add('make', 'Make', function(msg) Spawn(ao._module, { Tags = { Name = 'child' } }) end)
Handlers.add('spawned', 'Spawned', function(msg) Children = (Children or 0) + 1; Child = msg.Process end)
Handlers.add('debit', 'Debit-Notice', function(msg) Debits = (Debits or 0) + 1 end)
Handlers.add('credit', 'Credit-Notice', function(msg) Credits = (Credits or 0) + 1 end)
Handlers.add('pay', 'Pay', function(msg)
  Send({ Target = msg.Token, Action = 'Transfer', Recipient = msg.To, Quantity = msg.Quantity })
end)
`;

try {
  // spawn + Eval + a custom handler
  const a = await spawn('a');
  report.spawned = a;
  const evaluated = await evalIn(a, HANDLERS);
  report.evalError = evaluated.Error ?? null;
  const ping = await send(a, [tag('Action', 'Ping')]);
  report.pong = ping.result.Messages?.[0]?.Data ?? null;
  report.pongTarget = ping.result.Messages?.[0]?.Target ?? null;

  // results paging, newest first
  const first = await ao.results({ process: a, sort: 'DESC', limit: 2 });
  const second = await ao.results({ process: a, sort: 'DESC', limit: 2, from: first.edges.at(-1).cursor });
  report.resultsPages = [first.edges.length, second.edges.length];

  // dryrun sees the state and changes nothing
  await evalIn(a, 'Counter = 41');
  report.dryrun = await read(a, 'Counter + 1');
  report.dryrunAgain = await read(a, 'Counter + 1');

  // assign a message of a to b
  const b = await spawn('b');
  // aos handles an assigned message only when the process declares it assignable.
  await evalIn(b, HANDLERS + " ao.addAssignable('pings', { Action = 'Ping' })");
  const assignment = await ao.assign({ process: b, message: ping.message });
  const assigned = await ao.result({ message: assignment, process: b });
  report.assigned = assigned.Messages?.[0]?.Data ?? assigned.Error ?? null;

  // a spawns a child; the Spawned notice arrives
  await send(a, [tag('Action', 'Make')]);
  report.children = await until(a, 'Children', (v) => v === '1');

  // a and b bounce messages through the MU
  await send(a, [tag('Action', 'Bounce'), tag('N', '0'), tag('Other', b)]);
  report.bouncesA = await until(a, 'Bounces', (v) => v === '6');
  report.bouncesB = await until(b, 'Bounces', (v) => v === '5');

  // a token moves funds between processes: Debit-Notice and Credit-Notice
  const token = await spawn('token');
  await evalIn(token, `require('.blueprints.token') Balances['${a}'] = '1000'` + HANDLERS);
  await send(a, [tag('Action', 'Pay'), tag('Token', token), tag('To', b), tag('Quantity', '250')]);
  report.debits = await until(a, 'Debits', (v) => v === '1');
  report.credits = await until(b, 'Credits', (v) => v === '1');
  report.balance = await until(token, `Balances['${b}']`, (v) => v === '250');
} catch (e) {
  report.error = String(e?.stack ?? e);
}
console.log(JSON.stringify(report));
