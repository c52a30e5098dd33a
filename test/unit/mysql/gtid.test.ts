import { describe, expect, it } from 'vitest';
import { GtidSet, formatGtid, parseGtid } from '../../../src/mysql/gtid.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '4e11fa47-71ca-11e1-9e33-c80aa9429562';

describe('MariaDB GTIDs', () => {
  it('parses and prints domain-server-seq', () => {
    const g = parseGtid('mariadb', '0-1-42');
    expect(g).toEqual({ flavor: 'mariadb', domain: 0, server: 1, seq: 42n });
    expect(formatGtid(g)).toBe('0-1-42');
  });
  it('treats a position as everything up to each domain\'s seq', () => {
    const pos = GtidSet.parse('mariadb', '0-1-42,1-2-7');
    expect(pos.contains(parseGtid('mariadb', '0-1-42'))).toBe(true);
    expect(pos.contains(parseGtid('mariadb', '0-3-10'))).toBe(true);
    expect(pos.contains(parseGtid('mariadb', '0-1-43'))).toBe(false);
    expect(pos.contains(parseGtid('mariadb', '2-1-1'))).toBe(false);
    expect(pos.containsAll(GtidSet.parse('mariadb', '0-1-40'))).toBe(true);
    expect(pos.containsAll(GtidSet.parse('mariadb', '0-1-40,2-1-1'))).toBe(false);
  });
  it('keeps the highest seq per domain when adding', () => {
    const s = GtidSet.parse('mariadb', '');
    s.add(parseGtid('mariadb', '0-1-5')).add(parseGtid('mariadb', '0-1-3')).add(parseGtid('mariadb', '1-1-1'));
    expect(s.toString()).toBe('0-1-5,1-1-1');
  });
  it('rejects malformed input with the expected form', () => {
    expect(() => parseGtid('mariadb', '0-1')).toThrow(/domain-server-seq/);
  });
});

describe('MySQL GTID sets', () => {
  it('parses intervals, merges adjacent ones and prints canonically', () => {
    const s = GtidSet.parse('mysql', `${U2}:1-3, ${U1.toUpperCase()}:1-5:7-9:6`);
    expect(s.toString()).toBe(`${U1}:1-9,${U2}:1-3`);
  });
  it('tests membership by interval', () => {
    const s = GtidSet.parse('mysql', `${U1}:1-5:10-20`);
    expect(s.contains(parseGtid('mysql', `${U1}:5`))).toBe(true);
    expect(s.contains(parseGtid('mysql', `${U1}:7`))).toBe(false);
    expect(s.contains(parseGtid('mysql', `${U2}:1`))).toBe(false);
    expect(s.containsAll(GtidSet.parse('mysql', `${U1}:2-4:11`))).toBe(true);
    expect(s.containsAll(GtidSet.parse('mysql', `${U1}:4-6`))).toBe(false);
  });
  it('reads tagged GTIDs (MySQL 8.3+)', () => {
    const s = GtidSet.parse('mysql', `${U1}:1-3:mytag:1-2`);
    expect(s.contains(parseGtid('mysql', `${U1}:mytag:2`))).toBe(true);
    expect(s.contains(parseGtid('mysql', `${U1}:3`))).toBe(true);
    // A tag is its own sequence: uuid:mytag:3 is not uuid:3.
    expect(s.contains(parseGtid('mysql', `${U1}:mytag:3`))).toBe(false);
    expect(s.contains(parseGtid('mysql', `${U1}:other:1`))).toBe(false);
  });
  it('prints tagged sets as MySQL does: one element per uuid, untagged intervals first, then tags in order', () => {
    // The server prints gtid_executed this way (8.4): tags lower-case, sorted, after the untagged intervals.
    const s = GtidSet.parse('mysql', `${U2}:Zeta:4, ${U1}:alpha:1-2, ${U1}:1-3, ${U1}:BETA:9:alpha:3, ${U2}:1`);
    expect(s.toString()).toBe(`${U1}:1-3:alpha:1-3:beta:9,${U2}:1:zeta:4`);
    expect(GtidSet.parse('mysql', s.toString()).toString()).toBe(s.toString());
    expect(s.containsAll(GtidSet.parse('mysql', `${U1}:ALPHA:2`))).toBe(true);
    expect(s.containsAll(GtidSet.parse('mysql', `${U1}:beta:1-9`))).toBe(false);
    expect(parseGtid('mysql', `${U1.toUpperCase()}:MyTag:7`)).toEqual({ flavor: 'mysql', sid: `${U1}:mytag`, gno: 7n });
  });
  it('refuses bad tags and tagged GTIDs without a number', () => {
    expect(() => GtidSet.parse('mysql', `${U1}:a-b:1`)).toThrow(/bad GTID tag "a-b"/);
    expect(() => GtidSet.parse('mysql', `${U1}:1-x`)).toThrow(/bad interval/);
    expect(() => GtidSet.parse('mysql', `${U1}:${'t'.repeat(33)}:1`)).toThrow(/bad GTID tag/);
    expect(() => parseGtid('mysql', `${U1}:tag`)).toThrow(/uuid:tag:number/);
    expect(() => parseGtid('mysql', `${U1}:1tag:3`)).toThrow(/bad GTID tag/);
    expect(() => parseGtid('mysql', `${U1}:0`)).toThrow(/uuid:number/);
  });
  it('adds single transactions and keeps intervals merged', () => {
    const s = GtidSet.parse('mysql', `${U1}:1-2`);
    s.add(parseGtid('mysql', `${U1}:3`)).add(parseGtid('mysql', `${U1}:5`));
    expect(s.toString()).toBe(`${U1}:1-3:5`);
  });
  it('rejects malformed sets', () => {
    expect(() => GtidSet.parse('mysql', 'not-a-uuid:1-2')).toThrow(/not a MySQL GTID set element/);
    expect(() => GtidSet.parse('mysql', `${U1}:5-2`)).toThrow(/empty interval/);
    expect(() => parseGtid('mysql', '0-1-2')).toThrow(/uuid:number/);
  });
});
