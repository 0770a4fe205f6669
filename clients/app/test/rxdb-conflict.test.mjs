// Two devices edit the same record from the same version. The second push is stale: the
// server answers `conflict` with its record, and the recipe's conflict handler merges it
// with the device's edit field by field (docs/clients/rxdb.md, "Conflicts").
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { newId, responses, rxDevice, serverRecords } from './support.mjs';

const alice = await rxDevice('alice');
const bob = await rxDevice('bob');
after(() => Promise.all([alice.close(), bob.close()]));

/** A work order both devices have at version 1; both go offline. */
async function sharedOrder(values = {}) {
  const id = newId();
  await alice.db.work_orders.insert({ mobile_id: id, description: 'Check the boiler', ...values });
  await alice.sync();
  await bob.sync();
  assert.equal((await bob.doc('work_orders', id)).version, 1);
  await Promise.all([alice.stop(), bob.stop()]);
  return id;
}

async function edit(device, id, patch) {
  await (await device.db.work_orders.findOne(id).exec()).incrementalPatch(patch);
}

async function reconnect(...devices) {
  for (const device of devices) {
    device.start();
    await device.sync();
  }
}

test('edits of different fields are both kept', async () => {
  const id = await sharedOrder();
  await edit(alice, id, { description: 'Check the boiler and the pump' });
  await edit(bob, id, { priority: 'HIGH' });
  await reconnect(alice, bob, alice);

  const onServer = (await serverRecords('alice', 'work-orders')).get(id);
  assert.equal(onServer.description, 'Check the boiler and the pump');
  assert.equal(onServer.priority, 'HIGH');
  assert.equal(onServer.version, 3, "Alice's edit, then Bob's merged edit");
  for (const device of [alice, bob]) {
    const local = await device.doc('work_orders', id);
    assert.equal(local.description, 'Check the boiler and the pump');
    assert.equal(local.priority, 'HIGH');
    assert.equal(local.version, 3);
  }
});

test('a field both changed keeps the server value (bothChanged: "server")', async () => {
  const id = await sharedOrder();
  await edit(alice, id, { description: 'Boiler: replace the valve' });
  await edit(bob, id, { description: 'Boiler: fine', priority: 'LOW' });
  await reconnect(alice, bob, alice);

  const onServer = (await serverRecords('bob', 'work-orders')).get(id);
  assert.equal(onServer.description, 'Boiler: replace the valve');
  assert.equal(onServer.priority, 'LOW', "Bob's other change still goes through");
  assert.equal((await bob.doc('work_orders', id)).description, 'Boiler: replace the valve');
});

test('a delete wins over a concurrent edit', async () => {
  const id = await sharedOrder();
  await (await alice.db.work_orders.findOne(id).exec()).remove();
  await edit(bob, id, { priority: 'HIGH' });
  await reconnect(alice, bob);

  assert.equal((await serverRecords('bob', 'work-orders')).get(id).deleted, true);
  assert.equal(await bob.doc('work_orders', id), null);
});

test('helpdesk (merge): the server merges a stale edit and the device adopts the result', async () => {
  const id = newId();
  await alice.db.helpdesk.insert({ mobile_id: id, ticketdesc: 'No heating', status: 'NEW' });
  await reconnect(alice, bob);
  await (await alice.db.helpdesk.findOne(id).exec()).incrementalPatch({ status: 'OPEN' });
  await alice.replications.helpdesk.state.awaitInSync();
  // Bob has not pulled Alice's change: his push is stale, and the server merges it.
  const since = responses.length;
  await (await bob.db.helpdesk.findOne(id).exec()).incrementalPatch({ priority: 'HIGH' });
  await bob.replications.helpdesk.state.awaitInSync();
  const sent = responses.slice(since).map(({ method, url }) => `${method} ${url.split('?')[0]}`);
  assert.ok(!sent.some((request) => request.startsWith('GET')), `no pull: ${sent}`);

  const local = await bob.doc('helpdesk', id);
  assert.equal(local.status, 'OPEN', "Alice's change, from the server's `resolved` answer");
  assert.equal(local.priority, 'HIGH');
  assert.equal(local.version, 3);
  assert.equal(local.ticket_history.length, 3);
  const onServer = (await serverRecords('bob', 'helpdesk')).get(id);
  assert.equal(onServer.status, 'OPEN');
  assert.equal(onServer.priority, 'HIGH');
  assert.equal(onServer.version, 3, 'adopting the answer changes nothing on the server');
});

test('every device ends without errors', () => {
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
