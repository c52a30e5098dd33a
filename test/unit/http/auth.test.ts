import { describe, expect, it } from 'vitest';
import { authenticate, forwardProof, verifyForwardProof } from '../../../src/http/server.js';
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

describe('the proof a forwarded request carries instead of the token', () => {
  const tokens = parseTokens('ops:s3cr3t-token\nci:other-token');
  const now = 1_800_000_000_000;
  it('names the actor when made with that actor\'s token for this method and path, recently', () => {
    const proof = forwardProof('s3cr3t-token', 'POST', '/api/v1/sources/main/backups', 'ops', now);
    expect(proof).not.toContain('s3cr3t-token');
    expect(verifyForwardProof(proof, tokens, 'POST', '/api/v1/sources/main/backups', now + 5_000)).toBe('ops');
  });
  it('refuses another path or method, a stale or future one, another actor\'s token, and junk', () => {
    const proof = forwardProof('s3cr3t-token', 'POST', '/api/v1/sources/main/backups', 'ops', now);
    expect(verifyForwardProof(proof, tokens, 'POST', '/api/v1/sources/main/drills', now)).toBeUndefined();
    expect(verifyForwardProof(proof, tokens, 'GET', '/api/v1/sources/main/backups', now)).toBeUndefined();
    expect(verifyForwardProof(proof, tokens, 'POST', '/api/v1/sources/main/backups', now + 61_000)).toBeUndefined();
    expect(verifyForwardProof(proof, tokens, 'POST', '/api/v1/sources/main/backups', now - 61_000)).toBeUndefined();
    expect(verifyForwardProof(forwardProof('other-token', 'POST', '/p', 'ops', now), tokens, 'POST', '/p', now)).toBeUndefined();
    expect(verifyForwardProof(forwardProof('s3cr3t-token', 'POST', '/p', 'ci', now), tokens, 'POST', '/p', now)).toBeUndefined();
    for (const junk of [undefined, '', 'v1', 'v1 at=x actor=ops sig=00', `${proof}x`]) expect(verifyForwardProof(junk, tokens, 'POST', '/api/v1/sources/main/backups', now)).toBeUndefined();
  });
});
