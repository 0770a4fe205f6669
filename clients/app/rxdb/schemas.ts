// RxDB schemas of two domains of the example project: `work-orders` and `helpdesk`, as the
// server generates them (`manage.py sync_client_schema --format rxdb > generated/rxdb.json`):
// one property per wire field of the domain (enums from choices, maxLength, nullability),
// plus the three every synced record carries: `mobile_id` (primary key), `version` and
// `updated_at` (both written by the server). The document types are the app's own.
import type { RxJsonSchema } from 'rxdb';
import type { SyncedDoc } from 'django-mobile-sync-client/rxdb';

import generated from '../generated/rxdb.json' with { type: 'json' };

export type WorkOrder = SyncedDoc & {
  description: string;
  status?: 'draft' | 'in_progress' | 'paused' | 'completed' | 'closed' | 'cancelled';
  priority?: 'LOW' | 'MEDIUM' | 'HIGH';
  scheduled_start?: string | null;
  scheduled_end?: string | null;
  actual_start?: string | null;
  actual_end?: string | null;
};

export type HistoryEntry = {
  at: string;
  version: number;
  user: string;
  device: string;
  changes: Record<string, unknown>;
};

export type Ticket = SyncedDoc & {
  ticketdesc: string;
  status?: 'NEW' | 'OPEN' | 'INPROGRESS' | 'ONHOLD' | 'RESOLVED' | 'CLOSED' | 'CANCELLED';
  priority?: 'LOW' | 'MEDIUM' | 'HIGH';
  // Server-owned: shown on the device, never changed by it (the server ignores them).
  is_escalated?: boolean;
  escalation_level?: number;
  ticket_history?: HistoryEntry[];
};

/** The server's schema of a domain, typed with the app's document type. */
function schemaOf<Doc>(domain: keyof typeof generated): RxJsonSchema<Doc> {
  return generated[domain] as unknown as RxJsonSchema<Doc>;
}

export const workOrderSchema = schemaOf<WorkOrder>('work-orders');
export const ticketSchema = schemaOf<Ticket>('helpdesk');
