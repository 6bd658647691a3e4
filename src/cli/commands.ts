/** Every command of the program, in the order `--help` lists them. */
import { registerCheck } from './check.js';
import { registerAgent } from './agent.js';
import { registerAudit } from './audit.js';
import { registerConformance } from './conformance.js';
import { registerController } from './controller.js';
import { registerDiff } from './diff.js';
import { registerDoctor } from './doctor.js';
import { registerEndpoints } from './endpoints.js';
import { registerGenerate } from './generate.js';
import { registerLab } from './lab.js';
import { registerLint } from './lint.js';
import { registerServe } from './serve.js';
import { registerExplain } from './explain.js';
import { registerMatrix } from './matrix.js';
import type { Register } from './program.js';
import { registerWhy } from './why.js';

export const commands: readonly Register[] = [registerCheck, registerMatrix, registerWhy, registerExplain, registerLint, registerDiff, registerGenerate, registerEndpoints, registerAudit, registerDoctor, registerController, registerAgent, registerLab, registerConformance, registerServe];
