/**
 * Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: the holder renews
 * `renewTime` every retry period; a candidate takes the lease once `renewTime + leaseDurationSeconds` has passed; a
 * leader that cannot renew within the renew deadline steps down. Every change goes through resourceVersion, so two
 * candidates never both win.
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { errorCode } from './reconciler.js';

export interface LeaseOptions {
  readonly namespace: string;
  readonly name: string;
  /** Unique per instance, e.g. the pod name. */
  readonly identity: string;
  /** @default 15 */
  readonly leaseDurationSeconds?: number;
  /** @default 10000 */
  readonly renewDeadlineMs?: number;
  /** @default 2000 */
  readonly retryPeriodMs?: number;
  readonly onChange: (leading: boolean) => void;
  readonly log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private leading = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    kc: KubeConfig,
    private readonly opts: LeaseOptions,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stops campaigning; a leader gives the lease up (clears the holder) so another instance takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.leading) {
      this.set(false);
      try {
        const lease = await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
        if (lease.spec?.holderIdentity === this.opts.identity) {
          lease.spec = { ...lease.spec, holderIdentity: undefined, renewTime: undefined, acquireTime: undefined };
          await this.api.replaceNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace, body: lease });
        }
      } catch {
        // The lease then simply expires.
      }
    }
  }

  private set(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.opts.log?.('info', leading ? 'became the leader' : 'stopped leading', { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity });
    this.opts.onChange(leading);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const ok = await this.tryAcquireOrRenew();
      if (ok) this.lastRenew = Date.now();
      if (ok) this.set(true);
      else if (!this.leading) this.set(false);
    } catch (e) {
      this.opts.log?.('warn', 'lease update failed', { error: e instanceof Error ? e.message.split('\n')[0] : String(e) });
    }
    if (this.leading && Date.now() - this.lastRenew > (this.opts.renewDeadlineMs ?? 10_000)) this.set(false);
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.opts.retryPeriodMs ?? 2000);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { name, namespace, identity } = this.opts;
    const duration = this.opts.leaseDurationSeconds ?? 15;
    const now = new V1MicroTime();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (e) {
      if (errorCode(e) !== 404) throw e;
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds: duration, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
        });
        return true;
      } catch (e2) {
        if (errorCode(e2) === 409) return false;
        throw e2;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity;
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = !holder || renewed + (spec.leaseDurationSeconds ?? duration) * 1000 < Date.now();
    if (holder !== identity && !expired) {
      if (this.leading) this.set(false);
      return false;
    }
    const taking = holder !== identity;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: duration,
      renewTime: now,
      ...(taking ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + (holder ? 1 : 0) } : {}),
    };
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      return true;
    } catch (e) {
      if (errorCode(e) === 409) return false;
      throw e;
    }
  }
}
