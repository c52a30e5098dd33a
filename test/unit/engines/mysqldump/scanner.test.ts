import { describe, expect, it } from 'vitest';
import { DumpScanner } from '../../../../src/engines/mysqldump/scanner.js';

const DUMP = String.raw`/*M!999999\- enable the sandbox mode */
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB
-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000007', MASTER_LOG_POS=1574;

USE ${'`'}shop${'`'};
CREATE TABLE ${'`'}odd ${'``'}name${'`'} (
  ${'`'}id${'`'} int(11) NOT NULL
);
LOCK TABLES ${'`'}odd ${'``'}name${'`'} WRITE;
INSERT INTO ${'`'}odd ${'``'}name${'`'} VALUES
(1,'a\'b\\c',0x00275C),
(2,'(;)',NULL),
(3,'\\',''),
(4,'it''s',_binary 'x');
UNLOCK TABLES;
INSERT INTO ${'`'}single${'`'} VALUES (1,'x'),(2,'),('),(3,'y');
INSERT INTO ${'`'}single${'`'} VALUES (4,'z');
INSERT INTO ${'`'}hist${'`'} (${'`'}id${'`'}, row_start, row_end) VALUES (2,'2026-11-25 11:47:01.538707','2038-01-19 03:14:07.999999'),
(1,'2026-11-25 11:47:01.538275','2026-11-25 11:47:01.538707');
DELIMITER ;;
CREATE PROCEDURE ${'`'}p${'`'}()
BEGIN
INSERT INTO ${'`'}single${'`'} VALUES (99,'not data');
END ;;
DELIMITER ;
USE ${'`'}other${'`'};
INSERT INTO ${'`'}single${'`'} VALUES (1,'x');
-- SET GLOBAL gtid_slave_pos='0-1-42';
-- Dump completed on 2026-11-25 11:47:01
`;

async function scan(text: string, chunk: number) {
  const scanner = new DumpScanner();
  const buf = Buffer.from(text);
  const done = new Promise<void>((resolve, reject) => {
    scanner.on('data', () => undefined).on('end', resolve).on('error', reject);
  });
  for (let i = 0; i < buf.length; i += chunk) scanner.write(buf.subarray(i, i + chunk));
  scanner.end();
  await done;
  return scanner.facts;
}

describe('DumpScanner', () => {
  it('counts rows per table in both the one-line and the row-per-line INSERT formats', async () => {
    const facts = await scan(DUMP, 65536);
    expect(Object.fromEntries([...facts.rows].map(([k, v]) => [k.replace('\u0000', '.'), v]))).toEqual({
      'shop.odd `name': 4,
      'shop.single': 4,
      'shop.hist': 2,
      'other.single': 1,
    });
  });

  it('gives the same answer whatever the chunk boundaries are', async () => {
    const whole = await scan(DUMP, 1 << 20);
    for (const size of [1, 2, 3, 7, 13, 64]) {
      const facts = await scan(DUMP, size);
      expect(facts.rows).toEqual(whole.rows);
      expect(facts.snapshot).toEqual(whole.snapshot);
      expect(facts.tablesCreated).toEqual(whole.tablesCreated);
    }
  });

  it('ignores INSERT statements inside routine bodies', async () => {
    const facts = await scan(DUMP, 100);
    expect(facts.rows.get('shop\u0000single')).toBe(4);
  });

  it('reads the snapshot point from the header comments', async () => {
    const facts = await scan(DUMP, 100);
    expect(facts.snapshot).toEqual({ file: 'mysql-bin.000007', position: 1574, gtid: '0-1-42' });
  });

  it('reads a MySQL GTID_PURGED set that spans lines', async () => {
    const text = `-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000002', SOURCE_LOG_POS=157;\n/* SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-9'; */\n`;
    const facts = await scan(text, 5);
    expect(facts.snapshot).toEqual({
      file: 'binlog.000002',
      position: 157,
      gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-9',
    });
  });

  it('records created tables and whether the dump completed', async () => {
    const facts = await scan(DUMP, 100);
    expect([...facts.tablesCreated]).toEqual(['shop\u0000odd `name']);
    expect(facts.completed).toBe(true);
    expect((await scan(DUMP.slice(0, 200), 100)).completed).toBe(false);
  });

  it('passes every byte through unchanged', async () => {
    const scanner = new DumpScanner();
    const out: Buffer[] = [];
    scanner.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise((r) => scanner.on('end', r));
    scanner.end(Buffer.from(DUMP));
    await ended;
    expect(Buffer.concat(out).toString()).toBe(DUMP);
  });
});

describe('DumpScanner row-per-line format', () => {
  const rows = Array.from({ length: 500 }, (_, i) => `(${i},'a line with ),\\n and );\\n inside a string',0x0A0D)`);
  const dump = `USE \`s\`;\nINSERT INTO \`t\` VALUES\n${rows.join(',\n')};\nINSERT INTO \`t\` VALUES\n(9,'x');\n`;

  it('counts one row per line, whatever the chunking', async () => {
    for (const size of [1, 2, 3, 5, 64, 4096, 1 << 20]) {
      const facts = await scan(dump, size);
      expect(facts.rows.get('s\u0000t'), `chunk ${size}`).toBe(501);
    }
  });
});
