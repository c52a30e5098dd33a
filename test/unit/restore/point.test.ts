import { describe, expect, it } from 'vitest';
import { describePoint, parsePosition, parseTime, targetPointFromFlags } from '../../../src/restore/point.js';

describe('parseTime', () => {
  it('reads a time without an offset as UTC and says so', () => {
    const p = parseTime('2026-11-25 14:30:00');
    expect(p.time.toISOString()).toBe('2026-11-25T14:30:00.000Z');
    expect(p.assumedUtc).toBe(true);
    expect(describePoint(p)).toMatch(/read as UTC/);
  });
  it('honours an offset', () => {
    expect(parseTime('2026-11-25T14:30:00+01:00').time.toISOString()).toBe('2026-11-25T13:30:00.000Z');
    expect(parseTime('2026-11-25T14:30:00+0100').assumedUtc).toBe(false);
  });
  it('compares fractional times at the second and says so', () => {
    const p = parseTime('2026-11-25T14:30:00.750Z');
    expect(p.seconds).toBe(Date.UTC(2026, 10, 25, 14, 30, 0) / 1000);
    expect(describePoint(p)).toMatch(/whole seconds/);
  });
  it('rejects what is not ISO 8601 with an example', () => {
    expect(() => parseTime('yesterday')).toThrow(/e\.g\. 2026-11-25T14:30:00Z/);
  });
});

describe('targetPointFromFlags', () => {
  it('means latest with no flag, and refuses two at once', () => {
    expect(targetPointFromFlags({})).toEqual({ kind: 'latest' });
    expect(() => targetPointFromFlags({ to: '2026-11-25', toGtid: '0-1-2' })).toThrow(/only one of/);
  });
  it('reads FILE:POS', () => {
    expect(parsePosition('mysql-bin.000042:1234')).toEqual({ kind: 'position', file: 'mysql-bin.000042', position: 1234 });
    expect(() => parsePosition('mysql-bin.000042')).toThrow(/FILE:POS/);
  });
});
