// Starts arlocal on 127.0.0.1-reachable PORT with its database in DIR; prints "ready" once
// it serves. Stopped by the test with a signal.
const ArLocal = require('arlocal').default;
const [port, dir] = [Number(process.argv[2]), process.argv[3]];
(async () => {
  const node = new ArLocal(port, false, dir, true);
  await node.start();
  console.log('ready');
  const stop = async () => { await node.stop(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
})().catch((e) => { console.error(e); process.exit(1); });
