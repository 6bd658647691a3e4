/**
 * Vitest setup: every test starts after one turn of the event loop. Vitest's worker reports to the main process over an
 * RPC that fails after 60 s without an answer; a file of synchronous tests (property tests run for tens of seconds)
 * otherwise never lets the answer in, and CI sees "Timeout calling onTaskUpdate" although every test passed.
 */
import { beforeEach } from 'vitest';
import { tick } from './tick.js';

beforeEach(tick);
