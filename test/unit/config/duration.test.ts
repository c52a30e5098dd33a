import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/config/duration.js';

describe('parseDuration', () => {
  it('reads single and combined units', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('2w')).toBe(1_209_600_000);
  });
  it('returns undefined for what is not a duration', () => {
    for (const bad of ['', '5', 'five s', '5 s x', '-5s']) expect(parseDuration(bad)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it('renders in the largest whole units', () => {
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(61_000)).toBe('1m1s');
    expect(formatDuration(90_061_000)).toBe('1d1h1m1s');
  });
});
