/** One turn of the event loop (pending I/O, such as Vitest's RPC answers, is handled before it resolves). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
