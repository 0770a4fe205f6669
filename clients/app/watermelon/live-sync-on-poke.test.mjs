// Live streams with WatermelonDB (django-mobile-sync-client/live, syncOnPoke): Bob's device calls
// synchronize() only when the server pokes it, debounced and jittered. Alice's burst of
// five pushes reaches Bob's device within 5 s, in fewer syncs than pushes.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { syncOnPoke } from 'django-mobile-sync-client/live';

import { BASE_URL, token } from '../test/support.mjs';
import { assign } from './app.mjs';
import { watermelonErrors, wmDevice } from './device.mjs';

const alice = wmDevice('alice', 3);
const bob = wmDevice('bob', 3);
let syncs = 0;
const live = syncOnPoke(
  { baseUrl: BASE_URL, authorization: () => `Bearer ${token('bob')}`, domains: ['helpdesk'] },
  async () => {
    syncs += 1;
    await bob.syncWithRetry();
  },
  { debounceMs: 300, jitterMs: 500 },
);
after(() => {
  live.close();
  [alice, bob].forEach((device) => device.close());
});

async function until(check, timeoutMs) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not within ${timeoutMs} ms`);
}

test("a burst of another device's pushes reaches the device in a few debounced syncs", async () => {
  await until(async () => syncs >= 1, 5000); // the sync on connection
  await new Promise((resolve) => setTimeout(resolve, 1500)); // that first sync is done
  const before = syncs;
  const ids = [];
  for (let i = 0; i < 5; i += 1) {
    await alice.write(async () => {
      const ticket = await alice.database
        .get('helpdesk')
        .create((r) => assign(r, { ticketdesc: `Burst ${i}`, status: 'NEW', priority: 'LOW' }));
      ids.push(ticket.id);
    });
    await alice.sync();
  }
  await until(async () => {
    const rows = await bob.rows('helpdesk');
    return ids.every((id) => rows.some((row) => row.id === id));
  }, 5000);
  assert.ok(syncs - before < 5, `${syncs - before} syncs for 5 pushes: the pokes are debounced`);
  assert.deepEqual(watermelonErrors, []);
});
