import { describe, expect, it } from 'vitest';
import { authenticate } from '../../../src/http/server.js';
import { parseTokens } from '../../../src/config/secrets.js';

describe('parseTokens', () => {
  it('reads bare tokens and name:token lines, skipping comments and blanks', () => {
    expect(parseTokens('# ops tokens\nabc123\n\nci:def456\n')).toEqual([
      { name: 'api', token: 'abc123' },
      { name: 'ci', token: 'def456' },
    ]);
  });
});

describe('authenticate', () => {
  const tokens = parseTokens('ops:s3cr3t-token\nci:other-token');
  it('names the token presented', () => {
    expect(authenticate('Bearer s3cr3t-token', tokens)).toBe('ops');
    expect(authenticate('bearer other-token', tokens)).toBe('ci');
  });
  it('refuses a missing, malformed, wrong or prefix token', () => {
    for (const h of [undefined, '', 'Basic s3cr3t-token', 'Bearer', 'Bearer s3cr3t', 'Bearer s3cr3t-token-x', 's3cr3t-token']) {
      expect(authenticate(h, tokens)).toBeUndefined();
    }
  });
  it('refuses everything when no token is configured', () => {
    expect(authenticate('Bearer anything', [])).toBeUndefined();
  });
});
