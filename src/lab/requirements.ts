/** What the lab (and a real agent) needs from the machine: Linux, root, and the `ip`, `nft` and `tcpdump` commands. */
import { execFileSync } from 'node:child_process';

/** The Debian/Ubuntu command that installs the missing tools. */
export const INSTALL_HINT = 'apt-get install -y nftables iproute2 tcpdump';

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why the lab cannot run here, or `undefined` when it can.
 * @example
 * const why = labRequirements();
 * if (why) console.error(`the lab cannot run: ${why}`);
 */
export function labRequirements(): string | undefined {
  if (process.platform !== 'linux') return 'the lab needs Linux (network namespaces and nftables)';
  if (process.getuid?.() !== 0) return 'not root: network namespaces and nftables need root (run with sudo)';
  const missing = ['ip', 'nft', 'tcpdump'].filter((c) => !has(c));
  if (missing.length > 0) return `missing ${missing.join(', ')}; install with: ${INSTALL_HINT}`;
  return undefined;
}
