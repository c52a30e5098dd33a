import { describe, expect, it } from 'vitest';
import { binaryLogStatusSql, binlogToolMismatch, detectFlavor, dumpFlags, gtidExecutedSql, identifyBinlogTool, isSystemAccount, parseSnapshotComment, toolsFor } from '../../../src/mysql/flavor.js';

const mysql = (v: string) => detectFlavor(v, 'MySQL Community Server - GPL').version;

describe('detectFlavor', () => {
  it('tells MariaDB (also behind the 5.5.5- prefix) from MySQL', () => {
    expect(detectFlavor('10.11.6-MariaDB-0+deb12u1-log').flavor).toBe('mariadb');
    expect(detectFlavor('5.5.5-10.6.12-MariaDB').version).toMatchObject({ major: 10, minor: 6, patch: 12 });
    expect(detectFlavor('8.0.36', 'MySQL Community Server - GPL')).toMatchObject({ flavor: 'mysql', version: { major: 8, minor: 0, patch: 36 } });
  });
});

describe('dumpFlags', () => {
  it('MariaDB: --master-data with --gtid, and --dump-history where tables are versioned', () => {
    const f = dumpFlags({ flavor: 'mariadb', version: detectFlavor('10.11.6-MariaDB').version, gtidMode: true, hasSystemVersioned: true });
    expect(f).toEqual(expect.arrayContaining(['--single-transaction', '--master-data=2', '--gtid', '--dump-history', '--hex-blob', '--routines', '--triggers', '--events']));
  });
  it('MySQL 8.0.25 still says --master-data; 8.0.26+ says --source-data', () => {
    expect(dumpFlags({ flavor: 'mysql', version: mysql('8.0.25'), gtidMode: false, hasSystemVersioned: false })).toContain('--master-data=2');
    const f = dumpFlags({ flavor: 'mysql', version: mysql('8.4.0'), gtidMode: true, hasSystemVersioned: false });
    expect(f).toContain('--source-data=2');
    expect(f).toContain('--set-gtid-purged=COMMENTED');
    expect(f).not.toContain('--gtid');
    expect(f).not.toContain('--dump-history');
  });
  it('MySQL without gtid_mode turns GTID_PURGED off', () => {
    expect(dumpFlags({ flavor: 'mysql', version: mysql('8.0.36'), gtidMode: false, hasSystemVersioned: false })).toContain('--set-gtid-purged=OFF');
  });
});

describe('binaryLogStatusSql', () => {
  it('uses SHOW BINARY LOG STATUS from MySQL 8.2 (8.4 removed SHOW MASTER STATUS)', () => {
    expect(binaryLogStatusSql('mysql', mysql('8.0.36'))).toBe('SHOW MASTER STATUS');
    expect(binaryLogStatusSql('mysql', mysql('8.4.2'))).toBe('SHOW BINARY LOG STATUS');
    expect(binaryLogStatusSql('mariadb', detectFlavor('10.11.6-MariaDB').version)).toBe('SHOW MASTER STATUS');
  });
  it('reads the executed GTIDs from the flavor\'s variable', () => {
    expect(gtidExecutedSql('mysql')).toMatch(/gtid_executed/);
    expect(gtidExecutedSql('mariadb')).toMatch(/gtid_binlog_pos/);
  });
});

describe('parseSnapshotComment', () => {
  it('reads MariaDB and MySQL coordinate comments', () => {
    expect(parseSnapshotComment("-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000003', MASTER_LOG_POS=4;")).toEqual({ file: 'mysql-bin.000003', position: 4 });
    expect(parseSnapshotComment("-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000012', SOURCE_LOG_POS=157;")).toEqual({ file: 'binlog.000012', position: 157 });
  });
  it('reads MariaDB gtid_slave_pos and MySQL GTID_PURGED', () => {
    expect(parseSnapshotComment("-- SET GLOBAL gtid_slave_pos='0-1-42,1-2-3';")).toEqual({ gtid: '0-1-42,1-2-3' });
    expect(parseSnapshotComment("SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5';")).toEqual({ gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5' });
  });
  it('ignores other lines', () => {
    expect(parseSnapshotComment('-- Host: localhost')).toBeUndefined();
  });
});

describe('tools and accounts per flavor', () => {
  it('names each flavor\'s programs', () => {
    expect(toolsFor('mariadb')).toMatchObject({ dump: 'mariadb-dump', client: 'mariadb', binlog: 'mariadb-binlog', server: 'mariadbd' });
    expect(toolsFor('mysql')).toMatchObject({ dump: 'mysqldump', client: 'mysql', binlog: 'mysqlbinlog', server: 'mysqld' });
  });
  it('leaves the server\'s own accounts out', () => {
    expect(isSystemAccount('mysql', 'mysql.session', 'localhost')).toBe(true);
    expect(isSystemAccount('mariadb', 'mariadb.sys', 'localhost')).toBe(true);
    expect(isSystemAccount('mariadb', 'app', '%')).toBe(false);
  });
});

import { canWriteHeartbeat } from '../../../src/mysql/grants.js';

describe('canWriteHeartbeat', () => {
  it('accepts a schema grant with CREATE and INSERT, or ALL, or a global one', () => {
    expect(canWriteHeartbeat(["GRANT CREATE, INSERT, DELETE, SELECT ON `backtrack`.* TO `backtrack`@`%`"], 'backtrack')).toBe(true);
    expect(canWriteHeartbeat(['GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`'], 'backtrack')).toBe(true);
    expect(canWriteHeartbeat(['GRANT SELECT ON *.* TO `backtrack`@`%`'], 'backtrack')).toBe(false);
    expect(canWriteHeartbeat(['GRANT INSERT, CREATE ON `other`.* TO `backtrack`@`%`'], 'backtrack')).toBe(false);
  });
});

describe('the binlog tool a replay uses', () => {
  const v = (text: string) => detectFlavor(text).version;
  // --version lines as each program prints them.
  const MARIA_DEBIAN = 'mysqlbinlog Ver 3.5 for debian-linux-gnu at x86_64';
  const MARIA_11 = 'mariadb-binlog from 11.4.3-MariaDB, client 3.5 for debian-linux-gnu (x86_64)';
  const MYSQL_80 = 'mysqlbinlog  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)';
  const MYSQL_84 = 'mysqlbinlog  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)';
  const PERCONA = 'mysqlbinlog  Ver 8.0.36-28 for Linux on x86_64 (Percona Server (GPL), Release 28, Revision 47601f19)';

  it('tells MariaDB\'s tool (whatever its name) from MySQL\'s', () => {
    expect(identifyBinlogTool(MARIA_DEBIAN)).toMatchObject({ kind: 'mariadb' });
    expect(identifyBinlogTool(MARIA_11)).toMatchObject({ kind: 'mariadb' });
    expect(identifyBinlogTool(`${MYSQL_84}\n`)).toMatchObject({ kind: 'mysql', major: 8, minor: 4 });
    expect(identifyBinlogTool(PERCONA)).toMatchObject({ kind: 'mysql', major: 8, minor: 0 });
  });

  it('refuses MariaDB\'s tool for a MySQL source, and an older MySQL tool for a newer server', () => {
    expect(binlogToolMismatch(identifyBinlogTool(MARIA_DEBIAN), 'mysql', v('8.0.36'))).toMatch(/MariaDB's .* cannot read MySQL 8's compressed transactions or tagged GTIDs.*MYSQL_CLIENT/);
    expect(binlogToolMismatch(identifyBinlogTool(MYSQL_80), 'mysql', v('8.4.3'))).toMatch(/older than the source's MySQL 8\.4/);
    expect(binlogToolMismatch(identifyBinlogTool(MYSQL_84), 'mysql', v('8.0.36'))).toBeUndefined();
    expect(binlogToolMismatch(identifyBinlogTool(MYSQL_84), 'mysql', v('8.4.0'))).toBeUndefined();
    expect(binlogToolMismatch(identifyBinlogTool(PERCONA), 'mysql', v('8.0.20'))).toBeUndefined();
  });

  it('refuses MySQL\'s tool for a MariaDB source', () => {
    expect(binlogToolMismatch(identifyBinlogTool(MYSQL_84), 'mariadb', v('10.11.6-MariaDB-log'))).toMatch(/MySQL's .* cannot read MariaDB's GTID events/);
    expect(binlogToolMismatch(identifyBinlogTool(MARIA_DEBIAN), 'mariadb', v('10.11.6-MariaDB-log'))).toBeUndefined();
  });
});
