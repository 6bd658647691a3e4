/** Addresses and CIDRs live in the api layer (validation needs them too); the engine's consumers import them from there. */
export * from '../api/ip.js';
