/**
 * Turns desired states into `nft -f` scripts: the whole table (start, resync) or the delta between two states.
 * Each script is one transaction: nft commits all of it or none of it.
 */
import type { DesiredState, NftElement, NftSet } from './compile.js';

function elementText(e: NftElement): string {
  return e.value === undefined ? e.key : `${e.key} : ${e.value}`;
}

function addElements(table: string, set: string, elements: readonly NftElement[]): string[] {
  // Chunked so no single line gets huge; still one transaction.
  const out: string[] = [];
  for (let i = 0; i < elements.length; i += 500) {
    out.push(`add element inet ${table} ${set} { ${elements.slice(i, i + 500).map(elementText).join(', ')} }`);
  }
  return out;
}

function deleteElements(table: string, set: string, elements: readonly NftElement[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < elements.length; i += 500) {
    out.push(`delete element inet ${table} ${set} { ${elements.slice(i, i + 500).map((e) => e.key).join(', ')} }`);
  }
  return out;
}

/**
 * The whole table in one transaction that deletes and recreates it (`add table` first so the delete cannot fail when
 * it is missing). There is never a moment without the table; established flows live on in conntrack.
 */
export function renderFull(s: DesiredState): string {
  const t = s.table;
  const lines = [`add table inet ${t}`, `delete table inet ${t}`, `add table inet ${t}`];
  for (const c of s.counters) lines.push(`add counter inet ${t} ${c}`);
  for (const set of s.sets.values()) lines.push(`add ${kind(set)} inet ${t} ${set.name} { ${set.decl} }`);
  for (const c of s.chains.values()) lines.push(c.hook ? `add chain inet ${t} ${c.name} { ${c.hook} }` : `add chain inet ${t} ${c.name}`);
  for (const set of s.sets.values()) lines.push(...addElements(t, set.name, set.elements));
  for (const c of s.chains.values()) for (const r of c.rules) lines.push(`add rule inet ${t} ${c.name} ${r}`);
  return lines.join('\n') + '\n';
}

function kind(set: NftSet): 'set' | 'map' {
  return set.decl.includes(' : ') ? 'map' : 'set';
}

/**
 * The delta from `prev` to `next` as one transaction, or `''` when nothing changed. Order matters inside the
 * transaction: new sets and chains first (referenced by what follows), element removals before additions (interval
 * sets reject overlaps), rewritten chains, then chains and sets nothing references any more.
 */
export function renderDelta(prev: DesiredState, next: DesiredState): string {
  const t = next.table;
  if (prev.table !== t || prev.counters.join() !== next.counters.join()) return renderFull(next);
  const lines: string[] = [];
  for (const set of next.sets.values()) {
    const old = prev.sets.get(set.name);
    if (old && old.decl !== set.decl) return renderFull(next);
    if (!old) lines.push(`add ${kind(set)} inet ${t} ${set.name} { ${set.decl} }`);
  }
  for (const c of next.chains.values()) {
    const old = prev.chains.get(c.name);
    if (old && old.hook !== c.hook) return renderFull(next);
    if (!old) lines.push(c.hook ? `add chain inet ${t} ${c.name} { ${c.hook} }` : `add chain inet ${t} ${c.name}`);
  }
  // Element changes of surviving sets (a changed map value is a delete plus an add).
  const adds: string[] = [];
  for (const set of next.sets.values()) {
    const old = prev.sets.get(set.name);
    if (old && old.elements === set.elements) continue;
    const before = new Map((old?.elements ?? []).map((e) => [e.key, e]));
    const after = new Map(set.elements.map((e) => [e.key, e]));
    const removed = [...before.values()].filter((e) => after.get(e.key)?.value !== e.value || !after.has(e.key));
    const added = [...after.values()].filter((e) => !before.has(e.key) || before.get(e.key)?.value !== e.value);
    if (old) lines.push(...deleteElements(t, set.name, removed));
    adds.push(...addElements(t, set.name, added));
  }
  // Map entries of vanished sets go with the set; vanished maps never happen (dispatch maps always exist).
  lines.push(...adds);
  for (const c of next.chains.values()) {
    const old = prev.chains.get(c.name);
    if (old && (old.rules === c.rules || old.rules.join('\n') === c.rules.join('\n'))) continue;
    if (old) lines.push(`flush chain inet ${t} ${c.name}`);
    for (const r of c.rules) lines.push(`add rule inet ${t} ${c.name} ${r}`);
  }
  // Vanished chains may jump to each other (a tier stage to a NetworkPolicy chain): empty them all before deleting any.
  const vanished = [...prev.chains.values()].filter((c) => !next.chains.has(c.name));
  for (const c of vanished) lines.push(`flush chain inet ${t} ${c.name}`);
  for (const c of vanished) lines.push(`delete chain inet ${t} ${c.name}`);
  for (const set of prev.sets.values()) {
    if (!next.sets.has(set.name)) lines.push(`delete ${kind(set)} inet ${t} ${set.name}`);
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
