import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { findJsonError, lineCol } from '../../src/config/json-position';

test('finds the offset and reason of the first syntax error', () => {
  const table: [string, number, RegExp][] = [
    ['{"a": 1,}', 8, /expected a property name/],
    ['{"a": tru}', 6, /expected a value/],
    ['[1 2]', 3, /expected ',' or ']'/],
    ['{"a":"x', 7, /unterminated string/],
    ['{}x', 2, /after the JSON value/],
    ['', 0, /end of input/],
    ['{\n  "a": \n}', 10, /unexpected '}'/],
  ];
  for (const [text, offset, reason] of table) {
    const e = findJsonError(text);
    assert.ok(e !== undefined, text);
    assert.equal(e.offset, offset, text);
    assert.match(e.reason, reason, text);
  }
  assert.equal(lineCol('{\n  "a": \n}', 10), '3,1');
});

test('agrees with JSON.parse on what is valid, for arbitrary JSON and mangled JSON', () => {
  const valid = (t: string): boolean => {
    try {
      JSON.parse(t);
      return true;
    } catch {
      return false;
    }
  };
  fc.assert(fc.property(fc.json(), (t) => findJsonError(t) === undefined));
  fc.assert(
    fc.property(fc.json(), fc.nat(), fc.string({ maxLength: 3 }), (t, at, insert) => {
      const i = at % (t.length + 1);
      const mangled = t.slice(0, i) + insert + t.slice(i + 1);
      assert.equal(findJsonError(mangled) === undefined, valid(mangled), mangled);
    }),
    { numRuns: 2000 },
  );
});

test('deep nesting is refused, not a stack overflow', () => {
  const deep = '['.repeat(100_000);
  assert.match(findJsonError(deep)!.reason, /nesting too deep/);
});
