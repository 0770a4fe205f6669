// A migration sync: a device on schema 2 updates the app to schema 3, which adds the
// helpdesk, activity, attendance, journal and photos tables and work_orders.actual_start /
// actual_end. Its next sync sends
// `migration` and receives every ticket and every work order whose new columns hold a value,
// although none of them changed since its last pull.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { api, newId, responses } from '../test/support.mjs';
import { watermelonErrors, wmDevice } from './device.mjs';

const bob = wmDevice('bob', 2);
after(() => bob.close());

test('schema 2 -> 3: the new table and columns are filled', async () => {
  const [started, plain, ticket] = [newId(), newId(), newId()];
  const [status] = await api('alice', 'POST', 'work-orders/sync/', {
    entries: [
      { mobile_id: started, version: 0, description: 'Started', status: 'draft' },
      { mobile_id: plain, version: 0, description: 'Not started' },
    ],
  });
  assert.equal(status, 200);
  const [moved, body] = await api('alice', 'POST', 'work-orders/sync/', {
    entries: [
      { mobile_id: started, version: 1, status: 'in_progress', actual_start: '2025-10-01T08:00:00Z' },
    ],
  });
  assert.equal(moved, 200);
  assert.equal(body.synced_items[0].status, 'updated', JSON.stringify(body));
  assert.equal(
    (await api('alice', 'POST', 'helpdesk/sync/', {
      entries: [{ mobile_id: ticket, version: 0, ticketdesc: 'Noisy fan', status: 'NEW' }],
    }))[0],
    200,
  );

  await bob.sync();
  assert.equal((await bob.row('work_orders', started)).status, 'in_progress');
  assert.equal('actual_start' in (await bob.row('work_orders', started)), false, 'no column yet');

  await bob.upgrade(3);
  const since = responses.length;
  await bob.sync();

  const [pull] = responses
    .slice(since)
    .filter(({ method, url }) => method === 'GET' && url.includes('/watermelon/'));
  const query = new URL(pull.url).searchParams;
  assert.equal(query.get('schema_version'), '3');
  assert.deepEqual(JSON.parse(query.get('migration')), {
    from: 2,
    tables: ['activity', 'attendance', 'helpdesk', 'journal', 'photos'],
    columns: [{ table: 'work_orders', columns: ['actual_start', 'actual_end'] }],
  });
  assert.equal((await bob.row('helpdesk', ticket))?.ticketdesc, 'Noisy fan');
  assert.equal((await bob.row('work_orders', started)).actual_start, '2025-10-01T08:00:00Z');
  assert.equal((await bob.row('work_orders', plain)).actual_start, null);

  // The next sync is an ordinary one again.
  const again = responses.length;
  await bob.sync();
  const [next] = responses.slice(again).filter(({ url }) => url.includes('/watermelon/'));
  assert.equal(new URL(next.url).searchParams.get('migration'), 'null');
  assert.deepEqual(watermelonErrors, []);
});
