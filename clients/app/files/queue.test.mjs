// The recipes' upload queue (files/queue.ts, compiled) against the served example: a photo
// record is pushed before its file and pulls as unavailable; the queue uploads (one file the
// tenant already has costs one HEAD), survives a failure with backoff, and the record pulls
// as available. Record sync never waits for the queue.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { test } from 'node:test';

import { MemoryQueueStore, UploadQueue } from 'django-mobile-sync-client/files';

const BASE_URL = process.env.SYNC_URL + process.env.SYNC_PREFIX;
const TOKENS = JSON.parse(process.env.SYNC_TOKENS ?? '{}');
assert.ok(TOKENS.alice, 'run through pytest (example_project/tests/test_files_node.py)');
const AUTH = `Bearer ${TOKENS.alice}`;
const SCHEMA = { 'X-Client-Schema-Version': '2' };

async function api(method, path, body) {
  const response = await fetch(BASE_URL + path, {
    method,
    headers: { Authorization: AUTH, 'Content-Type': 'application/json', ...SCHEMA },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(response.status, 200, `${method} ${path}: ${await response.clone().text()}`);
  return response.json();
}

async function photos() {
  const found = new Map();
  let cursor = '';
  for (;;) {
    const page = await api('GET', `photos/changes/${cursor ? `?cursor=${cursor}` : ''}`);
    for (const item of page.items) found.set(item.mobile_id, item);
    cursor = encodeURIComponent(page.next_cursor);
    if (!page.has_more) return found;
  }
}

const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');

test('photos pushed before their files, uploaded by the queue, pull as available', async () => {
  const files = [randomBytes(3 * 1024 * 1024 + 17), randomBytes(200_000), randomBytes(50_000)];
  const digests = files.map(sha);
  const byDigest = new Map(files.map((bytes, i) => [digests[i], bytes]));
  const order = randomUUID();
  await api('POST', 'work-orders/sync/', { entries: [{ mobile_id: order, description: 'Pump' }] });
  const ids = digests.map(() => randomUUID());
  const pushed = await api('POST', 'photos/sync/', {
    entries: ids.map((id, i) => ({ mobile_id: id, work_order: order, file: digests[i] })),
  });
  assert.equal(pushed.synced_items.length, 3);
  for (const id of ids) assert.equal((await photos()).get(id).file_available, false);

  // The third file is already on the server (another device uploaded it).
  const other = new UploadQueue({
    baseUrl: BASE_URL,
    authorization: () => AUTH,
    store: new MemoryQueueStore(),
    bytes: async (digest) => byDigest.get(digest),
  });
  await other.enqueue(digests[2], 'image/jpeg');
  await other.drain();

  let failNext = true;
  let now = 1_000_000;
  const requests = [];
  const states = [];
  const store = new MemoryQueueStore();
  const queue = new UploadQueue({
    baseUrl: BASE_URL,
    authorization: () => AUTH,
    store,
    chunkSize: 1024 * 1024,
    now: () => now,
    bytes: async (digest) => {
      if (digest === digests[1] && failNext) {
        failNext = false;
        throw new Error('the photo is still being written to disk');
      }
      return byDigest.get(digest);
    },
    fetch: async (url, init) => {
      requests.push(`${init?.method ?? 'GET'} ${url}`);
      return fetch(url, init);
    },
    onChange: (file) => states.push(`${file.sha256.slice(0, 6)} ${file.state}`),
  });
  for (const digest of digests) await queue.enqueue(digest, 'image/jpeg');
  const draining = queue.drain();
  // Record sync goes on while the queue uploads: a pull answers meanwhile.
  assert.equal((await photos()).size >= 3, true);
  await draining;

  const [big, flaky, known] = digests.map((d) => d.slice(0, 6));
  assert.deepEqual(
    states.filter((s) => s.startsWith(known)),
    [`${known} queued`, `${known} uploading`, `${known} done`],
  );
  // One HEAD for the file the tenant already had, and nothing else.
  assert.deepEqual(
    requests.filter((r) => r.includes(digests[2])),
    [`HEAD ${BASE_URL}files/sha256/${digests[2]}`],
  );
  assert.ok(states.includes(`${big} done`));
  const failed = (await store.get(digests[1]));
  assert.equal(failed.state, 'queued');
  assert.equal(failed.attempts, 1);
  assert.equal(failed.retryAt, now + 2000, 'backoff: 2 s after the first failure');
  assert.match(failed.error, /still being written/);

  // Not due before its backoff; due after.
  await queue.drain();
  assert.equal((await store.get(digests[1])).state, 'queued');
  now += 2000;
  await queue.drain();
  assert.equal((await store.get(digests[1])).state, 'done');

  const pulled = await photos();
  ids.forEach((id, i) => {
    const photo = pulled.get(id);
    assert.equal(photo.file_available, true, `photo ${i}`);
    assert.equal(photo.file_size, files[i].length);
  });
  const download = await fetch(`${BASE_URL}files/sha256/${digests[0]}`, {
    headers: { Authorization: AUTH },
  });
  assert.equal(sha(Buffer.from(await download.arrayBuffer())), digests[0]);
});
