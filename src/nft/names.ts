/**
 * Interface names as they may reach the nft script. nft quotes them (`"eni1a2b"`, `oifname "eni*"`) but does not
 * escape them, so a name with a quote, a space or a semicolon would end the string and inject commands into what
 * root runs. Linux names are at most 15 bytes (IFNAMSIZ 16 with the NUL); Palisade admits only the characters real
 * interface names use.
 */

/** A Linux interface name Palisade writes into nft text: 1–15 of `A-Z a-z 0-9 _ . @ -`. */
export const INTERFACE_NAME = /^[A-Za-z0-9_.@-]{1,15}$/;

/** A pattern for `--pod-interfaces`: an interface name whose last character may be nft's `*` wildcard. */
export const INTERFACE_PATTERN = /^[A-Za-z0-9_.@-]{1,15}$|^[A-Za-z0-9_.@-]{0,14}\*$/;

/** True when `name` may be written into nft text. */
export function isInterfaceName(name: string): boolean {
  return INTERFACE_NAME.test(name);
}

/**
 * Checks a `--pod-interfaces` wildcard; returns what is wrong, or undefined when it is fine.
 * @example interfacePatternProblem('eni*') // undefined
 * @example interfacePatternProblem('eni" ; flush ruleset ; "') // 'must match …'
 */
export function interfacePatternProblem(pattern: string): string | undefined {
  if (INTERFACE_PATTERN.test(pattern)) return undefined;
  return `${JSON.stringify(pattern)} is not an interface name or prefix: use 1 to 15 of A-Z a-z 0-9 _ . @ -, optionally ending in * (e.g. eni*)`;
}
