/**
 * The daemon's status page: one look that answers "can I get back to any
 * second of the retention period, and has that been proven?". Read only.
 * Its data is GET /api/v1/status, refreshed every few seconds; with a token
 * configured the page asks for it once and keeps it for the tab only
 * (sessionStorage). Built by scripts/bundle.mjs into dist/status.html.
 */
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { SourceStatus, StatusDocument } from '../daemon/status-document.js';
import { ago, bytes, seconds, utc } from './format.js';

const REFRESH_MS = 5000;
const TOKEN_KEY = 'backtrack-token';

type Load = { kind: 'loading' } | { kind: 'token'; wrong: boolean } | { kind: 'error'; message: string; doc?: StatusDocument | undefined } | { kind: 'ok'; doc: StatusDocument };

function App() {
  const [load, setLoad] = useState<Load>({ kind: 'loading' });
  const [now, setNow] = useState(Date.now());

  const refresh = useCallback(async () => {
    const token = sessionStorage.getItem(TOKEN_KEY);
    try {
      const r = await fetch('/api/v1/status', { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
      if (r.status === 401) {
        setLoad({ kind: 'token', wrong: token !== null });
        return;
      }
      if (!r.ok) throw new Error(((await r.json().catch(() => ({}))) as { error?: string }).error ?? `the daemon answered ${r.status}`);
      setLoad({ kind: 'ok', doc: (await r.json()) as StatusDocument });
    } catch (err) {
      setLoad((prev) => ({ kind: 'error', message: (err as Error).message, doc: prev.kind === 'ok' ? prev.doc : prev.kind === 'error' ? prev.doc : undefined }));
    }
    setNow(Date.now());
  }, []);

  useEffect(() => {
    void refresh();
    const t = setInterval(() => void refresh(), REFRESH_MS);
    return () => clearInterval(t);
  }, [refresh]);

  if (load.kind === 'token') {
    return (
      <TokenForm
        wrong={load.wrong}
        onToken={(t) => {
          sessionStorage.setItem(TOKEN_KEY, t);
          void refresh();
        }}
      />
    );
  }
  const doc = load.kind === 'ok' ? load.doc : load.kind === 'error' ? load.doc : undefined;
  return (
    <main>
      <header>
        <h1>Backtrack</h1>
        <p class="meta" aria-live="polite">
          {doc ? `${doc.daemon ? `daemon ${doc.daemon.identity} · ` : ''}updated ${utc(doc.generatedAt)}` : 'loading…'}
          {load.kind === 'error' ? <span class="bad"> · cannot refresh: {load.message}</span> : null}
        </p>
      </header>
      {doc?.sources.map((s) => <Source key={s.name} s={s} now={now} />)}
    </main>
  );
}

function TokenForm({ wrong, onToken }: { wrong: boolean; onToken: (t: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main>
      <h1>Backtrack</h1>
      <form
        class="token"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onToken(value.trim());
        }}
      >
        <label for="token">API token (a line of http.tokenFile, without its name); kept for this tab only</label>
        {wrong ? <p class="bad" role="alert">That token was not accepted.</p> : null}
        <input id="token" name="token" type="password" autocomplete="off" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} autofocus />
        <button type="submit">Show status</button>
      </form>
    </main>
  );
}

function Source({ s, now }: { s: SourceStatus; now: number }) {
  const w = s.windows[s.windows.length - 1];
  const lead = s.leading ? 'this daemon leads it' : s.ledBy ? `led by ${s.ledBy.identity}` : 'no leader recorded';
  return (
    <section aria-labelledby={`src-${s.name}`}>
      <h2 id={`src-${s.name}`}>
        {s.name} <span class="meta">({lead})</span>
      </h2>
      {s.problems.length ? (
        <ul class="problems" role="alert">
          {s.problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      ) : null}
      <dl class="facts">
        <dt>Restorable</dt>
        <dd data-testid="window">{w ? `${utc(w.from)} … ${utc(w.to)} (any second; newest ${ago(w.to, now)})` : 'no restorable window yet'}</dd>
        <dt>Newest proven point</dt>
        <dd data-testid="proven">{s.provenPoint ? `${utc(s.provenPoint.at)} (point-in-time drill of ${s.provenPoint.backupId}, ${ago(s.provenPoint.drilledAt, now)})` : 'none yet: no passed point-in-time drill'}</dd>
        <dt>Binlog archive</dt>
        <dd data-testid="archive">
          {!s.archive.enabled ? 'off' : s.archive.streaming ? `streaming, lag ${seconds(s.archive.lagSeconds)}` : s.leading ? 'not streaming (see the daemon\'s log)' : s.ledBy ? `archived by the leader, ${s.ledBy.identity}` : 'not archived here: this daemon does not lead the source (is the source reachable?)'}
          {s.archive.newestEvent ? `; newest archived transaction ${utc(s.archive.newestEvent)}` : ''}
        </dd>
        <dt>Gaps</dt>
        <dd data-testid="gaps" class={s.gaps.length ? 'bad' : ''}>
          {s.gaps.length ? s.gaps.map((g) => <div key={g.detail}>GAP: {g.detail}</div>) : 'none'}
        </dd>
        <dt>Next</dt>
        <dd>
          {(['backup', 'drill', 'prune'] as const).map((k, i) => `${i ? ', ' : ''}${k} ${s.next[k] ? `${utc(s.next[k])} (${ago(s.next[k], now)})` : 'not scheduled here'}`).join('')}
        </dd>
      </dl>
      <Timeline s={s} />
      <LastDrill s={s} now={now} />
    </section>
  );
}

const W = 1000;

function Timeline({ s }: { s: SourceStatus }) {
  const from = Date.parse(s.span.from);
  const to = Math.max(Date.parse(s.span.to), from + 1000);
  const x = (iso: string | null, fallback: number) => {
    const t = iso ? Date.parse(iso) : fallback;
    return Math.min(W, Math.max(0, ((t - from) / (to - from)) * W));
  };
  const verdict = (b: SourceStatus['backups'][number]) => (b.drill ? b.drill.verdict : 'none');
  // A gap without a recorded time starts where the newest window ends (the window stops at the gap).
  const gapFrom = (g: SourceStatus['gaps'][number]) => g.from ?? s.windows[s.windows.length - 1]?.to ?? s.span.to;
  const summary = `Restorable window${s.windows.length === 1 ? '' : 's'} ${s.windows.map((w) => `${utc(w.from)} to ${utc(w.to)}`).join(', ') || 'none'}; ${s.backups.length} backup(s), ${s.backups.filter((b) => b.drill?.verdict === 'passed').length} proven by a drill, ${s.backups.filter((b) => b.drill?.verdict === 'failed').length} failed; ${s.gaps.length} gap(s).`;
  return (
    <figure class="timeline">
      <svg viewBox={`0 0 ${W} 96`} role="img" aria-label={summary} preserveAspectRatio="none" data-testid="timeline">
        <title>{summary}</title>
        <rect x="0" y="38" width={W} height="20" class="track" />
        {s.windows.map((w) => (
          <rect key={w.from} x={x(w.from, from)} y="38" width={Math.max(2, x(w.to, to) - x(w.from, from))} height="20" class="window" data-testid="window-band" />
        ))}
        {s.gaps.map((g) => (
          <rect key={g.detail} x={x(gapFrom(g), to) - 2} y="30" width={Math.max(6, x(g.to ?? gapFrom(g), to) - x(gapFrom(g), to) + 4)} height="36" class="gap" data-testid="gap-band" />
        ))}
        {s.backups.map((b) => (
          <g key={b.id} class={`backup ${verdict(b)}`} data-testid={`backup-${verdict(b)}`}>
            <circle cx={x(b.at, from)} cy="20" r="7" />
            <text x={x(b.at, from)} y="24" text-anchor="middle">
              {verdict(b) === 'passed' ? '✓' : verdict(b) === 'failed' ? '✗' : '?'}
            </text>
          </g>
        ))}
        {s.drills.map((d) => (
          <path key={`${d.backupId}-${d.at}`} d={`M ${x(d.at, to)} 70 l 6 12 l -12 0 z`} class={`drill ${d.verdict}`} />
        ))}
      </svg>
      <figcaption>
        <span>{utc(s.span.from)}</span>
        <span class="legend">
          <span class="key window">restorable</span> <span class="key gap">gap</span> <span class="key passed">✓ drilled</span> <span class="key failed">✗ drill failed</span> <span class="key none">? not drilled</span> ▲ drill
        </span>
        <span>now</span>
      </figcaption>
      <details>
        <summary>The timeline as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">when (UTC)</th>
              <th scope="col">what</th>
            </tr>
          </thead>
          <tbody>
            {[
              ...s.windows.map((w) => ({ at: w.from, what: `restorable window starts (backup ${w.fromBackup}), until ${utc(w.to)}` })),
              ...s.backups.map((b) => ({ at: b.at, what: `backup ${b.id}, ${bytes(b.bytes)}: ${b.drill ? `drill ${b.drill.verdict}` : 'not drilled yet'}` })),
              ...s.drills.map((d) => ({ at: d.at, what: `drill of ${d.backupId}: ${d.verdict}${d.failedChecks.length ? ` (${d.failedChecks.join(', ')})` : ''}` })),
              ...s.gaps.map((g) => ({ at: gapFrom(g), what: `GAP: ${g.detail}${g.from ? '' : ' (time not recorded: after the window above)'}` })),
            ]
              .sort((a, b) => (a.at < b.at ? -1 : 1))
              .map((r, i) => (
                <tr key={i}>
                  <td>{utc(r.at)}</td>
                  <td>{r.what}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

function LastDrill({ s, now }: { s: SourceStatus; now: number }) {
  const d = s.lastDrill;
  if (!d) return <p>No drill has run yet.</p>;
  return (
    <div class="drill-report" data-testid="last-drill">
      <h3>
        Last drill: <span class={d.verdict === 'passed' ? 'good' : 'bad'}>{d.verdict.toUpperCase()}</span> <span class="meta">backup {d.backupId}, {ago(d.finishedAt, now)}, restore took {seconds(d.rto.seconds)}</span>
      </h3>
      <table>
        <thead>
          <tr>
            <th scope="col">check</th>
            <th scope="col">verdict</th>
            <th scope="col">what it found</th>
          </tr>
        </thead>
        <tbody>
          {d.checks.map((c) => (
            <tr key={c.name}>
              <td>{c.name}</td>
              <td class={c.verdict === 'failed' ? 'bad' : c.verdict === 'passed' ? 'good' : ''}>{c.verdict}</td>
              <td>{c.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
