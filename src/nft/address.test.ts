import { describe, expect, it } from 'vitest';
import { canonicalAddress, cidrExcept, formatRange, parseCidr, subtractRanges } from './address.js';

describe('cidrExcept', () => {
  const cases: { name: string; cidr: string; except: string[]; want: string[] }[] = [
    { name: 'no except', cidr: '10.0.0.0/8', except: [], want: ['10.0.0.0-10.255.255.255'] },
    { name: 'world minus metadata', cidr: '0.0.0.0/0', except: ['169.254.169.254/32'], want: ['0.0.0.0-169.254.169.253', '169.254.169.255-255.255.255.255'] },
    { name: 'hole at start', cidr: '10.0.0.0/24', except: ['10.0.0.0/25'], want: ['10.0.0.128-10.0.0.255'] },
    { name: 'hole covers all', cidr: '10.0.0.0/24', except: ['10.0.0.0/16'], want: [] },
    { name: 'two overlapping holes', cidr: '10.0.0.0/24', except: ['10.0.0.0/26', '10.0.0.32/27', '10.0.0.255/32'], want: ['10.0.0.64-10.0.0.254'] },
    { name: 'host bits ignored', cidr: '10.0.0.77/24', except: [], want: ['10.0.0.0-10.0.0.255'] },
    { name: 'other-family except ignored', cidr: '10.0.0.0/30', except: ['fd00::/8'], want: ['10.0.0.0-10.0.0.3'] },
    { name: 'ipv6 world minus one', cidr: '::/0', except: ['fd00::1/128'], want: ['::-fd00::', 'fd00::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'] },
    { name: 'single host', cidr: '10.1.2.3/32', except: [], want: ['10.1.2.3'] },
  ];
  for (const c of cases) {
    it(c.name, () => expect(cidrExcept(c.cidr, c.except).map(formatRange)).toEqual(c.want));
  }

  it('rejects a bad prefix', () => expect(() => parseCidr('10.0.0.0/33')).toThrow(/prefix/));
  it('canonicalises IPv6', () => expect(canonicalAddress('fd00:0:0:0:0:0:0:1')).toBe('fd00::1'));
  it('subtracting nothing merges', () => {
    expect(subtractRanges([parseCidr('10.0.0.0/25'), parseCidr('10.0.0.128/25')], []).map(formatRange)).toEqual(['10.0.0.0-10.0.0.255']);
  });
});
