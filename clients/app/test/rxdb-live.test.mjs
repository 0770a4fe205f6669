// Live mode: Alice's RxDB replication pulls when the server pokes her stream (the package's live
// module feeding pull.stream$), never on a timer and never by a call of ours: Bob's change reaches
// her device within 3 s.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';

import { rxdbResyncStream } from 'django-mobile-sync-client/live';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';

import { openDatabase, startSync } from '../build/rxdb/setup.js';
import { api, BASE_URL, newId, token } from './support.mjs';

const pokes = [];
const live = rxdbResyncStream({
  baseUrl: BASE_URL,
  authorization: () => `Bearer ${token('alice')}`,
  domains: ['work-orders', 'helpdesk'],
  onPoke: (domains) => pokes.push(domains), // the hook a push-notification forwarder uses
});
const db = await openDatabase({
  name: `live${randomUUID().replaceAll('-', '')}`,
  storage: getRxStorageMemory(),
  multiInstance: false,
});
const replications = startSync(db, {
  baseUrl: BASE_URL,
  authorization: () => `Bearer ${token('alice')}`,
  deviceId: 'alice-live',
  retryTime: 200,
  waitForLeadership: false,
  stream$: live.stream$,
});
after(async () => {
  live.close();
  await Promise.all(Object.values(replications).map((r) => r.state.cancel()));
  await db.remove();
});

/** Resolves when `check()` holds, polling the local database only; the elapsed ms. */
async function until(check, timeoutMs) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`not within ${timeoutMs} ms`);
}

async function bobCreates(description) {
  const id = newId();
  const [status, body] = await api('bob', 'POST', 'work-orders/sync/', {
    entries: [{ mobile_id: id, version: 0, description }],
  });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.synced_items[0].status, 'created');
  return id;
}

test("another device's change reaches the device through a poke within 3 s", async () => {
  await replications.work_orders.state.awaitInitialReplication();
  await new Promise((resolve) => setTimeout(resolve, 500)); // the stream is open
  const id = await bobCreates('Urgent: gas leak at the depot');
  const elapsed = await until(async () => (await db.work_orders.findOne(id).exec()) !== null, 3000);
  assert.ok(elapsed < 3000);
  const doc = await db.work_orders.findOne(id).exec();
  assert.equal(doc.description, 'Urgent: gas leak at the depot');
  assert.ok(pokes.some((domains) => domains.includes('work-orders')), JSON.stringify(pokes));
  assert.ok(pokes.every((domains) => !domains.includes('activity')), 'only the followed domains');
});
