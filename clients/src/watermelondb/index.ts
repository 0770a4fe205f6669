// django-mobile-sync-client/watermelondb: WatermelonDB's synchronize() against {prefix}watermelon/.
export * from './sync.js';
