// django-mobile-sync-client: the client recipes of django-mobile-sync, one module per client
// database. Import the one your app uses, so the other database need not be installed:
//   import { replicateDomain } from 'django-mobile-sync-client/rxdb';
//   import { syncWithServer } from 'django-mobile-sync-client/watermelondb';
// This root module re-exports them under a namespace each (it needs every peer).
export * as rxdb from './rxdb/index.js';
export * as watermelondb from './watermelondb/index.js';
export * as files from './files/index.js';
export * as live from './live/index.js';
