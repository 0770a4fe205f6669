// The app's RxDB database and its replication with the server: one collection per domain.
import { createRxDatabase, type RxCollection, type RxDatabase, type RxStorage } from 'rxdb';

import { ticketSchema, workOrderSchema, type Ticket, type WorkOrder } from './schemas.js';
import {
  replicateDomain,
  syncConflictHandler,
  type DomainReplication,
  type DomainSyncOptions,
} from 'django-mobile-sync-client/rxdb';

export type Collections = {
  work_orders: RxCollection<WorkOrder>;
  helpdesk: RxCollection<Ticket>;
};

export async function openDatabase(options: {
  name: string;
  storage: RxStorage<any, any>;
  multiInstance?: boolean;
}): Promise<RxDatabase<Collections>> {
  const db = await createRxDatabase<Collections>(options);
  await db.addCollections({
    work_orders: { schema: workOrderSchema, conflictHandler: syncConflictHandler<WorkOrder>() },
    helpdesk: { schema: ticketSchema, conflictHandler: syncConflictHandler<Ticket>() },
  });
  return db;
}

/** Everything DomainSyncOptions needs but the collection and the domain. */
export type ServerOptions = Omit<DomainSyncOptions<any>, 'collection' | 'domain'>;

export function startSync(db: RxDatabase<Collections>, server: ServerOptions) {
  return {
    work_orders: replicateDomain<WorkOrder>({
      ...server,
      collection: db.work_orders,
      domain: 'work-orders',
    }),
    helpdesk: replicateDomain<Ticket>({ ...server, collection: db.helpdesk, domain: 'helpdesk' }),
  } satisfies Record<keyof Collections, DomainReplication<any>>;
}
