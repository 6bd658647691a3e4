/** readCluster: load, validate (stubbed here, so these tests see only the wiring), build; diagnostics in order. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatDiagnostic } from '../api/diagnostics.js';
import type { FieldError } from '../api/validate.js';
import { readCluster, sortDiagnostics } from './read.js';

const F = fileURLToPath(new URL('../../test/fixtures/load/', import.meta.url));

const validation = vi.hoisted(() => ({ errors: (_obj: unknown): FieldError[] => [] }));
vi.mock('../api/validate.js', () => ({ validateObject: (obj: unknown) => validation.errors(obj) }));

afterEach(() => {
  validation.errors = () => [];
});

const at = (file: string, line: number, column: number) => ({ file, line, column });

describe('readCluster', () => {
  it('builds the cluster from the valid objects and reports validation errors at their fields', () => {
    validation.errors = (obj) => {
      const { kind, metadata } = obj as { kind?: string; metadata?: { name?: string } };
      const name = metadata?.name;
      if (name === 'web-ingress') {
        return [{ path: ['spec', 'ingress', 0, 'ports', 0, 'port'], message: 'Invalid value: "http": must be a valid port name' }];
      }
      if (kind === 'Deployment' && name === 'web') return [{ path: ['spec', 'replicas'], message: 'deprecated field', severity: 'warning' }];
      return [];
    };
    const result = readCluster([`${F}shop.yaml`]);
    expect(result.invalid).toBe(1);
    expect(result.documents).toHaveLength(7);
    expect(result.cluster.policies).toEqual([]);
    expect(result.cluster.endpoints.map((e) => e.id)).toEqual(['shop/web[Deployment]', 'shop/web[Pod]']);
    expect(result.diagnostics.map(formatDiagnostic)).toEqual([
      `${F}shop.yaml:16:3: warning: Deployment shop/web: spec.replicas: deprecated field`,
      `${F}shop.yaml:95:11: error: NetworkPolicy shop/web-ingress: spec.ingress[0].ports[0].port: Invalid value: "http": must be a valid port name`,
      `${F}shop.yaml:97:1: note: ignored 2 ConfigMap (v1) objects: Palisade does not read this kind`,
    ]);
  });

  it('turns a validator exception into an error diagnostic for that object', () => {
    validation.errors = () => {
      throw new Error('boom');
    };
    const result = readCluster([`${F}tree/a.yaml`]);
    expect(result.invalid).toBe(1);
    expect(result.diagnostics.map(formatDiagnostic)).toEqual([
      `${join(`${F}tree`, 'a.yaml')}:1:1: error: Namespace tree-a: internal error while validating: boom`,
    ]);
  });

  it('uses the default namespace option for objects without one', () => {
    const result = readCluster([`${F}implicit.yaml`], { defaultNamespace: 'team-a' });
    expect(result.cluster.endpoints.map((e) => e.id)).toEqual(['billing/invoice', 'team-a/no-namespace']);
    expect([...result.cluster.namespaces.keys()]).toEqual(['billing', 'team-a']);
  });

  it('merges load, validation and model diagnostics in file, line, column order', () => {
    const result = readCluster([`${F}missing.yaml`, `${F}lifecycle.yaml`, `${F}duplicate.yaml`, `${F}malformed.yaml`]);
    expect(result.diagnostics.map((d) => (d.pos ? `${d.pos.file.slice(F.length)}:${d.pos.line}` : d.message))).toEqual([
      `no such file or directory: ${F}missing.yaml`,
      'duplicate.yaml:1',
      'lifecycle.yaml:7',
      'malformed.yaml:11',
      'malformed.yaml:16',
    ]);
  });
});

describe('sortDiagnostics', () => {
  it('orders by file, line, column, keeping positionless ones first and ties stable', () => {
    const d = (message: string, file?: string, line = 1, column = 1) => ({
      severity: 'error' as const,
      message,
      ...(file ? { pos: at(file, line, column) } : {}),
    });
    const sorted = sortDiagnostics([d('b2', 'b', 2), d('a9', 'a', 9), d('none'), d('b1c5', 'b', 1, 5), d('b1c1', 'b', 1, 1), d('b1c1-again', 'b', 1, 1)]);
    expect(sorted.map((x) => x.message)).toEqual(['none', 'a9', 'b1c1', 'b1c1-again', 'b1c5', 'b2']);
  });
});
