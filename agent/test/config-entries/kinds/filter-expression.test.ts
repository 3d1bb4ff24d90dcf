import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FilterSyntaxError, parseFilterExpression } from '../../../src/config-entries/kinds/filter-expression';

test('parses the forms service-resolver subsets use', () => {
  assert.deepEqual(parseFilterExpression('Service.Meta.version == v1'), { op: '==', selector: ['Service', 'Meta', 'version'], value: 'v1' });
  assert.deepEqual(parseFilterExpression('"canary" in Service.Tags'), { op: 'in', selector: ['Service', 'Tags'], value: 'canary' });
  assert.deepEqual(parseFilterExpression('canary not in Service.Tags'), { op: 'not in', selector: ['Service', 'Tags'], value: 'canary' });
  assert.deepEqual(parseFilterExpression('Service.Tags contains `blue`'), { op: 'contains', selector: ['Service', 'Tags'], value: 'blue' });
  assert.deepEqual(parseFilterExpression('Service.Meta is not empty'), { op: 'is not empty', selector: ['Service', 'Meta'] });
  assert.deepEqual(parseFilterExpression('Node.Meta["rack-id"] != "r1"'), { op: '!=', selector: ['Node', 'Meta', 'rack-id'], value: 'r1' });
  assert.deepEqual(parseFilterExpression('Service.ID matches "^web-[0-9]+$"'), { op: 'matches', selector: ['Service', 'ID'], value: '^web-[0-9]+$' });
  assert.deepEqual(parseFilterExpression('Service.Meta.v == 1 and not (Node.Meta.zone == b or Service.Tags is empty)'), {
    op: 'and',
    left: { op: '==', selector: ['Service', 'Meta', 'v'], value: '1' },
    right: {
      op: 'not',
      expr: { op: 'or', left: { op: '==', selector: ['Node', 'Meta', 'zone'], value: 'b' }, right: { op: 'is empty', selector: ['Service', 'Tags'] } },
    },
  });
});

test('refuses malformed expressions with the offset', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty expression/],
    ['Service.Meta.version ==', /expected a value at offset 23/],
    ['Service.Meta.version = v1', /expected "=="/],
    ['(Service.ID == a', /expected "\)"/],
    ['Service.ID == a and', /expected a selector/],
    ['Foo.Bar == 1', /must start with Service, Node, Checks/],
    ['Service.ID matches "("', /invalid regular expression/],
    ['Service.ID == "unterminated', /unterminated string/],
    ['Service.ID == a b', /unexpected "b"/],
    ['Service..ID == a', /empty selector part/],
  ];
  for (const [input, message] of bad) assert.throws(() => parseFilterExpression(input), (err: unknown) => err instanceof FilterSyntaxError && message.test(err.message), input);
});

test('arbitrary input either parses or throws FilterSyntaxError, nothing else', () => {
  fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => {
    try {
      parseFilterExpression(s);
    } catch (err) {
      return err instanceof FilterSyntaxError;
    }
    return true;
  }), { numRuns: 1000 });
  assert.throws(() => parseFilterExpression('('.repeat(40) + 'Service.ID == a' + ')'.repeat(40)), /nested too deeply/);
});
