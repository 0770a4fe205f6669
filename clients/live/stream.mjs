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
import { Subject } from 'rxjs';

/**
 * @param {{
 *   baseUrl: string,                       // where django_mobile_sync.urls is mounted
 *   authorization: () => string | Promise<string>,
 *   domains?: string[],                    // default: every domain the user may read
 *   onReady?: (ready: {domains: string[], heartbeat: number}) => void,
 *   onPoke?: (domains: string[]) => void,
 *   onError?: (error: unknown) => void,
 *   retryMs?: number, maxRetryMs?: number,
 * }} options
 */
export function openLiveStream(options) {
  const { baseUrl, domains, onReady, onPoke, onError, maxRetryMs = 30_000 } = options;
  let retryMs = options.retryMs ?? 2000;
  let lastEventId = null;
  let closed = false;
  let controller = null;
  let failures = 0;
  let timeoutMs = 45_000; // a dead connection: no byte for 3 heartbeats (updated by ready)

  async function connectOnce() {
    controller = new AbortController();
    const headers = { Accept: 'text/event-stream', Authorization: await options.authorization() };
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    const query = domains ? `?domains=${encodeURIComponent(domains.join(','))}` : '';
    const response = await fetch(`${baseUrl}stream/${query}`, { headers, signal: controller.signal });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      const error = new Error(`stream answered ${response.status}: ${JSON.stringify(body)}`);
      error.status = response.status;
      throw error;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = {};
    let watchdog = setTimeout(() => controller.abort(), timeoutMs);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => controller.abort(), timeoutMs);
        buffer += value;
        let newline;
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
            else event[field] = text;
          }
        }
      }
    } finally {
      clearTimeout(watchdog);
    }
  }

  function dispatch(event) {
    if (event.id !== undefined) lastEventId = event.id;
    if (event.data === undefined) return;
    const data = JSON.parse(event.data);
    if (event.event === 'ready') {
      failures = 0;
      timeoutMs = Math.max(3 * data.heartbeat * 1000, 5000);
      onReady?.(data);
    } else if (event.event === 'poke') {
      onPoke?.(data.domains);
    }
  }

  (async () => {
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
 * RxDB: a `pull.stream$` for replicateRxCollection. Every poke, and every (re)connection
 * (a poke may have been lost while the socket was down), becomes 'RESYNC': RxDB runs its
 * pull handler. Pass `onPoke` to also forward pokes (to a push-notification service).
 */
export function rxdbResyncStream(options) {
  const stream$ = new Subject();
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

/**
 * WatermelonDB: call `synchronizeNow()` (your synchronize({ database, pullChanges,
 * pushChanges })) after a poke, debounced (one sync for a burst of pokes) and jittered (a
 * thousand devices of one tenant do not pull in the same millisecond). A sync is also run
 * on every reconnection. Never two syncs at once: a poke during a sync runs one more after.
 */
export function syncOnPoke(options, synchronizeNow, { debounceMs = 500, jitterMs = 2000 } = {}) {
  let timer = null;
  let running = null;
  let again = false;
  function schedule() {
    if (timer) return;
    timer = setTimeout(run, debounceMs + Math.random() * jitterMs);
  }
  async function run() {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = Promise.resolve()
      .then(synchronizeNow)
      .catch((error) => options.onError?.(error))
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
  return { close: () => live.close() };
}
