// A WatermelonDB app of the example project, run in Node with the LokiJS adapter in memory
// (as WatermelonDB's own tests do). Its schema, models and sync are the recipe of
// docs/clients/watermelondb.md, compiled from watermelon/schema.ts and watermelon/sync.ts
// by `npm run build`; this file adds what the tests need: older releases of the app, an
// in-memory database, app updates.
//
// Schema versions (the example declares 2 as the minimum it accepts):
//   1  work_orders only (without actual_start / actual_end): too old, the server answers 426;
//   2  adds the checklist table;
//   3  adds the helpdesk table and work_orders.actual_start / actual_end: a migration sync.
import { createRequire } from 'node:module';

import {
  ChecklistStep,
  Ticket,
  WorkOrder,
  migrations,
  modelClasses,
  schema,
} from '../build/watermelon/schema.js';
import { SyncError, syncOnce, syncWithServer } from 'django-mobile-sync-client/watermelondb';

const require = createRequire(import.meta.url);
const { Database, Q, appSchema, tableSchema } = require('@nozbe/watermelondb');
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default;
const { schemaMigrations } = require('@nozbe/watermelondb/Schema/migrations');

export { ChecklistStep, Q, SyncError, Ticket, WorkOrder };

/**
 * The schema release `version` of the app shipped: today's, less what the migrations to
 * later versions added (they only add tables and columns).
 */
export function schemaAt(version) {
  if (version > schema.version) throw new Error(`the app has no schema version ${version}`);
  const later = migrations.sortedMigrations
    .filter((migration) => migration.toVersion > version)
    .flatMap((migration) => migration.steps);
  const newTables = new Set(
    later.filter((step) => step.type === 'create_table').map((step) => step.schema.name),
  );
  const newColumns = new Set(
    later
      .filter((step) => step.type === 'add_columns')
      .flatMap((step) => step.columns.map((column) => `${step.table}.${column.name}`)),
  );
  const tables = Object.values(schema.tables)
    .filter((table) => !newTables.has(table.name))
    .map((table) =>
      tableSchema({
        name: table.name,
        columns: table.columnArray.filter((c) => !newColumns.has(`${table.name}.${c.name}`)),
      }),
    );
  return appSchema({ version, tables });
}

/** The app's migrations up to `version` (WatermelonDB wants them to end at the schema's). */
export function migrationsAt(version) {
  return schemaMigrations({
    migrations: migrations.sortedMigrations.filter((migration) => migration.toVersion <= version),
  });
}

const modelsAt = (version) => modelClasses.filter((model) => schemaAt(version).tables[model.table]);

/** A fresh, empty app database at `schemaVersion`. */
export function openDatabase(schemaVersion = 2, name = 'app') {
  const adapter = new LokiJSAdapter({
    dbName: name,
    schema: schemaAt(schemaVersion),
    migrations: migrationsAt(schemaVersion),
    useWebWorker: false,
    useIncrementalIndexedDB: false,
    // No autosave timer: it would keep Node running after the tests.
    extraLokiOptions: { autosave: false },
  });
  return new Database({ adapter, modelClasses: modelsAt(schemaVersion) });
}

/** The same device after an app update to `schemaVersion`: its data is migrated. */
export async function upgrade(database, schemaVersion) {
  const driver = database.adapter.underlyingAdapter._driver;
  await new Promise((resolve, reject) =>
    driver.loki.saveDatabase((error) => (error ? reject(error) : resolve())),
  );
  const adapter = await database.adapter.underlyingAdapter.testClone({
    schema: schemaAt(schemaVersion),
    migrations: migrationsAt(schemaVersion),
  });
  return new Database({ adapter, modelClasses: modelsAt(schemaVersion) });
}

/** Write `values` (column name → raw value) into a record being created or updated. */
export function assign(record, values) {
  for (const [column, value] of Object.entries(values)) record._setRaw(column, value);
}

/**
 * One synchronize() against `{baseUrl}watermelon/` with the recipe's syncOnce(): a 409 (a
 * pushed record changed on the server after last_pulled_at) rejects with a SyncError.
 */
export const sync = (database, options) => syncOnce(database, options);

/** synchronize(), retried once after a 409: the recipe's syncWithServer(). */
export const syncWithRetry = (database, options) => syncWithServer(database, options);

/** Every record of `table`, as raw columns. */
export async function rows(database, table) {
  const records = await database.get(table).query().fetch();
  return records.map((record) => ({ ...record._raw }));
}

export function close(database) {
  database.adapter.underlyingAdapter._driver?.loki?.close();
}
