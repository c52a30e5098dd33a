import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FsStore } from '../../../src/storage/fs.js';
import { storageSuite } from './suite.js';

storageSuite('fs', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'bt-fs-store-'));
  return {
    store: new FsStore(root),
    // What a kill -9 during put leaves: the temp file next to the final name.
    async leaveIncomplete(key: string) {
      const final = path.join(root, ...key.split('/'));
      await mkdir(path.dirname(final), { recursive: true });
      await writeFile(path.join(path.dirname(final), `.tmp-${path.basename(final)}-123-abcdef01`), 'partial');
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
