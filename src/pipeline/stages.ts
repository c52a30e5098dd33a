/**
 * The stream stages between a tool and the repository: sha256 + byte count,
 * zstd (de)compression and age (de)encryption. zstd and age run as child
 * processes: they are the very tools an SRE uses to restore by hand, zstd
 * uses every core, and the bytes never wait in Node's heap.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { runTool, type ToolProcess } from './spawn.js';

/** A pass-through that hashes and counts what flows through it. */
export interface Hasher {
  readonly stream: Transform;
  /** Valid once the stream has ended. */
  result(): { sha256: string; bytes: number };
}

export function hasher(onBytes?: (total: number) => void): Hasher {
  const hash = createHash('sha256');
  let bytes = 0;
  let digest: string | undefined;
  const stream = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(bytes);
      cb(null, chunk);
    },
    flush(cb) {
      digest = hash.digest('hex');
      cb();
    },
  });
  return {
    stream,
    result() {
      if (digest === undefined) throw new Error('hash requested before the stream ended');
      return { sha256: digest, bytes };
    },
  };
}

/** Compression and encryption settings of a repository. */
export interface CodecOptions {
  zstd: string;
  level: number;
  /** 0 = one per core. */
  threads: number;
  age?: { binary: string; recipientsFile: string; identityFile?: string | undefined } | undefined;
  signal?: AbortSignal | undefined;
}

const ZSTD_HINT = 'install zstd (apt-get install zstd)';
const AGE_HINT = 'install age (apt-get install age) or remove repository.encryption';

/** zstd -c: stdin is raw, stdout is compressed. */
export function compressor(o: CodecOptions): ToolProcess {
  return runTool(o.zstd, ['-q', '-c', `-${o.level}`, `-T${o.threads}`], { signal: o.signal, label: 'zstd', installHint: ZSTD_HINT });
}

/** zstd -d: stdin is compressed, stdout is raw; a corrupt frame fails the tool. */
export function decompressor(o: Pick<CodecOptions, 'zstd' | 'signal'>): ToolProcess {
  return runTool(o.zstd, ['-q', '-d', '-c'], { signal: o.signal, label: 'zstd -d', installHint: ZSTD_HINT });
}

/** age -R: encrypt to the recipients file. */
export function encryptor(o: NonNullable<CodecOptions['age']>, signal?: AbortSignal): ToolProcess {
  return runTool(o.binary, ['-e', '-R', o.recipientsFile], { signal, label: 'age', installHint: AGE_HINT });
}

/** age -d: decrypt with the identity file. */
export function decryptor(o: NonNullable<CodecOptions['age']>, signal?: AbortSignal): ToolProcess {
  if (!o.identityFile) throw new Error('repository.encryption.identityFile is required to read encrypted objects');
  return runTool(o.binary, ['-d', '-i', o.identityFile], { signal, label: 'age -d', installHint: AGE_HINT });
}

/** Object name suffix for the codecs in use. */
export function objectSuffix(encrypted: boolean): string {
  return `.zst${encrypted ? '.age' : ''}`;
}
