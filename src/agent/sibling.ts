/**
 * The command that runs a module beside the caller as a process of its own: built, `node FILE.js`; from source (vitest,
 * vite-node), `vite-node FILE.ts`. Used for the bench's worker and the self-check's process.
 */
import { fileURLToPath } from 'node:url';

/** `[command, ...arguments]` running module `name` (no extension) of the directory of `callerUrl` (`import.meta.url`). */
export function siblingCommand(callerUrl: string, name: string): [string, ...string[]] {
  const fromSource = callerUrl.endsWith('.ts');
  const file = fileURLToPath(new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, callerUrl));
  const runner = fromSource ? fileURLToPath(new URL('../../node_modules/.bin/vite-node', callerUrl)) : process.execPath;
  return [runner, file];
}
