/** The netns lab: build a cluster of namespaces, run agents on it, probe it with real connections, tear it down. */
export { labUp, labDown, labLeftovers, loadLabManifests } from './lab.js';
export type { Lab, LabClusterSpec, LabNode, LabOptions, LabPod, LabPodSpec, PolicySource } from './lab.js';
export { labProbe } from './probe.js';
export type { ProbeCell, ProbeOptions, ProbeReport } from './probe.js';
export { HelperClient } from './helper-client.js';
export type { LabEndpoint, LabPort } from './state.js';
export { clusterPorts, formatMismatches, labPlan, labUpCluster, policyEndpointsOf, verifyLab } from './verify.js';
export type { LabPlan, Mismatch, PlanOptions, Verification, VerifyOptions } from './verify.js';
export { INSTALL_HINT, labRequirements } from './requirements.js';
