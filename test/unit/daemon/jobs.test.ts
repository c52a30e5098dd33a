import { describe, expect, it } from 'vitest';
import { SourceJobs, type Job } from '../../../src/daemon/jobs.js';

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe('SourceJobs', () => {
  it('runs one job at a time, queues another kind, and skips a kind already queued or running', async () => {
    const log: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const jobs = new SourceJobs('main', async (job: Job) => {
      log.push(`start ${job.kind}`);
      const g = gate();
      gates.set(job.kind, g);
      await g.p;
      log.push(`end ${job.kind}`);
      return job.kind;
    });
    const b = jobs.submit('backup', 'schedule', 'schedule');
    const d = jobs.submit('drill', 'schedule', 'schedule');
    const b2 = jobs.submit('backup', 'api', 'ops');
    const d2 = jobs.submit('drill', 'api', 'ops');
    expect('job' in b && 'job' in d).toBe(true);
    expect('busy' in b2 && b2.busy.state).toBe('running');
    expect('busy' in d2 && d2.busy.state).toBe('queued');
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['start backup']);
    gates.get('backup')!.open();
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['start backup', 'end backup', 'start drill']);
    gates.get('drill')!.open();
    await new Promise((r) => setTimeout(r, 10));
    expect('job' in b && jobs.get(b.job.id)?.state).toBe('succeeded');
    expect('job' in d && jobs.get(d.job.id)?.result).toBe('drill');
  });

  it('records a failure and moves on', async () => {
    const jobs = new SourceJobs('main', async (job) => {
      if (job.kind === 'backup') throw new Error('dump failed');
      return 'ok';
    });
    const b = jobs.submit('backup', 'schedule', 'schedule');
    const p = jobs.submit('prune', 'schedule', 'schedule');
    await new Promise((r) => setTimeout(r, 20));
    expect('job' in b && jobs.get(b.job.id)).toMatchObject({ state: 'failed', error: 'dump failed' });
    expect('job' in p && jobs.get(p.job.id)?.state).toBe('succeeded');
  });

  it('aborts the running job and cancels the queue on close, then refuses new jobs', async () => {
    let aborted = false;
    const jobs = new SourceJobs('main', (_job, signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => {
      aborted = true;
      reject(new Error('aborted'));
    })));
    const running = jobs.submit('backup', 'schedule', 'schedule');
    const queued = jobs.submit('drill', 'schedule', 'schedule');
    await jobs.close();
    expect(aborted).toBe(true);
    expect('job' in running && jobs.get(running.job.id)?.state).toBe('cancelled');
    expect('job' in queued && jobs.get(queued.job.id)?.state).toBe('cancelled');
    const after = jobs.submit('prune', 'api', 'ops');
    expect('busy' in after && after.busy.error).toMatch(/shutting down/);
  });
});
