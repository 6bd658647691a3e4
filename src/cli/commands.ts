/** Every command of the program, in the order `--help` lists them. */
import type { Register } from './program.js';

export const commands: readonly Register[] = [];
