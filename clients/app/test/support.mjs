// What the Node tests share: the server pytest started, its users, HTTP helpers, RxDB devices.
//
// pytest (example_project/tests/test_clients_node.py) passes by environment:
//   SYNC_URL      the example server, e.g. http://127.0.0.1:40123
//   SYNC_PREFIX   where django_mobile_sync.urls is mounted, e.g. /api/v1/sync/
//   SYNC_TOKENS   JSON {"username": "token", ...}: users of one tenant of this test
//   SYNC_PYTHON, SYNC_PROJECT   to run manage.py against the server's database
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';

import { createRxDatabase } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrappedValidateAjvStorage } from 'rxdb/plugins/validate-ajv';

import { ticketSchema, workOrderSchema } from '../build/rxdb/schemas.js';
import { openDatabase, startSync } from '../build/rxdb/setup.js';

/** Every response the recipe received ({method, url, status}): a spy, the requests are real. */
export const responses = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const response = await realFetch(url, init);
  responses.push({ method: init.method ?? 'GET', url: String(url), status: response.status });
  return response;
};

function required(name) {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run the Node tests through pytest (see clients/README.md)`);
  return value;
}

export const SERVER = required('SYNC_URL');
export const BASE_URL = SERVER + required('SYNC_PREFIX');
export const TOKENS = JSON.parse(required('SYNC_TOKENS'));

export function token(user) {
  assert.ok(TOKENS[user], `no token for ${user}; pytest created: ${Object.keys(TOKENS)}`);
  return TOKENS[user];
}

/** One HTTP request as `user`: [status, parsed JSON body]. */
export async function api(user, method, path, body) {
  const response = await fetch(BASE_URL + path, {
    method,
    headers: {
      Authorization: `Bearer ${token(user)}`,
      'Content-Type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return [response.status, text ? JSON.parse(text) : null];
}

/** Every item of a domain `user` can see, following next_cursor; the latest state by id. */
export async function serverRecords(user, domain) {
  const records = new Map();
  let cursor = null;
  for (;;) {
    const query = `?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const [status, page] = await api(user, 'GET', `${domain}/changes/${query}`);
    assert.equal(status, 200, JSON.stringify(page));
    for (const item of page.items) records.set(item.mobile_id, item);
    cursor = page.next_cursor;
    if (!page.has_more) return records;
  }
}

/** `manage.py` against the server's database (the environment pytest gave us). */
export function manage(...args) {
  return execFileSync(required('SYNC_PYTHON'), ['manage.py', ...args], {
    cwd: required('SYNC_PROJECT'),
    encoding: 'utf8',
  });
}

/**
 * A phone running the recipe of docs/clients/rxdb.md (rxdb/setup.ts): an in-memory RxDB
 * database, with schema validation so that every pulled document must match the documented
 * schema, replicating with the example server as `user`.
 *
 * `recipe: false` makes a phone without the recipe: RxDB's default conflict handler and no
 * replication (the control of rxdb-create-then-edit.test.mjs).
 */
export async function rxDevice(user, { recipe = true, schemaVersion, onUpgradeRequired } = {}) {
  const name = `device${randomUUID().replaceAll('-', '')}`;
  const storage = wrappedValidateAjvStorage({ storage: getRxStorageMemory() });
  let db;
  if (recipe) {
    db = await openDatabase({ name, storage, multiInstance: false });
  } else {
    db = await createRxDatabase({ name, storage, multiInstance: false });
    await db.addCollections({
      work_orders: { schema: workOrderSchema },
      helpdesk: { schema: ticketSchema },
    });
  }
  const errors = [];
  let replications = {};
  function start() {
    if (!recipe) return;
    replications = startSync(db, {
      baseUrl: BASE_URL,
      authorization: () => `Bearer ${token(user)}`,
      deviceId: `${user}-${name}`,
      retryTime: 200,
      waitForLeadership: false,
      onPushErrors: (items) => errors.push(...items),
      schemaVersion,
      onUpgradeRequired,
    });
    device.replications = replications;
    for (const replication of Object.values(replications)) {
      replication.state.error$.subscribe((error) => errors.push(error));
    }
  }
  const device = {
    db,
    errors,
    replications,
    /** Push what is pending and pull every change, in every collection. */
    async sync() {
      await Promise.all(Object.values(replications).map((r) => r.pullNow()));
    },
    async doc(collection, id) {
      const found = await db[collection].findOne(id).exec();
      return found ? found.toJSON() : null;
    },
    /** The app goes offline (or is closed): replication stops, local writes stay local. */
    async stop() {
      await Promise.all(Object.values(replications).map((r) => r.state.cancel()));
    },
    /** The app is back: new replications resume from the stored checkpoints. */
    start,
    async close() {
      await db.close();
    },
  };
  start();
  return device;
}

export const newId = () => randomUUID();
