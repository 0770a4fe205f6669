// A WatermelonDB app of the example project, run in Node with the LokiJS adapter in memory
// (as WatermelonDB's own tests do): its schema, models, migrations and synchronize() call
// against `{prefix}watermelon/` (SPEC §9, docs/design/watermelon-protocol.md).
//
// Tables are the example's domains with `-` replaced by `_`; columns are the domains' wire
// field names; a relation is a `<field>_id` column holding the parent's id.
//
// Schema versions (the example declares 2 as the minimum it accepts):
//   1  work_orders only (without actual_start / actual_end): too old, the server answers 426;
//   2  adds the checklist table;
//   3  adds the helpdesk table and work_orders.actual_start / actual_end: a migration sync.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Database, Model, Q, appSchema, tableSchema } = require('@nozbe/watermelondb');
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default;
const {
  schemaMigrations,
  createTable,
  addColumns,
} = require('@nozbe/watermelondb/Schema/migrations');
const { synchronize } = require('@nozbe/watermelondb/sync');

const optional = (name, type = 'string') => ({ name, type, isOptional: true });

const workOrders = (version) => ({
  name: 'work_orders',
  columns: [
    { name: 'description', type: 'string' },
    { name: 'status', type: 'string' },
    { name: 'priority', type: 'string' },
    optional('scheduled_start'),
    optional('scheduled_end'),
    ...(version >= 3 ? [optional('actual_start'), optional('actual_end')] : []),
  ],
});

const checklist = {
  name: 'checklist',
  columns: [
    { name: 'work_order_id', type: 'string', isIndexed: true },
    { name: 'label', type: 'string' },
    { name: 'done', type: 'boolean' },
    { name: 'position', type: 'number' },
  ],
};

// ticket_history (a JSON list) has no WatermelonDB column type: the app leaves it out.
const helpdesk = {
  name: 'helpdesk',
  columns: [
    { name: 'ticketdesc', type: 'string' },
    { name: 'status', type: 'string' },
    { name: 'priority', type: 'string' },
    { name: 'is_escalated', type: 'boolean' },
    { name: 'escalation_level', type: 'number' },
  ],
};

export { Q };

export function schemaAt(version) {
  const tables = [
    workOrders(version),
    ...(version >= 2 ? [checklist] : []),
    ...(version >= 3 ? [helpdesk] : []),
  ];
  return appSchema({ version, tables: tables.map(tableSchema) });
}

const history = [
  { toVersion: 2, steps: [createTable(checklist)] },
  {
    toVersion: 3,
    steps: [
      createTable(helpdesk),
      addColumns({ table: 'work_orders', columns: [optional('actual_start'), optional('actual_end')] }),
    ],
  },
];

/** The app's migrations up to `version` (WatermelonDB wants them to end at the schema's). */
export function migrationsAt(version) {
  return schemaMigrations({ migrations: history.filter((m) => m.toVersion <= version) });
}

export class WorkOrder extends Model {
  static table = 'work_orders';
  static associations = { checklist: { type: 'has_many', foreignKey: 'work_order_id' } };
}

export class ChecklistStep extends Model {
  static table = 'checklist';
  static associations = { work_orders: { type: 'belongs_to', key: 'work_order_id' } };
}

export class Ticket extends Model {
  static table = 'helpdesk';
}

const modelsAt = (version) =>
  [WorkOrder, ChecklistStep, Ticket].filter((model) => schemaAt(version).tables[model.table]);

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

export class SyncError extends Error {
  constructor(status, body) {
    super(`watermelon sync answered ${status}: ${body}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * One synchronize() against `{baseUrl}watermelon/`, as WatermelonDB's documentation writes
 * it, with the sync backend protocol of SPEC §9. A 409 (a pushed record changed on the
 * server after last_pulled_at) rejects; `syncWithRetry` pulls and pushes again.
 */
export async function sync(database, { baseUrl, token, deviceId, turbo = false, ...more } = {}) {
  const headers = { Authorization: `Bearer ${token}`, 'X-Device-Id': deviceId };
  await synchronize({
    database,
    async pullChanges({ lastPulledAt, schemaVersion, migration }) {
      const params =
        `last_pulled_at=${lastPulledAt}&schema_version=${schemaVersion}` +
        `&migration=${encodeURIComponent(JSON.stringify(migration))}`;
      const response = await fetch(`${baseUrl}watermelon/?${params}`, { headers });
      if (!response.ok) throw new SyncError(response.status, await response.text());
      if (turbo) return { syncJson: await response.text() };
      const { changes, timestamp } = await response.json();
      return { changes, timestamp };
    },
    async pushChanges({ changes, lastPulledAt }) {
      const response = await fetch(`${baseUrl}watermelon/?last_pulled_at=${lastPulledAt}`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify({ changes }),
      });
      if (!response.ok) throw new SyncError(response.status, await response.text());
      const body = await response.json();
      return body?.experimentalRejectedIds
        ? { experimentalRejectedIds: body.experimentalRejectedIds }
        : undefined;
    },
    migrationsEnabledAtVersion: 1,
    unsafeTurbo: turbo,
    ...more,
  });
}

/** synchronize(), retried once after a 409, as WatermelonDB's documentation recommends. */
export async function syncWithRetry(database, options) {
  try {
    await sync(database, options);
  } catch (error) {
    if (error.status !== 409) throw error;
    await sync(database, options);
  }
}

/** Every record of `table`, as raw columns. */
export async function rows(database, table) {
  const records = await database.get(table).query().fetch();
  return records.map((record) => ({ ...record._raw }));
}

export function close(database) {
  database.adapter.underlyingAdapter._driver?.loki?.close();
}
