// Views (docs/views.md): a work order reassigned away from a worker disappears from her
// WatermelonDB database at her next synchronize(), its checklist steps with it; the new
// assignee's device receives them whole. A change of her role brings the others' work orders
// in, then takes them out, by ordinary incremental pulls.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { api, manage, newId } from '../test/support.mjs';
import { watermelonErrors, wmDevice } from './device.mjs';

// This script's tenant (tests/helpers/node_clients.py, tenant_of): its own users.
const CLIENT = 'Node clients';
const BU = 'reassign';
const username = (name) => `${name}-${BU}`;

/**
 * Give `name` the role `role` (`sync_user --role`), then let the event loop run: manage()
 * blocks it (execFileSync), and a keep-alive connection the server closed meanwhile must be
 * seen closed before the next request, or that request fails with "fetch failed".
 */
async function setRole(name, role) {
  manage('sync_user', username(name), '--client', CLIENT, '--bu', BU, '--role', role);
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const alice = wmDevice('alice');
const bob = wmDevice('bob');
after(() => [alice, bob].forEach((device) => device.close()));

test('a reassigned work order and its steps leave the old assignee after synchronize()', async () => {
  const order = newId();
  const steps = [newId(), newId()];
  let [status, body] = await api('alice', 'POST', 'work-orders/sync/', {
    entries: [{ mobile_id: order, description: 'Fix the pump', assignee: username('alice') }],
  });
  assert.equal(status, 200);
  assert.equal(body.synced_items[0]?.status, 'created', JSON.stringify(body));
  [status, body] = await api('alice', 'POST', 'checklist/sync/', {
    entries: steps.map((id, position) => ({ mobile_id: id, work_order: order, label: 'step', position })),
  });
  assert.deepEqual(body.errors, []);

  await alice.sync();
  assert.equal((await alice.row('work_orders', order))?.description, 'Fix the pump');
  assert.equal((await alice.rows('checklist')).filter((row) => steps.includes(row.id)).length, 2);

  // Bob, a supervisor, takes the work order.
  await setRole('bob', 'supervisor');
  await bob.sync();
  assert.equal((await bob.row('work_orders', order))?.description, 'Fix the pump');
  const [, records] = await api('bob', 'GET', 'work-orders/changes/?limit=1000');
  const version = records.items.find((item) => item.mobile_id === order).version;
  [status, body] = await api('bob', 'POST', 'work-orders/sync/', {
    entries: [{ mobile_id: order, version, assignee: username('bob') }],
  });
  assert.equal(body.synced_items[0]?.status, 'updated', JSON.stringify(body));

  await alice.sync();
  assert.equal(await alice.row('work_orders', order), null, 'gone from her database');
  assert.deepEqual((await alice.rows('checklist')).filter((row) => steps.includes(row.id)), []);
  await bob.sync();
  assert.equal((await bob.row('work_orders', order))?.description, 'Fix the pump');
  assert.equal((await bob.rows('checklist')).filter((row) => steps.includes(row.id)).length, 2);
  assert.deepEqual(watermelonErrors, []);
});

test('a promotion brings the others\' work orders in at synchronize(), a demotion takes them out', async () => {
  // Alice is a worker; Bob assigns a work order to himself.
  const order = newId();
  const steps = [newId(), newId()];
  let [status, body] = await api('bob', 'POST', 'work-orders/sync/', {
    entries: [{ mobile_id: order, description: 'Bob\'s boiler', assignee: username('bob') }],
  });
  assert.equal(body.synced_items[0]?.status, 'created', JSON.stringify(body));
  [status, body] = await api('bob', 'POST', 'checklist/sync/', {
    entries: steps.map((id, position) => ({ mobile_id: id, work_order: order, label: 'step', position })),
  });
  assert.equal(status, 200);
  assert.deepEqual(body.errors, []);

  await alice.sync();
  assert.equal(await alice.row('work_orders', order), null, 'not hers');

  // Promoted: the work order and its steps arrive, though they did not change since.
  await setRole('alice', 'supervisor');
  await alice.sync();
  assert.equal((await alice.row('work_orders', order))?.description, 'Bob\'s boiler');
  assert.equal((await alice.rows('checklist')).filter((row) => steps.includes(row.id)).length, 2);

  // A worker again: they leave her database.
  await setRole('alice', 'worker');
  await alice.sync();
  assert.equal(await alice.row('work_orders', order), null, 'gone from her database');
  assert.deepEqual((await alice.rows('checklist')).filter((row) => steps.includes(row.id)), []);
  assert.deepEqual(watermelonErrors, []);
});
