// RxDB schemas of two domains of the example project: `work-orders` and `helpdesk`, as the
// server generates them (`manage.py sync_client_schema --format rxdb > generated/rxdb.json`):
// one property per wire field of the domain (enums from choices, maxLength, nullability),
// plus the three every synced record carries: `mobile_id` (primary key), `version` and
// `updated_at` (both written by the server). The document types are generated too
// (`--format typescript > generated/records.ts`).
import type { RxJsonSchema } from 'rxdb';

import generated from '../generated/rxdb.json' with { type: 'json' };
import type { HelpdeskRecord, WorkOrdersRecord } from '../generated/records.js';

export type WorkOrder = WorkOrdersRecord;

export type HistoryEntry = {
  at: string;
  version: number;
  user: string;
  device: string;
  changes: Record<string, unknown>;
};

/** The generated type, with the shape of the history's entries. */
export type Ticket = Omit<HelpdeskRecord, 'ticket_history'> & {
  readonly ticket_history?: HistoryEntry[];
};

/** The server's schema of a domain, typed with the app's document type. */
function schemaOf<Doc>(domain: keyof typeof generated): RxJsonSchema<Doc> {
  return generated[domain] as unknown as RxJsonSchema<Doc>;
}

export const workOrderSchema = schemaOf<WorkOrder>('work-orders');
export const ticketSchema = schemaOf<Ticket>('helpdesk');
