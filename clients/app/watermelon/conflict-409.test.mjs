// A push that includes a record changed on the server after the device's last pull is
// refused whole with 409 (nothing of it applied); the device pulls, WatermelonDB merges the
// server's change with its own column by column, and the retried push succeeds.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { api, responses, serverRecords } from '../test/support.mjs';
import { assign } from './app.mjs';
import { watermelonErrors, wmDevice } from './device.mjs';

const alice = wmDevice('alice');
const bob = wmDevice('bob');
after(() => [alice, bob].forEach((device) => device.close()));

test('409 on a concurrent server edit, then pull and retry', async () => {
  let order;
  await alice.write(async () => {
    order = await alice.database.get('work_orders').create((r) =>
      assign(r, { description: 'Paint the fence', status: 'draft', priority: 'LOW' }),
    );
  });
  await alice.sync();
  await bob.sync();

  // Bob changes the priority and syncs; Alice, who has not pulled since, changes the
  // description and adds a checklist step.
  await bob.write(async () => {
    const record = await bob.database.get('work_orders').find(order.id);
    await record.update((r) => assign(r, { priority: 'HIGH' }));
  });
  await bob.sync();
  let step;
  await alice.write(async () => {
    const record = await alice.database.get('work_orders').find(order.id);
    await record.update((r) => assign(r, { description: 'Paint the fence white' }));
    step = await alice.database.get('checklist').create((r) =>
      assign(r, { work_order_id: order.id, label: 'Buy paint', done: false, position: 0 }),
    );
  });

  // Alice syncs: between her pull and her push, Bob changes the work order again (through
  // the native endpoint). Her push now carries a record changed after her last pull.
  const pushed = () =>
    responses.filter(({ url, method }) => method === 'POST' && url.includes('/watermelon/'));
  const pushesBefore = pushed().length;
  await assert.rejects(
    alice.sync({
      async onWillApplyRemoteChanges() {
        const [status, body] = await api('bob', 'POST', 'work-orders/sync/', {
          entries: [{ mobile_id: order.id, version: 2, status: 'in_progress' }],
        });
        assert.equal(status, 200);
        assert.equal(body.synced_items[0]?.status, 'updated', JSON.stringify(body));
      },
    }),
    (error) => error.status === 409,
  );
  assert.deepEqual(
    pushed()
      .slice(pushesBefore)
      .map(({ status }) => status),
    [409],
  );

  // Nothing of the refused push was applied: not the update, not the new step.
  const before = (await serverRecords('alice', 'work-orders')).get(order.id);
  assert.equal(before.description, 'Paint the fence');
  assert.equal((await serverRecords('alice', 'checklist')).has(step.id), false);

  // The retry pulls Bob's changes, keeps Alice's, and pushes.
  await alice.sync();
  const merged = (await serverRecords('alice', 'work-orders')).get(order.id);
  assert.equal(merged.description, 'Paint the fence white');
  assert.equal(merged.priority, 'HIGH');
  assert.equal(merged.status, 'in_progress');
  assert.equal((await serverRecords('alice', 'checklist')).get(step.id).work_order, order.id);
  const local = await alice.row('work_orders', order.id);
  assert.equal(local.description, 'Paint the fence white');
  assert.equal(local.priority, 'HIGH');
  assert.equal(local._status, 'synced');

  await bob.sync();
  assert.equal((await bob.row('work_orders', order.id)).description, 'Paint the fence white');
  assert.deepEqual(watermelonErrors, []);
});
