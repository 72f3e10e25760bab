// Runs a module with ao's own loader (@permaweb/ao-loader) over a JSONL file of
// {"msg": …, "env": …} lines, as the reference CU does: the memory of each call is the next
// call's (in a fresh instance), and a message that fails leaves the memory as it was. Prints one JSON line per
// message ({ok, Output, Messages, Spawns, Assignments, Error, GasUsed}) and a last line with
// the final memory's SHA-256.
//
// node ao-loader.mjs MODULE.wasm FORMAT MESSAGES.jsonl
import fs from 'node:fs';
import crypto from 'node:crypto';
import AoLoader from '@permaweb/ao-loader';

const [wasmPath, format, messagesPath] = process.argv.slice(2);
const wasm = fs.readFileSync(wasmPath);
const options = {
  format,
  inputEncoding: 'JSON-1',
  outputEncoding: 'JSON-1',
  memoryLimit: '524288000',
  computeLimit: '9000000000000',
  extensions: [],
};
let memory = null;
for (const line of fs.readFileSync(messagesPath, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const { msg, env } = JSON.parse(line);
  let result;
  try {
    // A fresh instance per message, given the last memory, as the reference CU evaluates (an
    // instance that failed is not used again).
    const handle = await AoLoader(wasm, options);
    result = await handle(memory, msg, env);
  } catch (error) {
    // The loader rejects with the response of `{ok: false, response}`.
    result = { Error: error instanceof Error ? error.message : error };
  }
  const ok = !result.Error;
  if (ok) memory = result.Memory;
  // Not console.log: the loader leaves it silenced after a message that fails.
  process.stdout.write(JSON.stringify({
    ok,
    Output: result.Output ?? null,
    Messages: result.Messages ?? [],
    Spawns: result.Spawns ?? [],
    Assignments: result.Assignments ?? [],
    Error: result.Error ?? null,
  }) + '\n');
}
const hash = crypto.createHash('sha256').update(Buffer.from(memory.buffer ?? memory)).digest('hex');
process.stdout.write(JSON.stringify({ memory: hash, size: (memory.buffer ?? memory).byteLength }) + '\n');
