/**
 * The one place a test suite decides to skip because the machine lacks something (root, nftables, Chromium, the API
 * server). A skip always prints its reason. Under `PALISADE_REQUIRE_ALL=1` (set by `.ci/run`) nothing may be missing:
 * the gate throws at import, so the file fails and CI can never turn green with fewer tests.
 */

/** True when every gated suite must run (CI). */
export function requireAll(): boolean {
  return process.env.PALISADE_REQUIRE_ALL === '1';
}

/**
 * Whether to skip `suite`: `reason` is why it cannot run here, or undefined when it can.
 * @example describe.skipIf(gate('lab', labRequirements()))('netns lab', () => { ... });
 */
export function gate(suite: string, reason: string | undefined): boolean {
  if (reason === undefined) return false;
  if (requireAll()) throw new Error(`[${suite}] cannot run and PALISADE_REQUIRE_ALL=1 forbids skipping it: ${reason}`);
  console.warn(`[${suite}] SKIPPED: ${reason}`);
  return true;
}
