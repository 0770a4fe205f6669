// Live streams (docs/live.md): GET {baseUrl}stream/, server-sent events read with fetch, so
// that it runs where EventSource is missing (Node 20, React Native) and sends the
// Authorization header. A poke names domains, never records: the app pulls as always.
//
//   const live = openLiveStream({ baseUrl, authorization: () => `Bearer ${token}`,
//                                 onPoke: (domains) => ..., onReady: () => ... });
//   live.close();
//
// Reconnects after a drop (the server's `retry:` delay, doubled up to maxRetryMs on repeated
// failures) with Last-Event-ID, so a change made while the socket was down still pokes.
import { Subject, type Observable } from 'rxjs';

/** The stream's first event: the domains it follows, the heartbeat in seconds. */
export type LiveReady = { domains: string[]; heartbeat: number };

export type LiveStreamOptions = {
  /** Where django_mobile_sync.urls is mounted, e.g. 'https://api.example.com/api/v1/sync/'. */
  baseUrl: string;
  /** The Authorization header, e.g. () => `Bearer ${token}`. */
  authorization: () => string | Promise<string>;
  /** The domains to follow; default: every domain the user may read. */
  domains?: string[];
  onReady?: (ready: LiveReady) => void;
  /** The followed domains that changed: pull them. */
  onPoke?: (domains: string[]) => void;
  /** A failed connection (it is retried): a LiveStreamError for a JSON error answer. */
  onError?: (error: unknown) => void;
  /** Milliseconds before reconnecting (the server's `retry:` replaces it). */
  retryMs?: number;
  maxRetryMs?: number;
};

export type LiveStream = { close(): void };

/** The stream answered an error before it started (401, 404, 429 too_many_streams). */
export class LiveStreamError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`stream answered ${status}: ${JSON.stringify(body)}`);
    this.name = 'LiveStreamError';
  }
}

type SseEvent = { id?: string; event?: string; data?: string };

export function openLiveStream(options: LiveStreamOptions): LiveStream {
  const { baseUrl, domains, onReady, onPoke, onError, maxRetryMs = 30_000 } = options;
  let retryMs = options.retryMs ?? 2000;
  let lastEventId: string | null = null;
  let closed = false;
  let controller: AbortController | null = null;
  let failures = 0;
  let timeoutMs = 45_000; // a dead connection: no byte for 3 heartbeats (updated by ready)

  async function connectOnce(): Promise<void> {
    const abort = new AbortController();
    controller = abort;
    const headers: Record<string, string> = {
      Accept: 'text/event-stream',
      Authorization: await options.authorization(),
    };
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    const query = domains ? `?domains=${encodeURIComponent(domains.join(','))}` : '';
    const response = await fetch(`${baseUrl}stream/${query}`, { headers, signal: abort.signal });
    if (!response.ok || !response.body) {
      const body: unknown = await response.json().catch(() => null);
      throw new LiveStreamError(response.status, body);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event: SseEvent = {};
    let watchdog = setTimeout(() => abort.abort(), timeoutMs);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => abort.abort(), timeoutMs);
        buffer += value;
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          if (line === '') {
            dispatch(event);
            event = {};
          } else if (!line.startsWith(':')) {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'retry' && /^\d+$/.test(text)) retryMs = Number(text);
            else if (field === 'id' || field === 'event' || field === 'data') event[field] = text;
          }
        }
      }
    } finally {
      clearTimeout(watchdog);
    }
  }

  function dispatch(event: SseEvent): void {
    if (event.id !== undefined) lastEventId = event.id;
    if (event.data === undefined) return;
    if (event.event === 'ready') {
      const ready = JSON.parse(event.data) as LiveReady;
      failures = 0;
      timeoutMs = Math.max(3 * ready.heartbeat * 1000, 5000);
      onReady?.(ready);
    } else if (event.event === 'poke') {
      onPoke?.((JSON.parse(event.data) as { domains: string[] }).domains);
    }
  }

  void (async () => {
    while (!closed) {
      try {
        await connectOnce();
      } catch (error) {
        if (closed) return;
        failures += 1;
        onError?.(error);
      }
      if (closed) return;
      const backoff = Math.min(retryMs * 2 ** Math.max(failures - 1, 0), maxRetryMs);
      await new Promise((resolve) => setTimeout(resolve, backoff * (0.5 + Math.random() / 2)));
    }
  })();

  return {
    close() {
      closed = true;
      controller?.abort();
    },
  };
}

/**
 * RxDB: a `pull.stream$` for replicateDomain (its `stream$` option). Every poke, and every
 * (re)connection (a poke may have been lost while the socket was down), becomes 'RESYNC':
 * RxDB runs its pull handler. Pass `onPoke` to also forward pokes (to a push-notification
 * service).
 */
export function rxdbResyncStream(options: LiveStreamOptions): {
  stream$: Observable<'RESYNC'>;
  close(): void;
} {
  const stream$ = new Subject<'RESYNC'>();
  const live = openLiveStream({
    ...options,
    onReady: (ready) => {
      options.onReady?.(ready);
      stream$.next('RESYNC');
    },
    onPoke: (domains) => {
      options.onPoke?.(domains);
      stream$.next('RESYNC');
    },
  });
  return { stream$: stream$.asObservable(), close: () => live.close() };
}

/** How syncOnPoke spaces its syncs. */
export type SyncOnPokeTiming = {
  /** Milliseconds a burst of pokes is gathered into one sync. */
  debounceMs?: number;
  /** Up to this many more milliseconds, at random: the devices of a tenant spread out. */
  jitterMs?: number;
};

/**
 * WatermelonDB: call `synchronizeNow()` (your synchronize({ database, pullChanges,
 * pushChanges }), or syncWithServer) after a poke, debounced (one sync for a burst of pokes)
 * and jittered (a thousand devices of one tenant do not pull in the same millisecond). A sync
 * is also run on every reconnection. Never two syncs at once: a poke during a sync runs one
 * more after.
 */
export function syncOnPoke(
  options: LiveStreamOptions,
  synchronizeNow: () => unknown,
  { debounceMs = 500, jitterMs = 2000 }: SyncOnPokeTiming = {},
): LiveStream {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  function schedule(): void {
    if (timer) return;
    timer = setTimeout(run, debounceMs + Math.random() * jitterMs);
  }
  function run(): void {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = Promise.resolve()
      .then(synchronizeNow)
      .then(
        () => undefined,
        (error: unknown) => options.onError?.(error),
      )
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          schedule();
        }
      });
  }
  const live = openLiveStream({
    ...options,
    onReady: (ready) => {
      options.onReady?.(ready);
      schedule();
    },
    onPoke: (domains) => {
      options.onPoke?.(domains);
      schedule();
    },
  });
  return {
    close() {
      if (timer) clearTimeout(timer);
      timer = null;
      live.close();
    },
  };
}
