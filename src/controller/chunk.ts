/**
 * Chunking: a policy's lists (selected pods, ingress peers, egress peers) spread over objects of at most `chunkSize`
 * entries per list, named `<policy>-<short hash>`.
 *
 * An object's identity is its slot: the hash is of (scope, policy, slot number), so names never depend on content.
 * Without previous objects, slot 0 takes the first `chunkSize` entries of each sorted list, slot 1 the next, and so on.
 * With previous objects (what the API holds), every entry that is still wanted stays in the object that holds it, with
 * its new content; new entries go first to the objects that lost entries of the same list, then to any with room,
 * then to new slots. So a pod whose IP changes rewrites only the objects that hold its entries, and no name changes.
 */
import { createHash } from 'node:crypto';

/** The AWS controller's default `--endpoint-chunk-size`. */
export const DEFAULT_CHUNK_SIZE = 200;

/** An entry with the identity it keeps across changes of its content. */
export interface Keyed<T> {
  readonly key: string;
  readonly value: T;
}

/** An object as the packer sees it: a name and its lists. */
export interface Chunk<L extends string, T> {
  readonly name: string;
  readonly lists: Readonly<Record<L, readonly Keyed<T>[]>>;
}

/** `<base>-<10 hex digits of sha256(identity)>`, cut so it stays a valid object name (253 characters). */
export function chunkName(base: string, identity: string): string {
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 10);
  return `${base.slice(0, 253 - 11)}-${hash}`;
}

/**
 * Packs `lists` into objects.
 * @param lists each list's wanted entries, sorted, keys unique within a list.
 * @param previous the objects that exist now (any names); entries keep their object when still wanted.
 * @param nameOfSlot the name of slot `n`; new objects take the lowest slot whose name is free.
 * @returns the objects to have, previous ones first (in the given order), then new ones by slot; never empty.
 */
export function packChunks<L extends string, T>(
  listNames: readonly L[],
  lists: Readonly<Record<L, readonly Keyed<T>[]>>,
  previous: readonly Chunk<L, T>[],
  chunkSize: number,
  nameOfSlot: (slot: number) => string,
): Chunk<L, T>[] {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunk size must be a positive integer, got ${chunkSize}`);
  interface Work {
    readonly name: string;
    readonly lists: Record<L, Keyed<T>[]>;
    readonly lost: Set<L>;
  }
  const empty = (): Record<L, Keyed<T>[]> => Object.fromEntries(listNames.map((l) => [l, []])) as unknown as Record<L, Keyed<T>[]>;
  const used = new Set<string>();
  const prev = previous.filter((p) => !used.has(p.name) && used.add(p.name));
  const objs: Work[] = prev.map((p) => ({ name: p.name, lists: empty(), lost: new Set<L>() }));
  let nextSlot = 0;
  const newObject = (): Work => {
    while (used.has(nameOfSlot(nextSlot))) nextSlot++;
    const name = nameOfSlot(nextSlot);
    used.add(name);
    const w: Work = { name, lists: empty(), lost: new Set() };
    objs.push(w);
    return w;
  };

  for (const l of listNames) {
    const wanted = new Map<string, T>();
    for (const e of lists[l]) wanted.set(e.key, e.value);
    const placed = new Set<string>();
    prev.forEach((p, i) => {
      const w = objs[i];
      for (const e of p.lists[l] ?? []) {
        if (wanted.has(e.key) && !placed.has(e.key)) {
          w.lists[l].push({ key: e.key, value: wanted.get(e.key) as T });
          placed.add(e.key);
        } else w.lost.add(l);
      }
    });
    const remaining = lists[l].filter((e) => !placed.has(e.key));
    let next = 0;
    const fill = (w: Work) => {
      while (next < remaining.length && w.lists[l].length < chunkSize) w.lists[l].push(remaining[next++]);
    };
    for (const w of objs) if (w.lost.has(l)) fill(w);
    for (const w of objs) if (!w.lost.has(l)) fill(w);
    while (next < remaining.length) fill(newObject());
  }

  const kept = objs.filter((w) => listNames.some((l) => w.lists[l].length > 0));
  if (kept.length === 0) return [{ name: objs[0]?.name ?? newObject().name, lists: empty() }];
  return kept;
}
