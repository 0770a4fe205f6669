// WatermelonDB's synchronize() with the pullChanges and pushChanges of WatermelonDB's own
// sync docs (https://watermelondb.dev/docs/Sync/Frontend), word for word but for the URL
// and the Authorization header the example needs: the push body is the changes object
// itself (`JSON.stringify(changes)`), sent as fetch sends a string (text/plain), and no
// X-Device-Id. Two devices create, update and delete across three tables; the devices' own
// pushes come back in their next pull without a logged protocol error.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, test } from 'node:test';

import { BASE_URL, responses, serverRecords, token } from '../test/support.mjs';
import { assign, close, openDatabase } from './app.mjs';
import { watermelonErrors } from './device.mjs';

const require = createRequire(import.meta.url);
const { synchronize } = require('@nozbe/watermelondb/sync');

function documentedDevice(user) {
  const database = openDatabase(3, `documented-${user}`);
  const headers = { Authorization: `Bearer ${token(user)}` };
  const url = `${BASE_URL}watermelon/`;

  async function mySync() {
    await synchronize({
      database,
      pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
        const urlParams = `last_pulled_at=${lastPulledAt}&schema_version=${schemaVersion}&migration=${encodeURIComponent(
          JSON.stringify(migration),
        )}`;
        const response = await fetch(`${url}?${urlParams}`, { headers });
        if (!response.ok) {
          throw new Error(await response.text());
        }

        const { changes, timestamp } = await response.json();
        return { changes, timestamp };
      },
      pushChanges: async ({ changes, lastPulledAt }) => {
        const response = await fetch(`${url}?last_pulled_at=${lastPulledAt}`, {
          method: 'POST',
          headers,
          body: JSON.stringify(changes),
        });
        if (!response.ok) {
          throw new Error(await response.text());
        }
      },
      migrationsEnabledAtVersion: 1,
    });
  }

  return {
    database,
    sync: mySync,
    async row(table, id) {
      const records = await database.get(table).query().fetch();
      return records.find((record) => record.id === id)?._raw ?? null;
    },
  };
}

const alice = documentedDevice('alice');
const bob = documentedDevice('bob');
after(() => [alice, bob].forEach((device) => close(device.database)));

test("the docs' pushChanges syncs both ways", async () => {
  let order;
  let step;
  let ticket;
  await alice.database.write(async () => {
    order = await alice.database.get('work_orders').create((r) =>
      assign(r, { description: 'Fix the gate', status: 'draft', priority: 'LOW' }),
    );
    step = await alice.database.get('checklist').create((r) =>
      assign(r, { work_order_id: order.id, label: 'Oil the hinges', done: false, position: 0 }),
    );
    ticket = await alice.database.get('helpdesk').create((r) =>
      assign(r, { ticketdesc: 'Gate squeaks', status: 'NEW', priority: 'LOW' }),
    );
  });
  await alice.sync();
  const pushes = responses.filter(({ method, url }) => method === 'POST' && url.includes('/watermelon/'));
  assert.deepEqual(
    pushes.map(({ status }) => status),
    [200],
  );
  assert.equal((await serverRecords('alice', 'work-orders')).get(order.id).description, 'Fix the gate');
  assert.equal((await serverRecords('alice', 'checklist')).get(step.id).work_order, order.id);
  assert.equal((await serverRecords('alice', 'helpdesk')).get(ticket.id).ticketdesc, 'Gate squeaks');

  // Alice's next sync brings her own records back (the server's view of them), quietly.
  await alice.sync();
  assert.equal((await alice.row('work_orders', order.id))._status, 'synced');

  await bob.sync();
  assert.equal((await bob.row('checklist', step.id)).work_order_id, order.id);
  await bob.database.write(async () => {
    const record = await bob.database.get('work_orders').find(order.id);
    await record.update((r) => assign(r, { status: 'in_progress' }));
    const bobStep = await bob.database.get('checklist').find(step.id);
    await bobStep.markAsDeleted();
  });
  await bob.sync();
  await alice.sync();
  assert.equal((await alice.row('work_orders', order.id)).status, 'in_progress');
  assert.equal(await alice.row('checklist', step.id), null);
  assert.equal((await serverRecords('bob', 'checklist')).get(step.id).deleted, true);

  assert.deepEqual(watermelonErrors, [], 'WatermelonDB logged no protocol error');
  const watermelon = responses.filter(({ url }) => url.includes('/watermelon/'));
  assert.ok(watermelon.every(({ status }) => status === 200), JSON.stringify(watermelon));
});
