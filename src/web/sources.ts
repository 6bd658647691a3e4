/**
 * The policy text the editor works on: the policy documents of the loaded input, cut from their files with their
 * comments, and the line ranges of each policy and each of its rules, so an explanation can show the YAML and mark the
 * rule that decided.
 */
import { isMap, isSeq, LineCounter, parseAllDocuments, stringify } from 'yaml';
import type { Node as YamlNode, YAMLMap } from 'yaml';
import type { LoadedDocument } from '../api/load.js';
import type { LineRange } from './protocol.js';
import { AWS_API_GROUP } from '../api/aws-types.js';
import { policyKindLabel } from '../model/types.js';

/** The kinds the editor holds; everything else (namespaces, pods, workloads) stays as loaded. */
export const POLICY_KINDS: ReadonlySet<string> = new Set(['NetworkPolicy', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy', 'ClusterNetworkPolicy', 'ApplicationNetworkPolicy']);

/**
 * The key the UI names a policy by, as `RuleRef` and lint name it: the kind with AWS's group for AWS's own kinds
 * (policyKindLabel), then `ns/name` for a namespaced policy or `name`: `NetworkPolicy ns/name`,
 * `ApplicationNetworkPolicy (networking.k8s.aws) ns/name`, `AdminNetworkPolicy name`.
 */
export function policyKey(kindLabel: string, name: string, namespace?: string): string {
  return namespace !== undefined ? `${kindLabel} ${namespace}/${name}` : `${kindLabel} ${name}`;
}

const NAMESPACED_POLICY_KINDS: ReadonlySet<string> = new Set(['NetworkPolicy', 'ApplicationNetworkPolicy']);

const SEPARATOR = /^---(\s|$)/;

/** Line ranges (1-based, inclusive) of the documents of a multi-document YAML text. */
function segments(text: string): LineRange[] {
  const lines = text.split('\n');
  const out: LineRange[] = [];
  let start = 1;
  lines.forEach((line, i) => {
    if (i > 0 && SEPARATOR.test(line)) {
      out.push({ start, end: i });
      start = i + 1;
    }
  });
  out.push({ start, end: lines.length });
  return out;
}

/**
 * Splits loaded documents into the policies (as one multi-document YAML text, each policy as written, comments kept)
 * and the rest.
 * @param texts the source text of each file named in the documents' positions.
 */
export function splitPolicies(documents: readonly LoadedDocument[], texts: ReadonlyMap<string, string>): { base: LoadedDocument[]; yaml: string } {
  const base: LoadedDocument[] = [];
  const policies = documents.filter((d) => POLICY_KINDS.has(d.kind));
  for (const d of documents) if (!POLICY_KINDS.has(d.kind)) base.push(d);

  // How many loaded documents start in each segment: a segment holding more than one is a List.
  const segmentsOf = new Map<string, LineRange[]>();
  const occupancy = new Map<string, number>();
  const segmentOf = (d: LoadedDocument): LineRange | undefined => {
    const text = texts.get(d.pos.file);
    if (text === undefined) return undefined;
    let segs = segmentsOf.get(d.pos.file);
    if (!segs) segmentsOf.set(d.pos.file, (segs = segments(text.startsWith('\uFEFF') ? text.slice(1) : text)));
    return segs.find((s) => d.pos.line >= s.start && d.pos.line <= s.end);
  };
  for (const d of documents) {
    const s = segmentOf(d);
    if (s) occupancy.set(`${d.pos.file}:${s.start}`, (occupancy.get(`${d.pos.file}:${s.start}`) ?? 0) + 1);
  }

  const parts: string[] = [];
  let lastFile: string | undefined;
  for (const d of policies) {
    const s = segmentOf(d);
    let body: string;
    if (s && occupancy.get(`${d.pos.file}:${s.start}`) === 1) {
      const lines = (texts.get(d.pos.file) ?? '').replace(/^\uFEFF/, '').split('\n').slice(s.start - 1, s.end);
      if (lines.length > 0 && /^---\s*$/.test(lines[0])) lines.shift();
      while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
      body = lines.join('\n');
    } else {
      // An item of a List, or a source we cannot re-read: written out from its value (comments are lost).
      body = stringify(d.value).trimEnd();
    }
    if (d.pos.file !== lastFile) {
      body = `# from ${d.pos.file}\n${body}`;
      lastFile = d.pos.file;
    }
    parts.push(body);
  }
  return { base, yaml: parts.length > 0 ? `${parts.join('\n---\n')}\n` : '' };
}

/** Where one policy is in a text. */
export interface PolicyLocation {
  readonly key: string;
  readonly lines: LineRange;
  readonly rules: { readonly ingress: readonly LineRange[]; readonly egress: readonly LineRange[] };
}

function scalar(map: YAMLMap, path: readonly string[]): string | undefined {
  const v = map.getIn(path);
  return typeof v === 'string' ? v : undefined;
}

/**
 * Finds every policy in a multi-document YAML text (including items of `List`s) and the lines of its ingress and egress
 * rules. Documents that do not parse are skipped.
 */
export function locatePolicies(text: string, defaultNamespace = 'default'): Map<string, PolicyLocation> {
  const lineCounter = new LineCounter();
  const out = new Map<string, PolicyLocation>();
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lineOf = (offset: number) => lineCounter.linePos(offset).line;
  const rangeOf = (node: YamlNode): LineRange => {
    const [start, , end] = node.range ?? [0, 0, 0];
    return { start: lineOf(start), end: lineOf(Math.max(start, end - 1)) };
  };
  const visit = (node: unknown): void => {
    if (!isMap(node)) return;
    const kind = scalar(node, ['kind']);
    if (kind === undefined) return;
    if (kind.endsWith('List')) {
      const items = node.get('items', true);
      if (isSeq(items)) for (const item of items.items) visit(item);
      return;
    }
    if (!POLICY_KINDS.has(kind)) return;
    const name = scalar(node, ['metadata', 'name']);
    if (name === undefined) return;
    const namespace = scalar(node, ['metadata', 'namespace']) || defaultNamespace;
    const rules = { ingress: [] as LineRange[], egress: [] as LineRange[] };
    const spec = node.get('spec', true);
    if (isMap(spec)) {
      for (const dir of ['ingress', 'egress'] as const) {
        const list = spec.get(dir, true);
        if (isSeq(list)) for (const item of list.items) if (item && typeof item === 'object' && 'range' in item) rules[dir].push(rangeOf(item as YamlNode));
      }
    }
    const group = (scalar(node, ['apiVersion']) ?? '').split('/')[0];
    const label = policyKindLabel({ kind, ...(group === AWS_API_GROUP ? { group } : {}) });
    const key = policyKey(label, name, NAMESPACED_POLICY_KINDS.has(kind) ? namespace : undefined);
    if (!out.has(key)) out.set(key, { key, lines: rangeOf(node), rules });
  };
  for (const doc of parseAllDocuments(source, { lineCounter })) {
    if (doc.errors.length === 0) visit(doc.contents);
  }
  return out;
}
