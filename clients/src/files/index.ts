// django-mobile-sync-client/files: the upload queue the WatermelonDB and RxDB apps share
// (tus uploads of the files records reference by sha256).
export * from './queue.js';
