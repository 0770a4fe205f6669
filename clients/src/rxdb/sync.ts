// Replicate one RxDB collection with one django-mobile-sync domain:
// pull = GET {baseUrl}{domain}/changes/?cursor=, push = POST {baseUrl}{domain}/sync/.
import { deepEqual, type RxCollection, type RxConflictHandler, type WithDeleted } from 'rxdb';
import type { Observable } from 'rxjs';
import {
  replicateRxCollection,
  type RxReplicationState,
} from 'rxdb/plugins/replication';

/** Fields every synced document has besides its own. */
export type SyncedDoc = {
  /** Primary key: the record's id on the server, generated on the device (a UUID). */
  mobile_id: string;
  /** Server version the local copy is based on; 0 or absent: not on the server yet. */
  version?: number;
  /** Server time of that version (read-only). */
  updated_at?: string | null;
};

/** The pull checkpoint RxDB stores: the server's signed cursor. */
export type Checkpoint = { cursor: string | null; resync: boolean };

export type PushError = {
  mobile_id: string | null;
  status: 'error';
  error_message: string;
  field_errors: Record<string, string[]>;
};

export class SyncHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`django-mobile-sync answered ${status}: ${JSON.stringify(body)}`);
    this.name = 'SyncHttpError';
  }
}

export type DomainSyncOptions<Doc extends SyncedDoc> = {
  collection: RxCollection<Doc>;
  /** Where django_mobile_sync.urls is mounted, e.g. 'https://api.example.com/api/v1/sync/'. */
  baseUrl: string;
  /** The domain's name, e.g. 'work-orders'. */
  domain: string;
  /** The Authorization header, e.g. () => `Bearer ${token}`. */
  authorization: () => string | Promise<string>;
  /** Identifies this install (X-Device-Id): per-device throttling, audit log, history. */
  deviceId: string;
  /** Sent as X-Client-Schema-Version; a server minimum above it answers 426. */
  schemaVersion?: number;
  /** The domain's pull filters, e.g. { status: 'draft' }. */
  filters?: Record<string, string>;
  /** Documents per pull page and per push request (server caps: 1000). */
  batchSize?: number;
  /** Live mode: 'RESYNC' events that make RxDB pull (rxdbResyncStream, from the live module). */
  stream$?: Observable<'RESYNC'>;
  /** Milliseconds before RxDB retries a failed pull or push. */
  retryTime?: number;
  waitForLeadership?: boolean;
  /** Entries the server refused (validation, state machine): the app shows or fixes them. */
  onPushErrors?: (errors: PushError[]) => void;
  /** The server wants a newer app (426): stop syncing and ask the user to update. */
  onUpgradeRequired?: (body: unknown) => void;
};

export type DomainReplication<Doc extends SyncedDoc> = {
  state: RxReplicationState<Doc, Checkpoint>;
  /** Pull every change now (pull-to-refresh, a timer, back online); resolves once in sync. */
  pullNow(): Promise<void>;
};

type Json = Record<string, any>;

/**
 * The conflict handler every synced collection needs (`conflictHandler` in addCollections).
 *
 * - isEqual ignores `version`: the push handler writes the server's new version into the
 *   local document, and that write alone must not be pushed again.
 * - resolve merges field by field, against the state both sides started from (RxDB's
 *   assumed master state): a field only the device changed keeps the device's value; a
 *   field only the server changed takes the server's; a field both changed takes
 *   `bothChanged`'s. A delete on either side wins. The result is based on the server's
 *   version, so the next push applies it.
 */
export function syncConflictHandler<Doc extends SyncedDoc>({
  bothChanged = 'server',
}: { bothChanged?: 'server' | 'device' } = {}): RxConflictHandler<Doc> {
  return {
    isEqual(a, b) {
      return deepEqual({ ...a, version: 0 }, { ...b, version: 0 });
    },
    async resolve({ newDocumentState, assumedMasterState, realMasterState }) {
      const local = newDocumentState as Json;
      const base = assumedMasterState as Json | undefined;
      const server = realMasterState as Json;
      const merged: Json = { ...local };
      for (const key of Object.keys(server)) {
        if (['mobile_id', 'version', 'updated_at', '_deleted'].includes(key)) continue;
        if (!base) {
          // No common state (a create whose answer was lost): the device's values win.
          if (local[key] === undefined) merged[key] = server[key];
          continue;
        }
        const deviceChanged = !deepEqual(local[key], base[key]);
        const serverChanged = !deepEqual(server[key], base[key]);
        if (!deviceChanged || (serverChanged && bothChanged === 'server')) {
          merged[key] = server[key];
        }
      }
      merged._deleted = Boolean(local._deleted || server._deleted);
      merged.version = server.version;
      merged.updated_at = server.updated_at;
      return merged as WithDeleted<Doc>;
    },
  };
}

export function replicateDomain<Doc extends SyncedDoc>(
  options: DomainSyncOptions<Doc>,
): DomainReplication<Doc> {
  const { collection, baseUrl, domain, deviceId, batchSize = 100 } = options;
  const fields = Object.keys(collection.schema.jsonSchema.properties).filter(
    (name) => !name.startsWith('_'),
  );
  // pullNow() callers, resolved by the first pull that ends after they asked.
  let waiting: Array<() => void> = [];
  let armed: Array<() => void> = [];
  // Ids seen while pulling from scratch after a 410; null when not resyncing.
  let resync: Set<string> | null = null;

  async function send(method: 'GET' | 'POST', path: string, body?: unknown) {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: await options.authorization(),
      'X-Device-Id': deviceId,
    };
    if (options.schemaVersion !== undefined) {
      headers['X-Client-Schema-Version'] = String(options.schemaVersion);
    }
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(`${baseUrl}${domain}/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async function failed(response: Response): Promise<never> {
    const body = await response.json().catch(() => null);
    if (response.status === 426) options.onUpgradeRequired?.(body);
    throw new SyncHttpError(response.status, body);
  }

  /**
   * A server record (pull item or server_data) as an RxDB document. A removal (a record
   * that left the user's view, `removed: true`) is a deleted document like a tombstone:
   * RxDB drops its copy and, since it came from the server, never pushes a delete for it.
   */
  function toDoc(item: Json): WithDeleted<Doc> {
    const doc: Json = { _deleted: Boolean(item.deleted) };
    for (const name of fields) if (item[name] !== undefined) doc[name] = item[name];
    return doc as WithDeleted<Doc>;
  }

  /** An RxDB document as a push entry: its fields, based on the version it carries. */
  function toEntry(doc: WithDeleted<Doc>): Json {
    const { _deleted, updated_at, version, ...values } = doc as Json;
    return { ...values, version: version ?? 0, deleted: _deleted };
  }

  /**
   * Make the local document based on the version the server just gave it, so that an edit
   * made before the next pull is not pushed as stale (the create-then-edit trap). For a
   * `resolved` answer the server's data replaces the fields not edited since the push.
   */
  async function rebase(pushed: Json, version: number, serverData?: Json) {
    const doc = await collection.findOne(pushed.mobile_id).exec();
    if (!doc) return;
    if (serverData?.deleted) {
      await doc.incrementalRemove();
      return;
    }
    await doc.incrementalModify((current) => {
      const next = { ...current } as Json;
      if ((next.version ?? 0) >= version) return current;
      next.version = version;
      if (serverData) {
        for (const name of fields) {
          if (name in serverData && deepEqual(next[name], pushed[name])) {
            next[name] = serverData[name];
          }
        }
      }
      return next as typeof current;
    });
  }

  const state = replicateRxCollection<Doc, Checkpoint>({
    collection,
    replicationIdentifier: `django-mobile-sync ${baseUrl}${domain}`,
    retryTime: options.retryTime,
    waitForLeadership: options.waitForLeadership,
    pull: {
      batchSize,
      stream$: options.stream$,
      async handler(checkpoint, limit) {
        armed = armed.concat(waiting);
        waiting = [];
        let cursor = checkpoint?.cursor ?? null;
        if (checkpoint?.resync && resync === null) {
          // The app stopped during a resync: start it again.
          cursor = null;
          resync = new Set();
        }
        // RxDB stops pulling at the first batch shorter than `limit`, but the server also
        // ends a page early when it reaches MAX_PAGE_BYTES: follow has_more to fill it.
        const documents: WithDeleted<Doc>[] = [];
        let hasMore = true;
        while (hasMore && documents.length < limit) {
          const query = new URLSearchParams({
            ...options.filters,
            limit: String(limit - documents.length),
            ...(cursor ? { cursor } : {}),
          });
          const response = await send('GET', `changes/?${query}`);
          if (response.status === 410 && cursor !== null) {
            // Tombstones this cursor needs were purged: pull everything again, then drop
            // the local copies the server no longer has. Unpushed local changes are kept.
            resync = new Set();
            cursor = null;
            continue;
          }
          if (!response.ok) await failed(response);
          const page = await response.json();
          for (const item of page.items) {
            documents.push(toDoc(item));
            resync?.add(item.mobile_id);
          }
          cursor = page.next_cursor;
          hasMore = page.has_more;
        }
        if (!hasMore && resync !== null) {
          const seen = resync;
          for (const doc of await collection.find().exec()) {
            if (!seen.has(doc.primary)) {
              documents.push({ ...doc.toMutableJSON(), _deleted: true } as WithDeleted<Doc>);
            }
          }
          resync = null;
        }
        if (!hasMore) {
          const done = armed;
          armed = [];
          done.forEach((resolve) => resolve());
        }
        return { documents, checkpoint: { cursor, resync: resync !== null } };
      },
    },
    push: {
      batchSize,
      async handler(rows) {
        const pushed = new Map<string, Json>();
        const entries = rows.map(({ newDocumentState }) => {
          const entry = toEntry(newDocumentState);
          pushed.set(entry.mobile_id, entry);
          return entry;
        });
        const response = await send('POST', 'sync/', { entries, client_id: deviceId });
        if (!response.ok) await failed(response);
        const body = await response.json();
        for (const item of body.synced_items) {
          const entry = pushed.get(item.mobile_id);
          if (!entry || item.status === 'deleted') continue;
          await rebase(entry, item.server_version, item.server_data);
        }
        if (body.errors.length) options.onPushErrors?.(body.errors);
        // A conflict's server_data is RxDB's "real master state": the conflict handler
        // merges it with the local document, and RxDB pushes the result.
        return body.conflicts.map((conflict: Json) => toDoc(conflict.server_data));
      },
    },
  });

  return {
    state,
    async pullNow() {
      if (state.isStopped()) throw new Error(`The ${domain} replication is stopped.`);
      // Push first: a pull fetched while a push is running may return the state from
      // before it; RxDB would show that until the next pull.
      await state.awaitInSync();
      const pulled = new Promise<void>((resolve) => waiting.push(resolve));
      state.reSync();
      await pulled;
      await state.awaitInSync();
    },
  };
}
