// RxDB schemas of two domains of the example project: `work-orders` and `helpdesk`.
// One property per wire field of the domain, plus the three every synced record carries:
// `mobile_id` (primary key), `version` and `updated_at` (both written by the server).
import type { RxJsonSchema } from 'rxdb';

import type { SyncedDoc } from './sync.js';

const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

export type WorkOrder = SyncedDoc & {
  description: string;
  status?: 'draft' | 'in_progress' | 'paused' | 'completed' | 'closed' | 'cancelled';
  priority?: 'LOW' | 'MEDIUM' | 'HIGH';
  scheduled_start?: string | null;
  scheduled_end?: string | null;
  actual_start?: string | null;
  actual_end?: string | null;
};

export const workOrderSchema: RxJsonSchema<WorkOrder> = {
  title: 'work order',
  version: 0,
  primaryKey: 'mobile_id',
  type: 'object',
  properties: {
    mobile_id: { type: 'string', maxLength: 64 },
    version: { type: 'integer', minimum: 0 },
    updated_at: { type: ['string', 'null'] },
    description: { type: 'string' },
    status: {
      type: 'string',
      enum: ['draft', 'in_progress', 'paused', 'completed', 'closed', 'cancelled'],
    },
    priority: { type: 'string', enum: ['LOW', 'MEDIUM', 'HIGH'] },
    scheduled_start: nullableDateTime,
    scheduled_end: nullableDateTime,
    actual_start: nullableDateTime,
    actual_end: nullableDateTime,
  },
  // A pulled tombstone carries only mobile_id and version: required fields other than
  // the primary key would make RxDB refuse it.
  required: ['mobile_id'],
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

export const ticketSchema: RxJsonSchema<Ticket> = {
  title: 'helpdesk ticket',
  version: 0,
  primaryKey: 'mobile_id',
  type: 'object',
  properties: {
    mobile_id: { type: 'string', maxLength: 64 },
    version: { type: 'integer', minimum: 0 },
    updated_at: { type: ['string', 'null'] },
    ticketdesc: { type: 'string' },
    status: {
      type: 'string',
      enum: ['NEW', 'OPEN', 'INPROGRESS', 'ONHOLD', 'RESOLVED', 'CLOSED', 'CANCELLED'],
    },
    priority: { type: 'string', enum: ['LOW', 'MEDIUM', 'HIGH'] },
    is_escalated: { type: 'boolean' },
    escalation_level: { type: 'integer', minimum: 0 },
    ticket_history: { type: 'array', items: { type: 'object' } },
  },
  required: ['mobile_id'],
};
