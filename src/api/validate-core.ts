/**
 * core/v1 and workload kinds, checked only in the fields Palisade reads (metadata, containers' ports, selectors,
 * hostNetwork, pod IPs and phase, service ports); every other field is left to the apiserver.
 */
import { formatPath } from './diagnostics.js';
import { PROTOCOLS, type WorkloadKind } from './types.js';
import {
  duplicate,
  invalid,
  readBoolean,
  readInteger,
  readIntOrString,
  readList,
  readObject,
  readString,
  required,
  warning,
  type FieldError,
  type JsonObject,
  type Path,
} from './validate-fields.js';
import { validateCIDR, validateIP, parseAddress } from './validate-ip.js';
import { checkEnum, validateLabels, validateLabelSelector, validateObjectMeta, validateAnnotations } from './validate-meta.js';
import {
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isValidPortName,
  isValidPortNum,
} from './validate-names.js';

const POD_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;
const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;

/** Absent, null or an empty list: what a required list must not be. */
function isAbsentOrEmpty(value: unknown): boolean {
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0);
}

function requireSpec(obj: JsonObject, out: FieldError[]): JsonObject | undefined {
  const spec = readObject(obj.spec, ['spec'], out);
  if (!spec && (obj.spec === undefined || obj.spec === null)) out.push(required(['spec']));
  return spec;
}

// ---------------------------------------------------------------- Pod and pod templates

export function validatePod(obj: JsonObject): FieldError[] {
  const out = validateObjectMeta(obj.metadata, { nameFormat: isDNS1123Subdomain, namespaced: true });
  const spec = requireSpec(obj, out);
  if (spec) validatePodSpec(spec, ['spec'], out);
  const status = readObject(obj.status, ['status'], out);
  if (status) validatePodStatus(status, ['status'], out);
  return out;
}

/** Containers (required, at least one), their names and ports; init containers' ports; hostNetwork and nodeName types. */
function validatePodSpec(spec: JsonObject, path: Path, out: FieldError[]): void {
  readBoolean(spec.hostNetwork, [...path, 'hostNetwork'], out);
  readString(spec.nodeName, [...path, 'nodeName'], out);
  const containerNames = new Set<string>();
  // Port names must be unique within a container (an error upstream); across containers the apiserver accepts a
  // repeat, but a named port then resolves to several ports, so it is a warning.
  const portNames = new Map<string, string>();
  for (const field of ['containers', 'initContainers'] as const) {
    const list = readList(spec[field], [...path, field], out);
    if (field === 'containers' && isAbsentOrEmpty(spec[field])) out.push(required([...path, field]));
    list?.forEach((c, i) => validateContainer(c, [...path, field, i], containerNames, portNames, out));
  }
}

function validateContainer(
  value: unknown,
  path: Path,
  containerNames: Set<string>,
  podPortNames: Map<string, string>,
  out: FieldError[],
): void {
  const container = readObject(value, path, out);
  if (!container) return;
  const name = readString(container.name, [...path, 'name'], out);
  if (!name) {
    if (container.name === undefined || container.name === null || name === '') out.push(required([...path, 'name']));
  } else {
    for (const msg of isDNS1123Label(name)) out.push(invalid([...path, 'name'], name, msg));
    if (containerNames.has(name)) out.push(duplicate([...path, 'name'], name));
    containerNames.add(name);
  }
  const ports = readList(container.ports, [...path, 'ports'], out);
  const ownNames = new Set<string>();
  const ownPorts = new Set<string>();
  ports?.forEach((p, i) => validateContainerPort(p, [...path, 'ports', i], ownNames, ownPorts, podPortNames, out));
}

function validateContainerPort(
  value: unknown,
  path: Path,
  ownNames: Set<string>,
  ownPorts: Set<string>,
  podPortNames: Map<string, string>,
  out: FieldError[],
): void {
  const port = readObject(value, path, out);
  if (!port) return;
  const name = readString(port.name, [...path, 'name'], out);
  if (name) {
    const msgs = isValidPortName(name);
    for (const msg of msgs) out.push(invalid([...path, 'name'], name, msg));
    if (msgs.length === 0) {
      const where = formatPath(path);
      if (ownNames.has(name)) out.push(duplicate([...path, 'name'], name));
      else if (podPortNames.has(name)) {
        out.push(warning([...path, 'name'], `port name ${JSON.stringify(name)} is also used by ${podPortNames.get(name)}; a named port of the pod then means both`));
      }
      ownNames.add(name);
      if (!podPortNames.has(name)) podPortNames.set(name, where);
    }
  }
  const containerPort = readInteger(port.containerPort, [...path, 'containerPort'], out);
  if (containerPort === undefined || containerPort === 0) {
    if (port.containerPort === undefined || port.containerPort === null || containerPort === 0) {
      out.push(required([...path, 'containerPort']));
    }
  } else {
    for (const msg of isValidPortNum(containerPort)) out.push(invalid([...path, 'containerPort'], containerPort, msg));
  }
  const hostPort = readInteger(port.hostPort, [...path, 'hostPort'], out);
  if (hostPort !== undefined && hostPort !== 0) {
    for (const msg of isValidPortNum(hostPort)) out.push(invalid([...path, 'hostPort'], hostPort, msg));
  }
  const protocol = readString(port.protocol, [...path, 'protocol'], out);
  if (protocol !== undefined) checkEnum(protocol, PROTOCOLS, [...path, 'protocol'], out);
  const hostIP = readString(port.hostIP, [...path, 'hostIP'], out);
  if (hostIP) out.push(...validateIP(hostIP, [...path, 'hostIP']));
  // containerPort+protocol is the list's key: the apiserver rejects a repeat within one container.
  if (containerPort !== undefined) {
    const key = `${containerPort}/${protocol ?? 'TCP'}`;
    if (ownPorts.has(key)) out.push(duplicate(path, key));
    ownPorts.add(key);
  }
}


/** podIP/podIPs: valid IPs, at most one per family, no repeats, podIP the first of podIPs; phase one of the five. */
function validatePodStatus(status: JsonObject, path: Path, out: FieldError[]): void {
  const phase = readString(status.phase, [...path, 'phase'], out);
  if (phase !== undefined && phase !== '') checkEnum(phase, POD_PHASES, [...path, 'phase'], out);
  const hostIP = readString(status.hostIP, [...path, 'hostIP'], out);
  if (hostIP) out.push(...validateIP(hostIP, [...path, 'hostIP']));
  const podIP = readString(status.podIP, [...path, 'podIP'], out);
  if (podIP) out.push(...validateIP(podIP, [...path, 'podIP']));
  const list = readList(status.podIPs, [...path, 'podIPs'], out);
  if (!list) return;
  const ips: string[] = [];
  const families: number[] = [];
  list.forEach((item, i) => {
    const entry = readObject(item, [...path, 'podIPs', i], out);
    if (!entry) return;
    const ip = readString(entry.ip, [...path, 'podIPs', i, 'ip'], out);
    if (!ip) {
      if (entry.ip === undefined || entry.ip === null || ip === '') out.push(required([...path, 'podIPs', i, 'ip']));
      return;
    }
    out.push(...validateIP(ip, [...path, 'podIPs', i, 'ip']));
    if (ips.includes(ip)) out.push(duplicate([...path, 'podIPs', i], ip));
    ips.push(ip);
    const addr = parseAddress(ip);
    if (addr) families.push(addr.family);
  });
  if (list.length > 1 && (list.length > 2 || new Set(families).size !== families.length)) {
    out.push(invalid([...path, 'podIPs'], ips.join(','), 'may specify no more than one IP for each IP family'));
  }
  if (podIP && ips.length > 0 && ips[0] !== podIP) {
    out.push(warning([...path, 'podIP'], `must be the first of podIPs (${JSON.stringify(ips[0])}); podIPs is used`));
  }
}

/** A pod template: its metadata's labels and annotations, and its pod spec. */
function validatePodTemplate(value: unknown, path: Path, out: FieldError[]): void {
  const template = readObject(value, path, out);
  if (!template) {
    if (value === undefined || value === null) out.push(required(path));
    return;
  }
  const meta = readObject(template.metadata, [...path, 'metadata'], out);
  if (meta) {
    out.push(...validateLabels(meta.labels, [...path, 'metadata', 'labels']));
    out.push(...validateAnnotations(meta.annotations, [...path, 'metadata', 'annotations']));
  }
  const spec = readObject(template.spec, [...path, 'spec'], out);
  if (spec) validatePodSpec(spec, [...path, 'spec'], out);
  else if (template.spec === undefined || template.spec === null) out.push(required([...path, 'spec']));
}

// ---------------------------------------------------------------- workloads

/**
 * A workload: its name, its selector (a LabelSelector; a plain map on ReplicationController), and its pod template
 * (CronJob: `spec.jobTemplate.spec.template`).
 */
export function validateWorkload(obj: JsonObject, kind: WorkloadKind): FieldError[] {
  const out = validateObjectMeta(obj.metadata, { nameFormat: isDNS1123Subdomain, namespaced: true });
  const spec = requireSpec(obj, out);
  if (!spec) return out;
  if (kind === 'CronJob') {
    const jobTemplate = readObject(spec.jobTemplate, ['spec', 'jobTemplate'], out);
    if (!jobTemplate) {
      if (spec.jobTemplate === undefined || spec.jobTemplate === null) out.push(required(['spec', 'jobTemplate']));
      return out;
    }
    const jobSpec = readObject(jobTemplate.spec, ['spec', 'jobTemplate', 'spec'], out);
    if (!jobSpec) {
      if (jobTemplate.spec === undefined || jobTemplate.spec === null) out.push(required(['spec', 'jobTemplate', 'spec']));
      return out;
    }
    out.push(...validateLabelSelector(jobSpec.selector, ['spec', 'jobTemplate', 'spec', 'selector']));
    validatePodTemplate(jobSpec.template, ['spec', 'jobTemplate', 'spec', 'template'], out);
    return out;
  }
  readInteger(spec.replicas, ['spec', 'replicas'], out);
  if (kind === 'ReplicationController') {
    out.push(...validateLabels(spec.selector, ['spec', 'selector']));
  } else if (kind === 'Job') {
    out.push(...validateLabelSelector(spec.selector, ['spec', 'selector']));
  } else {
    if (spec.selector === undefined || spec.selector === null) out.push(required(['spec', 'selector']));
    else out.push(...validateLabelSelector(spec.selector, ['spec', 'selector']));
  }
  validatePodTemplate(spec.template, ['spec', 'template'], out);
  return out;
}

// ---------------------------------------------------------------- Namespace, Node, Service

export function validateNamespace(obj: JsonObject): FieldError[] {
  return validateObjectMeta(obj.metadata, { nameFormat: isDNS1123Label, namespaced: false });
}

/** A Node: its name, and the addresses and pod CIDRs Palisade reads. */
export function validateNode(obj: JsonObject): FieldError[] {
  const out = validateObjectMeta(obj.metadata, { nameFormat: isDNS1123Subdomain, namespaced: false });
  const spec = readObject(obj.spec, ['spec'], out);
  if (spec) {
    const podCIDR = readString(spec.podCIDR, ['spec', 'podCIDR'], out);
    if (podCIDR) out.push(...validateCIDR(podCIDR, ['spec', 'podCIDR']));
    readList(spec.podCIDRs, ['spec', 'podCIDRs'], out)?.forEach((c, i) => {
      const text = readString(c, ['spec', 'podCIDRs', i], out);
      if (text !== undefined) out.push(...validateCIDR(text, ['spec', 'podCIDRs', i]));
    });
  }
  const status = readObject(obj.status, ['status'], out);
  readList(status?.addresses, ['status', 'addresses'], out)?.forEach((a, i) => {
    const address = readObject(a, ['status', 'addresses', i], out);
    if (!address) return;
    readString(address.type, ['status', 'addresses', i, 'type'], out);
    readString(address.address, ['status', 'addresses', i, 'address'], out);
  });
  return out;
}

/** A Service: its name (a DNS-1035 label), type, selector, cluster IPs and ports. */
export function validateService(obj: JsonObject): FieldError[] {
  const out = validateObjectMeta(obj.metadata, { nameFormat: isDNS1035Label, namespaced: true });
  const spec = requireSpec(obj, out);
  if (!spec) return out;
  const type = readString(spec.type, ['spec', 'type'], out);
  if (type !== undefined) checkEnum(type, SERVICE_TYPES, ['spec', 'type'], out);
  out.push(...validateLabels(spec.selector, ['spec', 'selector']));
  const clusterIP = readString(spec.clusterIP, ['spec', 'clusterIP'], out);
  if (clusterIP && clusterIP !== 'None') out.push(...validateClusterIP(clusterIP, ['spec', 'clusterIP']));
  readList(spec.clusterIPs, ['spec', 'clusterIPs'], out)?.forEach((c, i) => {
    const text = readString(c, ['spec', 'clusterIPs', i], out);
    if (text && text !== 'None') out.push(...validateClusterIP(text, ['spec', 'clusterIPs', i]));
  });
  const ports = readList(spec.ports, ['spec', 'ports'], out);
  if (isAbsentOrEmpty(spec.ports) && clusterIP !== 'None' && type !== 'ExternalName') out.push(required(['spec', 'ports']));
  const names = new Set<string>();
  const keys = new Set<string>();
  ports?.forEach((p, i) => validateServicePort(p, ['spec', 'ports', i], ports.length > 1, names, keys, out));
  return out;
}

function validateClusterIP(text: string, path: Path): FieldError[] {
  const errs = validateIP(text, path);
  return errs.map((e) =>
    e.severity === 'warning' ? e : invalid(path, text, "must be empty, 'None', or a valid IP address"),
  );
}

function validateServicePort(
  value: unknown,
  path: Path,
  nameRequired: boolean,
  names: Set<string>,
  keys: Set<string>,
  out: FieldError[],
): void {
  const sp = readObject(value, path, out);
  if (!sp) return;
  const name = readString(sp.name, [...path, 'name'], out);
  if (!name) {
    if (nameRequired && (sp.name === undefined || sp.name === null || name === '')) out.push(required([...path, 'name']));
  } else {
    const msgs = isDNS1123Label(name);
    for (const msg of msgs) out.push(invalid([...path, 'name'], name, msg));
    if (msgs.length === 0 && names.has(name)) out.push(duplicate([...path, 'name'], name));
    names.add(name);
  }
  const port = readInteger(sp.port, [...path, 'port'], out);
  if (port === undefined) {
    if (sp.port === undefined || sp.port === null) out.push(required([...path, 'port']));
  } else {
    for (const msg of isValidPortNum(port)) out.push(invalid([...path, 'port'], port, msg));
  }
  const protocol = readString(sp.protocol, [...path, 'protocol'], out);
  if (protocol !== undefined) checkEnum(protocol, PROTOCOLS, [...path, 'protocol'], out);
  const target = readIntOrString(sp.targetPort, [...path, 'targetPort'], out);
  if (typeof target === 'number') {
    // 0 means "unset" and defaults to `port`.
    if (target !== 0) for (const msg of isValidPortNum(target)) out.push(invalid([...path, 'targetPort'], target, msg));
  } else if (typeof target === 'string' && target !== '') {
    for (const msg of isValidPortName(target)) out.push(invalid([...path, 'targetPort'], target, msg));
  }
  const nodePort = readInteger(sp.nodePort, [...path, 'nodePort'], out);
  if (nodePort !== undefined && nodePort !== 0) {
    for (const msg of isValidPortNum(nodePort)) out.push(invalid([...path, 'nodePort'], nodePort, msg));
  }
  if (port !== undefined) {
    const key = `${port}/${protocol ?? 'TCP'}`;
    if (keys.has(key)) out.push(duplicate(path, key));
    keys.add(key);
  }
}
