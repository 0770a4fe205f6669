// A device whose schema is below the minimum the server declares gets 426 with a JSON body
// naming the minimum, on the WatermelonDB endpoint (schema_version) and, through
// X-Client-Schema-Version, on the native ones (the RxDB recipe): never a partial sync.
// The proposed body: {"detail": ..., "code": "upgrade_required", "minimum_schema_version": 2}.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { BASE_URL, newId, rxDevice, token } from '../test/support.mjs';
import { watermelonErrors, wmDevice } from './device.mjs';

const old = wmDevice('alice', 1);
after(() => old.close());

const MINIMUM = 2; // the example project's MOBILE_SYNC["WATERMELON"] minimum

test('schema 1 is refused with 426, and nothing is applied locally', async () => {
  await assert.rejects(old.sync(), (error) => {
    assert.equal(error.status, 426);
    const body = error.body;
    assert.equal(body.code, 'upgrade_required');
    assert.equal(body.minimum_schema_version, MINIMUM);
    return true;
  });
  assert.deepEqual(await old.rows('work_orders'), []);
  assert.deepEqual(watermelonErrors, []);
});

test('the native endpoints answer 426 to X-Client-Schema-Version below the minimum', async () => {
  const response = await fetch(`${BASE_URL}checklist/changes/`, {
    headers: { Authorization: `Bearer ${token('alice')}`, 'X-Client-Schema-Version': '1' },
  });
  assert.equal(response.status, 426);
  const body = await response.json();
  assert.equal(body.minimum_schema_version, MINIMUM);
});

test('RxDB: the recipe reports the 426 and pushes nothing', async () => {
  const upgrades = [];
  const device = await rxDevice('alice', {
    schemaVersion: 1,
    onUpgradeRequired: (body) => upgrades.push(body),
  });
  const id = newId();
  await device.db.work_orders.insert({ mobile_id: id, description: 'From an old app' });
  const deadline = Date.now() + 10_000;
  while (upgrades.length < 2 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await device.stop();
  assert.ok(upgrades.length >= 2, 'the pull and the push were both refused with 426');
  assert.equal(upgrades[0].minimum_schema_version, MINIMUM);
  const [status, page] = await fetch(`${BASE_URL}work-orders/changes/?limit=1000`, {
    headers: { Authorization: `Bearer ${token('alice')}`, 'X-Client-Schema-Version': '2' },
  }).then(async (r) => [r.status, await r.json()]);
  assert.equal(status, 200);
  assert.ok(!page.items.some((item) => item.mobile_id === id), 'nothing was pushed');
  await device.close();
});
