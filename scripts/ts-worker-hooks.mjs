// Lets a worker thread started from the TypeScript sources (under Vitest) load them: `node --import` this file. The
// built package never uses it.
import { register } from 'node:module';

register('./ts-worker-loader.mjs', import.meta.url);
