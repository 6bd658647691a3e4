import { afterEach, describe, expect, it, vi } from 'vitest';
import { gate } from './gate.js';

describe('gated suites', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('run when nothing is missing', () => {
    expect(gate('probe', undefined)).toBe(false);
  });

  it('skip with the reason printed when something is missing (a developer machine)', () => {
    vi.stubEnv('PALISADE_REQUIRE_ALL', '');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(gate('probe', 'nft missing')).toBe(true);
    expect(warn).toHaveBeenCalledWith('[probe] SKIPPED: nft missing');
    warn.mockRestore();
  });

  it('fail instead of skipping under PALISADE_REQUIRE_ALL=1, as .ci/run sets it', () => {
    vi.stubEnv('PALISADE_REQUIRE_ALL', '1');
    expect(() => gate('probe', 'nft missing')).toThrow('[probe] cannot run and PALISADE_REQUIRE_ALL=1 forbids skipping it: nft missing');
  });
});
