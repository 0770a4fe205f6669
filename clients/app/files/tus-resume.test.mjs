// The real tus-js-client (npm, pinned in package.json) uploads an 8 MiB photo in 1 MiB chunks
// to {prefix}files/ of the example, is aborted midway, resumes from the server's offset, and
// the bytes the server serves have the digest the device computed. A second device with the
// same bytes asks HEAD {prefix}files/sha256/<hex> and uploads nothing.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';

import * as tus from 'tus-js-client';

const SERVER = process.env.SYNC_URL;
const BASE_URL = SERVER + process.env.SYNC_PREFIX;
const TOKENS = JSON.parse(process.env.SYNC_TOKENS ?? '{}');
assert.ok(SERVER && TOKENS.alice, 'run through pytest (example_project/tests/test_files_node.py)');

const MiB = 1024 * 1024;
const auth = (user) => ({ Authorization: `Bearer ${TOKENS[user]}` });

/** Start an upload of `data` as `user`; resolves when it succeeds, or when onChunk says stop. */
function run(user, data, sha256, { uploadUrl = null, stopAfterChunks = Infinity } = {}) {
  return new Promise((resolve, reject) => {
    let chunks = 0;
    let sent = 0;
    const upload = new tus.Upload(data, {
      endpoint: `${BASE_URL}files/`,
      uploadUrl,
      chunkSize: MiB,
      retryDelays: [],
      headers: auth(user),
      metadata: { sha256, filename: 'pump.jpg', filetype: 'image/jpeg' },
      onChunkComplete(chunkSize) {
        chunks += 1;
        sent += chunkSize;
        if (chunks >= stopAfterChunks) {
          // The device loses its network midway: the upload stays on the server.
          upload.abort(false).then(() => resolve({ url: upload.url, chunks, sent, done: false }));
        }
      },
      onSuccess: () => resolve({ url: upload.url, chunks, sent, done: true }),
      onError: reject,
    });
    upload.start();
  });
}

test('8 MiB in 1 MiB chunks, aborted midway and resumed; the bytes verified by digest', async () => {
  const data = randomBytes(8 * MiB);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const blob = `${BASE_URL}files/sha256/${sha256}`;
  assert.equal((await fetch(blob, { method: 'HEAD', headers: auth('alice') })).status, 404);

  const first = await run('alice', data, sha256, { stopAfterChunks: 3 });
  assert.equal(first.done, false);
  const head = await fetch(first.url, {
    method: 'HEAD',
    headers: { ...auth('alice'), 'Tus-Resumable': '1.0.0' },
  });
  assert.equal(head.status, 200);
  const offset = Number(head.headers.get('upload-offset'));
  assert.ok(offset >= 3 * MiB && offset < 8 * MiB, `offset ${offset}`);

  // The app restarts the upload from the URL it kept: tus-js-client asks HEAD, goes on.
  const second = await run('alice', data, sha256, { uploadUrl: first.url });
  assert.equal(second.done, true);
  assert.equal(second.url, first.url);
  assert.equal(second.sent, 8 * MiB - offset, 'only the missing bytes were sent again');

  const download = await fetch(blob, { headers: auth('bob') });
  assert.equal(download.status, 200);
  assert.equal(download.headers.get('etag'), `"${sha256}"`);
  const served = Buffer.from(await download.arrayBuffer());
  assert.equal(createHash('sha256').update(served).digest('hex'), sha256);

  // Bob's device holds the same bytes: one HEAD, and no upload.
  assert.equal((await fetch(blob, { method: 'HEAD', headers: auth('bob') })).status, 200);
});
