/** `palisade controller`: flags and help (running it is covered by live.test.ts through runController). */
import { describe, expect, it } from 'vitest';

import { registerController } from '../../src/cli/controller.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';

function capture(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => '' }, out, err };
}

describe('palisade controller', () => {
  it('documents its flags with an example', async () => {
    const { io, out } = capture();
    expect(await run(['controller', '--help'], io, [registerController])).toBe(0);
    const help = out.join('\n');
    for (const flag of ['--kubeconfig', '--context', '--no-leader-elect', '--leader-election-namespace', '--leader-election-lease', '--batch-window', '--metrics-port', '--health-port']) expect(help).toContain(flag);
    expect(help).toContain('palisade controller --kubeconfig');
  });

  it('rejects a bad batch window as a usage error', async () => {
    const { io, err } = capture();
    expect(await run(['controller', '--batch-window', 'soon'], io, [registerController])).toBe(2);
    expect(err.join('\n')).toContain('--batch-window');
  });

  it('says so when the kubeconfig cannot be read', async () => {
    const { io, err } = capture();
    expect(await run(['controller', '--kubeconfig', '/nonexistent/kubeconfig'], io, [registerController])).toBe(1);
    expect(err.join('\n')).toContain('cannot load the kubeconfig');
  });
});
