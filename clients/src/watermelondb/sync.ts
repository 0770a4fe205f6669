// WatermelonDB's synchronize() against django-mobile-sync's `{baseUrl}watermelon/`:
// pull = GET ?last_pulled_at=&schema_version=&migration=, push = POST ?last_pulled_at=.
import type { Database } from '@nozbe/watermelondb';
import {
  synchronize,
  type SyncArgs,
  type SyncPullResult,
  type SyncTableChangeSet,
} from '@nozbe/watermelondb/sync/index.js';

/** A record the server refused in a push (validation, a status transition, tenancy). */
export type RejectedRecord = {
  table: string;
  id: string;
  code: string;
  detail: string;
  errors: Record<string, string[]>;
};

export class SyncError extends Error {
  constructor(
    /** The HTTP status: 401, 403, 409, 426, 429, 5xx… */
    readonly status: number,
    /** The response body, parsed when it is JSON (every error body of the server is). */
    readonly body: unknown,
    /** Seconds to wait before trying again, from a 429's Retry-After. */
    readonly retryAfter: number | null = null,
  ) {
    super(`django-mobile-sync answered ${status}: ${JSON.stringify(body)}`);
    this.name = 'SyncError';
  }
}

export type SyncOptions = {
  /** Where django_mobile_sync.urls is mounted, e.g. 'https://api.example.com/api/v1/sync/'. */
  baseUrl: string;
  /** The API token, sent as `Authorization: Bearer <token>`; a function for refreshed tokens. */
  token: string | (() => string | Promise<string>);
  /** Identifies this install (X-Device-Id) in the server's batch log and per-device throttles. */
  deviceId: string;
  /**
   * Turbo login: the first sync's response goes to the native SQLite adapter (JSI) as
   * raw JSON, without parsing it in JavaScript. Only on a database that never synced.
   */
  turbo?: boolean;
  /** The server wants a newer app (426): stop syncing and ask the user to update. */
  onUpgradeRequired?: (body: { detail: string; minimum_schema_version: number }) => void;
  /** Records the server refused in a push: they stay unsynced and are pushed again. */
  onRejected?: (rejected: RejectedRecord[]) => void;
  /**
   * The schema version of your first release that synced (default 1); migration syncs
   * need the app's migrations passed to its adapter.
   */
  migrationsEnabledAtVersion?: number;
  /** Tables of the app that stay on the device: never pushed (the server would refuse them). */
  localTables?: string[];
  /** WatermelonDB's flag: the server then sends every record as `updated`. */
  sendCreatedAsUpdated?: boolean;
} & Pick<SyncArgs, 'log' | 'conflictResolver' | 'onWillApplyRemoteChanges' | 'onDidPullChanges'>;

type PushResponse = {
  experimentalRejectedIds?: Record<string, string[]>;
  rejected?: RejectedRecord[];
};

/** One synchronize(): pull, then push what changed locally. A 409 rejects. */
export async function syncOnce(database: Database, options: SyncOptions): Promise<void> {
  const { baseUrl, token, deviceId, turbo = false, onUpgradeRequired, onRejected } = options;
  const url = `${baseUrl}watermelon/`;
  const localTables = new Set(options.localTables);

  async function headers(): Promise<Record<string, string>> {
    return {
      Accept: 'application/json',
      Authorization: `Bearer ${typeof token === 'function' ? await token() : token}`,
      'X-Device-Id': deviceId,
      // The push's schema version (the pull sends it as schema_version): 426 when too old.
      'X-Client-Schema-Version': String(database.schema.version),
    };
  }

  async function failed(response: Response): Promise<never> {
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page): keep the text.
    }
    if (response.status === 426) onUpgradeRequired?.(body as any);
    const retryAfter = Number(response.headers.get('Retry-After')) || null;
    throw new SyncError(response.status, body, retryAfter);
  }

  await synchronize({
    database,
    async pullChanges({ lastPulledAt, schemaVersion, migration }) {
      if (turbo && lastPulledAt) {
        throw new Error('turbo only works on the first sync of a database (the login sync).');
      }
      const query = new URLSearchParams({
        last_pulled_at: String(lastPulledAt ?? null),
        schema_version: String(schemaVersion),
        migration: JSON.stringify(migration ?? null),
      });
      if (options.sendCreatedAsUpdated) query.set('send_created_as_updated', 'true');
      const response = await fetch(`${url}?${query}`, { headers: await headers() });
      if (!response.ok) await failed(response);
      if (turbo) return { syncJson: await response.text() };
      // The whole body: `changes`, `timestamp` and, after a reset on the server,
      // `experimentalStrategy: "replacement"`.
      return (await response.json()) as SyncPullResult;
    },
    async pushChanges({ changes, lastPulledAt }) {
      // The body is the changes object itself, as in WatermelonDB's docs. WatermelonDB
      // lists every table of the app; tables that stay on the device are left out.
      const pushed: Record<string, SyncTableChangeSet> = {};
      for (const [table, set] of Object.entries(changes as Record<string, SyncTableChangeSet>)) {
        const size = set.created.length + set.updated.length + set.deleted.length;
        if (size && !localTables.has(table)) pushed[table] = set;
      }
      if (!Object.keys(pushed).length) return {};
      const response = await fetch(`${url}?last_pulled_at=${lastPulledAt}`, {
        method: 'POST',
        headers: { ...(await headers()), 'Content-Type': 'application/json' },
        body: JSON.stringify(pushed),
      });
      if (!response.ok) await failed(response);
      const body = (await response.json()) as PushResponse;
      if (body.rejected?.length) onRejected?.(body.rejected);
      // Refused records stay dirty: WatermelonDB pushes them again at the next sync.
      return { experimentalRejectedIds: body.experimentalRejectedIds };
    },
    migrationsEnabledAtVersion: options.migrationsEnabledAtVersion ?? 1,
    sendCreatedAsUpdated: options.sendCreatedAsUpdated,
    unsafeTurbo: turbo,
    log: options.log,
    conflictResolver: options.conflictResolver,
    onWillApplyRemoteChanges: options.onWillApplyRemoteChanges,
    onDidPullChanges: options.onDidPullChanges,
  });
}

const running = new WeakMap<Database, Promise<void>>();

/**
 * Sync `database` with the server. A 409 (a record you push changed on the server since
 * your pull) is retried once, as WatermelonDB recommends: the retry pulls that change,
 * merges it with yours column by column, and pushes again. A call made while a sync of the
 * same database runs returns that sync (WatermelonDB refuses two at a time).
 */
export function syncWithServer(database: Database, options: SyncOptions): Promise<void> {
  const current = running.get(database);
  if (current) return current;
  const run = (async () => {
    try {
      await syncOnce(database, options);
    } catch (error) {
      if (!(error instanceof SyncError && error.status === 409)) throw error;
      await syncOnce(database, { ...options, turbo: false });
    }
  })().finally(() => running.delete(database));
  running.set(database, run);
  return run;
}
