// The upload queue of the WatermelonDB and RxDB recipes (docs/files.md#the-client-upload-queue):
// the files records reference, uploaded on their own with tus, modelled on PowerSync's
// attachment states.
//
// - A record is pushed with its file's sha256 at once: record sync never waits for bytes.
//   `enqueue()` only writes the queue entry and returns.
// - Each file goes queued -> uploading -> done, or -> failed with a backoff, then queued again
//   when its time comes (`maxAttempts` failures leave it failed for the app to show).
// - Before uploading, `HEAD {prefix}files/sha256/<hex>`: a file the tenant already has costs
//   that one request.
// - No lock is held across network I/O: a state change is written to the store before and
//   after each request, and the only in-memory guard (`running`) is a set updated
//   synchronously. Record sync and the queue never wait for each other.
// - The tus upload URL is stored as soon as the server gives it, so an app killed midway
//   resumes from the server's offset on its next start.
import * as tus from 'tus-js-client';

export type UploadState = 'queued' | 'uploading' | 'done' | 'failed';

/** One file in the queue, as the app stores it (a table or collection of its own). */
export interface QueuedFile {
  sha256: string;
  state: UploadState;
  contentType: string;
  attempts: number;
  /** Milliseconds since the epoch before which a failed file is not tried again. */
  retryAt: number;
  uploadUrl: string | null;
  error: string | null;
}

/** Where the queue keeps its entries: the app's database, so they survive a restart. */
export interface QueueStore {
  all(): Promise<QueuedFile[]>;
  get(sha256: string): Promise<QueuedFile | undefined>;
  put(file: QueuedFile): Promise<void>;
}

/** The bytes of a file the device holds (a photo on disk), by digest. */
export type FileBytes = (sha256: string) => Promise<Blob | Uint8Array>;

export interface UploadQueueOptions {
  /** `https://api.example.com/api/v1/sync/` (the library's prefix, with its slash). */
  baseUrl: string;
  /** The `Authorization` header's value, asked before each request (tokens expire). */
  authorization: () => string | Promise<string>;
  store: QueueStore;
  bytes: FileBytes;
  chunkSize?: number;
  /** Uploads at once. */
  concurrency?: number;
  maxAttempts?: number;
  /** Milliseconds to wait after the n-th failure (default: 2^n s, at most 5 min). */
  backoff?: (attempt: number) => number;
  /** Called after each state change, for the app's UI. */
  onChange?: (file: QueuedFile) => void;
  fetch?: typeof fetch;
  now?: () => number;
}

const MiB = 1024 * 1024;

export function exponentialBackoff(attempt: number): number {
  return Math.min(2 ** attempt * 1000, 5 * 60 * 1000);
}

export class UploadQueue {
  private readonly options: Required<Omit<UploadQueueOptions, 'onChange'>> &
    Pick<UploadQueueOptions, 'onChange'>;
  private readonly running = new Set<string>();
  private draining: Promise<void> | null = null;

  constructor(options: UploadQueueOptions) {
    this.options = {
      chunkSize: 5 * MiB,
      concurrency: 2,
      maxAttempts: 8,
      backoff: exponentialBackoff,
      fetch: globalThis.fetch.bind(globalThis),
      now: Date.now,
      ...options,
    };
  }

  /** Queue the file `sha256` (a record now references it). Returns once it is stored. */
  async enqueue(sha256: string, contentType = 'application/octet-stream'): Promise<void> {
    const existing = await this.options.store.get(sha256);
    if (existing && existing.state !== 'failed') return;
    await this.write({
      sha256,
      state: 'queued',
      contentType,
      attempts: existing?.attempts ?? 0,
      retryAt: 0,
      uploadUrl: existing?.uploadUrl ?? null,
      error: null,
    });
  }

  /**
   * Upload every due file, `concurrency` at a time; resolves when none is left to try now.
   * Call it after a record sync, on a timer, or when the network comes back; calls made
   * while it runs share the same run. Never throws: failures are states.
   */
  drain(): Promise<void> {
    if (!this.draining) {
      this.draining = this.run().finally(() => {
        this.draining = null;
      });
    }
    return this.draining;
  }

  private async run(): Promise<void> {
    for (;;) {
      const due = (await this.options.store.all()).filter((file) => this.isDue(file));
      if (due.length === 0) return;
      const batch = due.slice(0, this.options.concurrency);
      await Promise.all(batch.map((file) => this.upload(file)));
    }
  }

  private isDue(file: QueuedFile): boolean {
    if (this.running.has(file.sha256)) return false;
    if (file.state === 'queued') return file.retryAt <= this.options.now();
    // An upload cut off by the app's death: resumed from its URL.
    return file.state === 'uploading';
  }

  private async upload(file: QueuedFile): Promise<void> {
    this.running.add(file.sha256);
    try {
      let current = await this.write({ ...file, state: 'uploading', error: null });
      try {
        if (await this.serverHas(file.sha256)) {
          await this.write({ ...current, state: 'done', uploadUrl: null });
          return;
        }
        const bytes = await this.options.bytes(file.sha256);
        current = await this.tusUpload(current, bytes);
        await this.write({ ...current, state: 'done', uploadUrl: null });
      } catch (error) {
        const attempts = current.attempts + 1;
        const gone = /response code: (404|410|460)/.test(String(error));
        await this.write({
          ...current,
          attempts,
          // Give up after maxAttempts: the app shows it (and may enqueue it again).
          state: attempts >= this.options.maxAttempts ? 'failed' : 'queued',
          retryAt: this.options.now() + this.options.backoff(attempts),
          // A 404/410 (expired) or 460 (bytes that do not match) needs a new upload.
          uploadUrl: gone ? null : current.uploadUrl,
          error: String(error instanceof Error ? error.message : error),
        });
      }
    } finally {
      this.running.delete(file.sha256);
    }
  }

  private async serverHas(sha256: string): Promise<boolean> {
    const response = await this.options.fetch(`${this.options.baseUrl}files/sha256/${sha256}`, {
      method: 'HEAD',
      headers: { Authorization: await this.options.authorization() },
    });
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw new Error(`HEAD files/sha256/${sha256}: response code: ${response.status}`);
  }

  private async tusUpload(file: QueuedFile, bytes: Blob | Uint8Array): Promise<QueuedFile> {
    const authorization = await this.options.authorization();
    let current = file;
    let pending: Promise<QueuedFile> = Promise.resolve(file);
    await new Promise<void>((resolve, reject) => {
      const upload: tus.Upload = new tus.Upload(bytes as Blob, {
        endpoint: `${this.options.baseUrl}files/`,
        uploadUrl: file.uploadUrl,
        chunkSize: this.options.chunkSize,
        // The queue's own backoff retries; tus-js-client's would hide failures from it.
        retryDelays: [],
        storeFingerprintForResuming: false,
        headers: { Authorization: authorization },
        metadata: { sha256: file.sha256, filetype: file.contentType },
        onUploadUrlAvailable: () => {
          // Stored at once: an app killed midway resumes from the server's offset.
          current = { ...current, uploadUrl: upload.url };
          pending = this.write(current);
        },
        onSuccess: () => resolve(),
        onError: (error) => reject(error),
      });
      upload.start();
    });
    await pending;
    return current;
  }

  private async write(file: QueuedFile): Promise<QueuedFile> {
    await this.options.store.put(file);
    this.options.onChange?.(file);
    return file;
  }
}

/** A `QueueStore` in memory (tests, or an app that keeps the queue elsewhere). */
export class MemoryQueueStore implements QueueStore {
  private readonly files = new Map<string, QueuedFile>();

  async all(): Promise<QueuedFile[]> {
    return [...this.files.values()].map((file) => ({ ...file }));
  }

  async get(sha256: string): Promise<QueuedFile | undefined> {
    const file = this.files.get(sha256);
    return file && { ...file };
  }

  async put(file: QueuedFile): Promise<void> {
    this.files.set(file.sha256, { ...file });
  }
}
