/**
 * From a repository URL to a ready ObjectStore: the backend for the scheme,
 * wrapped in retry. `file:///abs/path` and `s3://bucket/prefix` are known.
 */
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { RepositoryConfig } from '../config/schema.js';
import { FsStore } from './fs.js';
import { RetryStore, type RetryOptions } from './retry.js';
import type { ObjectStore } from './store.js';

/** Kernel pseudo-filesystems: a recursive mkdir in /proc never ends (it spun at 100% CPU). */
const PSEUDO_FILESYSTEMS = ['/proc', '/sys', '/dev'];

/** Open the repository's store (retrying transient errors). */
export async function openStore(repo: RepositoryConfig, o: Pick<RetryOptions, 'onRetry' | 'signal'> = {}): Promise<ObjectStore> {
  return new RetryStore(await openBackend(repo), { attempts: repo.retry.attempts, baseDelayMs: repo.retry.baseDelay, ...o });
}

/** The bare backend for a URL, without wrappers. The AWS SDK is loaded only for s3:// (it costs ~0.2s of start-up). */
export async function openBackend(repo: RepositoryConfig): Promise<ObjectStore> {
  let url: URL;
  try {
    url = new URL(repo.url);
  } catch {
    throw new ConfigError(`repository.url "${repo.url}" is not a URL; use s3://bucket/prefix or file:///absolute/path`);
  }
  switch (url.protocol) {
    case 'file:': {
      if (url.host) throw new ConfigError(`repository.url "${repo.url}" has a host; a local path is written file:///absolute/path`);
      const root = path.resolve(decodeURIComponent(url.pathname));
      const pseudo = PSEUDO_FILESYSTEMS.find((p) => root === p || root.startsWith(`${p}/`));
      if (pseudo) throw new ConfigError(`repository.url "${repo.url}" points into ${pseudo}, a kernel pseudo-filesystem that cannot hold a repository; use a directory on a real disk (e.g. file:///var/lib/backtrack)`);
      if (repo.s3.objectLock) throw new ConfigError(`repository.s3.objectLock is set but repository.url "${repo.url}" is a local directory: Object Lock is an S3 feature; use an s3:// repository, or remove repository.s3.objectLock`);
      if (root === '/') throw new ConfigError(`repository.url "${repo.url}" is the root directory; use a directory of its own (e.g. file:///var/lib/backtrack)`);
      return new FsStore(root);
    }
    case 's3:': {
      if (url.hostname.length < 3) throw new ConfigError(`repository.url "${repo.url}": the bucket name must have at least 3 characters`);
      const { S3Store } = await import('./s3.js');
      return new S3Store({
        bucket: url.hostname,
        prefix: decodeURIComponent(url.pathname),
        endpoint: repo.s3.endpoint,
        region: repo.s3.region,
        forcePathStyle: repo.s3.forcePathStyle,
        partSize: repo.s3.partSize,
        queueSize: repo.s3.queueSize,
        storageClass: repo.s3.storageClass,
        maxAttempts: repo.retry.attempts,
        objectLock: repo.s3.objectLock,
      });
    }
    default:
      throw new ConfigError(`repository.url "${repo.url}" has an unknown scheme ${url.protocol}; use s3:// or file://`);
  }
}
