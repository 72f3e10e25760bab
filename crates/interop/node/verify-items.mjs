// Checks data items and a bundle that aorta made, with the real arbundles library.
// Usage: node verify-items.mjs CASES.json
// CASES.json: { "items": [{file, id, signature_type, address, tags, data_b64url}],
//               "bundle": {file, ids} }
// Prints one JSON line per check and exits 1 if any check failed.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DataItem, Bundle } from 'arbundles';
import { computeAddress } from '@ethersproject/transactions';

const casesPath = process.argv[2];
const dir = dirname(casesPath);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
let failures = 0;

function report(check, ok, detail) {
  if (!ok) failures++;
  console.log(JSON.stringify({ check, ok, ...detail }));
}

for (const c of cases.items) {
  const buf = readFileSync(join(dir, c.file));
  const item = new DataItem(buf);
  const verified = await DataItem.verify(buf);
  const tags = item.tags.map(({ name, value }) => ({ name, value }));
  const problems = [];
  if (!verified) problems.push('signature does not verify');
  if (!item.isValid()) problems.push('isValid() is false');
  if (item.id !== c.id) problems.push(`id ${item.id} != ${c.id}`);
  if (item.signatureType !== c.signature_type) problems.push(`type ${item.signatureType}`);
  if (JSON.stringify(tags) !== JSON.stringify(c.tags)) problems.push(`tags ${JSON.stringify(tags)}`);
  if (Buffer.from(item.rawData).toString('base64url') !== c.data_b64url) problems.push('data differs');
  if (item.signatureType === 3) {
    const address = computeAddress(item.rawOwner);
    if (address !== c.address) problems.push(`ethereum address ${address} != ${c.address}`);
  }
  report(`item ${c.file}`, problems.length === 0, { problems });
}

if (cases.bundle) {
  const bundle = new Bundle(readFileSync(join(dir, cases.bundle.file)));
  const ids = bundle.getIds();
  const verified = await bundle.verify();
  const problems = [];
  if (!verified) problems.push('bundle does not verify');
  if (JSON.stringify(ids) !== JSON.stringify(cases.bundle.ids)) problems.push(`ids ${JSON.stringify(ids)}`);
  report(`bundle ${cases.bundle.file}`, problems.length === 0, { problems });
}

console.log(JSON.stringify({ done: true, failures }));
process.exit(failures === 0 ? 0 : 1);
