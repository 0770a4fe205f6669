// The trap: a record is created and pushed, then edited before the next pull. The local
// copy still says version 0, so the edit reaches the server as stale. RxDB's default
// conflict handler then drops it (`reject` domains answer `conflict`), and on a `merge`
// domain the server itself keeps its own value (`resolved`). The recipe must keep the edit.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { replicateRxCollection } from 'rxdb/plugins/replication';

import { BASE_URL, newId, rxDevice, serverRecords, token } from './support.mjs';

const alice = await rxDevice('alice');
after(() => alice.close());

const cases = [
  ['work_orders', 'work-orders', 'description', { description: 'Fix the gate' }],
  ['helpdesk', 'helpdesk', 'ticketdesc', { ticketdesc: 'Leak' }],
];

for (const [collection, domain, field, values] of cases) {
  test(`${domain}: an edit pushed before the next pull is kept`, async () => {
    const replication = alice.replications[collection];
    const id = newId();
    await alice.db[collection].insert({ mobile_id: id, ...values });
    await replication.state.awaitInSync();
    assert.equal((await serverRecords('alice', domain)).get(id).version, 1, 'the create is pushed');

    await (await alice.db[collection].findOne(id).exec()).incrementalPatch({ [field]: 'Edited' });
    await replication.state.awaitInSync();
    const onServer = (await serverRecords('alice', domain)).get(id);
    assert.equal(onServer[field], 'Edited');
    assert.equal(onServer.version, 2);

    await alice.sync();
    const local = await alice.doc(collection, id);
    assert.equal(local[field], 'Edited');
    assert.equal(local.version, 2);
    assert.deepEqual(alice.errors, []);
  });

  test(`${domain}: an edit made while the create is being pushed is kept`, async () => {
    const id = newId();
    const doc = await alice.db[collection].insert({ mobile_id: id, ...values });
    await doc.incrementalPatch({ [field]: 'Edited at once' });
    await alice.db[collection].findOne(id).exec();
    await alice.sync();
    assert.equal((await serverRecords('alice', domain)).get(id)[field], 'Edited at once');
    assert.equal((await alice.doc(collection, id))[field], 'Edited at once');
    assert.deepEqual(alice.errors, []);
  });
}

test('helpdesk: an edit made offline after the app restarted is kept', async () => {
  // The server's version of the create must outlive the app: it is in the document.
  const id = newId();
  await alice.db.helpdesk.insert({ mobile_id: id, ticketdesc: 'Leak' });
  await alice.replications.helpdesk.state.awaitInSync();
  await alice.stop();
  await (await alice.db.helpdesk.findOne(id).exec()).incrementalPatch({ ticketdesc: 'Offline' });
  alice.start();
  await alice.sync();
  assert.equal((await serverRecords('alice', 'helpdesk')).get(id).ticketdesc, 'Offline');
  assert.equal((await alice.doc('helpdesk', id)).ticketdesc, 'Offline');
  assert.deepEqual(alice.errors, []);
});

// The control: the handlers anyone would write first (the version the document carries,
// conflicts answered with server_data, RxDB's default conflict handler) lose the edit on
// this server. If this starts to fail, the server no longer sets the trap: keep the recipe
// test above, and say so in docs/clients/rxdb.md.
test('control: naive handlers lose the edit, on both kinds of domain', async () => {
  const naive = await rxDevice('alice', { recipe: false });
  after(() => naive.close());
  for (const [collection, domain, field, values] of cases) {
    const url = `${BASE_URL}${domain}/`;
    const headers = { Authorization: `Bearer ${token('alice')}`, 'Content-Type': 'application/json' };
    const state = replicateRxCollection({
      collection: naive.db[collection],
      replicationIdentifier: `naive ${url}`,
      waitForLeadership: false,
      push: {
        async handler(rows) {
          const entries = rows.map(({ newDocumentState: { _deleted, updated_at, ...doc } }) => ({
            ...doc,
            version: doc.version ?? 0,
            deleted: _deleted,
          }));
          const response = await fetch(`${url}sync/`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ entries }),
          });
          const body = await response.json();
          return body.conflicts.map(({ server_data: { deleted, ...data } }) => ({
            ...data,
            _deleted: deleted,
          }));
        },
      },
    });
    const id = newId();
    await naive.db[collection].insert({ mobile_id: id, ...values });
    await state.awaitInSync();
    await (await naive.db[collection].findOne(id).exec()).incrementalPatch({ [field]: 'Edited' });
    await state.awaitInSync();
    assert.equal((await serverRecords('alice', domain)).get(id)[field], values[field]);
    await state.cancel();
  }
});
