/** The engines by name. */
import type { Engine } from './engine.js';
import { dumpWithMysqldump } from './mysqldump/dump.js';
import { loadWithMysqlClient } from './mysqldump/load.js';

export const mysqldumpEngine: Engine = { name: 'mysqldump', dump: dumpWithMysqldump, load: loadWithMysqlClient };

export function engineFor(name: 'mysqldump'): Engine {
  switch (name) {
    case 'mysqldump':
      return mysqldumpEngine;
  }
}

export type * from './engine.js';
