/**
 * An in-memory API for endpoint objects: stores what is written, assigns resourceVersions, rejects stale updates as
 * the API does (409), and counts writes. The bench and the offline tests run the real reconciler against it.
 */
import type { EndpointObject, EndpointWriter } from './reconciler.js';

export class MemoryWriter implements EndpointWriter {
  readonly objects = new Map<string, EndpointObject>();
  creates = 0;
  updates = 0;
  deletes = 0;
  private rv = 0;

  get writes(): number {
    return this.creates + this.updates + this.deletes;
  }

  private key(o: EndpointObject): string {
    return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
  }

  async create(o: EndpointObject): Promise<EndpointObject> {
    const k = this.key(o);
    if (this.objects.has(k)) throw Object.assign(new Error(`${k} already exists`), { code: 409 });
    const stored = { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.rv) } } as EndpointObject;
    this.objects.set(k, stored);
    this.creates++;
    return stored;
  }

  async replace(o: EndpointObject): Promise<EndpointObject> {
    const k = this.key(o);
    const cur = this.objects.get(k);
    if (!cur) throw Object.assign(new Error(`${k} not found`), { code: 404 });
    if (cur.metadata.resourceVersion !== o.metadata.resourceVersion) throw Object.assign(new Error(`${k} conflict`), { code: 409 });
    const stored = { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.rv) } } as EndpointObject;
    this.objects.set(k, stored);
    this.updates++;
    return stored;
  }

  async delete(o: EndpointObject): Promise<void> {
    const k = this.key(o);
    if (!this.objects.delete(k)) throw Object.assign(new Error(`${k} not found`), { code: 404 });
    this.deletes++;
  }
}
