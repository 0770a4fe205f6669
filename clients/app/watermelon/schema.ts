// The WatermelonDB schema, migrations and models of the example project's app: every table
// the server maps (MOBILE_SYNC["WATERMELON"]: activity, work_orders, attendance, helpdesk,
// journal, checklist, photos), as the server generates them:
//   python manage.py sync_client_schema --format watermelondb --schema-version 3 \
//     > generated/watermelondb.json
// Columns are the domains' wire field names; a relation is an indexed `<field>_id` column
// holding the parent's id; dates are ISO 8601 strings in `string` columns (not WatermelonDB's
// `@date`, which stores milliseconds in a `number` column); JSON is its text.
//
// Schema history: every release that changes the schema adds a migration, and the server
// fills what a migration adds at the next sync (a migration sync):
//   1  work_orders, without actual_start / actual_end;
//   2  adds the checklist table;
//   3  adds every other table, and work_orders.actual_start / actual_end (today's release:
//      its tables are the generated ones).
import { Model, Q, appSchema, tableSchema, type Query } from '@nozbe/watermelondb';
import type { Associations } from '@nozbe/watermelondb/Model/index.js';
import type { ColumnSchema, TableSchemaSpec } from '@nozbe/watermelondb/Schema/index.js';
import {
  addColumns,
  createTable,
  schemaMigrations,
} from '@nozbe/watermelondb/Schema/migrations/index.js';

import generated from '../generated/watermelondb.json' with { type: 'json' };

/** A table as the server generated it. */
function table(name: string): TableSchemaSpec {
  const found = generated.tables.find((t) => t.name === name);
  if (!found) throw new Error(`the server maps no table ${name}`);
  return found as TableSchemaSpec;
}

export const schema = appSchema({
  version: generated.version,
  tables: generated.tables.map((t) => tableSchema(t as TableSchemaSpec)),
});

const optionalText = (name: string): ColumnSchema => ({ name, type: 'string', isOptional: true });

// Migrations are history: they spell out the columns as each release added them, so that a
// later change of a table does not rewrite them; the release of today (3) adds the tables
// as generated.
export const migrations = schemaMigrations({
  migrations: [
    {
      toVersion: 2,
      steps: [
        createTable({
          name: 'checklist',
          columns: [
            { name: 'work_order_id', type: 'string', isIndexed: true },
            { name: 'label', type: 'string' },
            { name: 'done', type: 'boolean' },
            { name: 'position', type: 'number' },
          ],
        }),
      ],
    },
    {
      toVersion: 3,
      steps: [
        ...generated.tables
          .filter((t) => !['work_orders', 'checklist'].includes(t.name))
          .map((t) => createTable(table(t.name))),
        addColumns({
          table: 'work_orders',
          columns: [optionalText('actual_start'), optionalText('actual_end')],
        }),
      ],
    },
  ],
});

/**
 * Typed properties for columns, without decorators: what `@field('column') property` does.
 * Setters work inside `create()` and `update()` builders only, like decorated fields.
 */
function columns<M extends Model>(
  model: { prototype: M },
  map: { [Property in keyof M]?: string },
): void {
  for (const [property, column] of Object.entries(map)) {
    Object.defineProperty(model.prototype, property, {
      get(this: Model) {
        return this._getRaw(column as string);
      },
      set(this: Model, value) {
        this._setRaw(column as string, value);
      },
    });
  }
}

export type Priority = 'LOW' | 'MEDIUM' | 'HIGH';

export class WorkOrder extends Model {
  static table = 'work_orders';
  static associations: Associations = {
    checklist: { type: 'has_many', foreignKey: 'work_order_id' },
  };

  declare description: string;
  declare status: 'draft' | 'in_progress' | 'paused' | 'completed' | 'closed' | 'cancelled';
  declare priority: Priority;
  declare scheduledStart: string | null;
  declare scheduledEnd: string | null;
  declare actualStart: string | null;
  declare actualEnd: string | null;

  /** The work order's steps (what `@children('checklist')` gives). */
  get steps(): Query<ChecklistStep> {
    return this.collections
      .get<ChecklistStep>('checklist')
      .query(Q.where('work_order_id', this.id));
  }
}

columns(WorkOrder, {
  description: 'description',
  status: 'status',
  priority: 'priority',
  scheduledStart: 'scheduled_start',
  scheduledEnd: 'scheduled_end',
  actualStart: 'actual_start',
  actualEnd: 'actual_end',
});

export class ChecklistStep extends Model {
  static table = 'checklist';
  static associations: Associations = {
    work_orders: { type: 'belongs_to', key: 'work_order_id' },
  };

  /** The parent's id: the work order's `mobile_id` on the server. */
  declare workOrderId: string;
  declare label: string;
  declare done: boolean;
  declare position: number;

  /** The step's work order (what `@relation('work_orders', 'work_order_id')` gives). */
  get workOrder(): Promise<WorkOrder> {
    return this.collections.get<WorkOrder>('work_orders').find(this.workOrderId);
  }
}

columns(ChecklistStep, {
  workOrderId: 'work_order_id',
  label: 'label',
  done: 'done',
  position: 'position',
});

export class Ticket extends Model {
  static table = 'helpdesk';

  declare ticketdesc: string;
  declare status: 'NEW' | 'OPEN' | 'INPROGRESS' | 'ONHOLD' | 'RESOLVED' | 'CLOSED' | 'CANCELLED';
  declare priority: Priority;
  // Server-owned: shown on the device; the server ignores them in a push.
  declare readonly isEscalated: boolean;
  declare readonly escalationLevel: number;
}

columns(Ticket, {
  ticketdesc: 'ticketdesc',
  status: 'status',
  priority: 'priority',
  isEscalated: 'is_escalated',
  escalationLevel: 'escalation_level',
});

/** A task of the `activity` domain (the app reads its columns raw). */
export class Task extends Model {
  static table = 'activity';
}

/** An attendance punch. */
export class Punch extends Model {
  static table = 'attendance';
}

/** A journal entry. */
export class JournalEntry extends Model {
  static table = 'journal';
}

/** A photo of a work order: `file` is the sha256 of its file (docs/files.md). */
export class Photo extends Model {
  static table = 'photos';
}

export const modelClasses = [Task, WorkOrder, Punch, Ticket, JournalEntry, ChecklistStep, Photo];
