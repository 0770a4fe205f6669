// Two WatermelonDB devices sync through `{prefix}watermelon/`: creates, updates and deletes
// across three tables, with checklist steps pointing at their work order (work_order_id),
// all with WatermelonDB's default 16-character ids.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { responses, serverRecords } from '../test/support.mjs';
import { Q, assign } from './app.mjs';
import { watermelonErrors, watermelonWarnings, wmDevice } from './device.mjs';

const alice = wmDevice('alice', 3);
const bob = wmDevice('bob', 3);
after(() => [alice, bob].forEach((device) => device.close()));

const DEFAULT_ID = /^[0-9a-zA-Z]{16}$/;

test('creates, updates and deletes reach the other device, relations included', async () => {
  let order;
  let steps;
  let ticket;
  await alice.write(async () => {
    order = await alice.database.get('work_orders').create((r) =>
      assign(r, { description: 'Service the lift', status: 'draft', priority: 'HIGH' }),
    );
    steps = await Promise.all(
      ['Cut the power', 'Check the cables', 'Test the brakes'].map((label, position) =>
        alice.database.get('checklist').create((r) =>
          assign(r, { work_order_id: order.id, label, done: false, position }),
        ),
      ),
    );
    ticket = await alice.database.get('helpdesk').create((r) =>
      assign(r, { ticketdesc: 'Lift stuck', status: 'NEW', priority: 'MEDIUM' }),
    );
  });
  assert.match(order.id, DEFAULT_ID, "WatermelonDB's own ids, not UUIDs");
  await alice.sync();

  // The native endpoints show the same ids, and the relation by the parent's id.
  const orders = await serverRecords('alice', 'work-orders');
  assert.equal(orders.get(order.id).description, 'Service the lift');
  const onServer = await serverRecords('alice', 'checklist');
  assert.deepEqual(
    steps.map((step) => onServer.get(step.id)?.work_order),
    [order.id, order.id, order.id],
  );
  assert.equal((await serverRecords('alice', 'helpdesk')).get(ticket.id).ticketdesc, 'Lift stuck');

  // Bob's first sync brings all of it, created (not updated) and with its relations.
  await bob.sync();
  assert.equal((await bob.row('work_orders', order.id)).description, 'Service the lift');
  const bobSteps = await bob.database
    .get('checklist')
    .query(Q.where('work_order_id', order.id))
    .fetch();
  assert.deepEqual(bobSteps.map((step) => step._raw.label).sort(), [
    'Check the cables',
    'Cut the power',
    'Test the brakes',
  ]);
  assert.equal((await bob.row('helpdesk', ticket.id)).status, 'NEW');
  assert.equal((await bob.row('helpdesk', ticket.id)).is_escalated, false);

  // Bob works on it: an update in each table and a delete.
  await bob.write(async () => {
    const [bobOrder, firstStep, lastStep, bobTicket] = await Promise.all([
      bob.database.get('work_orders').find(order.id),
      bob.database.get('checklist').find(steps[0].id),
      bob.database.get('checklist').find(steps[2].id),
      bob.database.get('helpdesk').find(ticket.id),
    ]);
    await bob.database.batch(
      bobOrder.prepareUpdate((r) => assign(r, { status: 'in_progress' })),
      firstStep.prepareUpdate((r) => assign(r, { done: true })),
      lastStep.prepareMarkAsDeleted(),
      bobTicket.prepareUpdate((r) => assign(r, { status: 'OPEN' })),
    );
  });
  await bob.sync();
  await alice.sync();

  assert.equal((await alice.row('work_orders', order.id)).status, 'in_progress');
  assert.equal((await alice.row('checklist', steps[0].id)).done, true);
  assert.equal(await alice.row('checklist', steps[2].id), null, 'deleted on Alice too');
  assert.equal((await alice.row('helpdesk', ticket.id)).status, 'OPEN');
  assert.equal((await serverRecords('bob', 'checklist')).get(steps[2].id).deleted, true);

  // Alice deletes the work order: the server tombstones its remaining steps (CASCADE), and
  // they reach Bob as deleted.
  await alice.write(async () => {
    const record = await alice.database.get('work_orders').find(order.id);
    await record.experimentalMarkAsDeleted();
  });
  await alice.sync();
  await bob.sync();
  assert.equal(await bob.row('work_orders', order.id), null);
  assert.deepEqual(await bob.rows('checklist'), []);

  assert.deepEqual(watermelonErrors, [], 'WatermelonDB logged no protocol error');
  // Today's app has every table the server maps (the generated schema): no table is ignored.
  assert.deepEqual(watermelonWarnings, [], 'WatermelonDB logged no warning');
  const watermelon = responses.filter(({ url }) => url.includes('/watermelon/'));
  assert.ok(watermelon.every(({ status }) => status === 200), JSON.stringify(watermelon));
});
