// Two devices replicate two collections (work-orders, helpdesk) both ways through the
// example server: creates, updates and deletes made on one reach the other.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { newId, rxDevice, serverRecords } from './support.mjs';

const alice = await rxDevice('alice');
const bob = await rxDevice('bob');
after(() => Promise.all([alice.close(), bob.close()]));

test('records created on one device reach the other, in both collections', async () => {
  const order = newId();
  const ticket = newId();
  await alice.db.work_orders.insert({
    mobile_id: order,
    description: 'Replace the lobby door closer',
    priority: 'HIGH',
    scheduled_start: '2025-10-01T09:00:00Z',
  });
  await alice.db.helpdesk.insert({ mobile_id: ticket, ticketdesc: 'Door slams', status: 'NEW' });
  await alice.sync();

  const onServer = await serverRecords('alice', 'work-orders');
  assert.equal(onServer.get(order).description, 'Replace the lobby door closer');
  assert.equal(onServer.get(order).version, 1);

  await bob.sync();
  const seen = await bob.doc('work_orders', order);
  assert.equal(seen.description, 'Replace the lobby door closer');
  assert.equal(seen.priority, 'HIGH');
  assert.equal(seen.status, 'draft', 'defaults come from the server');
  assert.equal(seen.version, 1);
  const seenTicket = await bob.doc('helpdesk', ticket);
  assert.equal(seenTicket.ticketdesc, 'Door slams');
  assert.equal(seenTicket.ticket_history.length, 1, 'server-owned fields reach the device');

  // Bob works on both; Alice sees it.
  await (await bob.db.work_orders.findOne(order).exec()).incrementalPatch({ status: 'in_progress' });
  await (await bob.db.helpdesk.findOne(ticket).exec()).incrementalPatch({ status: 'OPEN' });
  await bob.sync();
  await alice.sync();
  assert.equal((await alice.doc('work_orders', order)).status, 'in_progress');
  assert.equal((await alice.doc('work_orders', order)).version, 2);
  assert.equal((await alice.doc('helpdesk', ticket)).status, 'OPEN');

  // Alice deletes the work order; it disappears from Bob's device.
  await (await alice.db.work_orders.findOne(order).exec()).remove();
  await alice.sync();
  assert.equal((await serverRecords('alice', 'work-orders')).get(order).deleted, true);
  await bob.sync();
  assert.equal(await bob.doc('work_orders', order), null);
  assert.ok(await bob.doc('helpdesk', ticket), 'the other collection is untouched');

  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
