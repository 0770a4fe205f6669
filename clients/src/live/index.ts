// django-mobile-sync-client/live: the live stream ({prefix}stream/) and what makes an app
// pull on a poke, for RxDB (pull.stream$) and WatermelonDB (synchronize() on a poke).
export * from './stream.js';
