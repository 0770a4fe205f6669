// A first sync of 10,000 records (the server does not page a WatermelonDB pull), and a
// first-sync response that WatermelonDB's "turbo login" can load.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { BASE_URL, api, newId, serverRecords, token } from '../test/support.mjs';
import { schemaAt } from './app.mjs';
import { watermelonErrors, wmDevice } from './device.mjs';

const bob = wmDevice('bob', 3);
after(() => bob.close());

const COUNTS = { work_orders: 4000, checklist: 4000, helpdesk: 2000 };
const TABLES = { 'work-orders': 'work_orders', checklist: 'checklist', helpdesk: 'helpdesk' };

async function seed() {
  const orders = Array.from({ length: COUNTS.work_orders }, (_, i) => ({
    mobile_id: newId(),
    version: 0,
    description: `Work order ${i}`,
  }));
  const batches = [];
  for (let i = 0; i < orders.length; i += 1000) {
    batches.push(['work-orders', orders.slice(i, i + 1000)]);
    const steps = orders.slice(i, i + 1000).map((order, j) => ({
      mobile_id: newId(),
      version: 0,
      work_order: order.mobile_id,
      label: `Step ${i + j}`,
      position: 0,
    }));
    batches.push(['checklist', steps]);
  }
  for (let i = 0; i < COUNTS.helpdesk; i += 1000) {
    batches.push([
      'helpdesk',
      Array.from({ length: 1000 }, (_, j) => ({
        mobile_id: newId(),
        version: 0,
        ticketdesc: `Ticket ${i + j}`,
      })),
    ]);
  }
  for (const [domain, entries] of batches) {
    const [status, body] = await api('alice', 'POST', `${domain}/sync/`, { entries });
    assert.equal(status, 200);
    assert.equal(body.synced_items.length, entries.length, JSON.stringify(body.errors[0]));
  }
}

/**
 * The rules WatermelonDB's turbo loader (native/shared/Database-turboSync.cpp) applies to
 * the raw first-sync JSON: anything else makes it throw, or silently drop the value.
 */
function assertTurboLoadable(json, schema) {
  const body = JSON.parse(json);
  assert.equal(typeof body, 'object');
  assert.ok(Number.isSafeInteger(body.timestamp) && body.timestamp > 0, 'timestamp');
  for (const [table, changeSet] of Object.entries(body.changes)) {
    assert.deepEqual(Object.keys(changeSet).sort(), ['created', 'deleted', 'updated'], table);
    assert.deepEqual(changeSet.deleted, [], `${table}: turbo refuses deleted ids`);
    const columns = schema.tables[table]?.columns;
    const ids = new Set();
    for (const record of [...changeSet.created, ...changeSet.updated]) {
      assert.equal(typeof record.id, 'string', `${table}: ids are strings`);
      assert.ok(!ids.has(record.id), `${table}: ${record.id} twice (turbo INSERTs)`);
      ids.add(record.id);
      assert.ok(!('_status' in record) && !('_changed' in record));
      for (const [name, column] of Object.entries(columns ?? {})) {
        const value = record[name];
        if (value === null || value === undefined) continue;
        const ok =
          column.type === 'boolean'
            ? typeof value === 'boolean' || value === 0 || value === 1
            : typeof value === column.type;
        assert.ok(ok, `${table}.${name} is a ${column.type} column, the server sent ${value}`);
      }
    }
  }
}

test('a first sync of 10,000 records, valid for turbo login', async () => {
  await seed();

  const response = await fetch(
    `${BASE_URL}watermelon/?last_pulled_at=null&schema_version=3&migration=null`,
    { headers: { Authorization: `Bearer ${token('bob')}` } },
  );
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^application\/json/);
  assertTurboLoadable(await response.text(), schemaAt(3));

  const started = Date.now();
  await bob.sync();
  const seconds = (Date.now() - started) / 1000;
  // Everything the tenant has: what this test seeded (10,000) and anything older.
  for (const [domain, table] of Object.entries(TABLES)) {
    const live = [...(await serverRecords('bob', domain)).values()].filter((r) => !r.deleted);
    assert.ok(live.length >= COUNTS[table], `${domain}: ${live.length}`);
    assert.deepEqual(
      (await bob.rows(table)).map((row) => row.id).sort(),
      live.map((record) => record.mobile_id).sort(),
      table,
    );
  }
  const steps = await bob.rows('checklist');
  const orders = new Set((await bob.rows('work_orders')).map((row) => row.id));
  assert.ok(steps.every((step) => orders.has(step.work_order_id)), 'every step has its order');
  console.log(`# first sync of 10,000 records: ${seconds.toFixed(1)} s`);
  assert.deepEqual(watermelonErrors, []);
});
