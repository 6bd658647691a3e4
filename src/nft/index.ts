/** The nftables data plane of one node: compile desired state, render full or delta transactions, apply them. */
export * from './address.js';
export * from './compile.js';
export * from './script.js';
export * from './apply.js';
