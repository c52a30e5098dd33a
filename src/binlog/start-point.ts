/**
 * Where the archiver starts streaming, decided from the repository alone (so
 * a restart or kill -9 resumes with no gap and no duplicate): the active
 * file again (uploading only bytes after what is stored), the file after the
 * last closed one, or, for a new timeline, the oldest file the server has.
 * A wanted file the server no longer has is a gap, recorded here; a new
 * timeline while an older one exists is a failover, recorded on the old one.
 */
import type { ConnectionSpec } from '../mysql/connect.js';
import { closeQuietly, connect } from '../mysql/connect.js';
import { binaryLogs } from '../mysql/server.js';
import { segmentKey, type WritableRepository } from '../repository/repository.js';
import { fileIndex, nextFileName, type GapRecord, type Sidecar } from '../repository/sidecar.js';
import { loadChain, type Timeline } from './chain.js';

export interface StartPointInput {
  spec: ConnectionSpec;
  repo: WritableRepository;
  source: string;
  timeline: string;
  onGap?: (g: GapRecord) => void;
}

/** Where to resume: the file, how many of its bytes are archived, and the pieces that hold them. */
export interface StartPoint {
  file: string;
  uploadedUpTo: number;
  /** The file's pieces in the repository (the folding continues from them). */
  pieces: Sidecar[];
}

/** The file to stream from and how many of its bytes are already archived. */
export async function findStartPoint(i: StartPointInput): Promise<StartPoint> {
  const conn = await connect(i.spec);
  let names: string[];
  try {
    names = (await binaryLogs(conn)).map((l) => l.name);
  } finally {
    await closeQuietly(conn);
  }
  if (names.length === 0) throw new Error('the source lists no binary logs (SHOW BINARY LOGS is empty)');
  const chain = await loadChain(i.repo, i.source);
  await noteFailover(i, chain, names[0] as string);
  const tl = chain.find((t) => t.id === i.timeline);
  const last = tl?.files[tl.files.length - 1];
  if (!last) return { file: names[0] as string, uploadedUpTo: 0, pieces: [] };
  const want = last.whole ? nextFileName(last.file) : last.file;
  const offset = last.whole ? 0 : last.end;
  if (names.includes(want)) {
    if (!last.whole) await removeStrays(i, last.file, last.end);
    return { file: want, uploadedUpTo: offset, pieces: last.whole ? [] : last.segments };
  }
  const later = names.filter((n) => fileIndex(n) > fileIndex(last.file));
  if (later.length === 0) {
    if (last.whole) return { file: want, uploadedUpTo: 0, pieces: [] };
    throw new Error(`${want} is no longer on the source and nothing newer is: cannot continue the archive`);
  }
  const resume = later[0] as string;
  const missing: string[] = [];
  for (let f = want; fileIndex(f) < fileIndex(resume); f = nextFileName(f)) missing.push(f);
  await recordGap(i, {
    timeline: i.timeline,
    reason: 'purged-before-archived',
    after: { file: last.file, offset: last.end },
    resumedAt: { file: resume, offset: 4 },
    missingFiles: missing,
    detail: `${missing.join(', ')} ${last.whole ? '' : `(and the end of ${last.file}) `}were purged on the source before they were archived`,
  });
  return { file: resume, uploadedUpTo: 0, pieces: [] };
}

/**
 * Piece objects past the archived end of the file being resumed, without
 * a sidecar: an archiver killed between a piece and its sidecar left them.
 * The bytes are uploaded again from here, so they go (pieces written before
 * start-end names cannot be told apart and are left alone).
 */
async function removeStrays(i: StartPointInput, file: string, archivedEnd: number): Promise<void> {
  const { sidecars, objects } = await i.repo.listBinlogRecords(i.source);
  const prefix = `${i.timeline}/${file}.partial/`;
  const known = new Set(sidecars.filter((s) => s.timeline === i.timeline && s.file === file).map((s) => segmentKey(s)));
  for (const key of objects.keys()) {
    const m = /^(\d{20})-(\d{20})\.zst(\.age)?$/.exec(key.slice(prefix.length));
    if (!key.startsWith(prefix) || known.has(key) || !m || Number(m[1]) < archivedEnd) continue;
    await i.repo.deleteStraySegmentObject(i.source, key);
  }
}

/** A new timeline while an older one exists: the server changed (failover). */
async function noteFailover(i: StartPointInput, chain: Timeline[], firstFile: string): Promise<void> {
  const previous = chain.filter((t) => t.id !== i.timeline && t.files.length).slice(-1)[0];
  const current = chain.find((t) => t.id === i.timeline);
  if (!previous || (current && (current.lastArchivedAt ?? '') >= (previous.lastArchivedAt ?? ''))) return;
  if (previous.gaps.some((g) => g.reason === 'failover')) return;
  const lastFile = previous.files[previous.files.length - 1];
  await recordGap(i, {
    timeline: previous.id,
    reason: 'failover',
    after: lastFile ? { file: lastFile.file, offset: lastFile.end } : undefined,
    missingFiles: [],
    detail: `the source is now a different server (timeline ${i.timeline}, from ${firstFile}); this timeline's archive ends here`,
  });
}

/** Write a gap record into the repository (append-only, like everything). */
export async function recordGap(i: Pick<StartPointInput, 'repo' | 'source' | 'onGap'>, g: Omit<GapRecord, 'format' | 'source' | 'detectedAt'>): Promise<void> {
  const record: GapRecord = { format: 1, source: i.source, detectedAt: new Date().toISOString(), ...g };
  await i.repo.recordGap(record);
  i.onGap?.(record);
}
