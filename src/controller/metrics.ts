/**
 * The controller's Prometheus metrics, in a registry of their own so several controllers (tests) do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ControllerMetrics {
  readonly registry: Registry;
  readonly reconciles: Counter<'result'>;
  readonly duration: Histogram;
  readonly queueDepth: Gauge;
  readonly written: Counter<'verb'>;
  readonly events: Counter<'kind'>;
  readonly leader: Gauge;
}

/** Creates the metrics; `defaults` adds the process metrics (CPU, memory, event loop). */
export function controllerMetrics(defaults = false): ControllerMetrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  return {
    registry,
    reconciles: new Counter({ name: 'palisade_controller_reconciles_total', help: 'Policies reconciled, by result', labelNames: ['result'], registers: [registry] }),
    duration: new Histogram({
      name: 'palisade_controller_reconcile_duration_seconds',
      help: 'Duration of one reconcile pass (compile, resolve, write)',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({ name: 'palisade_controller_queue_depth', help: 'Policies waiting to be reconciled', registers: [registry] }),
    written: new Counter({ name: 'palisade_controller_objects_written_total', help: 'PolicyEndpoint and ClusterPolicyEndpoint writes, by verb', labelNames: ['verb'], registers: [registry] }),
    events: new Counter({ name: 'palisade_controller_events_total', help: 'Informer events, by kind', labelNames: ['kind'], registers: [registry] }),
    leader: new Gauge({ name: 'palisade_controller_leader', help: '1 while this instance is the leader', registers: [registry] }),
  };
}
