/**
 * Label selector matching, as metav1.LabelSelector defines it: every matchLabels pair and every expression must hold;
 * an empty selector matches everything.
 */
import type { LabelSelector, LabelSelectorRequirement } from '../api/types.js';

type Labels = Readonly<Record<string, string>>;

export function matchesRequirement(req: LabelSelectorRequirement, labels: Labels): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, req.key);
  switch (req.operator) {
    case 'In':
      return has && (req.values ?? []).includes(labels[req.key]);
    case 'NotIn':
      return !has || !(req.values ?? []).includes(labels[req.key]);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

export function matchesSelector(sel: LabelSelector, labels: Labels): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (labels[k] !== v || !Object.prototype.hasOwnProperty.call(labels, k)) return false;
  }
  for (const req of sel.matchExpressions ?? []) if (!matchesRequirement(req, labels)) return false;
  return true;
}

export function isEmptySelector(sel: LabelSelector): boolean {
  return Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
}

/** A canonical text for a selector, equal for selectors that are written differently but mean the same. */
export function selectorKey(sel: LabelSelector): string {
  const parts: string[] = [];
  for (const k of Object.keys(sel.matchLabels ?? {}).sort()) parts.push(`${k}=${sel.matchLabels![k]}`);
  const exprs = (sel.matchExpressions ?? []).map(
    (e) => `${e.key} ${e.operator} (${[...new Set(e.values ?? [])].sort().join(',')})`,
  );
  parts.push(...exprs.sort());
  return [...new Set(parts)].join(';');
}

/** `app=web, tier in (a,b)`; `{}` (everything) for an empty selector. */
export function describeSelector(sel: LabelSelector): string {
  if (isEmptySelector(sel)) return '{} (all)';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${vals})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.join(', ');
}
