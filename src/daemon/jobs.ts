/**
 * Jobs of one source run one at a time. The rule, documented in README:
 * a job that is due while another job of the source runs waits its turn
 * (queued, in order); a job of a kind that is already queued or running is
 * skipped (a schedule tick is logged and counted, an API request gets 409).
 * So no two jobs of a source ever overlap, and no kind piles up.
 */
import { randomBytes } from 'node:crypto';

export type JobKind = 'backup' | 'drill' | 'prune';
export type JobTrigger = 'schedule' | 'catch-up' | 'api';

/** A job as the API reports it. */
export interface Job {
  id: string;
  source: string;
  kind: JobKind;
  trigger: JobTrigger;
  actor: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  queuedAt: string;
  startedAt?: string | undefined;
  finishedAt?: string | undefined;
  result?: unknown;
  error?: string | undefined;
}

/** Runs a job; resolves with a result summary, rejects on failure. */
export type JobRunner = (job: Job, signal: AbortSignal) => Promise<unknown>;

export class SourceJobs {
  private readonly queue: Job[] = [];
  private running?: { job: Job; ac: AbortController; done: Promise<void> } | undefined;
  private readonly history = new Map<string, Job>();
  private closed = false;

  constructor(
    private readonly source: string,
    private readonly runner: JobRunner,
    private readonly hooks: { onStart?: (j: Job) => void; onFinish?: (j: Job) => void; onSkip?: (kind: JobKind, trigger: JobTrigger, busy: Job) => void } = {},
  ) {}

  /** Queue a job, or return the job of the same kind that is already queued or running. */
  submit(kind: JobKind, trigger: JobTrigger, actor: string): { job: Job } | { busy: Job } {
    const busy = [this.running?.job, ...this.queue].find((j) => j && j.kind === kind);
    if (busy) {
      this.hooks.onSkip?.(kind, trigger, busy);
      return { busy };
    }
    if (this.closed) return { busy: { id: '-', source: this.source, kind, trigger, actor, state: 'cancelled', queuedAt: new Date().toISOString(), error: 'the daemon is shutting down' } };
    const job: Job = { id: `${this.source}-${kind}-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`, source: this.source, kind, trigger, actor, state: 'queued', queuedAt: new Date().toISOString() };
    this.remember(job);
    this.queue.push(job);
    this.pump();
    return { job };
  }

  get(id: string): Job | undefined {
    return this.history.get(id);
  }

  /** Whether a job of this kind is running now. */
  isRunning(kind?: JobKind): boolean {
    return !!this.running && (!kind || this.running.job.kind === kind);
  }

  /** Stop taking jobs, drop the queue, abort the running job and wait for it. */
  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.queue.splice(0)) {
      j.state = 'cancelled';
      j.finishedAt = new Date().toISOString();
    }
    this.running?.ac.abort(new Error('shutting down'));
    await this.running?.done;
  }

  /** Abort the running job and drop the queue, but keep accepting (leadership lost). */
  async cancelAll(): Promise<void> {
    for (const j of this.queue.splice(0)) {
      j.state = 'cancelled';
      j.finishedAt = new Date().toISOString();
    }
    this.running?.ac.abort(new Error('leadership lost'));
    await this.running?.done;
  }

  private pump(): void {
    if (this.running || this.closed) return;
    const job = this.queue.shift();
    if (!job) return;
    const ac = new AbortController();
    job.state = 'running';
    job.startedAt = new Date().toISOString();
    this.hooks.onStart?.(job);
    const done = this.runner(job, ac.signal).then(
      (result) => {
        job.state = 'succeeded';
        job.result = result;
      },
      (err: unknown) => {
        job.state = ac.signal.aborted ? 'cancelled' : 'failed';
        job.error = (err as Error)?.message ?? String(err);
      },
    ).finally(() => {
      job.finishedAt = new Date().toISOString();
      this.running = undefined;
      this.hooks.onFinish?.(job);
      this.pump();
    });
    this.running = { job, ac, done };
  }

  private remember(job: Job): void {
    this.history.set(job.id, job);
    if (this.history.size > 200) this.history.delete(this.history.keys().next().value as string);
  }
}
