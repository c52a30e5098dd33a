/**
 * The shared shape of every multi-stage stream job: an AbortController that
 * follows the caller's signal, and a `fail` that remembers the first error
 * (the cause; the rest are its echoes) and aborts every stage.
 */
export interface StageFailure {
  readonly signal: AbortSignal;
  /** Record an error (the first one wins) and abort the stages. */
  fail(err: unknown): void;
  /** The first error, if any. */
  readonly first: unknown;
  /** Stop following the caller's signal. */
  dispose(): void;
}

export function stageFailure(outer?: AbortSignal, onFail?: () => void): StageFailure {
  const ac = new AbortController();
  const follow = () => ac.abort(outer?.reason);
  outer?.addEventListener('abort', follow, { once: true });
  let first: unknown;
  let failed = false;
  return {
    signal: ac.signal,
    fail(err: unknown) {
      if (!failed) {
        failed = true;
        first = err;
      }
      ac.abort(err);
      onFail?.();
    },
    get first() {
      return first;
    },
    dispose: () => outer?.removeEventListener('abort', follow),
  };
}
