/**
 * The agent's self-check in a process of its own: a proof walks up to hundreds of thousands of cells (seconds on a
 * busy node), and on the agent's thread it would hold back every sync that arrives meanwhile. Started by
 * {@link verifyNodeApart} as `verify-child REQUEST ANSWER`: reads the v8-serialised `{ node, netns?, maxCells? }` in
 * file REQUEST and writes a v8-serialised `{ ok }`, `{ tooLarge }` or `{ error }` to file ANSWER (both in a private
 * directory of the agent's).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { ProofTooLarge, verifyNode, type ApartAnswer, type ApartRequest } from './verify.js';

const [requestFile, answerFile] = process.argv.slice(2);
let answer: ApartAnswer;
try {
  const req = deserialize(readFileSync(requestFile)) as ApartRequest;
  answer = { ok: await verifyNode(req.node, req.netns !== undefined ? { netns: req.netns } : {}, undefined, req.maxCells !== undefined ? { maxCells: req.maxCells } : {}) };
} catch (e) {
  answer = e instanceof ProofTooLarge ? { tooLarge: { cells: e.cells, max: e.max, ...(e.entryTests !== undefined ? { entryTests: e.entryTests } : {}) } } : { error: e instanceof Error ? e.message : String(e) };
}
writeFileSync(answerFile, serialize(answer), { flag: 'wx' });
