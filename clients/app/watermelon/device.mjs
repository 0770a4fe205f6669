// A phone running the WatermelonDB app of app.mjs against the server pytest started.
import { createRequire } from 'node:module';

import { BASE_URL, token } from '../test/support.mjs';
import { close, openDatabase, rows, sync, syncWithRetry, upgrade } from './app.mjs';

const require = createRequire(import.meta.url);
const logger = require('@nozbe/watermelondb/utils/common/logger').default;

/**
 * What WatermelonDB logged as an error. Its sync code logs (and carries on) when the server
 * breaks a rule of the protocol, e.g. "Server wants client to update record ... but it
 * doesn't exist locally": a test asserts this stays empty.
 */
export const watermelonErrors = [];
logger.log = () => {};
// Warnings stay visible and are kept: "You are trying to sync a collection named helpdesk,
// but it does not exist" is how WatermelonDB ignores a table newer than the app (fine for an
// old release; today's, with the generated schema, must see none).
export const watermelonWarnings = [];
logger.warn = (...messages) => {
  if (String(messages[0]).includes('is now deprecated')) return;
  watermelonWarnings.push(String(messages[0]));
  console.warn('[WatermelonDB]', ...messages);
};
logger.error = (...messages) => watermelonErrors.push(String(messages[0]?.message ?? messages[0]));

let count = 0;

export function wmDevice(user, schemaVersion = 2) {
  count += 1;
  const options = { baseUrl: BASE_URL, token: token(user), deviceId: `${user}-phone-${count}` };
  const device = {
    user,
    database: openDatabase(schemaVersion, `${user}-${count}`),
    /** synchronize() once: a 409 rejects. */
    sync: (extra = {}) => sync(device.database, { ...options, ...extra }),
    /** synchronize(), retried once after a 409 (WatermelonDB's advice). */
    syncWithRetry: (extra = {}) => syncWithRetry(device.database, { ...options, ...extra }),
    rows: (table) => rows(device.database, table),
    async row(table, id) {
      return (await device.rows(table)).find((row) => row.id === id) ?? null;
    },
    write: (work) => device.database.write(work),
    async upgrade(version) {
      device.database = await upgrade(device.database, version);
    },
    close: () => close(device.database),
  };
  return device;
}

/** The raw column values of a record (what a push sends, less _status and _changed). */
export const raw = (record) => {
  const { _status, _changed, ...columns } = record._raw;
  return columns;
};
