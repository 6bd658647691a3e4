/**
 * Name and value formats of the Kubernetes API (apimachinery's util/validation): each check returns the list of what is
 * wrong with the text, empty when it is valid, in the apiserver's words.
 */

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = '[a-z]([-a-z0-9]*[a-z0-9])?';
const QUALIFIED_NAME = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = `(${QUALIFIED_NAME})?`;

const dns1123LabelRe = new RegExp(`^${DNS1123_LABEL}$`);
const dns1123SubdomainRe = new RegExp(`^${DNS1123_SUBDOMAIN}$`);
const dns1035LabelRe = new RegExp(`^${DNS1035_LABEL}$`);
const qualifiedNameRe = new RegExp(`^${QUALIFIED_NAME}$`);
const labelValueRe = new RegExp(`^${LABEL_VALUE}$`);

/** Lengths are in bytes, as Go's len() counts them. */
function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export function maxLenError(max: number): string {
  return `must be no more than ${max} characters`;
}

function regexError(what: string, regex: string, examples: readonly string[]): string {
  const eg = examples.map((e) => `'${e}'`).join(' or ');
  return `${what} (e.g. ${eg}, regex used for validation is '${regex}')`;
}

/** A DNS-1123 label: Namespace names, container names, service port names. */
export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 63) errs.push(maxLenError(63));
  if (!dns1123LabelRe.test(value)) {
    if (dns1123SubdomainRe.test(value)) errs.push('must not contain dots');
    else
      errs.push(
        regexError(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
          DNS1123_LABEL,
          ['my-name', '123-abc'],
        ),
      );
  }
  return errs;
}

/** A DNS-1123 subdomain: most object names, label-key prefixes. */
export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 253) errs.push(maxLenError(253));
  if (!dns1123SubdomainRe.test(value)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN,
        ['example.com'],
      ),
    );
  }
  return errs;
}

/** A DNS-1035 label: Service names. */
export function isDNS1035Label(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 63) errs.push(maxLenError(63));
  if (!dns1035LabelRe.test(value)) {
    errs.push(
      regexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        DNS1035_LABEL,
        ['my-name', 'abc-123'],
      ),
    );
  }
  return errs;
}

/**
 * Remembers the answers of a name check: label keys and values repeat across thousands of objects. The cache is
 * dropped when it grows large, so unique names cannot make it grow without bound.
 */
function memo(check: (value: string) => string[]): (value: string) => string[] {
  const known = new Map<string, readonly string[]>();
  return (value) => {
    const hit = known.get(value);
    if (hit) return [...hit];
    const errs = check(value);
    if (known.size > 10000) known.clear();
    known.set(value, errs);
    return [...errs];
  };
}

/** A qualified name (a label key): an optional DNS-1123 subdomain prefix and '/', then a name of at most 63 characters. */
export const isQualifiedName = memo(qualifiedName);

function qualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...isDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      `a qualified name ${regexError(
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME,
        ['MyName', 'my.name', '123-abc'],
      )} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (byteLength(name) > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!qualifiedNameRe.test(name)) {
    errs.push(
      `name part ${regexError(
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME,
        ['MyName', 'my.name', '123-abc'],
      )}`,
    );
  }
  return errs;
}

/** A label value: empty, or at most 63 characters of alphanumerics, '-', '_' and '.', alphanumeric at both ends. */
export const isValidLabelValue = memo(labelValue);

function labelValue(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 63) errs.push(maxLenError(63));
  if (!labelValueRe.test(value)) {
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE,
        ['MyValue', 'my_value', '12345'],
      ),
    );
  }
  return errs;
}

/** A port number: 1–65535. */
export function isValidPortNum(port: number): string[] {
  return port >= 1 && port <= 65535 ? [] : ['must be between 1 and 65535, inclusive'];
}

/**
 * A port name (IANA_SVC_NAME, RFC 6335): 1–15 characters of [-a-z0-9], at least one letter, no '-' at either end and no
 * '--'. Lower case only, though the RFC is case-insensitive.
 */
export function isValidPortName(port: string): string[] {
  const errs: string[] = [];
  if (byteLength(port) > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(port)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)');
  if (port.includes('--')) errs.push('must not contain consecutive hyphens');
  if (port.length > 0 && (port.startsWith('-') || port.endsWith('-'))) errs.push('must not begin or end with a hyphen');
  return errs;
}

/**
 * An object name checked as a prefix (`generateName`): a trailing '-' is allowed because a random suffix follows.
 */
export function asNamePrefix(check: (value: string) => string[]): (value: string) => string[] {
  return (value) => check(value.length > 1 && value.endsWith('-') ? value.slice(0, -1) : value);
}
