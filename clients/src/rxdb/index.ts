// django-mobile-sync-client/rxdb: replicate RxDB collections with django-mobile-sync domains.
export * from './sync.js';
