// A device away longer than TOMBSTONE_RETENTION: the tombstones its cursor still needs were
// purged, its next pull answers 410, and the recipe resyncs from scratch: records deleted
// meanwhile disappear, the others stay, and changes made offline are still pushed.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { manage, newId, responses, rxDevice, serverRecords } from './support.mjs';

const alice = await rxDevice('alice');
const bob = await rxDevice('bob');
after(() => Promise.all([alice.close(), bob.close()]));

/** Make the tombstone of `id` a year old (without moving the change cursor), then purge. */
function purgeTombstone(id) {
  manage(
    'shell',
    '-c',
    `
from datetime import timedelta
from django.db import connection
from django.utils import timezone
from field_ops.models import WorkOrder
pk = WorkOrder.all_objects.get(mobile_id="${id}", deleted=True).pk
with connection.cursor() as cursor:
    cursor.execute(
        f"UPDATE {WorkOrder._meta.db_table} SET deleted_at = %s WHERE id = %s",
        [timezone.now() - timedelta(days=365), pk],
    )
`,
  );
  const output = manage('purge_tombstones', 'work-orders');
  assert.match(output, /work-orders: purged [1-9]\d* tombstone/, output);
}

test('410: the device resyncs, drops what was deleted and keeps its offline changes', async () => {
  const [gone, kept] = [newId(), newId()];
  await alice.db.work_orders.bulkInsert([
    { mobile_id: gone, description: 'Deleted while Bob is away' },
    { mobile_id: kept, description: 'Still there' },
  ]);
  await alice.sync();
  await bob.sync();
  assert.ok(await bob.doc('work_orders', gone));

  // Bob goes offline and keeps working; Alice deletes a record; its tombstone is purged.
  await bob.stop();
  const offline = newId();
  await bob.db.work_orders.insert({ mobile_id: offline, description: 'Created offline' });
  await (await bob.db.work_orders.findOne(kept).exec()).incrementalPatch({ priority: 'HIGH' });
  await (await alice.db.work_orders.findOne(gone).exec()).remove();
  await alice.sync();
  purgeTombstone(gone);

  // Bob comes back: his stored cursor answers 410.
  const since = responses.length;
  bob.start();
  await bob.sync();
  const pulls = responses.slice(since).filter(({ url }) => url.includes('/work-orders/changes/'));
  assert.equal(pulls[0].status, 410, JSON.stringify(pulls));
  assert.ok(pulls.slice(1).every(({ status }) => status === 200), JSON.stringify(pulls));

  assert.equal(await bob.doc('work_orders', gone), null, 'the purged delete reached Bob');
  assert.equal((await bob.doc('work_orders', kept)).priority, 'HIGH');
  assert.ok(await bob.doc('work_orders', offline));
  const onServer = await serverRecords('alice', 'work-orders');
  assert.equal(onServer.get(kept).priority, 'HIGH', "Bob's offline edit was pushed");
  assert.equal(onServer.get(offline).description, 'Created offline');
  assert.equal(onServer.has(gone), false, 'the tombstone is gone from the server');
  assert.deepEqual(bob.errors, []);
});
