/**
 * The worker thread that evaluates edited policy texts for `palisade serve`, so a big or slow edit never holds up the
 * server's request loop. It builds its own {@link Workspace} from the texts the server loaded, then answers one request
 * at a time; the server ends the thread when a request runs over its time budget (see `evaluator.ts`).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseManifests } from '../api/load.js';
import { readDocuments } from '../model/read.js';
import { InputError } from '../api/diagnostics.js';
import type { EvaluatorRequest, EvaluatorSetup } from './evaluator.js';
import { Workspace } from './workspace.js';

const setup = workerData as EvaluatorSetup;
const documents = setup.texts.flatMap(([file, text]) => parseManifests(text, file).documents);
const workspace = new Workspace(setup.inputs, readDocuments(documents, [], setup.defaultNamespace), new Map(setup.texts), setup.defaultNamespace);

parentPort!.on('message', (req: EvaluatorRequest) => {
  try {
    const value =
      req.method === 'evaluate' ? workspace.evaluate(req.request)
      : req.method === 'why' ? workspace.why(req.query)
      : req.method === 'policies' ? workspace.policies(req.yaml)
      : workspace.engine(req.yaml).matrixJson(req.options);
    parentPort!.postMessage({ id: req.id, value });
  } catch (e) {
    parentPort!.postMessage({ id: req.id, error: e instanceof Error ? e.message : String(e), input: e instanceof InputError });
  }
});
parentPort!.postMessage({ ready: true });
